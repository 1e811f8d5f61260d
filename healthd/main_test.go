//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/healthd"
	"github.com/taskkit/taskkit/internal/testtools"
)

// The helper-process trick: with this variable set, the test binary is
// healthd.
const asMainEnv = "TASKKIT_HEALTHD_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if path := os.Getenv(recorderEnv); path != "" {
		recordSIGTERM(path)
		return
	}
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(healthd.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// patience bounds every wait in these tests; it is only reached on failure.
const patience = 60 * time.Second

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// healthdProc is a running healthd.
type healthdProc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *syncBuf
	done           chan struct{}
	code           int
}

// startHealthd runs healthd with args (JSON logs) and extra environment.
func startHealthd(t *testing.T, env []string, args ...string) *healthdProc {
	t.Helper()
	p := &healthdProc{t: t, stdout: &syncBuf{}, stderr: &syncBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"--log-format", "json"}, args...)...)
	p.cmd.Env = append(append(os.Environ(), asMainEnv+"=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// If this test dies, healthd dies, and (by its own parent-death signal)
	// so does its command.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// A grandchild that outlives a killed healthd (nginx's worker, whose
	// master the parent-death signal killed) holds its stderr open: Wait
	// gives up on the pipe instead of hanging the test.
	p.cmd.WaitDelay = 10 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.code = 128 + int(ws.Signal())
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("healthd stderr:\n%s", p.stderr)
		}
	})
	return p
}

// wait returns healthd's exit code.
func (p *healthdProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(patience):
		p.t.Fatalf("healthd did not exit; stderr:\n%s", p.stderr)
	}
	return -1
}

