package health

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/probe"
)

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// stuck bounds how long a test waits (in real time) for the checker's
// goroutine to reach its next step; it is never reached when all is well.
const stuck = 30 * time.Second

// step is what the scripted prober does for one check.
type step struct {
	took   time.Duration // simulated time the check takes
	status probe.Status
	hang   bool // never answer: only the checker's timeout ends it
}

var (
	ok   = step{status: probe.Healthy}
	fail = step{status: probe.Unhealthy}
	hang = step{hang: true}
)

func (s step) taking(d time.Duration) step { s.took = d; return s }

// want is what the test expects of one check.
type want struct {
	at      time.Duration // start, from t0
	to      State
	counted bool
	passed  bool
	consec  int
	reason  string // substring; "" to skip
}

type probeCall struct {
	ctx   context.Context
	reply chan probe.Result
}

// harness runs a Checker on a fake clock, one scripted check at a time.
type harness struct {
	t      *testing.T
	clk    *fakeClock
	calls  chan probeCall
	events chan Event
	done   chan struct{}
	cancel context.CancelFunc
	c      *Checker
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t, clk: newFakeClock(t0), calls: make(chan probeCall), events: make(chan Event, 100), done: make(chan struct{})}
	cfg.Clock = h.clk
	cfg.OnResult = func(e Event) { h.events <- e }
	p := probe.Func(func(ctx context.Context) probe.Result {
		reply := make(chan probe.Result, 1)
		select {
		case h.calls <- probeCall{ctx, reply}:
		case <-ctx.Done():
			return probe.TimedOut(ctx)
		}
		select {
		case r := <-reply:
			return r
		case <-ctx.Done():
			return probe.TimedOut(ctx)
		}
	})
	c, err := New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(stuck):
		h.t.Fatal("Run did not return after cancel")
	}
}

// run performs one scripted check: it lets the checker's sleeps elapse until
// the check starts, plays s, and returns the check's start and its event.
func (h *harness) run(s step) (time.Time, Event) {
	h.t.Helper()
	var call probeCall
	for waiting := true; waiting; {
		select {
		case sl := <-h.clk.sleeping:
			h.clk.AdvanceTo(sl.until)
		case call = <-h.calls:
			waiting = false
		case <-time.After(stuck):
			h.t.Fatal("checker never started the next check")
		}
	}
	start := h.clk.Now()
	if s.hang {
		h.clk.Advance(h.c.cfg.Timeout)
	} else {
		h.clk.Advance(s.took)
		call.reply <- probe.Result{Status: s.status, Reason: "scripted " + s.status.String(), ExitCode: -1}
	}
	select {
	case ev := <-h.events:
		return start, ev
	case <-time.After(stuck):
		h.t.Fatal("no event after the check")
	}
	return start, Event{}
}

// cfg returns MesosDefaults changed by mod.
func cfg(mod func(*Config)) Config {
	c := MesosDefaults()
	mod(&c)
	return c
}

