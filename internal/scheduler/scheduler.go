// Package scheduler is scheduler-lite's Mesos v1 HTTP scheduler: it
// subscribes to the master (re-using a stored framework ID), turns the
// ServiceSpec's pods into plans, fits pod instances into offers (all their
// tasks plus the executor's resources, ports carved, placement rules
// honoured) and launches them with LAUNCH_GROUP, declines what it does not
// need, suppresses offers while idle and revives them when work appears,
// follows task status updates (storing each before acknowledging it) and
// relaunches failed RUNNING tasks through the recovery plan.
//
// One goroutine (Run's) owns the Mesos conversation; the HTTP API reads and
// changes the same state through the methods in control.go, under one lock.
// Calls to the master are made without that lock held.
//
// Write-before-act: the framework ID is stored before the scheduler uses it,
// a TaskInfo before the ACCEPT that launches it, a status before its
// acknowledgement, plan progress whenever a step changes.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/metrics"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
)

// Executor modes.
const (
	ExecutorDefault = "default" // LAUNCH_GROUP with Mesos' DEFAULT executor
	ExecutorTaskkit = "taskkit" // taskkit's executor, fetched as a CUSTOM executor
)

// Config configures a Scheduler. Loaded, Store and MasterURL are required.
type Config struct {
	// Loaded is the service spec to deploy.
	Loaded *spec.Loaded
	// Store keeps the state; the caller closes it after Run returns.
	Store store.Store
	// MasterURL is the master's base URL (http://host:5050).
	MasterURL string
	// FrameworkName (default the spec's name), Role (default <name>-role),
	// User (default the current user), Principal (default the spec's
	// scheduler.principal) are registered with Mesos.
	FrameworkName, Role, User, Principal string
	// Secret is sent with Principal as HTTP basic authentication.
	Secret string
	// FailoverTimeout (default 2 weeks), WebUIURL and Checkpoint go into
	// FrameworkInfo.
	FailoverTimeout time.Duration
	WebUIURL        string
	Checkpoint      bool
	// Executor is ExecutorDefault or ExecutorTaskkit.
	Executor string
	// APIHostname and APIPort are how tasks (and agents' fetchers) reach the
	// scheduler's API: SCHEDULER_API_HOSTNAME, template and artifact URIs.
	APIHostname string
	APIPort     int
	// Artifacts are the binaries served under /v1/artifacts/bin/ that every
	// pod fetches (bootstrap, healthd, tlsprov); "executor" is only fetched
	// by the taskkit executor.
	Artifacts []string
	// ArtifactDigests maps an artifact to a digest of its content. With one,
	// its URI carries ?sha256=<digest> and cache=true, so an agent's fetcher
	// cache serves every pod after the first from disk, and a changed binary
	// gets a new URI instead of a stale cache entry.
	ArtifactDigests map[string]string
	// SecretsDir holds the files pod secrets name.
	SecretsDir string
	// CA issues transport-encryption certificates; nil means the one kept in
	// the store, created on first use.
	CA *pki.Issuer
	// TLSKeyType is the leaf key type (default RSA 2048, as the SDK).
	TLSKeyType pki.KeyType
	// Env is the scheduler's environment (TASKCFG_* variables).
	Env []string
	// TaskEnv is added to every task's environment (e.g. BOOTSTRAP_RESOLVERS
	// in local mode).
	TaskEnv []string
	// RefuseShort is the decline filter while work waits (default 1 s);
	// RefuseLong when nothing is pending (default 1 h).
	RefuseShort, RefuseLong time.Duration
	// ReviveInterval is the least time between two REVIVE calls (default 1 s).
	ReviveInterval time.Duration
	// ReconcileBackoff is the interval between explicit reconciliation
	// rounds while some task is unanswered (default 4 s doubling to 30 s, as
	// the SDK). ImplicitReconcileInterval is the period of implicit
	// reconciliation once explicit reconciliation is done (default 1 h).
	ReconcileBackoff          plan.Backoff
	ImplicitReconcileInterval time.Duration
	// AgentLostTimeout is how long the recovery of a task that failed
	// transiently (a crash, or its agent unreachable) waits for that agent
	// before the pod is placed anew as a permanent failure (default 5 min).
	AgentLostTimeout time.Duration
	// Backoff is the crash-loop backoff of deploy and recovery steps
	// (default plan.DefaultBackoff: 1 s doubling to 30 s). A pod instance
	// that fails again within 2×Backoff.Max of its previous failure is
	// relaunched only after the next delay (its recovery step DELAYED).
	Backoff plan.Backoff
	// Metrics receives counters and timers; nil makes a private registry.
	Metrics *metrics.Registry
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// taskState is what the scheduler knows of one task (by full name).
type taskState struct {
	name   string // <pod>-<index>-<task>
	pod    string
	index  int
	spec   *spec.TaskSpec
	info   *mesos.TaskInfo
	status *mesos.TaskStatus
	ready  bool
	step   *plan.Step // the step that launched it, while in flight
	place  placement
	// replace asks the next launch to place the task anew (pod replace);
	// otherwise a recovery relaunches it on the same agent until pinUntil.
	replace  bool
	pinUntil time.Time
}

// placement records where a task runs, for placement rules.
type placement struct {
	AgentID, Hostname, Zone, Region string
	Attrs                           map[string]string
}

// Scheduler is a running scheduler; see New and Run.
type Scheduler struct {
	cfg  Config
	spec *spec.ServiceSpec
	log  *slog.Logger
	m    *metrics.Registry

	mu          sync.Mutex
	frameworkID string
	caller      calls.Caller
	// acks queues ACKNOWLEDGE calls for the session's sender, so a status
	// update costs the event loop a store write, not a round trip.
	acks        chan *scheduler.Call
	deploy      *plan.Plan
	recovery    *plan.Plan
	custom      []*plan.Plan
	tasks       map[string]*taskState
	byID        map[string]string // task ID → name
	pendingKill map[string]string // pod instance → "restart" | "replace"
	values      map[string]map[string]bool
	suppressed  bool
	// declinedShort: offers were declined with RefuseShort while work
	// remained; new eligible work revives them at once.
	declinedShort bool
	lastRevive    time.Time
	connected     bool
	ca            *pki.Issuer
	// Reconciliation state (reconcile.go).
	reconciling                                 bool
	unanswered                                  map[string]string // task ID → agent ID
	reconcileDelay                              time.Duration
	reconcileStart, nextReconcile, nextImplicit time.Time
	reconciledAt, disconnectedAt                time.Time
	// crash is each pod instance's crash-loop state (recovery.go).
	crash map[string]*crashState
	// outbox holds calls decided under s.mu, sent by flush without it.
	outbox []*scheduler.Call

	kick chan struct{}
}

// New checks cfg, fills in defaults and restores the plans' progress and
// the tasks from the store.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Loaded == nil || cfg.Store == nil || cfg.MasterURL == "" {
		return nil, errors.New("scheduler: Loaded, Store and MasterURL are required")
	}
	s := cfg.Loaded.Spec
	if cfg.FrameworkName == "" {
		cfg.FrameworkName = s.Name
	}
	if cfg.Role == "" {
		cfg.Role = strings.ReplaceAll(strings.TrimPrefix(cfg.FrameworkName, "/"), "/", "__") + "-role"
	}
	if cfg.Principal == "" && s.Scheduler != nil {
		cfg.Principal = s.Scheduler.Principal
	}
	if cfg.User == "" && s.Scheduler != nil {
		cfg.User = s.Scheduler.User
	}
	if cfg.User == "" {
		cfg.User = os.Getenv("USER")
		if cfg.User == "" {
			cfg.User = "root"
		}
	}
	if cfg.FailoverTimeout == 0 {
		cfg.FailoverTimeout = 14 * 24 * time.Hour
	}
	if cfg.Executor == "" {
		cfg.Executor = ExecutorDefault
	}
	if cfg.Executor != ExecutorDefault && cfg.Executor != ExecutorTaskkit {
		return nil, fmt.Errorf("--executor: %q, want default or taskkit: %w", cfg.Executor, ErrInvalidConfig)
	}
	if cfg.TLSKeyType == "" {
		cfg.TLSKeyType = pki.RSA2048
	}
	if cfg.RefuseShort == 0 {
		cfg.RefuseShort = time.Second
	}
	if cfg.RefuseLong == 0 {
		cfg.RefuseLong = time.Hour
	}
	if cfg.ReviveInterval == 0 {
		cfg.ReviveInterval = time.Second
	}
	if cfg.ReconcileBackoff.Initial <= 0 {
		cfg.ReconcileBackoff = plan.Backoff{Initial: 4 * time.Second, Max: 30 * time.Second}
	}
	if cfg.ImplicitReconcileInterval <= 0 {
		cfg.ImplicitReconcileInterval = time.Hour
	}
	if cfg.AgentLostTimeout <= 0 {
		cfg.AgentLostTimeout = 5 * time.Minute
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff = plan.DefaultBackoff
	}
	if cfg.Backoff.Max < cfg.Backoff.Initial {
		cfg.Backoff.Max = cfg.Backoff.Initial
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New("scheduler_lite")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sc := &Scheduler{
		cfg: cfg, spec: s, log: cfg.Logger, m: cfg.Metrics,
		tasks: map[string]*taskState{}, byID: map[string]string{}, pendingKill: map[string]string{},
		values: map[string]map[string]bool{}, recovery: plan.NewRecovery(), ca: cfg.CA,
		crash: map[string]*crashState{}, kick: make(chan struct{}, 1),
	}
	sc.deploy, sc.custom = plan.FromSpec(s)
	for _, p := range append([]*plan.Plan{sc.deploy}, sc.custom...) {
		for _, st := range p.Steps() {
			st.Backoff = cfg.Backoff
		}
	}
	if err := sc.restore(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Metrics returns the scheduler's metrics registry.
func (s *Scheduler) Metrics() *metrics.Registry { return s.m }

// FrameworkName is the registered framework name.
func (s *Scheduler) FrameworkName() string { return s.cfg.FrameworkName }

// wake asks the loop to look for work soon.
func (s *Scheduler) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run talks to the master until ctx ends: subscribe, handle events,
// re-subscribe after a lost stream (backoff 0.5 s doubling to 10 s). It
// returns nil when ctx ends, or an error Mesos gives that retrying cannot
// fix (the framework was removed).
func (s *Scheduler) Run(ctx context.Context) error {
	backoff := 500 * time.Millisecond
	for {
		err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return err
		}
		s.log.Warn("subscription ended; re-subscribing", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// ErrInvalidConfig marks a Config that New rejects (the user's mistake).
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrFailedOver is returned by Run when another scheduler instance
// subscribed with the same framework ID: this one must stop.
var ErrFailedOver = errors.New("another scheduler instance took over the framework")

// ErrFrameworkRemoved is returned by Run when the master has removed the
// framework (torn down, or its failover timeout expired).
var ErrFrameworkRemoved = errors.New("the master removed the framework")

type fatalError struct {
	msg string
	err error // a sentinel, if any
}

func (e *fatalError) Error() string { return "mesos: " + e.msg }
func (e *fatalError) Unwrap() error { return e.err }

func (s *Scheduler) frameworkInfo() *mesos.FrameworkInfo {
	ft := s.cfg.FailoverTimeout.Seconds()
	fi := &mesos.FrameworkInfo{
		User:            s.cfg.User,
		Name:            s.cfg.FrameworkName,
		Role:            &s.cfg.Role,
		FailoverTimeout: &ft,
		Checkpoint:      &s.cfg.Checkpoint,
		Capabilities: []mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_REGION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT},
		},
	}
	if s.cfg.Principal != "" {
		fi.Principal = &s.cfg.Principal
	}
	if s.cfg.WebUIURL != "" {
		fi.WebUiURL = &s.cfg.WebUIURL
	}
	hn, _ := os.Hostname()
	fi.Hostname = &hn
	s.mu.Lock()
	if s.frameworkID != "" {
		fi.ID = &mesos.FrameworkID{Value: s.frameworkID}
	}
	s.mu.Unlock()
	return fi
}

// noRetry makes httpsched return errors (401, 400, a refused connection)
// instead of retrying the same endpoint in the background: Run retries with
// its own backoff and logs why. Redirects (307) are still followed.
var noRetry = httpsched.EndpointCandidates(func() string { return "" })

// session is one subscription: it ends when the stream does.
func (s *Scheduler) session(ctx context.Context) error {
	cfgOpts := []httpcli.ConfigOpt{httpcli.Timeout(10 * time.Second)}
	if s.cfg.Principal != "" && s.cfg.Secret != "" {
		cfgOpts = append(cfgOpts, httpcli.BasicAuth(s.cfg.Principal, s.cfg.Secret))
	}
	cli := httpcli.New(
		httpcli.Endpoint(strings.TrimRight(s.cfg.MasterURL, "/")+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(cfgOpts...)),
	)
	caller := httpsched.NewCaller(cli, noRetry)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := caller.Call(sctx, calls.Subscribe(s.frameworkInfo()))
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", s.cfg.MasterURL, err)
	}
	defer resp.Close()
	acks := make(chan *scheduler.Call, 1024)
	acksDone := make(chan struct{})
	s.mu.Lock()
	s.caller, s.acks = caller, acks
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.caller, s.connected = nil, false
		s.disconnectedAt = time.Now()
		s.mu.Unlock()
	}()
	go func() { // owned by session: ends when acks is closed (deferred below)
		defer close(acksDone)
		for call := range acks {
			start := time.Now()
			s.send(sctx, call) // a lost ACK only makes Mesos re-send the update
			s.m.Observe("status.ack", time.Since(start))
		}
	}()
	defer func() {
		s.mu.Lock()
		s.acks = nil
		s.mu.Unlock()
		close(acks)
		<-acksDone
	}()

	events := make(chan *scheduler.Event, 64)
	readErr := make(chan error, 1)
	go func() { // owned by session: ends when resp is closed (deferred above)
		defer close(events)
		for {
			ev := new(scheduler.Event)
			if err := resp.Decode(ev); err != nil {
				readErr <- err
				return
			}
			select {
			case events <- ev:
			case <-sctx.Done():
				return
			}
		}
	}()
	heartbeat := 15 * time.Second
	watchdog := time.NewTimer(5 * heartbeat)
	defer watchdog.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-watchdog.C:
			return errors.New("no event from the master for 5 heartbeat intervals")
		case ev, ok := <-events:
			if !ok {
				select {
				case err := <-readErr:
					return fmt.Errorf("event stream: %w", err)
				default:
					return errors.New("event stream closed")
				}
			}
			watchdog.Reset(5 * heartbeat)
			if ev.Type == scheduler.Event_SUBSCRIBED && ev.Subscribed.HeartbeatIntervalSeconds != nil {
				heartbeat = time.Duration(*ev.Subscribed.HeartbeatIntervalSeconds * float64(time.Second))
				watchdog.Reset(5 * heartbeat)
			}
			if err := s.handle(sctx, ev); err != nil {
				return err
			}
		case <-tick.C:
			s.housekeeping(sctx)
		case <-s.kick:
			s.housekeeping(sctx)
		}
	}
}

