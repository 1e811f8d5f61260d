// Command hello-world deploys examples/hello-world/svc.yml with
// scheduler-lite on a local testenv cluster, with nothing to set up but Go:
// it builds bootstrap, healthd, tlsprov, the executor and the example's
// server (one go build, which builds them in parallel, printing which
// binary is done and the time elapsed), packs the server and its check
// script into hello-world.tar.gz (served as an artifact the pods fetch),
// runs the deploy to COMPLETE, prints the plan and the service's health,
// and stops, leaving nothing running.
//
//	go run ./examples/hello-world                 # deploy, show, stop
//	go run ./examples/hello-world --keep-running  # ... and keep serving until Ctrl-C
//
// Other arguments are passed to scheduler-lite (e.g. --local-agents 5).
package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"

	"github.com/taskkit/taskkit/internal/devbuild"
	"github.com/taskkit/taskkit/internal/schedulerlite"
)

func main() {
	// Ctrl-C (or SIGTERM) during the build stops the go build, which runs
	// in a process group of its own, and removes what it wrote; once the
	// scheduler runs, it stops on the same signals by itself.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitInterrupted is the exit code of a demo interrupted before the
// scheduler started: 128+SIGINT, as a shell reports it.
const exitInterrupted = 130

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "--help" }) {
		// Nothing to build for the help: say what this wrapper adds, then
		// scheduler-lite's flags, which it passes on.
		fmt.Fprint(stdout, "go run ./examples/hello-world [--keep-running] [scheduler-lite flags]\n"+
			"  builds the toolkit and the example, deploys examples/hello-world/svc.yml with\n"+
			"  scheduler-lite --master local to COMPLETE and stops (--keep-running: serves until Ctrl-C)\n\n")
		return schedulerlite.Run(context.Background(), []string{"scheduler-lite", "--help"}, os.Environ(), os.Stdin, stdout, stderr)
	}
	if slices.Contains(args, "--version") {
		// Nor for the version: scheduler-lite's, which runs the demo.
		return schedulerlite.Run(context.Background(), []string{"scheduler-lite", "--version"}, os.Environ(), os.Stdin, stdout, stderr)
	}
	_, file, _, _ := runtime.Caller(0)
	exdir := filepath.Dir(file)
	root, err := devbuild.SourceRoot()
	if err != nil {
		root = filepath.Join(exdir, "..", "..")
	}
	tmp, err := os.MkdirTemp("", "hello-world-artifacts-")
	if err != nil {
		fmt.Fprintln(stderr, "hello-world:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	full := schedulerArgs(tmp, filepath.Join(exdir, "svc.yml"), args)
	// A misspelt flag is told now, not after the build (minutes, the
	// first time).
	if code := schedulerlite.CheckArgs(full, os.Environ(), stderr); code != 0 {
		return code
	}
	err = devbuild.Build(ctx, devbuild.Options{
		Root: root, Dir: tmp, Packages: slices.Concat(devbuild.Toolkit, []string{"./examples/hello-world/server"}),
		Progress: func(msg string) { fmt.Fprintln(stderr, "hello-world:", msg) },
	})
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "hello-world: interrupted: the build is stopped and what it wrote removed")
		return exitInterrupted
	}
	if err != nil {
		fmt.Fprintln(stderr, "hello-world:", err)
		return 1
	}
	if err := pack(filepath.Join(tmp, "hello-world.tar.gz"), map[string]string{
		"server":   filepath.Join(tmp, "server"),
		"check-up": filepath.Join(exdir, "scripts", "check-up"),
	}); err != nil {
		fmt.Fprintln(stderr, "hello-world:", err)
		return 1
	}
	if slices.Contains(args, "--keep-running") {
		fmt.Fprintln(stderr, "hello-world: --keep-running: the service runs until Ctrl-C; its web UI is the SCHEDULER_API URL printed below,\n"+
			"  and from another terminal: go run ./scheduler-lite plan show deploy --name hello-world (see README, scheduler-lite)")
	}
	return schedulerlite.Run(context.Background(), full, os.Environ(), os.Stdin, stdout, stderr)
}

// schedulerArgs is the scheduler-lite command line the demo runs: the
// binaries in artifacts, svc, and the demo's own arguments but
// --keep-running (without it, the deploy's end stops it).
func schedulerArgs(artifacts, svc string, args []string) []string {
	keep := slices.Contains(args, "--keep-running")
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--keep-running" })
	full := []string{"scheduler-lite", "--master", "local", "--artifacts-dir", artifacts}
	if !keep {
		full = append(full, "--exit-after-deploy", "--deploy-timeout", "3m")
	}
	full = append(full, args...)
	return append(full, svc)
}

// pack writes a tar.gz of files (archive name → path), keeping their modes.
func pack(dest string, files map[string]string) error {
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"server", "check-up"} {
		b, err := os.ReadFile(files[name])
		if err != nil {
			return err
		}
		st, err := os.Stat(files[name])
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: int64(st.Mode().Perm() | 0o755), Size: int64(len(b))}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}