func TestChecker(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		want  []want
		// latched: Run must return on its own after the last step.
		latched bool
	}{
		{
			name:  "mesos defaults: first check after the delay, then interval after the end",
			cfg:   MesosDefaults(),
			steps: []step{ok.taking(s), ok.taking(7 * s), ok},
			want: []want{
				{at: 15 * s, to: Healthy, counted: true, passed: true},
				{at: 26 * s, to: Healthy, counted: true, passed: true},
				{at: 43 * s, to: Healthy, counted: true, passed: true},
			},
		},
		{
			name:  "failures inside the grace period are ignored, after it they count",
			cfg:   cfg(func(c *Config) { c.Delay, c.Interval, c.GracePeriod = 0, 3*s, 10*s }),
			steps: []step{fail, fail, fail, fail, fail, fail, fail},
			want: []want{
				{at: 0, to: Unknown},
				{at: 3 * s, to: Unknown},
				{at: 6 * s, to: Unknown},
				{at: 9 * s, to: Unknown},
				{at: 12 * s, to: Unhealthy, counted: true, consec: 1},
				{at: 15 * s, to: Unhealthy, counted: true, consec: 2},
				{at: 18 * s, to: Failed, counted: true, consec: 3},
			},
		},
		{
			name:  "the grace period includes the delay and its end is inclusive",
			cfg:   cfg(func(c *Config) { c.Delay, c.Interval, c.GracePeriod = 5*s, 4*s, 10*s }),
			steps: []step{fail, fail.taking(s), fail},
			want: []want{
				{at: 5 * s, to: Unknown},
				{at: 9 * s, to: Unknown}, // ends at exactly 10s
				{at: 14 * s, to: Unhealthy, counted: true, consec: 1},
			},
		},
		{
			name:  "the grace period ends at the first success",
			cfg:   cfg(func(c *Config) { c.Delay, c.Interval, c.GracePeriod = 0, 5*s, time.Hour }),
			steps: []step{fail, ok, fail},
			want: []want{
				{at: 0, to: Unknown},
				{at: 5 * s, to: Healthy, counted: true, passed: true},
				{at: 10 * s, to: Unhealthy, counted: true, passed: true, consec: 1},
			},
		},
		{
			name:  "threshold, then recovery after a success resets the count",
			cfg:   cfg(func(c *Config) { c.Delay, c.Interval, c.GracePeriod = 0, 10*s, 0 }),
			steps: []step{ok, fail, fail, fail, fail, ok, fail},
			want: []want{
				{at: 0, to: Healthy, counted: true, passed: true},
				{at: 10 * s, to: Unhealthy, counted: true, passed: true, consec: 1},
				{at: 20 * s, to: Unhealthy, counted: true, passed: true, consec: 2},
				{at: 30 * s, to: Failed, counted: true, consec: 3},
				{at: 40 * s, to: Failed, counted: true, consec: 4},
				{at: 50 * s, to: Healthy, counted: true, passed: true},
				{at: 60 * s, to: Unhealthy, counted: true, passed: true, consec: 1},
			},
		},
		{
			name:  "a timeout is a failure and the next check starts an interval after it",
			cfg:   cfg(func(c *Config) { c.Delay, c.Interval, c.GracePeriod, c.Timeout = 0, 10*s, 0, 20*s }),
			steps: []step{hang, ok},
			want: []want{
				{at: 0, to: Unhealthy, counted: true, consec: 1, reason: "timed out after 20s"},
				{at: 30 * s, to: Healthy, counted: true, passed: true},
			},
		},
		{
			name:  "a check that could not run counts as a failure",
			cfg:   cfg(func(c *Config) { c.Delay, c.GracePeriod, c.FailureThreshold = 0, 0, 1 }),
			steps: []step{{status: probe.Error}},
			want:  []want{{at: 0, to: Failed, counted: true, consec: 1, reason: "scripted error"}},
		},
		{
			name:  "threshold 0 never fails",
			cfg:   cfg(func(c *Config) { c.Delay, c.GracePeriod, c.FailureThreshold = 0, 0, 0 }),
			steps: []step{fail, fail, fail, fail},
			want: []want{
				{at: 0, to: Unhealthy, counted: true, consec: 1},
				{at: 10 * s, to: Unhealthy, counted: true, consec: 2},
				{at: 20 * s, to: Unhealthy, counted: true, consec: 3},
				{at: 30 * s, to: Unhealthy, counted: true, consec: 4},
			},
		},
		{
			name:  "threshold 1 fails at once from healthy",
			cfg:   cfg(func(c *Config) { c.Delay, c.GracePeriod, c.FailureThreshold = 0, 0, 1 }),
			steps: []step{ok, fail},
			want: []want{
				{at: 0, to: Healthy, counted: true, passed: true},
				{at: 10 * s, to: Failed, counted: true, consec: 1},
			},
		},
		{
			name:  "readiness latch: ready at the first success, then no more checks",
			cfg:   ReadinessDefaults(),
			steps: []step{fail, fail.taking(2 * s), ok},
			want: []want{
				{at: 0, to: Unhealthy, counted: true, consec: 1},
				{at: 10 * s, to: Unhealthy, counted: true, consec: 2},
				{at: 22 * s, to: Healthy, counted: true, passed: true},
			},
			latched: true,
		},
		{
			name:  "readiness without latch: drops after the failure threshold, comes back",
			cfg:   cfg(func(c *Config) { *c = ReadinessDefaults(); c.Latch, c.Interval = false, 5*s }),
			steps: []step{ok, fail, fail, fail, ok},
			want: []want{
				{at: 0, to: Healthy, counted: true, passed: true},
				{at: 5 * s, to: Unhealthy, counted: true, passed: true, consec: 1},
				{at: 10 * s, to: Unhealthy, counted: true, passed: true, consec: 2},
				{at: 15 * s, to: Failed, counted: true, consec: 3},
				{at: 20 * s, to: Healthy, counted: true, passed: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			prev := Unknown
			for i, s := range tt.steps {
				start, ev := h.run(s)
				w := tt.want[i]
				st := ev.Status
				if got := start.Sub(t0); got != w.at {
					t.Errorf("check %d started at %v, want %v", i, got, w.at)
				}
				if ev.From != prev || ev.To != w.to || st.State != w.to || ev.Check.Counted != w.counted ||
					st.Passed != w.passed || st.ConsecutiveFailures != w.consec || !strings.Contains(ev.Check.Reason, w.reason) {
					t.Errorf("check %d: %v→%v counted=%v passed=%v consec=%d reason=%q; want →%v counted=%v passed=%v consec=%d reason~%q",
						i, ev.From, ev.To, ev.Check.Counted, st.Passed, st.ConsecutiveFailures, ev.Check.Reason,
						w.to, w.counted, w.passed, w.consec, w.reason)
				}
				if ev.Check.Start != start || ev.Check.End.Before(start) || st.Last == nil || st.Last.End != ev.Check.End {
					t.Errorf("check %d: times %v..%v, last %+v", i, ev.Check.Start, ev.Check.End, st.Last)
				}
				if st.Checks != uint64(i+1) {
					t.Errorf("check %d: Checks = %d", i, st.Checks)
				}
				if got := h.c.Status(); got.State != st.State || got.Checks != st.Checks {
					t.Errorf("check %d: Status() = %v/%d, event said %v/%d", i, got.State, got.Checks, st.State, st.Checks)
				}
				if ev.Changed() && st.Since != ev.Check.End {
					t.Errorf("check %d: Since = %v, want the check's end %v", i, st.Since, ev.Check.End)
				}
				prev = ev.To
			}
			if tt.latched {
				select {
				case <-h.done:
				case <-time.After(stuck):
					t.Fatal("latched checker did not stop")
				}
				if !h.c.Status().Latched {
					t.Fatal("Status().Latched is false")
				}
			}
		})
	}
}

