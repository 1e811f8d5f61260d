// Package healthreport publishes what healthd's checkers know: it logs
// state transitions once, serves GET /health, /ready, /status and /metrics,
// and keeps a status file up to date. Nothing here ever starts a check: every
// answer comes from the last result.
//
// Everything published — check descriptions, reasons, output — goes through a
// redact.Redactor first, so a secret in the task environment that a check
// prints never reaches a log, a response or the status file.
package healthreport

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/safefile"
)

// Kind names a check in logs, JSON and metric labels.
type Kind string

// The two kinds of check healthd runs.
const (
	Health    Kind = "health"
	Readiness Kind = "readiness"
)

// Options configures a Reporter.
type Options struct {
	// Mode is "supervise" or "sidecar", shown in /status.
	Mode string
	// Health and Readiness are the checkers, nil when not configured, and
	// HealthDesc and ReadinessDesc describe their checks ("cmd: ./check-up").
	Health, Readiness         *health.Checker
	HealthDesc, ReadinessDesc string
	// StatusFile, if set, receives the /status JSON on every change.
	StatusFile string
	// Redactor masks secrets; nil means redact.Default() with the process
	// environment learned.
	Redactor *redact.Redactor
	// Log receives transitions; nil discards them.
	Log *slog.Logger
	// Now tells the time for "updated"; nil means time.Now.
	Now func() time.Time
}

// Reporter collects check events and publishes them. Its methods are safe
// for concurrent use.
type Reporter struct {
	opts  Options
	dirty chan struct{}

	metricSet *metrics.Set
	metrics   map[Kind]*checkMetrics // only the kinds configured

	mu      sync.Mutex
	proc    *ProcessView
	stopped bool
}