func (p *healthdProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// waitLog returns the first log record with message msg, waiting for it.
func (p *healthdProc) waitLog(msg string) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no log %q; stderr:\n%s", msg, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "pid file "+filepath.Base(path), func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

// procStat returns the fields of /proc/PID/stat after the command's
// name (state, ppid, pgrp, session, ...), nil when pid does not exist.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// procState returns the state letter of pid ("" when it does not exist).
func procState(pid int) string {
	if f := procStat(pid); len(f) > 0 {
		return f[0]
	}
	return ""
}

// gone reports whether pid no longer runs (absent or a zombie).
func gone(pid int) bool {
	st := procState(pid)
	return st == "" || st == "Z" || st == "X"
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-exec")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fast := []string{"--delay", "0", "--grace-period", "0", "--interval", "0.05", "--max-consecutive-failures", "2"}
	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string // substring
		stdout string // substring
	}{
		{"command exit code", nil, []string{"--", "sh", "-c", "exit 3"}, 3, `"msg":"command exited"`, ""},
		{"command success", nil, []string{"--", "true"}, 0, "", ""},
		{"command killed by signal", nil, []string{"--", "sh", "-c", "kill -TERM $$"}, 143, `"exit_code":143`, ""},
		{"command not found", nil, []string{"--", filepath.Join(dir, "missing")}, 127, "missing", ""},
		{"command not executable", nil, []string{"--", notExec}, 126, "not-exec", ""},
		{"sidecar exit on failure", nil, append(fast, "--cmd", "exit 1", "--exit-on-failure"), 124, "threshold reached", ""},
		{"command stopped at the threshold", nil, append(fast, "--cmd", "exit 1", "--", "sleep", "1000"), 124, "stopping the command", ""},
		{"nothing to do", nil, nil, 125, "healthd: nothing to do: give a check (--cmd, --http, --tcp, --readiness-*) or a command after --\nusage: healthd", ""},
		{"unknown flag", nil, []string{"--bogus"}, 125, "healthd: unknown flag --bogus\nusage: healthd", ""},
		{"two checks", nil, []string{"--cmd", "true", "--tcp", "127.0.0.1:1"}, 125, "healthd: --cmd, --tcp: give only one of them\nusage: healthd", ""},
		{"bad duration", nil, []string{"--cmd", "true", "--delay", "soon"}, 125, `healthd: --delay: invalid duration "soon": want seconds (15) or a Go duration (1m30s)` + "\nusage: healthd", ""},
		// A negative duration is said to be one, in bare seconds as in Go syntax, from a flag or a variable;
		// a value refused is a usage error, with the usage line, as one that does not parse.
		{"negative seconds", nil, []string{"--kill-grace-period", "-1", "--", "true"}, 125, `healthd: --kill-grace-period: duration "-1" is negative` + "\nusage: healthd", ""},
		{"negative Go duration", nil, []string{"--interval", "-1s", "--cmd", "true"}, 125, `healthd: --interval: duration "-1s" is negative` + "\nusage: healthd", ""},
		{"negative seconds from env", []string{"HEALTHD_READINESS_TIMEOUT=-2.5"}, []string{"--cmd", "true"}, 125, `healthd: HEALTHD_READINESS_TIMEOUT: duration "-2.5" is negative` + "\nusage: healthd", ""},
		{"bad duration from env", []string{"HEALTHD_INTERVAL=0"}, []string{"--cmd", "true"}, 125, "healthd: HEALTHD_INTERVAL: must be positive\nusage: healthd", ""},
		{"bad URL", nil, []string{"--readiness-http", "ftp://x/"}, 125, "healthd: --readiness-http: invalid URL", ""},
		{"argument without --", nil, []string{"--cmd", "true", "server"}, 125, "put the command to supervise after --", ""},
		// "check" misspelt is not taken for a command to supervise.
		{"check misspelt", nil, []string{"chekc", "--tcp", "127.0.0.1:1"}, 125, `healthd: unknown command "chekc": did you mean check? (a command to supervise goes after --)` + "\nusage: healthd", ""},
		{"nothing after --", nil, []string{"--"}, 125, "no command after --", ""},
		{"a flag missing its value before --", nil, []string{"--cmd", "--", "true"}, 125, "healthd: missing value for --cmd\nusage: healthd", ""},
		{"exit-on-failure with a command", nil, []string{"--cmd", "true", "--exit-on-failure", "--", "true"}, 125, "sidecar mode; with a command, healthd always stops it at the threshold\nusage: healthd", ""},
		{"bad listen address", nil, []string{"--cmd", "true", "--listen", "256.0.0.1:0"}, 125, "--listen", ""},
		// A port alone, the commonest slip: a usage error saying what to write (it said "missing port in address").
		{"listen address without its colon", nil, []string{"--cmd", "true", "--listen", "9100"}, 125, `healthd: --listen: "9100": want [HOST]:PORT, e.g. :9100 or 127.0.0.1:9100` + "\nusage: healthd", ""},
		// A status file that cannot be created is a configuration error, found before the command starts.
		{"status file cannot be created", nil, []string{"--status-file", "/proc/nope/x", "--cmd", "true", "--", "sh", "-c", "echo started; sleep 1"}, 125, "--status-file: /proc/nope/x", ""},
		{"status file in a file", []string{"HEALTHD_STATUS_FILE=/dev/null/x"}, []string{"--cmd", "true", "--", "sh", "-c", "echo started; sleep 1"}, 125, "--status-file: /dev/null/x", ""},
		// --rewrite: every problem at once, each naming the flag or variable.
		{"rewrite not S:R", nil, []string{"--rewrite", "TERM", "--", "true"}, 125, `healthd: --rewrite: "TERM" is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop it)` + "\nusage: healthd", ""},
		{"rewrite unknown signals", nil, []string{"--rewrite", "TERM:QUITE", "--rewrite", "32:TERM", "--", "true"}, 125,
			`healthd: --rewrite: "TERM:QUITE": unknown signal "QUITE": did you mean QUIT?; "32:TERM": unknown signal "32": numbers go from 0 (none) to 31` + "\nusage: healthd", ""},
		{"rewrite KILL or STOP", nil, []string{"--rewrite", "KILL:TERM,sigstop:0", "--", "true"}, 125,
			`healthd: --rewrite: "KILL:TERM": SIGKILL cannot be caught, so healthd never receives it to rewrite; "sigstop:0": SIGSTOP cannot be caught, so healthd never receives it to rewrite`, ""},
		{"rewrite a signal not forwarded", nil, []string{"--rewrite", "PIPE:TERM", "--", "true"}, 125,
			`healthd: --rewrite: "PIPE:TERM": healthd does not forward SIGPIPE (it is what healthd's own write to a closed pipe raises); it forwards every signal from 1 to 31 but KILL PIPE CHLD`, ""},
		{"a shutdown signal not forwarded", []string{"HEALTHD_SHUTDOWN_SIGNALS=TERM,TSTP"}, []string{"--", "true"}, 125,
			`healthd: HEALTHD_SHUTDOWN_SIGNALS: "TSTP": healthd does not forward SIGTSTP (it is job control of healthd's own terminal)`, ""},
		{"rewrite twice", []string{"HEALTHD_REWRITE=TERM:QUIT 15:WINCH"}, []string{"--", "true"}, 125,
			`healthd: HEALTHD_REWRITE: "15:WINCH": SIGTERM is rewritten twice ("TERM:QUIT" already)` + "\nusage: healthd", ""},
		{"rewrite without a command", nil, []string{"--rewrite", "TERM:QUIT", "--cmd", "true"}, 125,
			"healthd: --rewrite rewrites the signals forwarded to a command; give one after --\nusage: healthd", ""},
		{"help", nil, []string{"--help"}, 0, "", "HEALTHD_GRACE_PERIOD"},
		{"help shows --rewrite", nil, []string{"--help"}, 0, "", "--rewrite S:R"},
		{"version", nil, []string{"--version"}, 0, "", "healthd "},
		{"a command named check", nil, []string{"--", "sh", "-c", "exit 5", "check"}, 5, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startHealthd(t, tt.env, tt.args...)
			if code := p.wait(); code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, p.stderr)
			}
			if !strings.Contains(p.stderr.String(), tt.stderr) || !strings.Contains(p.stdout.String(), tt.stdout) {
				t.Fatalf("stderr %q / stdout %q, want ~%q / ~%q", p.stderr, p.stdout, tt.stderr, tt.stdout)
			}
		})
	}
}

