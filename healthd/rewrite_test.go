//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/taskkit/taskkit/internal/testtools"
)

// TestRewrite: --rewrite S:R sends the command's group R when healthd
// receives S (dumb-init's --rewrite), while healthd's own bookkeeping
// follows what the signal means: a TERM, INT or QUIT received — or any
// signal sent as one — is a stop request (checks stop, so the shutdown is
// never turned into a health kill), a signal rewritten to 0 is nothing at
// all, and the rewritten TERM is the signal of healthd's own stops (the
// threshold's, and the rest of the group's when the command exits).
//
// Each command sets its traps, then writes its pid; a trap writes the
// signal's name to "got". Nothing is signalled before the pid is there.
func TestRewrite(t *testing.T) {
	const loop = `echo $$ > pid; while :; do sleep 0.05; done`
	tests := []struct {
		name     string
		env      []string
		rewrite  []string       // --rewrite values
		health   bool           // a health check failing once the file "fail" exists
		grace    string         // --kill-grace-period
		script   string         // the command, in its directory
		drop     syscall.Signal // sent first, and waited for as dropped; 0: none
		sig      syscall.Signal
		logAfter string // a log message to wait for after the signal
		then     string // a file created then ("fail"), "" for none

		exit    int
		got     string // what the command's traps wrote
		logs    []string
		notLogs []string
		flushed bool // the helper wrote "flushed"
	}{
		{name: "TERM:QUIT: the command gets QUIT, the graceful stop of nginx", rewrite: []string{"TERM:QUIT"},
			script: `trap 'echo QUIT >> got; exit 0' QUIT; trap 'echo TERM >> got; exit 9' TERM; ` + loop,
			sig:    syscall.SIGTERM, exit: 0, got: "QUIT\n", logs: []string{`"sent_as":"quit"`}},
		{name: "numbers, from HEALTHD_REWRITE", env: []string{"HEALTHD_REWRITE=15:3"},
			script: `trap 'echo QUIT >> got; exit 0' QUIT; trap 'echo TERM >> got; exit 9' TERM; ` + loop,
			sig:    syscall.SIGTERM, exit: 0, got: "QUIT\n"},
		{name: "TERM:WINCH: still a stop request, never turned into a health kill", rewrite: []string{"TERM:WINCH"}, health: true,
			script: `trap 'echo WINCH >> got; touch fail; sleep 1; exit 7' WINCH; ` + loop,
			sig:    syscall.SIGTERM, exit: 7, got: "WINCH\n", notLogs: []string{"stopping the command"}},
		{name: "USR1:TERM: a signal sent as TERM is a stop request too", rewrite: []string{"USR1:TERM"}, health: true,
			script: `trap 'echo TERM >> got; touch fail; sleep 1; exit 7' TERM; trap 'echo USR1 >> got' USR1; ` + loop,
			sig:    syscall.SIGUSR1, exit: 7, got: "TERM\n", notLogs: []string{"stopping the command"}},
		{name: "several rewrites, comma-separated: each signal as rewritten", rewrite: []string{"INT:0,HUP:USR2"},
			script: `trap 'echo USR2 >> got; exit 5' USR2; trap 'echo HUP >> got; exit 9' HUP; trap 'echo INT >> got; exit 9' INT; ` + loop,
			drop:   syscall.SIGINT, sig: syscall.SIGHUP, exit: 5, got: "USR2\n"},
		// A dropped TERM reaches nobody and stops nothing: the command is
		// still checked, and the threshold stops it with no signal before
		// the SIGKILL, TERM having no replacement.
		{name: "TERM:0: dropped; still checked; the stop at the threshold is SIGKILL after the grace", rewrite: []string{"TERM:0"}, health: true, grace: "0.5",
			script: `trap 'echo TERM >> got; exit 9' TERM; ` + loop,
			sig:    syscall.SIGTERM, logAfter: "signal dropped (--rewrite)", then: "fail",
			exit: 124, got: "", logs: []string{`"stop_signal":"none"`, `"status":"killed by signal killed"`}},
		{name: "TERM:QUIT at the threshold: the unhealthy command gets QUIT", rewrite: []string{"TERM:QUIT"}, health: true, grace: "30s",
			script: `trap 'echo QUIT >> got; exit 0' QUIT; trap 'echo TERM >> got; exit 9' TERM; ` + loop,
			then:   "fail", exit: 124, got: "QUIT\n", logs: []string{`"stop_signal":"SIGQUIT"`, `"status":"exit status 0"`}},
		// Every signal healthd can catch is forwarded and rewritten, and
		// which of them are a shutdown is the user's to say.
		{name: "PWR:TERM: any catchable signal is rewritten", rewrite: []string{"PWR:TERM"},
			script: `trap 'echo TERM >> got; exit 0' TERM; trap 'echo PWR >> got; exit 9' PWR; ` + loop,
			sig:    syscall.SIGPWR, exit: 0, got: "TERM\n", logs: []string{`"signal":"power failure","sent_as":"terminated"`}},
		{name: "QUIT with --shutdown-signals TERM,INT: a JVM's thread dump, checking goes on", env: []string{"HEALTHD_SHUTDOWN_SIGNALS=TERM,INT"}, health: true,
			script: `trap 'echo QUIT >> got' QUIT; ` + loop,
			sig:    syscall.SIGQUIT, logAfter: "forwarding signal to the command", then: "fail",
			exit: 124, got: "QUIT\n", logs: []string{"stopping the command: health check failure threshold reached"}},
		// A background job of sh ignores QUIT for good, hence USR1 here.
		{name: "TERM:USR1: the command exits on its own, the rest of its group gets USR1", rewrite: []string{"TERM:USR1"}, grace: "30s",
			script: `sh -c 'trap "sleep 0.3; echo flushed > flushed; exit 0" USR1; echo up > up; while :; do sleep 0.05; done' & ` +
				`while [ ! -e up ]; do sleep 0.02; done; echo $$ > pid; exit 3`,
			exit: 3, flushed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--kill-grace-period", tt.grace}
			if tt.grace == "" {
				args[1] = "3s"
			}
			for _, r := range tt.rewrite {
				args = append(args, "--rewrite", r)
			}
			if tt.health {
				args = append(args, "--delay", "0", "--grace-period", "0", "--interval", "0.02", "--max-consecutive-failures", "2",
					"--cmd", "test ! -e "+dir+"/fail")
			}
			p := startHealthd(t, tt.env, append(args, "--", "sh", "-c", "cd "+dir+" || exit 1; "+tt.script)...)
			readPid(t, filepath.Join(dir, "pid"))
			if tt.health {
				p.waitLog("healthy")
			}
			if tt.drop != 0 {
				p.signal(tt.drop)
				p.waitLog("signal dropped (--rewrite)")
			}
			if tt.sig != 0 {
				p.signal(tt.sig)
			}
			if tt.logAfter != "" {
				p.waitLog(tt.logAfter)
			}
			if tt.then != "" {
				if err := os.WriteFile(filepath.Join(dir, tt.then), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if code := p.wait(); code != tt.exit {
				t.Fatalf("exit code %d, want %d", code, tt.exit)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "got")); string(b) != tt.got {
				t.Errorf("the command got %q, want %q", b, tt.got)
			}
			logs := p.stderr.String()
			for _, l := range tt.logs {
				if !strings.Contains(logs, l) {
					t.Errorf("no %s in the logs", l)
				}
			}
			for _, l := range tt.notLogs {
				if strings.Contains(logs, l) {
					t.Errorf("%q in the logs", l)
				}
			}
			_, err := os.Stat(filepath.Join(dir, "flushed"))
			if flushed := err == nil; flushed != tt.flushed {
				t.Errorf("helper flushed: %v, want %v", flushed, tt.flushed)
			}
		})
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestRewriteStopsNginxGracefully runs the example of docs/healthd.md with a
// real nginx: with --rewrite TERM:QUIT, the SIGTERM Mesos sends and the
// stop at the health check's threshold both reach nginx as SIGQUIT, its
// graceful shutdown, as its error log says; without, it gets SIGTERM, its
// fast one.
func TestRewriteStopsNginxGracefully(t *testing.T) {
	nginx := testtools.Require(t, "nginx", "nginx-light")
	for _, tt := range []struct {
		name     string
		rewrite  []string
		failing  bool // stopped by the health check's threshold, not by a SIGTERM
		exit     int
		received string // what nginx's error log says it got
	}{
		{name: "SIGTERM, rewritten", rewrite: []string{"--rewrite", "TERM:QUIT"}, exit: 0, received: "signal 3 (SIGQUIT) received"},
		{name: "the threshold, rewritten", rewrite: []string{"--rewrite", "TERM:QUIT"}, failing: true, exit: 124, received: "signal 3 (SIGQUIT) received"},
		{name: "SIGTERM, as it is", exit: 0, received: "signal 15 (SIGTERM) received"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			conf, errLog := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "error.log")
			temp := filepath.Join(dir, "temp")
			if err := os.Mkdir(temp, 0o755); err != nil {
				t.Fatal(err)
			}
			text := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[2]s notice;
worker_processes 1;
events { worker_connections 16; }
http {
	access_log off;
	client_body_temp_path %[3]s/body; proxy_temp_path %[3]s/proxy; fastcgi_temp_path %[3]s/fastcgi;
	uwsgi_temp_path %[3]s/uwsgi; scgi_temp_path %[3]s/scgi;
	server { listen %[4]s; location / { return 200 "ok\n"; } }
}
`, dir, errLog, temp, addr)
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			// Failures before the first success are ignored (nginx starting).
			args := append([]string{"--kill-grace-period", "30s", "--delay", "0", "--grace-period", "60", "--interval", "0.05", "--max-consecutive-failures", "2"}, tt.rewrite...)
			if tt.failing {
				args = append(args, "--cmd", "test ! -e "+dir+"/fail")
			} else {
				args = append(args, "--http", "http://"+addr+"/")
			}
			p := startHealthd(t, nil, append(args, "--", nginx, "-p", dir, "-c", conf, "-e", errLog, "-g", "daemon off;")...)
			// Up once it answers (the check of the failing row does not ask it).
			waitFor(t, "nginx to answer", func() bool {
				c, err := net.Dial("tcp", addr)
				if err == nil {
					c.Close()
				}
				return err == nil || closed(p.done)
			})
			p.waitLog("healthy")
			if tt.failing {
				if err := os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				p.signal(syscall.SIGTERM)
			}
			if code := p.wait(); code != tt.exit {
				t.Fatalf("exit code %d, want %d", code, tt.exit)
			}
			b, _ := os.ReadFile(errLog)
			if !strings.Contains(string(b), tt.received) {
				t.Fatalf("nginx's error log has no %q:\n%s", tt.received, b)
			}
		})
	}
}