func TestCheckerCounters(t *testing.T) {
	h := newHarness(t, cfg(func(c *Config) { c.Delay, c.Interval, c.GracePeriod = 0, time.Second, 2*time.Second }))
	for _, s := range []step{fail, fail, fail, ok, fail} {
		h.run(s)
	}
	st := h.c.Status()
	if st.Checks != 5 || st.Ignored != 3 || st.Failures != 1 || st.LastSuccess != t0.Add(3*time.Second) || st.LastFailure != t0.Add(4*time.Second) {
		t.Fatalf("status %+v", st)
	}
}

func TestCheckerAbandonsAProbeIgnoringItsContext(t *testing.T) {
	clk := newFakeClock(t0)
	events := make(chan Event, 10)
	release := make(chan struct{})
	defer close(release)
	called := make(chan struct{}, 10)
	p := probe.Func(func(ctx context.Context) probe.Result {
		called <- struct{}{}
		<-release // ignores ctx
		return probe.Result{Status: probe.Healthy}
	})
	c, err := New(p, Config{Interval: time.Second, Timeout: 5 * time.Second, FailureThreshold: 3, Clock: clk,
		OnResult: func(e Event) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	<-called
	// The check's timeout, then the abandon deadline, each once registered.
	for _, d := range []time.Duration{5 * time.Second, AbandonAfter} {
		select {
		case at := <-clk.deadlines:
			clk.AdvanceTo(at)
		case <-time.After(stuck):
			t.Fatalf("no deadline registered for %v", d)
		}
	}
	select {
	case ev := <-events:
		if ev.To != Unhealthy || !strings.Contains(ev.Check.Reason, "timed out after 5s (the check did not stop; abandoned)") {
			t.Fatalf("event %v %q", ev.To, ev.Check.Reason)
		}
		if got := ev.Check.End.Sub(ev.Check.Start); got != 5*time.Second+AbandonAfter {
			t.Fatalf("check took %v", got)
		}
	case <-time.After(stuck):
		t.Fatal("no event")
	}
}

func TestCheckerStopsMidCheckWithoutRecording(t *testing.T) {
	h := newHarness(t, cfg(func(c *Config) { c.Delay = 0 }))
	select {
	case <-h.calls:
	case <-time.After(stuck):
		t.Fatal("no check")
	}
	h.stop()
	select {
	case ev := <-h.events:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
	if st := h.c.Status(); st.Checks != 0 || st.State != Unknown {
		t.Fatalf("status %+v", st)
	}
}

func TestCheckerRealClock(t *testing.T) {
	c, err := New(probe.Func(func(context.Context) probe.Result { return probe.Result{Status: probe.Healthy} }),
		Config{Interval: time.Millisecond, Latch: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stuck)
	defer cancel()
	if err := c.Run(ctx); err != nil || !c.Status().Latched || c.Status().State != Healthy {
		t.Fatalf("Run = %v, status %+v", err, c.Status())
	}
	if err := c.Run(ctx); err == nil {
		t.Fatal("second Run succeeded")
	}
	if c.InGrace() {
		t.Fatal("InGrace after a success")
	}
}

func TestNewInvalid(t *testing.T) {
	p := probe.Func(func(context.Context) probe.Result { return probe.Result{} })
	if _, err := New(nil, MesosDefaults()); err == nil {
		t.Error("nil prober accepted")
	}
	bad := Config{Delay: -1, Interval: 0, Timeout: -1, GracePeriod: -1, FailureThreshold: -1}
	_, err := New(p, bad)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, w := range []string{"delay", "interval", "timeout", "grace period", "failure threshold"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %s", err, w)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"15", 15 * time.Second, ""},
		{" 0 ", 0, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"", 0, "empty"},
		{"-5s", 0, `duration "-5s" is negative`},
		{"-5", 0, `duration "-5" is negative`},
		{"-0.5", 0, `duration "-0.5" is negative`},
		{"-0", 0, ""},
		{"+2", 2 * time.Second, ""},
		{"--5", 0, "invalid"},
		{"-", 0, "invalid"},
		{"ten", 0, "invalid"},
		{"1e3", 0, "invalid"},
		{"NaN", 0, "invalid"},
		{"1.2.3", 0, "invalid"},
		{"99999999999999999999", 0, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error ~%q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Unknown: "unknown", Healthy: "healthy", Unhealthy: "unhealthy", Failed: "failed", 7: "State(7)"} {
		if s.String() != want {
			t.Errorf("%d: %q", int(s), s)
		}
	}
}