// At the threshold the command and its grandchild are stopped — SIGKILL
// after the grace period when they ignore SIGTERM — and healthd exits 124.
func TestThresholdStopsCommandAndGrandchild(t *testing.T) {
	for _, tt := range []struct {
		name, trap string
		grace      string // --kill-grace-period
		status     string // how the command ended
	}{
		// A generous grace: a loaded machine may take a while to run the trap.
		{"obeys SIGTERM", `trap 'exit 0' TERM`, "30s", "exit status 0"},
		{"ignores SIGTERM", `trap '' TERM`, "0.5", "killed by signal killed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			script := tt.trap + `; sleep 1000 & echo $! > gc; echo $$ > pid; touch fail; while :; do sleep 0.1; done`
			p := startHealthd(t, nil, "--delay", "0", "--grace-period", "0", "--interval", "0.05", "--max-consecutive-failures", "2",
				"--kill-grace-period", tt.grace, "--cmd", "test ! -e "+dir+"/fail", "--", "sh", "-c", "cd "+dir+" && "+script)
			cmdPid, gc := readPid(t, filepath.Join(dir, "pid")), readPid(t, filepath.Join(dir, "gc"))
			if code := p.wait(); code != 124 {
				t.Fatalf("exit code %d, want 124", code)
			}
			// healthd reaped the command before exiting; its grandchild was
			// killed with the group.
			waitFor(t, "command and grandchild to be gone", func() bool { return gone(cmdPid) && gone(gc) })
			rec := p.waitLog("stopping the command: health check failure threshold reached")
			if rec["consecutive_failures"] != float64(2) || rec["reason"] != "exit status 1" {
				t.Fatalf("log record %v", rec)
			}
			if rec := p.waitLog("command stopped after failing health checks"); rec["status"] != tt.status {
				t.Fatalf("command ended with %v, want %s", rec["status"], tt.status)
			}
		})
	}
}

func TestSIGTERMReachesCommand(t *testing.T) {
	dir := t.TempDir()
	script := `trap 'echo term > got; exit 7' TERM; sleep 1000 & echo $! > gc; echo $$ > pid; while :; do sleep 0.1; done`
	p := startHealthd(t, nil, "--", "sh", "-c", "cd "+dir+" && "+script)
	gc := readPid(t, filepath.Join(dir, "gc"))
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 7 {
		t.Fatalf("exit code %d, want the command's 7", code)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "got")); string(b) != "term\n" {
		t.Fatalf("command did not see SIGTERM: %q", b)
	}
	waitFor(t, "grandchild to be gone", func() bool { return gone(gc) })
}

