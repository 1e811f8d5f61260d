// Package health schedules checks and turns their results into a state, with
// the semantics of Mesos health checks (and, with Latch and a threshold, of
// DC/OS SDK and Kubernetes readiness checks).
//
// A Checker runs one probe.Prober:
//
//   - the first check starts Delay after Run starts;
//   - each later check starts Interval after the previous one ended, so checks
//     never overlap and a slow check delays the next;
//   - a check running longer than Timeout (0: no limit) has its context
//     cancelled and counts as a failure;
//   - failures are ignored while no check has passed yet and the check ended
//     within GracePeriod of the start (the grace period includes the delay);
//   - FailureThreshold consecutive counted failures make the state Failed
//     (0: never);
//   - with Latch, checking stops at the first success (SDK readiness).
//
// The states of a Checker:
//
//	failure in the grace period (ignored)
//	   ┌───┐
//	   ▼   │
//	 ┌─────────┐   success    ┌─────────┐
//	 │ Unknown │ ───────────► │ Healthy │ ◄────────────────┐
//	 └─────────┘              └─────────┘                  │
//	      │ counted failure        │ failure               │
//	      ▼                        ▼                       │ success
//	 ┌───────────────────────────────────┐    success      │
//	 │             Unhealthy             │ ────────────────┤
//	 └───────────────────────────────────┘                 │
//	      │ consecutive failures ≥ threshold               │
//	      ▼                                                │
//	 ┌────────┐                                            │
//	 │ Failed │ ───────────────────────────────────────────┘
//	 └────────┘
//
// (Unknown and Healthy go straight to Failed when the threshold is 1.)
// Mesos reports healthy=true on entering Healthy and healthy=false on every
// counted failure, and kills the task on entering Failed; the OnResult
// callback gives a caller each of those moments. A readiness check is ready
// while Status.Passed: from a success until the state becomes Failed.
package health

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskkit/taskkit/internal/probe"
)

// State is where a Checker stands.
type State int

// The states of a Checker; see the package documentation.
const (
	Unknown State = iota
	Healthy
	Unhealthy
	Failed
)

// String returns the state's name as /status and the logs show it.
func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	case Failed:
		return "failed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Config is how a Checker schedules and judges checks. The zero value is not
// valid (Interval must be positive); start from MesosDefaults or
// ReadinessDefaults.
type Config struct {
	// Delay is the wait before the first check.
	Delay time.Duration
	// Interval is the wait from the end of one check to the start of the next.
	Interval time.Duration
	// Timeout limits one check; 0 means no limit.
	Timeout time.Duration
	// GracePeriod, counted from Start, is the time during which failures are
	// ignored until the first success.
	GracePeriod time.Duration
	// FailureThreshold is the number of consecutive counted failures that
	// makes the state Failed; 0 means never.
	FailureThreshold int
	// Latch stops checking after the first success.
	Latch bool
	// Start is when the grace period begins; zero means when Run starts.
	Start time.Time
	// Clock tells the time; nil means the real one.
	Clock Clock
	// OnResult, if set, is called after every check from Run's goroutine,
	// before the next check is scheduled. It must not block for long.
	OnResult func(Event)
}

// MesosDefaults returns the defaults of a Mesos HealthCheck: delay 15s,
// interval 10s, timeout 20s, grace period 10s, 3 consecutive failures.
func MesosDefaults() Config {
	return Config{Delay: 15 * time.Second, Interval: 10 * time.Second, Timeout: 20 * time.Second,
		GracePeriod: 10 * time.Second, FailureThreshold: 3}
}