// handle processes one event.
func (s *Scheduler) handle(ctx context.Context, ev *scheduler.Event) error {
	switch ev.Type {
	case scheduler.Event_SUBSCRIBED:
		return s.subscribed(ctx, ev.Subscribed)
	case scheduler.Event_OFFERS:
		s.offers(ctx, ev.Offers.Offers)
	case scheduler.Event_UPDATE:
		s.update(ctx, ev.Update.Status)
	case scheduler.Event_RESCIND:
		s.m.Inc("offers.rescinded")
	case scheduler.Event_FAILURE:
		s.log.Warn("failure", "agent", ev.Failure.GetAgentID().GetValue(), "executor", ev.Failure.GetExecutorID().GetValue())
	case scheduler.Event_ERROR:
		// Mesos sends ERROR with a message only; these two are final.
		msg := ev.GetError().Message
		switch {
		case strings.Contains(msg, "failed over"):
			return &fatalError{msg, ErrFailedOver}
		case strings.Contains(msg, "removed"):
			return &fatalError{msg, ErrFrameworkRemoved}
		}
		return errors.New("mesos error: " + msg)
	case scheduler.Event_HEARTBEAT, scheduler.Event_MESSAGE:
	}
	return nil
}

func (s *Scheduler) subscribed(ctx context.Context, sub *scheduler.Event_Subscribed) error {
	id := sub.FrameworkID.Value
	s.mu.Lock()
	old := s.frameworkID
	s.mu.Unlock()
	if id != old {
		// Write before use: a crash after this point re-subscribes with id.
		if err := s.cfg.Store.SetFrameworkID(id); err != nil {
			return &fatalError{msg: fmt.Sprintf("storing the framework ID: %v", err), err: err}
		}
	}
	s.mu.Lock()
	s.frameworkID, s.connected, s.suppressed = id, true, false
	s.disconnectedAt = time.Time{}
	s.startReconcileLocked(time.Now())
	n := len(s.unanswered)
	s.mu.Unlock()
	s.log.Info("subscribed", "framework_id", id, "failover", old == id, "reconciling", n)
	s.reconcile(ctx)
	s.send(ctx, calls.Revive())
	return nil
}