// A forwarded SIGTERM is a stop under way: when the command exits at once,
// a helper in its group that is still flushing gets --kill-grace-period
// (from the signal) before SIGKILL (field case 04; the table of the kind is
// internal/supervise's TestGracefulStop).
func TestForwardedStopLetsHelpersFinish(t *testing.T) {
	for _, tt := range []struct {
		grace, flush string
		flushed      bool
		atMost       time.Duration
	}{
		{"3s", "0.3", true, 20 * time.Second}, // the flush itself proves the grace
		{"300ms", "10", false, 8 * time.Second},
	} {
		t.Run("grace "+tt.grace+" flush "+tt.flush, func(t *testing.T) {
			dir := t.TempDir()
			script := `sh -c 'trap "sleep ` + tt.flush + `; echo flushed > flushed; exit 0" TERM; echo up > up; while :; do sleep 0.05; done' & ` +
				`trap 'exit 0' TERM; echo ready > ready; while :; do sleep 0.05; done`
			p := startHealthd(t, nil, "--kill-grace-period", tt.grace, "--", "sh", "-c", "cd "+dir+" || exit 1; "+script)
			for _, f := range []string{"up", "ready"} {
				waitFor(t, f, func() bool { _, err := os.Stat(filepath.Join(dir, f)); return err == nil })
			}
			start := time.Now()
			p.signal(syscall.SIGTERM)
			if code := p.wait(); code != 0 {
				t.Fatalf("exit code %d, want the command's 0", code)
			}
			if took := time.Since(start); took > tt.atMost {
				t.Errorf("healthd took %v to exit", took)
			}
			_, err := os.Stat(filepath.Join(dir, "flushed"))
			if flushed := err == nil; flushed != tt.flushed {
				t.Errorf("helper flushed: %v, want %v", flushed, tt.flushed)
			}
		})
	}
}

// Whenever the command ends while helpers in its group are alive — of a
// forwarded signal that is not a stop (its default action), after one, or
// on its own — the helpers are stopped gracefully: what the forwarded
// signal started is not interrupted, and otherwise they get SIGTERM and
// --kill-grace-period before SIGKILL, as dumb-init sends SIGTERM to the
// group when its child exits. healthd exits with the command's code
// (06-healthd-sighup-kills-group-at-once; the kind's table is
// internal/supervise's TestGracefulStop). The signal goes out only once the
// helper and the command have each set their trap and said so: sent
// between the command's "ready" and its trap, a USR2 killed it (exit 140,
// not 4) and a WINCH was ignored.
func TestCommandEndingStopsTheRestGracefully(t *testing.T) {
	for _, tt := range []struct {
		name    string
		sig     syscall.Signal // forwarded once the helper and the command are ready; 0: none
		helper  string         // the signal the helper flushes on
		trap    string         // the command's trap, set before it says it is ready
		leader  string         // the command's own part, after the helper starts
		grace   string
		flushed bool
		exit    int
	}{
		// A helper that flushes gets a grace far longer than its 0.3 s flush:
		// healthd exits as soon as the group is empty, so the length costs a
		// passing run nothing, while a loaded machine may take seconds to run
		// the flush. Only a grace shorter than the flush is meant to end it.
		{"dies of a forwarded HUP", syscall.SIGHUP, "HUP", ``, `while :; do sleep 0.05; done`, "30s", true, 128 + 1},
		{"exits after a forwarded USR2", syscall.SIGUSR2, "USR2", `trap 'exit 4' USR2`, `while :; do sleep 0.05; done`, "30s", true, 4},
		{"exits after a forwarded WINCH", syscall.SIGWINCH, "WINCH", `trap 'exit 0' WINCH`, `while :; do sleep 0.05; done`, "30s", true, 0},
		{"exits on its own: SIGTERM to the rest", 0, "TERM", ``, `exit 3`, "30s", true, 3},
		{"exits on its own: a helper slower than the grace is SIGKILLed", 0, "TERM", ``, `exit 3`, "200ms", false, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			flush := "0.3"
			if !tt.flushed {
				flush = "10"
			}
			script := `sh -c 'trap "sleep ` + flush + `; echo flushed > flushed; exit 0" ` + tt.helper + `; echo $$ > up; while :; do sleep 0.05; done' & ` +
				`while [ ! -e up ]; do sleep 0.02; done; ` + tt.trap + "\n" + `echo ready > ready; ` + tt.leader
			p := startHealthd(t, nil, "--kill-grace-period", tt.grace, "--", "sh", "-c", "cd "+dir+" || exit 1; "+script)
			waitFor(t, "ready", func() bool { _, err := os.Stat(filepath.Join(dir, "ready")); return err == nil })
			if tt.sig != 0 {
				p.signal(tt.sig)
			}
			if code := p.wait(); code != tt.exit {
				t.Fatalf("exit code %d, want the command's %d", code, tt.exit)
			}
			_, err := os.Stat(filepath.Join(dir, "flushed"))
			if flushed := err == nil; flushed != tt.flushed {
				t.Errorf("helper flushed: %v, want %v", flushed, tt.flushed)
			}
			helper := readPid(t, filepath.Join(dir, "up"))
			waitFor(t, "the helper to be gone", func() bool { return gone(helper) })
		})
	}
}

