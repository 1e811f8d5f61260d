//go:build linux

package supervise

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestGracefulStop is the regression table of one kind of fault: helpers
// in the command's process group SIGKILLed as soon as the command exits
// while a stop is under way, so they cannot finish what the stop signal
// asked of them (krallin/tini#180, field case 04). The command's main
// process (the group leader) starts a helper in its group; each row stops
// them one way and says whether the helper's flush — written $FLUSH after it
// got the signal — must land, and how long the group may take.
func TestGracefulStop(t *testing.T) {
	// The helper is this test binary (helperFlusher): a shell's background
	// job would ignore SIGINT and SIGQUIT.
	const helper = `"$HELPER" & `
	tests := []struct {
		name    string
		leader  string // after the helper starts; the leader's own behaviour
		sig     syscall.Signal
		stop    func(p *Process, grace time.Duration) // nil: nobody stops it
		grace   time.Duration
		delay   string        // the helper's flush time (a Go duration)
		flushed bool          // the helper's flush must land
		atLeast time.Duration // Done no sooner (from the stop)
		atMost  time.Duration // Done no later
	}{
		{name: "forwarded TERM, leader exits at once", leader: `trap 'exit 0' TERM; while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: stopping(syscall.SIGTERM), grace: 3 * time.Second, delay: "300ms", flushed: true, atMost: 5 * time.Second},
		{name: "forwarded INT", leader: `trap 'exit 0' INT; while :; do sleep 0.05; done`, sig: syscall.SIGINT,
			stop: stopping(syscall.SIGINT), grace: 3 * time.Second, delay: "300ms", flushed: true, atMost: 5 * time.Second},
		{name: "forwarded QUIT", leader: `trap 'exit 0' QUIT; while :; do sleep 0.05; done`, sig: syscall.SIGQUIT,
			stop: stopping(syscall.SIGQUIT), grace: 3 * time.Second, delay: "300ms", flushed: true, atMost: 5 * time.Second},
		{name: "threshold stop (Terminate), leader exits at once", leader: `trap 'exit 0' TERM; while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 3 * time.Second, delay: "300ms", flushed: true, atMost: 5 * time.Second},
		{name: "leader killed by the TERM itself", leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: stopping(syscall.SIGTERM), grace: 3 * time.Second, delay: "300ms", flushed: true, atMost: 5 * time.Second},
		{name: "helper slower than the grace: SIGKILL at the grace", leader: `trap 'exit 0' TERM; while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: stopping(syscall.SIGTERM), grace: 500 * time.Millisecond, delay: "5s", flushed: false, atLeast: 400 * time.Millisecond, atMost: 4 * time.Second},
		{name: "grace counts from the stop, not from the leader's exit", leader: `trap 'sleep 0.4; exit 0' TERM; while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 800 * time.Millisecond, delay: "5s", flushed: false, atLeast: 700 * time.Millisecond, atMost: 4 * time.Second},
		{name: "no grace: killed at once", leader: `trap 'exit 0' TERM; while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 0, delay: "300ms", flushed: false, atMost: 4 * time.Second},
		{name: "leader exits on its own: the group is killed at once", leader: `while [ ! -e "$UP" ]; do sleep 0.02; done; exit 3`, sig: syscall.SIGTERM,
			stop: nil, grace: 0, delay: "300ms", flushed: false, atMost: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			up, done := filepath.Join(dir, "up"), filepath.Join(dir, "done")
			s := sh(helper + tt.leader)
			s.Env = append(helperEnv("flusher"), "HELPER="+os.Args[0], "UP="+up, "DONE="+done, "DELAY="+tt.delay)
			p, err := Start(s)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the helper to start", func() bool { _, err := os.Stat(up); return err == nil })
			start := time.Now()
			if tt.stop != nil {
				tt.stop(p, tt.grace)
			}
			waitDone(t, p)
			took := time.Since(start)
			_, err = os.Stat(done)
			if flushed := err == nil; flushed != tt.flushed {
				t.Errorf("helper flushed: %v, want %v (Done after %v)", flushed, tt.flushed, took)
			}
			if took < tt.atLeast || took > tt.atMost {
				t.Errorf("Done after %v, want between %v and %v", took, tt.atLeast, tt.atMost)
			}
			// SIGKILLed helpers may take a moment to be gone.
			waitFor(t, "the group to be empty", func() bool { n, _ := groupMembers(p.Pid()); return n == 0 })
		})
	}
}

// TestStoppingNeverKillsARunningLeader: a forwarded signal's sender owns
// the escalation; Stopping never SIGKILLs a leader that is still running.
func TestStoppingNeverKillsARunningLeader(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	p, err := Start(sh(`trap '' TERM; : > ` + ready + `; while :; do sleep 0.05; done`))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the trap to be set", func() bool { _, err := os.Stat(ready); return err == nil })
	if err := p.Stopping(syscall.SIGTERM, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
		t.Fatalf("the leader ended: %v", p.Status())
	case <-time.After(500 * time.Millisecond):
	}
	p.Kill()
	if st := waitDone(t, p); st.Signal != syscall.SIGKILL {
		t.Fatalf("status %v", st)
	}
}

func stopping(sig syscall.Signal) func(*Process, time.Duration) {
	return func(p *Process, g time.Duration) { _ = p.Stopping(sig, g) }
}

// helperFlusher is the helper of TestGracefulStop: on SIGTERM, SIGINT or
// SIGQUIT it takes $DELAY to flush, then writes $DONE and exits 0.
func helperFlusher() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	delay, _ := time.ParseDuration(os.Getenv("DELAY"))
	if err := os.WriteFile(os.Getenv("UP"), []byte("up"), 0o644); err != nil {
		os.Exit(3)
	}
	<-sigs
	time.Sleep(delay)
	_ = os.WriteFile(os.Getenv("DONE"), []byte("flushed"), 0o644)
	os.Exit(0)
}