// ReadinessDefaults returns the defaults of an SDK readiness check: no
// delay, interval 10s, timeout 10s, latched at the first success; when not
// latched, 3 consecutive failures drop readiness.
func ReadinessDefaults() Config {
	return Config{Interval: 10 * time.Second, Timeout: 10 * time.Second, FailureThreshold: 3, Latch: true}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []string
	if c.Delay < 0 {
		errs = append(errs, "delay must not be negative")
	}
	if c.Interval <= 0 {
		errs = append(errs, "interval must be positive")
	}
	if c.Timeout < 0 {
		errs = append(errs, "timeout must not be negative")
	}
	if c.GracePeriod < 0 {
		errs = append(errs, "grace period must not be negative")
	}
	if c.FailureThreshold < 0 {
		errs = append(errs, "failure threshold must not be negative")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Check is one completed check.
type Check struct {
	probe.Result
	// Start and End are when the check ran.
	Start, End time.Time
	// Counted is false for a failure ignored in the grace period.
	Counted bool
}

// Passed reports whether the check succeeded.
func (c Check) Passed() bool { return c.Status == probe.Healthy }

// Status is a snapshot of a Checker.
type Status struct {
	// State is the current state.
	State State
	// Since is when State was entered (the start for Unknown).
	Since time.Time
	// Passed is true from a successful check until the state becomes Failed:
	// the readiness of a readiness check.
	Passed bool
	// ConsecutiveFailures counts counted failures since the last success.
	ConsecutiveFailures int
	// Checks, Failures and Ignored count checks run, counted failures, and
	// failures ignored in the grace period.
	Checks, Failures, Ignored uint64
	// Last is the latest check; nil before the first one ends.
	Last *Check
	// LastSuccess and LastFailure are when the latest successful and failed
	// checks ended; zero if none.
	LastSuccess, LastFailure time.Time
	// Latched is true once a Latch checker has passed and stopped checking.
	Latched bool
}

// Event is what OnResult receives after every check.
type Event struct {
	// Check is the check that just ended.
	Check Check
	// From and To are the states before and after it.
	From, To State
	// Status is the snapshot after it.
	Status Status
}

// Changed reports whether the check changed the state.
func (e Event) Changed() bool { return e.From != e.To }

// AbandonAfter is how long a Checker waits, after a check's context was
// cancelled, for a Prober that does not return. It then records the failure
// and goes on without it; only a Prober that ignores its context can cause
// this, and its goroutine is left behind.
const AbandonAfter = 10 * time.Second

// Checker runs checks on a schedule and keeps their state. Its methods are
// safe for concurrent use; reading Status never starts a check.
type Checker struct {
	prober probe.Prober
	cfg    Config
	clock  Clock

	mu      sync.RWMutex
	status  Status
	started bool
}

// New returns a Checker for p; it does nothing until Run.
func New(p probe.Prober, cfg Config) (*Checker, error) {
	if p == nil {
		return nil, errors.New("no check")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clk := cfg.Clock
	if clk == nil {
		clk = RealClock()
	}
	return &Checker{prober: p, cfg: cfg, clock: clk}, nil
}

// Config returns the checker's configuration (with Start set once Run has
// started).
func (c *Checker) Config() Config {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cfg
}

// Status returns the current state; it never starts a check.
func (c *Checker) Status() Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.status
	if st.Last != nil {
		last := *st.Last
		st.Last = &last
	}
	return st
}

// InGrace reports whether a failure ending now would be ignored.
func (c *Checker) InGrace() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.inGraceLocked(c.clock.Now())
}

func (c *Checker) inGraceLocked(now time.Time) bool {
	return c.status.LastSuccess.IsZero() && c.cfg.GracePeriod > 0 && !now.After(c.cfg.Start.Add(c.cfg.GracePeriod))
}

// Run checks until ctx is done — or, with Latch, until the first success —
// then returns nil. A check in progress when ctx ends is stopped and not
// recorded. Run may be called only once.
func (c *Checker) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("health: Checker.Run called twice")
	}
	c.started = true
	if c.cfg.Start.IsZero() {
		c.cfg.Start = c.clock.Now()
	}
	c.status.Since = c.cfg.Start
	c.mu.Unlock()

	wait := c.cfg.Delay
	for {
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return nil
		}
		chk, ok := c.check(ctx)
		if !ok {
			return nil
		}
		ev := c.record(chk)
		if c.cfg.OnResult != nil {
			c.cfg.OnResult(ev)
		}
		if ev.Status.Latched {
			return nil
		}
		wait = c.cfg.Interval
	}
}