// New returns a Reporter. Call its Observe method from each checker's
// OnResult.
func New(opts Options) *Reporter {
	if opts.Redactor == nil {
		opts.Redactor = redact.Default().LearnEnv(osEnviron())
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.HealthDesc = opts.Redactor.String(opts.HealthDesc)
	opts.ReadinessDesc = opts.Redactor.String(opts.ReadinessDesc)
	r := &Reporter{opts: opts, dirty: make(chan struct{}, 1)}
	r.metricSet, r.metrics = newMetrics(r)
	return r
}

// Observe records one check of kind k: metrics, a log record when the state
// changed, and a status file update.
func (r *Reporter) Observe(k Kind, e health.Event) {
	if m := r.metrics[k]; m != nil {
		m.observe(e.Check)
	}
	r.logEvent(k, e)
	r.markDirty()
}

func (r *Reporter) logEvent(k Kind, e health.Event) {
	log := r.opts.Log.With("check", string(k))
	// The logger masks secrets too, but only what it is given: the output
	// is masked before it is cut (probe.Result.Masked).
	c := e.Check
	c.Result = c.Masked(r.opts.Redactor.String)
	attrs := []any{"reason", c.Reason}
	if c.Output != "" {
		attrs = append(attrs, "output", c.Output)
	}
	threshold := r.checker(k).Config().FailureThreshold
	switch {
	case !c.Counted:
		log.Debug("failure ignored in the grace period", attrs...)
	case k == Readiness && e.Changed() && e.To == health.Healthy && e.From != health.Unhealthy:
		log.Info("ready", attrs...)
	case k == Readiness && e.Changed() && e.To == health.Failed:
		log.Warn("not ready", append(attrs, "consecutive_failures", e.Status.ConsecutiveFailures)...)
	case k == Readiness:
		log.Debug("readiness check", append(attrs, "status", c.Status.String())...)
	case !e.Changed():
		log.Debug("health check", append(attrs, "status", c.Status.String(), "consecutive_failures", e.Status.ConsecutiveFailures)...)
	case e.To == health.Healthy && e.From == health.Unknown:
		log.Info("healthy", attrs...)
	case e.To == health.Healthy:
		log.Info("healthy again", append(attrs, "after", e.From.String())...)
	case e.To == health.Unhealthy:
		log.Warn("unhealthy", append(attrs, "consecutive_failures", e.Status.ConsecutiveFailures, "threshold", threshold)...)
	case e.To == health.Failed:
		log.Error("health check failure threshold reached", append(attrs, "consecutive_failures", e.Status.ConsecutiveFailures, "threshold", threshold)...)
	}
}

func (r *Reporter) checker(k Kind) *health.Checker {
	if k == Readiness {
		return r.opts.Readiness
	}
	return r.opts.Health
}

// ProcessView is the supervised command as /status shows it.
type ProcessView struct {
	Pid      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Running  bool      `json:"running"`
	ExitCode *int      `json:"exit_code,omitempty"`
	Stopping string    `json:"stopping,omitempty"`
}

// SetProcess records the supervised command's pid.
func (r *Reporter) SetProcess(pid int, started time.Time) {
	r.mu.Lock()
	r.proc = &ProcessView{Pid: pid, Started: started, Running: true}
	r.mu.Unlock()
	r.markDirty()
}

// SetStopping records why healthd is stopping the command (or itself); from
// then on Ready is false.
func (r *Reporter) SetStopping(why string) {
	r.mu.Lock()
	if r.proc != nil {
		r.proc.Stopping = r.opts.Redactor.String(why)
	}
	r.stopped = true
	r.mu.Unlock()
	r.markDirty()
}

// SetExited records the command's exit code.
func (r *Reporter) SetExited(code int) {
	r.mu.Lock()
	if r.proc != nil {
		r.proc.Running, r.proc.ExitCode = false, &code
	}
	r.mu.Unlock()
	r.markDirty()
}

func (r *Reporter) markDirty() {
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// Healthy reports what GET /health answers: the health check's state is
// Healthy, or there is no health check and the command (if any) runs and is
// not being stopped.
func (r *Reporter) Healthy() bool {
	if r.opts.Health != nil {
		return r.opts.Health.Status().State == health.Healthy
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.stopped && (r.proc == nil || r.proc.Running)
}

// Ready reports what GET /ready answers: false while the command is being
// stopped (so load balancers drain it); otherwise the readiness check has
// passed (and, without latching, not failed since), or there is no readiness
// check and Healthy holds.
func (r *Reporter) Ready() bool {
	r.mu.Lock()
	stopping := r.stopped
	r.mu.Unlock()
	if stopping {
		return false
	}
	if r.opts.Readiness != nil {
		return r.opts.Readiness.Status().Passed
	}
	return r.Healthy()
}

// Snapshot is the /status document and the status file's content.
type Snapshot struct {
	Mode      string       `json:"mode"`
	Healthy   bool         `json:"healthy"`
	Ready     bool         `json:"ready"`
	Process   *ProcessView `json:"process,omitempty"`
	Health    *CheckView   `json:"health,omitempty"`
	Readiness *CheckView   `json:"readiness,omitempty"`
	Updated   time.Time    `json:"updated"`
}

// CheckView is one checker in a Snapshot.
type CheckView struct {
	Check               string      `json:"check"`
	State               string      `json:"state"`
	Since               time.Time   `json:"since"`
	Passed              bool        `json:"passed"`
	InGrace             bool        `json:"in_grace"`
	Latched             bool        `json:"latched,omitempty"`
	ConsecutiveFailures int         `json:"consecutive_failures"`
	FailureThreshold    int         `json:"failure_threshold"`
	Checks              uint64      `json:"checks"`
	Failures            uint64      `json:"failures"`
	Ignored             uint64      `json:"ignored"`
	LastSuccess         *time.Time  `json:"last_success,omitempty"`
	LastFailure         *time.Time  `json:"last_failure,omitempty"`
	Last                *ResultView `json:"last,omitempty"`
}

// ResultView is one check result in a CheckView.
type ResultView struct {
	Status          string    `json:"status"`
	Reason          string    `json:"reason"`
	Output          string    `json:"output"`
	Truncated       bool      `json:"truncated"`
	ExitCode        *int      `json:"exit_code,omitempty"`
	HTTPStatus      int       `json:"http_status,omitempty"`
	Counted         bool      `json:"counted"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// Snapshot returns the current status.
func (r *Reporter) Snapshot() Snapshot {
	s := Snapshot{Mode: r.opts.Mode, Healthy: r.Healthy(), Ready: r.Ready(), Updated: r.opts.Now().UTC()}
	if r.opts.Health != nil {
		s.Health = r.view(r.opts.Health, r.opts.HealthDesc)
	}
	if r.opts.Readiness != nil {
		s.Readiness = r.view(r.opts.Readiness, r.opts.ReadinessDesc)
	}
	r.mu.Lock()
	if r.proc != nil {
		p := *r.proc
		s.Process = &p
	}
	r.mu.Unlock()
	return s
}

func (r *Reporter) view(c *health.Checker, desc string) *CheckView {
	st := c.Status()
	v := &CheckView{
		Check: desc, State: st.State.String(), Since: st.Since.UTC(), Passed: st.Passed, InGrace: c.InGrace(),
		Latched: st.Latched, ConsecutiveFailures: st.ConsecutiveFailures, FailureThreshold: c.Config().FailureThreshold,
		Checks: st.Checks, Failures: st.Failures, Ignored: st.Ignored,
		LastSuccess: timePtr(st.LastSuccess), LastFailure: timePtr(st.LastFailure),
	}
	if l := st.Last; l != nil {
		m := l.Masked(r.opts.Redactor.String) // masked before the output is cut
		v.Last = &ResultView{
			Status: l.Status.String(), Reason: m.Reason, Output: m.Output,
			Truncated: m.Truncated, HTTPStatus: l.StatusCode, Counted: l.Counted, Start: l.Start.UTC(), End: l.End.UTC(),
			DurationSeconds: l.End.Sub(l.Start).Seconds(),
		}
		if l.ExitCode >= 0 {
			code := l.ExitCode
			v.Last.ExitCode = &code
		}
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// JSON returns the snapshot as indented JSON with a trailing newline.
func (s Snapshot) JSON() []byte {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil { // cannot happen: only plain types
		panic(err)
	}
	return append(b, '\n')
}

// WriteStatusFile writes the status file once, returning the error; nil
// when no status file is configured. healthd calls it at start-up, before
// the command starts, so a status file that cannot be created is a
// configuration error rather than a warning.
func (r *Reporter) WriteStatusFile() error {
	if r.opts.StatusFile == "" {
		return nil
	}
	_, err := safefile.Write(safefile.File{Path: r.opts.StatusFile, Data: r.Snapshot().JSON(), Perm: 0o644})
	return err
}

// RunStatusFile writes the status file at once and on every change until ctx
// is done, then once more; it returns at once when no status file is
// configured. Write failures are logged when they start and when they stop.
func (r *Reporter) RunStatusFile(ctx context.Context) {
	if r.opts.StatusFile == "" {
		return
	}
	failing := false
	write := func() {
		err := r.WriteStatusFile()
		switch {
		case err != nil && !failing:
			r.opts.Log.Warn("cannot write the status file", "path", r.opts.StatusFile, "err", err)
		case err == nil && failing:
			r.opts.Log.Info("status file written again", "path", r.opts.StatusFile)
		}
		failing = err != nil
	}
	write()
	for {
		select {
		case <-r.dirty:
			write()
		case <-ctx.Done():
			write()
			return
		}
	}
}