// flush sends the calls queued in the outbox; it must not be called with
// s.mu held.
func (s *Scheduler) flush(ctx context.Context) {
	s.mu.Lock()
	out := s.outbox
	s.outbox = nil
	s.mu.Unlock()
	for _, c := range out {
		s.send(ctx, c)
	}
}

// send makes one call to the master (framework ID filled in), logging a
// failure; it must not be called with s.mu held.
func (s *Scheduler) send(ctx context.Context, call *scheduler.Call) bool {
	s.mu.Lock()
	caller, id := s.caller, s.frameworkID
	s.mu.Unlock()
	if caller == nil {
		return false
	}
	call.FrameworkID = &mesos.FrameworkID{Value: id}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := caller.Call(cctx, call)
	if resp != nil {
		resp.Close()
	}
	if err != nil {
		s.log.Warn("call failed", "call", call.Type.String(), "err", err)
		s.m.Inc("calls.failed")
		return false
	}
	return true
}

// housekeeping reconciles, sends queued calls, and revives or suppresses
// as the work requires.
func (s *Scheduler) housekeeping(ctx context.Context) {
	s.reconcile(ctx)
	s.flush(ctx)
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	work := len(s.candidates(time.Now())) > 0 || s.reconciling
	var call *scheduler.Call
	now := time.Now()
	switch {
	case work && (s.suppressed || s.declinedShort) && now.Sub(s.lastRevive) >= s.cfg.ReviveInterval:
		call, s.suppressed, s.declinedShort, s.lastRevive = calls.Revive(), false, false, now
		s.m.Inc("revives")
	case !work && !s.suppressed && !s.anyInFlight():
		call, s.suppressed = calls.Suppress(), true
		s.m.Inc("suppresses")
	}
	s.mu.Unlock()
	if call != nil {
		s.send(ctx, call)
	}
}

// anyInFlight reports whether a launched step has not settled; while it
// has not, a failure may need offers soon, so the scheduler keeps them.
func (s *Scheduler) anyInFlight() bool {
	for _, p := range s.allPlans() {
		for _, st := range p.Steps() {
			switch st.Status() {
			case plan.Prepared, plan.Starting, plan.Started, plan.Delayed:
				return true
			}
		}
	}
	return false
}

func (s *Scheduler) allPlans() []*plan.Plan {
	return append([]*plan.Plan{s.deploy, s.recovery}, s.custom...)
}
