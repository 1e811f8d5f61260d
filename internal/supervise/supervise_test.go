//go:build linux

package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The helper-process trick: the test binary re-runs itself as a fake child.
func TestMain(m *testing.M) {
	switch os.Getenv("SUPERVISE_TEST_HELPER") {
	case "":
		// Children inherit an ignored SIGHUP across exec (nohup's very
		// purpose), and a test run under nohup or a runner that ignores
		// it would start every leader deaf to the HUP that
		// TestGracefulStop forwards: its leaders never died and the rows
		// timed out. A handler of ours is reset to the default in each
		// child, as healthd's forwarding handler resets it for its command.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
		os.Exit(m.Run())
	case "pdeathsig":
		helperPdeathsig()
	case "orphan-maker":
		helperOrphanMaker()
	case "reaper":
		helperReaper()
	case "sweeper":
		helperSweeper()
	case "hog":
		helperHog()
	case "flusher":
		helperFlusher()
	}
	os.Exit(99)
}

// helperEnv is this process's environment with the helper mode set to mode
// (and only once, so a helper never runs its parent's mode again).
func helperEnv(mode string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SUPERVISE_TEST_HELPER=") {
			env = append(env, kv)
		}
	}
	return append(env, "SUPERVISE_TEST_HELPER="+mode)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs (absent or a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// comm may contain spaces; the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

func sh(script string) Spec {
	return Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}, ParentDeathSignal: syscall.SIGKILL}
}

func waitDone(t *testing.T, p *Process) Status {
	t.Helper()
	select {
	case <-p.Done():
		return p.Status()
	case <-time.After(90 * time.Second): // longer than any grace a test gives
		_ = p.Kill()
		t.Fatalf("process %d did not finish", p.Pid())
	}
	return Status{}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		want     Status
		wantCode int
		wantText string
	}{
		{"zero", "exit 0", Status{Code: 0}, 0, "exit status 0"},
		{"code", "exit 3", Status{Code: 3}, 3, "exit status 3"},
		{"sigterm", "kill -TERM $$", Status{Code: -1, Signal: syscall.SIGTERM}, 143, "killed by signal terminated"},
		{"sigkill", "kill -KILL $$", Status{Code: -1, Signal: syscall.SIGKILL}, 137, "killed by signal killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(sh(tt.script))
			if err != nil {
				t.Fatal(err)
			}
			got := waitDone(t, p)
			if got != tt.want || got.ExitCode() != tt.wantCode || got.String() != tt.wantText {
				t.Fatalf("status = %+v (%d, %q), want %+v (%d, %q)", got, got.ExitCode(), got, tt.want, tt.wantCode, tt.wantText)
			}
		})
	}
}

// TestCoreDumped: a signal that dumped core says so (WCOREDUMP), for the
// executor's "(core dumped)" (Mesos' WSTRINGIFY); one that did not, not.
func TestCoreDumped(t *testing.T) {
	pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil || strings.HasPrefix(string(pattern), "|") || strings.TrimSpace(string(pattern)) == "" {
		t.Skipf("core dumps are not written to a file here (core_pattern %q, %v)", pattern, err)
	}
	for _, tt := range []struct {
		script string
		want   bool
	}{
		{"ulimit -c unlimited; kill -SEGV $$", true},
		{"ulimit -c 0; kill -SEGV $$", false},
	} {
		spec := sh(tt.script)
		spec.Dir = t.TempDir() // where the core goes
		p, err := Start(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := waitDone(t, p); got.Signal != syscall.SIGSEGV || got.CoreDumped != tt.want {
			t.Errorf("%s: status %+v, want SIGSEGV with CoreDumped %v", tt.script, got, tt.want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-exec")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		code int
	}{
		{"missing", filepath.Join(dir, "missing"), 127},
		{"not executable", notExec, 126},
		{"directory", dir, 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(Spec{Path: tt.path})
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *StartError", err)
			}
			if se.ExitCode() != tt.code || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("err = %v code %d, want code %d naming the path", err, se.ExitCode(), tt.code)
			}
		})
	}
}

func TestOutputAndEnv(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := sh(`echo "$GREETING from $(pwd)"; echo oops >&2`)
	s.Env = []string{"GREETING=overridden", "GREETING=hello"}
	s.Dir = t.TempDir()
	s.Stdout, s.Stderr = w, w
	p, err := Start(s)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	want := "hello from " + s.Dir + "\noops\n"
	if buf.String() != want {
		t.Fatalf("output %q, want %q", buf.String(), want)
	}
}

// A leader that exits leaves nothing behind in its group.
func TestLeaderExitKillsGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, err := Start(sh("sleep 1000 & echo $! > " + pidfile + "; exit 5"))
	if err != nil {
		t.Fatal(err)
	}
	if got := waitDone(t, p); got.Code != 5 {
		t.Fatalf("status %v, want exit status 5", got)
	}
	gc := readPid(t, pidfile)
	waitFor(t, "grandchild to die", func() bool { return processGone(gc) })
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrDone) {
		t.Fatalf("Signal after done = %v, want ErrDone", err)
	}
}

