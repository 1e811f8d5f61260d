//go:build linux

package supervise

import (
	"cmp"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
// got the signal — must land, and how long the group may take. Nothing is
// signalled before both the helper and the leader have said they are ready,
// each once its handlers are in place: a signal that beats a trap takes its
// default action and the row fails for no fault of the code under test.
//
// Where a row's point is that Done comes from one event and not another
// (the group emptying after the flush, not the grace's SIGKILL; the
// grace's SIGKILL, not the helper finishing), the other event is set a
// minute off (never, neverFlush) and atMost is half of it: the row then
// tells the two apart with room for a machine so loaded that the helper
// takes seconds to flush, where a grace of 3 s with atMost 5 s failed.
func TestGracefulStop(t *testing.T) {
	// never is a grace no row reaches; neverFlush a flush no row sees end.
	const never, neverFlush = time.Minute, "1m"

	// The helper is this test binary (helperFlusher): a shell's background
	// job would ignore SIGINT and SIGQUIT.
	const helper = `"$HELPER" & `
	tests := []struct {
		name    string
		trap    string // the leader's trap, set before it says it is ready
		leader  string // after the helper starts; the leader's own behaviour
		sig     syscall.Signal
		stop    func(p *Process, grace time.Duration) // nil: nobody stops it
		grace   time.Duration
		delay   string        // the helper's flush time (a Go duration)
		flushed bool          // the helper's flush must land
		atLeast time.Duration // Done no sooner (from the stop)
		atMost  time.Duration // Done no later
		exit    int           // the leader's Status().ExitCode()

		// Spec.GroupGrace and Spec.StopSignal; and the signals the helper
		// flushes on (default TERM INT QUIT) and ignores (default none).
		groupGrace      time.Duration
		stopSignal      syscall.Signal
		flushOn, ignore string
	}{
		{name: "forwarded TERM, leader exits at once", trap: `trap 'exit 0' TERM`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: stopping(syscall.SIGTERM), grace: never, delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "forwarded INT", trap: `trap 'exit 0' INT`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGINT,
			stop: stopping(syscall.SIGINT), grace: never, delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "forwarded QUIT", trap: `trap 'exit 0' QUIT`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGQUIT,
			stop: stopping(syscall.SIGQUIT), grace: never, delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "threshold stop (Terminate), leader exits at once", trap: `trap 'exit 0' TERM`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: never, delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "leader killed by the TERM itself", leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: stopping(syscall.SIGTERM), grace: never, delay: "300ms", flushed: true, atMost: never / 2, exit: 128 + 15},
		{name: "helper slower than the grace: SIGKILL at the grace", trap: `trap 'exit 0' TERM`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: stopping(syscall.SIGTERM), grace: 500 * time.Millisecond, delay: neverFlush, flushed: false, atLeast: 400 * time.Millisecond, atMost: never / 2, exit: 0},
		// The leader's trap must end within the grace (exit 0, not SIGKILL):
		// 0.4 s of it overran a grace of 800 ms on a loaded machine.
		{name: "grace counts from the stop, not from the leader's exit", trap: `trap 'sleep 0.4; exit 0' TERM`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 3 * time.Second, delay: neverFlush, flushed: false, atLeast: 2900 * time.Millisecond, atMost: never / 2, exit: 0},
		{name: "no grace: killed at once", trap: `trap 'exit 0' TERM`, leader: `while :; do sleep 0.05; done`, sig: syscall.SIGTERM,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 0, delay: "300ms", flushed: false, atMost: 4 * time.Second, exit: 128 + 9},
		{name: "leader exits on its own: the group is killed at once", leader: `while [ ! -e "$UP" ]; do sleep 0.02; done; exit 3`, sig: syscall.SIGTERM,
			stop: nil, grace: 0, delay: "300ms", flushed: false, atMost: 4 * time.Second, exit: 3},

		// With GroupGrace (healthd), a leader ending with no stop under way
		// has the rest of its group stopped gracefully (06-healthd-sighup).
		{name: "GroupGrace: leader exits on its own, the rest gets SIGTERM and flushes", leader: `while [ ! -e "$UP" ]; do sleep 0.02; done; exit 3`,
			groupGrace: never, delay: "300ms", flushed: true, atMost: never / 2, exit: 3},
		{name: "GroupGrace: leader exits on its own, a helper ignoring SIGTERM is SIGKILLed at the grace", leader: `while [ ! -e "$UP" ]; do sleep 0.02; done; exit 3`,
			groupGrace: 500 * time.Millisecond, flushOn: "HUP", ignore: "TERM", delay: "300ms", flushed: false, atLeast: 400 * time.Millisecond, atMost: 4 * time.Second, exit: 3},
		{name: "GroupGrace: leader dies of a forwarded HUP, the helper handling it is not interrupted", leader: `while :; do sleep 0.05; done`,
			stop: sending(syscall.SIGHUP), groupGrace: never, flushOn: "HUP", delay: "300ms", flushed: true, atMost: never / 2, exit: 128 + 1},
		{name: "GroupGrace: leader exits on a forwarded USR1, the helper handling it is not interrupted", trap: `trap 'exit 0' USR1`, leader: `while :; do sleep 0.05; done`,
			stop: sending(syscall.SIGUSR1), groupGrace: never, flushOn: "USR1", delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "GroupGrace: WINCH (Apache's graceful stop) is a signal like the others", trap: `trap 'exit 0' WINCH`, leader: `while :; do sleep 0.05; done`,
			stop: sending(syscall.SIGWINCH), groupGrace: never, flushOn: "WINCH", delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "GroupGrace: leader dies of a forwarded HUP, a helper ignoring it gets SIGTERM once the signal's grace is over", leader: `while :; do sleep 0.05; done`,
			stop: sending(syscall.SIGHUP), groupGrace: 500 * time.Millisecond, ignore: "HUP", delay: "300ms", flushed: true, atLeast: 700 * time.Millisecond, atMost: 4 * time.Second, exit: 128 + 1},
		{name: "no GroupGrace: leader dies of a signal, the group is killed at once", leader: `while :; do sleep 0.05; done`,
			stop: sending(syscall.SIGHUP), flushOn: "HUP", delay: "300ms", flushed: false, atMost: 4 * time.Second, exit: 128 + 1},

		// With StopSignal (healthd's --rewrite TERM:SIG), the stops this
		// package makes itself send that signal instead of SIGTERM; the
		// helper flushes on it alone and would die of a SIGTERM.
		{name: "StopSignal QUIT: Terminate sends QUIT (nginx's graceful stop)", trap: `trap 'exit 0' QUIT`, leader: `while :; do sleep 0.05; done`,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: never, stopSignal: syscall.SIGQUIT, flushOn: "QUIT",
			delay: "300ms", flushed: true, atMost: never / 2, exit: 0},
		{name: "StopSignal WINCH: Terminate sends WINCH (Apache's), SIGKILL at the grace when it does not stop", leader: `while :; do sleep 0.05; done`,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 500 * time.Millisecond, stopSignal: syscall.SIGWINCH, flushOn: "WINCH",
			delay: neverFlush, flushed: false, atLeast: 400 * time.Millisecond, atMost: never / 2, exit: 128 + 9},
		{name: "StopSignal QUIT: leader exits on its own, GroupGrace sends the rest QUIT", leader: `while [ ! -e "$UP" ]; do sleep 0.02; done; exit 3`,
			groupGrace: never, stopSignal: syscall.SIGQUIT, flushOn: "QUIT", delay: "300ms", flushed: true, atMost: never / 2, exit: 3},
		{name: "NoStopSignal: Terminate sends nothing, SIGKILL at the grace", trap: `trap 'exit 0' TERM`, leader: `while :; do sleep 0.05; done`,
			stop: func(p *Process, g time.Duration) { p.Terminate(g) }, grace: 500 * time.Millisecond, stopSignal: NoStopSignal,
			delay: "300ms", flushed: false, atLeast: 400 * time.Millisecond, atMost: 4 * time.Second, exit: 128 + 9},
		{name: "NoStopSignal: leader exits on its own, the rest gets GroupGrace without a signal, then SIGKILL", leader: `while [ ! -e "$UP" ]; do sleep 0.02; done; exit 3`,
			groupGrace: 500 * time.Millisecond, stopSignal: NoStopSignal, delay: "300ms", flushed: false, atLeast: 400 * time.Millisecond, atMost: 4 * time.Second, exit: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			up, ready, done := filepath.Join(dir, "up"), filepath.Join(dir, "ready"), filepath.Join(dir, "done")
			leader := `: > "$READY"; ` + tt.leader
			if tt.trap != "" {
				leader = tt.trap + "; " + leader
			}
			s := sh(helper + leader)
			s.Env = append(helperEnv("flusher"), "HELPER="+os.Args[0], "UP="+up, "READY="+ready, "DONE="+done, "DELAY="+tt.delay,
				"FLUSH_ON="+tt.flushOn, "IGNORE="+tt.ignore)
			s.GroupGrace, s.StopSignal = tt.groupGrace, tt.stopSignal
			p, err := Start(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{up, ready} {
				waitFor(t, filepath.Base(f), func() bool { _, err := os.Stat(f); return err == nil })
			}
			start := time.Now()
			if tt.stop != nil {
				tt.stop(p, tt.grace)
			}
			st := waitDone(t, p)
			took := time.Since(start)
			if st.ExitCode() != tt.exit {
				t.Errorf("leader %v, want exit code %d", st, tt.exit)
			}
			_, err = os.Stat(done)
			if flushed := err == nil; flushed != tt.flushed {
				t.Errorf("helper flushed: %v, want %v (Done after %v)", flushed, tt.flushed, took)
			}
			if took < tt.atLeast || took > tt.atMost {
				t.Errorf("Done after %v, want between %v and %v", took, tt.atLeast, tt.atMost)
			}
			t.Logf("Done after %v", took)
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

// sending sends sig with Signal: a signal passed on as it is, not a stop.
func sending(sig syscall.Signal) func(*Process, time.Duration) {
	return func(p *Process, _ time.Duration) { _ = p.Signal(sig) }
}

// helperFlusher is the helper of TestGracefulStop: on one of $FLUSH_ON
// (signal names; default TERM INT QUIT) it takes $DELAY to flush, then
// writes $DONE and exits 0. It ignores the signals in $IGNORE; the others
// have their default action.
func helperFlusher() {
	names := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
		"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "WINCH": syscall.SIGWINCH}
	sigsOf := func(v string) []os.Signal {
		var out []os.Signal
		for _, n := range strings.Fields(v) {
			out = append(out, names[n])
		}
		return out
	}
	if ign := sigsOf(os.Getenv("IGNORE")); len(ign) > 0 {
		signal.Ignore(ign...)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, sigsOf(cmp.Or(os.Getenv("FLUSH_ON"), "TERM INT QUIT"))...)
	delay, _ := time.ParseDuration(os.Getenv("DELAY"))
	if err := os.WriteFile(os.Getenv("UP"), []byte("up"), 0o644); err != nil {
		os.Exit(3)
	}
	<-sigs
	time.Sleep(delay)
	_ = os.WriteFile(os.Getenv("DONE"), []byte("flushed"), 0o644)
	os.Exit(0)
}

// TestLatecomerGetsTheStopSignal: a helper the leader starts on the stop's
// signal (a shutdown hook) never got that signal; when the leader exits it
// gets SIGTERM and the stop's grace, not a SIGKILL without warning
// (helper-55's repro 08). Those that got the stop's signal get no second.
func TestLatecomerGetsTheStopSignal(t *testing.T) {
	dir := t.TempDir()
	ready, hookUp, flushed := filepath.Join(dir, "ready"), filepath.Join(dir, "hook-up"), filepath.Join(dir, "flushed")
	hook := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(hook, []byte(`trap 'sleep 0.3; : > "$FLUSHED"; exit 0' TERM; : > "$HOOK_UP"; while :; do sleep 0.05; done`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sh(`trap 'sh "$HOOK" & while [ ! -e "$HOOK_UP" ]; do sleep 0.02; done; exit 7' TERM; : > "$READY"; while :; do sleep 0.05; done`)
	s.Env = append(os.Environ(), "HOOK="+hook, "READY="+ready, "HOOK_UP="+hookUp, "FLUSHED="+flushed)
	s.GroupGrace = 2 * time.Second
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leader's trap", func() bool { _, err := os.Stat(ready); return err == nil })
	if err := p.Stopping(syscall.SIGTERM, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := waitDone(t, p); st.ExitCode() != 7 {
		t.Errorf("leader %v, want exit code 7", st)
	}
	if _, err := os.Stat(flushed); err != nil {
		t.Errorf("the shutdown hook started after the stop's signal was SIGKILLed without a signal of its own: %v", err)
	}
}