// While the rest of the group is given its grace after the command exited,
// a failing health check is no health kill: healthd exits with the
// command's code, not 124.
func TestCommandEndedIsNotAHealthKill(t *testing.T) {
	dir := t.TempDir()
	// The helper gives up after 30 s, so that a failing run cannot hang on it.
	script := `sh -c 'trap "sleep 1; echo flushed > flushed; exit 0" TERM; echo up > up; for i in $(seq 600); do sleep 0.05; done' & ` +
		`while [ ! -e up ]; do sleep 0.02; done; while [ ! -e stop ]; do sleep 0.02; done; rm alive; exit 3`
	if err := os.WriteFile(filepath.Join(dir, "alive"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startHealthd(t, nil, "--delay", "0", "--grace-period", "0", "--interval", "0.02", "--max-consecutive-failures", "2",
		"--kill-grace-period", "5s", "--cmd", "test -e "+dir+"/alive", "--", "sh", "-c", "cd "+dir+" || exit 1; "+script)
	p.waitLog("healthy")
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 3 {
		t.Fatalf("exit code %d, want the command's 3", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "flushed")); err != nil {
		t.Errorf("the helper did not flush: %v", err)
	}
	if strings.Contains(p.stderr.String(), "stopping the command") {
		t.Error("the command's end was turned into a health kill")
	}
}

// A command shutting down after SIGTERM is not killed as unhealthy, even
// though its health check fails while it does.
func TestShutdownIsNotAHealthKill(t *testing.T) {
	dir := t.TempDir()
	script := `trap 'touch fail; sleep 1; exit 7' TERM; echo $$ > pid; while :; do sleep 0.05; done`
	p := startHealthd(t, nil, "--delay", "0", "--grace-period", "0", "--interval", "0.02", "--max-consecutive-failures", "2",
		"--kill-grace-period", "0.1", "--cmd", "test ! -e "+dir+"/fail", "--", "sh", "-c", "cd "+dir+" && "+script)
	readPid(t, filepath.Join(dir, "pid"))
	p.waitLog("healthy")
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 7 {
		t.Fatalf("exit code %d, want the command's own 7", code)
	}
	if strings.Contains(p.stderr.String(), "stopping the command") {
		t.Fatal("the shutdown was turned into a health kill")
	}
}

// TestEveryForwardedSignalReachesCommand: every signal healthd forwards —
// all it can catch, not only the few a server usually takes — reaches the
// command, which traps each (by number, as POSIX sh's trap takes them) and
// writes it down. Core dumps are off: the command's sleeps die of ABRT,
// SEGV and the like.
func TestEveryForwardedSignalReachesCommand(t *testing.T) {
	dir := t.TempDir()
	var traps, want []string
	for _, sig := range healthd.Forwarded {
		n := int(sig.(syscall.Signal))
		traps = append(traps, fmt.Sprintf(`trap 'echo %d >> got' %d`, n, n))
		want = append(want, strconv.Itoa(n))
	}
	script := "ulimit -c 0; " + strings.Join(traps, "; ") + `; echo $$ > pid; while [ ! -e stop ]; do sleep 0.05; done`
	p := startHealthd(t, nil, "--", "sh", "-c", "cd "+dir+" && "+script)
	readPid(t, filepath.Join(dir, "pid"))
	for i, sig := range healthd.Forwarded {
		p.signal(sig.(syscall.Signal))
		waitFor(t, "the command to see "+sig.String(), func() bool {
			b, _ := os.ReadFile(filepath.Join(dir, "got"))
			return strings.Count(string(b), "\n") == i+1
		})
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "got"))
	if got := strings.Fields(string(b)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("signals seen: %v, want %v", got, want)
	}
}

func TestSIGKILLTakesCommandAlong(t *testing.T) {
	dir := t.TempDir()
	p := startHealthd(t, nil, "--", "sh", "-c", "echo $$ > "+dir+"/pid; exec sleep 1000")
	cmdPid := readPid(t, filepath.Join(dir, "pid"))
	p.signal(syscall.SIGKILL)
	p.wait()
	waitFor(t, "the command to die with healthd", func() bool { return gone(cmdPid) })
}

// healthd, as a child subreaper, reaps an orphaned grandchild: the orphan's
// /proc entry disappears entirely instead of lingering as a zombie.
func TestReapsOrphans(t *testing.T) {
	dir := t.TempDir()
	script := `(sleep 0.2 & echo $! > orphan); echo $$ > pid; while [ ! -e stop ]; do sleep 0.05; done`
	p := startHealthd(t, nil, "--", "sh", "-c", "cd "+dir+" && "+script)
	orphan := readPid(t, filepath.Join(dir, "orphan"))
	waitFor(t, "the orphan to be reaped", func() bool { return procState(orphan) == "" })
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// As PID 1 of a new pid namespace (no subreaper needed), healthd reaps the
// orphans it inherits: the command sees the orphan's /proc entry vanish.
func TestReapsOrphansAsPID1(t *testing.T) {
	unshare := testtools.Require(t, "unshare", "util-linux")
	if out, err := exec.Command(unshare, "--pid", "--fork", "--mount-proc", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a pid namespace: %v %s", err, out)
	}
	script := `(sleep 0.1 & echo $! > /tmp/orphan.$$); o=$(cat /tmp/orphan.$$); rm -f /tmp/orphan.$$
		i=0; while [ $i -lt 600 ]; do [ -e /proc/$o ] || exit 0; sleep 0.05; i=$((i+1)); done; exit 9`
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", os.Args[0], "--log-format", "json", "--", "sh", "-c", script)
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = patience
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d (9: the orphan stayed a zombie):\n%s", code, out)
	}
	if !strings.Contains(string(out), `"pid":1,`) {
		t.Fatalf("healthd was not PID 1:\n%s", out)
	}
}

func listenAddr(t *testing.T, p *healthdProc) string {
	t.Helper()
	addr, _ := p.waitLog("listening")["addr"].(string)
	if addr == "" {
		t.Fatal("no listen address logged")
	}
	return "http://" + addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: patience}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The endpoints answer from the last result: many concurrent requests start
// no check. The status file follows.
func TestEndpointsAndStatusFile(t *testing.T) {
	dir := t.TempDir()
	status := filepath.Join(dir, "status.json")
	p := startHealthd(t, []string{"HEALTHD_STATUS_FILE=" + status},
		"--listen", "127.0.0.1:0", "--delay", "0", "--interval", "1h",
		"--cmd", "echo run >> "+dir+"/health-runs # http://u:CmdSecretPw@h/", "--readiness-cmd", "echo run >> "+dir+"/ready-runs")
	base := listenAddr(t, p)
	waitFor(t, "healthy and ready", func() bool {
		h, _ := get(t, base+"/health")
		r, _ := get(t, base+"/ready")
		return h == 200 && r == 200
	})
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(path string) {
			defer wg.Done()
			resp, err := (&http.Client{Timeout: patience}).Get(base + path)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d", path, resp.StatusCode)
			}
		}([]string{"/health", "/ready", "/status", "/metrics"}[i%4])
	}
	wg.Wait()
	for _, f := range []string{"health-runs", "ready-runs"} {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); string(b) != "run\n" {
			t.Errorf("%s: %q, want exactly one check", f, b)
		}
	}
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, `healthd_checks_total{check="health",result="healthy"} 1`) {
		t.Errorf("metrics %d:\n%s", code, body)
	}
	var s struct {
		Mode    string
		Healthy bool
		Ready   bool
		Health  struct{ State string }
	}
	waitFor(t, "status file", func() bool {
		b, err := os.ReadFile(status)
		return err == nil && json.Unmarshal(b, &s) == nil && s.Healthy && s.Ready
	})
	if s.Mode != "sidecar" || s.Health.State != "healthy" {
		t.Fatalf("status file %+v", s)
	}
	// A password in a check's URL is published masked, never as given.
	_, statusBody := get(t, base+"/status")
	fileBody, _ := os.ReadFile(status)
	if !strings.Contains(statusBody, "u:********@h") {
		t.Errorf("/status does not show the masked check:\n%s", statusBody)
	}
	if strings.Contains(statusBody+string(fileBody), "CmdSecretPw") {
		t.Errorf("/status or the status file leaks the URL password:\n%s", statusBody)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("sidecar exit code %d after SIGTERM", code)
	}
}

func TestCheckCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"healthy", nil, []string{"--cmd", "echo fine"}, 0, "fine\n", "healthd check: healthy: exit status 0"},
		{"unhealthy", nil, []string{"--cmd", "echo bad; exit 3"}, 1, "bad\n", "unhealthy: exit status 3"},
		{"timeout", nil, []string{"--cmd", "sleep 1000", "--timeout", "0.3"}, 1, "", "unhealthy: timed out after 300ms"},
		{"tcp refused", nil, []string{"--tcp", closedAddr}, 1, "", "connection refused"},
		{"from the environment", []string{"HEALTHD_CHECK_CMD=true"}, nil, 0, "", "healthy"},
		{"json", nil, []string{"--cmd", "echo out; exit 1", "--json"}, 1, `"status": "unhealthy"`, ""},
		{"no check", nil, nil, 2, "", "no check"},
		{"two checks", nil, []string{"--cmd", "true", "--tcp", closedAddr}, 2, "", "give only one"},
		{"bad URL", nil, []string{"--http", "ftp://x/"}, 2, "", "invalid URL"},
		{"bad timeout", nil, []string{"--cmd", "true", "--timeout", "-1s"}, 2, "", `--timeout: duration "-1s" is negative`},
		{"negative timeout in seconds", nil, []string{"--cmd", "true", "--timeout", "-1"}, 2, "", `--timeout: duration "-1" is negative`},
		{"unknown flag", nil, []string{"--bogus"}, 2, "", "healthd check: unknown flag --bogus\nusage: healthd check"},
		{"arguments", nil, []string{"--cmd", "true", "extra"}, 2, "", `unexpected argument "extra": healthd check runs no command`},
		{"a command after --", nil, []string{"--cmd", "true", "--", "server", "--port", "1"}, 2, "", `unexpected argument "server": healthd check runs no command`},
		{"help", nil, []string{"--help"}, 0, "HEALTHD_CHECK_TIMEOUT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], append([]string{"check"}, tt.args...)...)
			cmd.Env = append(append(os.Environ(), asMainEnv+"=1"), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.WaitDelay = patience
			_ = cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d stdout %q stderr %q; want %d ~%q ~%q", code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// A check that times out has its whole process group killed: the
// grandchild it started in the background is gone too. The timeout must
// let the shell start that grandchild and record its pid first, which a
// loaded machine may not do within a short one, so a run whose check was
// stopped before that is tried again with a longer timeout.
func TestCheckTimeoutKillsGroup(t *testing.T) {
	for _, timeout := range []string{"0.3", "1", "3", "9"} {
		gcFile := filepath.Join(t.TempDir(), "gc")
		cmd := exec.Command(os.Args[0], "check", "--cmd", "sleep 1000 & echo $! > "+gcFile+"; wait", "--timeout", timeout)
		cmd.Env = append(os.Environ(), asMainEnv+"=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.WaitDelay = patience
		_ = cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "unhealthy: timed out after") {
			t.Fatalf("--timeout %s: exit %d, stderr %q; want 1 and a timeout", timeout, code, stderr.String())
		}
		b, err := os.ReadFile(gcFile)
		gc, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || gc <= 0 {
			t.Logf("--timeout %s: the check was stopped before it recorded its grandchild; trying a longer timeout", timeout)
			continue
		}
		waitFor(t, "the timed-out check's grandchild to be gone", func() bool { return gone(gc) })
		return
	}
	t.Fatal("the check never recorded its grandchild's pid before its timeout, even with 9 s")
}

// SIGTERM to `healthd check` kills the check's whole group and exits 2.
func TestCheckCommandInterrupted(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "check", "--cmd", "sleep 1000 & echo $! > "+dir+"/gc; wait")
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = patience
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gc := readPid(t, filepath.Join(dir, "gc"))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), "interrupted by SIGTERM") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	waitFor(t, "the check's grandchild to be gone", func() bool { return gone(gc) })
}

// healthd, an in-task binary, must not link protobuf, mesos-go or the
// Prometheus client (it uses the protobuf-free metrics library).
func TestDependencies(t *testing.T) {
	goTool := testtools.Require(t, "go", "golang")
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"protobuf", "mesos", "github.com/prometheus/"} {
			if strings.Contains(dep, bad) {
				t.Errorf("healthd depends on %s", dep)
			}
		}
	}
}