// check runs one check; ok is false when ctx ended first.
func (c *Checker) check(ctx context.Context) (chk Check, ok bool) {
	chk.Start = c.clock.Now()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var tctx context.Context = pctx
	if c.cfg.Timeout > 0 {
		var tcancel context.CancelFunc
		tctx, tcancel = c.clock.WithTimeout(pctx, c.cfg.Timeout)
		defer tcancel()
	}
	results := make(chan probe.Result, 1) // the probe goroutine never blocks on send
	go func() { results <- c.prober.Probe(tctx) }()

	select {
	case chk.Result = <-results:
		if ctx.Err() != nil {
			return chk, false
		}
		if tctx.Err() != nil && chk.Status != probe.Healthy {
			// The check lost the race with its timeout.
			chk.Result = timedOut(chk.Result, c.cfg.Timeout)
		}
	case <-tctx.Done():
		if ctx.Err() != nil {
			c.awaitAbandon(results)
			return chk, false
		}
		r, returned := c.awaitAbandon(results)
		chk.Result = timedOut(r, c.cfg.Timeout)
		if !returned {
			chk.Reason += " (the check did not stop; abandoned)"
		}
	}
	chk.End = c.clock.Now()
	return chk, true
}

// awaitAbandon waits up to AbandonAfter for a cancelled probe to return.
func (c *Checker) awaitAbandon(results <-chan probe.Result) (probe.Result, bool) {
	actx, cancel := c.clock.WithTimeout(context.Background(), AbandonAfter)
	defer cancel()
	select {
	case r := <-results:
		return r, true
	case <-actx.Done():
		return probe.Result{ExitCode: -1}, false
	}
}

func timedOut(r probe.Result, timeout time.Duration) probe.Result {
	r.Status = probe.Unhealthy
	r.Reason = "timed out after " + FormatDuration(timeout)
	r.ExitCode = -1
	return r
}

// record applies one check to the state.
func (c *Checker) record(chk Check) Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.status
	from := st.State
	st.Checks++
	if chk.Passed() {
		chk.Counted = true
		st.ConsecutiveFailures = 0
		st.LastSuccess = chk.End
		st.Passed = true
		st.State = Healthy
		st.Latched = c.cfg.Latch
	} else {
		st.LastFailure = chk.End
		if c.inGraceLocked(chk.End) {
			st.Ignored++
		} else {
			chk.Counted = true
			st.Failures++
			st.ConsecutiveFailures++
			st.State = Unhealthy
			if c.cfg.FailureThreshold > 0 && st.ConsecutiveFailures >= c.cfg.FailureThreshold {
				st.State = Failed
				st.Passed = false
			}
		}
	}
	if st.State != from {
		st.Since = chk.End
	}
	last := chk
	st.Last = &last
	snap := *st
	lastCopy := *st.Last
	snap.Last = &lastCopy
	return Event{Check: chk, From: from, To: st.State, Status: snap}
}

// ParseDuration parses a check duration the way svc.yml and Mesos write
// them — a bare number of seconds ("15", "0.5") — or in Go syntax ("1m30s",
// "500ms"), either with an optional sign. A negative duration, in either
// form ("-1", "-1s"), is an error saying so (`duration "-1" is negative`).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var (
		d   time.Duration
		err error
	)
	num := strings.TrimLeft(s[:1], "+-") + s[1:]
	if isSeconds(num) {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f > float64(1<<63-1)/float64(time.Second) {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		if d = time.Duration(f * float64(time.Second)); s[0] == '-' {
			d = -d
		}
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("invalid duration %q: want seconds (15) or a Go duration (1m30s)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// isSeconds reports whether s is a plain decimal number: digits with at most
// one dot.
func isSeconds(s string) bool {
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// FormatDuration writes d as ParseDuration reads it: "15s", "1m30s", "0s".
func FormatDuration(d time.Duration) string { return d.String() }