func TestTerminate(t *testing.T) {
	tests := []struct {
		name   string
		script string // writes the grandchild's pid to $PIDFILE
		grace  time.Duration
		want   Status
	}{
		// Leader and grandchild die of SIGTERM at once.
		{"obeys", `sleep 1000 & echo $! > $PIDFILE; wait`, 10 * time.Second, Status{Code: -1, Signal: syscall.SIGTERM}},
		// Leader traps SIGTERM and exits cleanly; the grandchild ignores it
		// and is killed once what is left of the grace period has passed.
		{"trap", `trap 'exit 9' TERM; sh -c 'trap "" TERM; exec sleep 1000' & echo $! > $PIDFILE; wait; wait`, 300 * time.Millisecond, Status{Code: 9}},
		// Everything ignores SIGTERM: SIGKILL after the grace period.
		{"ignores", `trap '' TERM; sleep 1000 & echo $! > $PIDFILE; while :; do wait; done`, 200 * time.Millisecond, Status{Code: -1, Signal: syscall.SIGKILL}},
		{"no grace", `trap '' TERM; sleep 1000 & echo $! > $PIDFILE; while :; do wait; done`, 0, Status{Code: -1, Signal: syscall.SIGKILL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pid")
			s := sh(tt.script)
			s.Env = append(os.Environ(), "PIDFILE="+pidfile)
			p, err := Start(s)
			if err != nil {
				t.Fatal(err)
			}
			gc := readPid(t, pidfile)
			if !p.Terminate(tt.grace) {
				t.Fatal("first Terminate returned false")
			}
			if p.Terminate(tt.grace) {
				t.Fatal("second Terminate returned true")
			}
			if got := waitDone(t, p); got != tt.want {
				t.Fatalf("status %v, want %v", got, tt.want)
			}
			waitFor(t, "grandchild to die", func() bool { return processGone(gc) })
		})
	}
}

func TestSignalReachesGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	s := sh(`trap 'exit 7' USR1; sleep 1000 & echo $! > $PIDFILE; wait`)
	s.Env = append(os.Environ(), "PIDFILE="+pidfile)
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	gc := readPid(t, pidfile)
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if got := waitDone(t, p); got.Code != 7 {
		t.Fatalf("status %v, want exit status 7", got)
	}
	waitFor(t, "grandchild to die", func() bool { return processGone(gc) })
}

// helperPdeathsig starts a child with a parent-death signal, prints its pid
// and blocks until it is killed.
func helperPdeathsig() {
	p, err := Start(Spec{Path: "/bin/sleep", Args: []string{"sleep", "1000"}, ParentDeathSignal: syscall.SIGKILL})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	time.Sleep(time.Minute)
	os.Exit(2)
}

func TestParentDeathSignal(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnv("pdeathsig")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatal(err)
	}
	if processGone(pid) {
		t.Fatalf("child %d not running", pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	waitFor(t, "child to die with its parent", func() bool { return processGone(pid) })
}

// helperOrphanMaker starts `sleep 0.2` in a process group of its own (so it
// survives its parent's group) and exits without waiting: sleep becomes an
// orphan.
func helperOrphanMaker() {
	c := exec.Command("sleep", "0.2")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// helperReaper is a subreaper running ReapOrphans while it starts children
// of its own: orphans must be reaped and owned children must keep their exit
// status. It prints "ok" or what went wrong.
func helperReaper() {
	if err := BecomeSubreaper(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reaperDone := make(chan struct{})
	go func() { defer close(reaperDone); ReapOrphans(ctx, nil) }()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			p, err := Start(Spec{Path: os.Args[0], Env: helperEnv("orphan-maker"), ParentDeathSignal: syscall.SIGKILL})
			if err != nil {
				errs <- err
				return
			}
			<-p.Done()
			if st := p.Status(); st.Code != 0 {
				errs <- fmt.Errorf("orphan maker: %v", st)
			}
		}()
		go func(i int) {
			defer wg.Done()
			p, err := Start(sh(fmt.Sprintf("exit %d", i+1)))
			if err != nil {
				errs <- err
				return
			}
			<-p.Done()
			if st := p.Status(); st.Code != i+1 {
				errs <- fmt.Errorf("owned child: got %v, want exit status %d (status stolen?)", st, i+1)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		fmt.Println(err)
		os.Exit(1)
	}
	// The orphans (sleep 0.2) exit soon; all must be reaped.
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := childCount()
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("%d children left (zombies not reaped?)\n", n)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-reaperDone
	fmt.Println("ok")
	os.Exit(0)
}

// childCount counts this process's children, zombies included.
func childCount() (int, error) {
	me := strconv.Itoa(os.Getpid())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me {
			n++
		}
	}
	return n, nil
}

func TestReapOrphans(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnv("reaper")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	out := buf.Bytes()
	if strings.TrimSpace(string(out)) != "ok" || err != nil {
		t.Fatalf("reaper helper: %v: %s", err, out)
	}
}

// TestJobControlNeedsATerminal: Spec.Foreground follows the child's stops
// (and stops this process's group with it) only when Stdin is a terminal.
// Without one (a Mesos task's /dev/null) a CMD stopped by SIGTSTP from
// whoever must not stop healthd's group, which no shell would continue.
func TestJobControlNeedsATerminal(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (/dev/ptmx: %v)", err)
	}
	defer ptmx.Close()
	for _, tt := range []struct {
		name  string
		stdin *os.File
		want  bool
	}{
		{"no stdin", nil, false},
		{"/dev/null", devnull, false},
		{"a terminal", ptmx, true}, // the master side is a terminal too
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(Spec{Path: "/bin/true", Stdin: tt.stdin, Foreground: true})
			if err != nil {
				t.Fatal(err)
			}
			<-p.Done()
			if got := p.fgTTY != nil; got != tt.want {
				t.Errorf("job control followed: %v, want %v", got, tt.want)
			}
		})
	}
}
