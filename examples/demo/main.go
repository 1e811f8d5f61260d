// Command demo shows bootstrap doing a task's start-up on this machine, with
// no cluster and no setup: it starts a DNS server on loopback, declares three
// CONFIG_TEMPLATE_* templates, and runs bootstrap (in process) the way a task
// would. The task's own DNS name only appears after a delay, as it does on
// Mesos while Mesos-DNS catches up; bootstrap waits for it, then renders the
// templates all-or-nothing, with the database password masked in what it
// prints but present in the file.
//
//	go run ./examples/demo
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/taskkit/taskkit/internal/bootstrap"
	"github.com/taskkit/taskkit/internal/dnswait/dnstest"
)

//go:embed templates
var templates embed.FS

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	sandbox, err := os.MkdirTemp("", "taskkit-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sandbox)
	if err := fs.WalkDir(templates, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templates.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if filepath.Ext(filepath.Base(p[:len(p)-len(".mustache")])) == ".sh" {
			mode = 0o755
		}
		return os.WriteFile(filepath.Join(sandbox, filepath.Base(p)), b, mode)
	}); err != nil {
		return err
	}

	dns, err := dnstest.Start()
	if err != nil {
		return fmt.Errorf("starting the demo DNS server: %w", err)
	}
	defer dns.Close()
	const self = "web-0-server.hello-world.autoip.dcos.thisdcos.directory"
	appear := 700 * time.Millisecond
	time.AfterFunc(appear, func() { dns.Set(self, "127.0.0.1") })

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"MESOS_SANDBOX=" + sandbox,
		"MESOS_CONTAINER_IP=127.0.0.1",
		"TASK_NAME=web-0-server",
		"FRAMEWORK_HOST=hello-world.autoip.dcos.thisdcos.directory",
		"PORT_HTTP=8080",
		"TLS_ENABLED=false",
		"BACKEND=127.0.0.1:9000",
		"DB_USER=app",
		"DB_PASSWORD=correct-horse-battery-staple",
		"CONFIG_TEMPLATE_NGINX=nginx.conf.mustache,conf/nginx.conf",
		"CONFIG_TEMPLATE_DB=db.properties.mustache,conf/db.properties",
		"CONFIG_TEMPLATE_START=start.sh.mustache,start.sh",
	}
	args := []string{"bootstrap", "-resolvers", dns.Addr, "-resolve-timeout", "30s", "-strict"}

	fmt.Printf("== taskkit demo: bootstrap in sandbox %s\n", sandbox)
	fmt.Printf("== the task's name %s appears in DNS after %s\n", self, appear)
	fmt.Printf("== running: %v\n\n", args)
	start := time.Now()
	code := bootstrap.Run(context.Background(), args, env, os.Stdin, os.Stdout, os.Stdout)
	fmt.Printf("\n== bootstrap exited %d after %s\n", code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		return fmt.Errorf("bootstrap failed with exit code %d", code)
	}
	for _, f := range []string{"conf/nginx.conf", "conf/db.properties", "start.sh"} {
		p := filepath.Join(sandbox, f)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, _ := os.Stat(p)
		fmt.Printf("\n== %s (%s)\n%s", f, fi.Mode().Perm(), b)
	}
	fmt.Println("\n== the password is in db.properties but was masked in everything bootstrap printed.")
	return nil
}
