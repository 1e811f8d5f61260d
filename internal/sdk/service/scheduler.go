// Package service is scheduler-lite's service scheduler, after the DC/OS
// SDK's ServiceScheduler: it turns a ServiceSpec's pods into plans (deploy,
// recovery and the spec's own), fits pod instances into offers with the
// offer evaluator (internal/sdk/evaluate) and the pod builder
// (internal/sdk/podinfo), launches them with a LAUNCH_GROUP per task,
// declines what it does not need, suppresses offers while idle and revives
// them when work appears, follows task status updates, reconciles with the
// master, and relaunches failed RUNNING-goal tasks through the recovery
// plan.
//
// Goroutines and state:
//
//	event loop (framework.Session)  owns the state; the only writer, under mu,
//	                                never across I/O; reads it without the lock;
//	                                publishes the plans' views (views.go)
//	API handlers                    read under mu.RLock, the plans' views without
//	                                it; commands (plan start, pod restart, ...)
//	                                run on the loop (do)
//	outbox                          store writes, then the Mesos calls that
//	                                depend on them, in the loop's order
//	key pool                        TLS leaf keys, ahead of need
//	builders                        a big offer round's TaskInfos, one per CPU,
//	                                joined before the round goes on
//
// Write-before-act: the framework ID is stored before it is used, TaskInfos
// before the ACCEPT that launches them, a status before its
// acknowledgement, plan progress before the calls that follow a change. A
// burst of status updates is one store transaction.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/metrics"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/config"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Config configures a Scheduler. Loaded, Store and MasterURL (or Caller)
// are required.
type Config struct {
	// Loaded is the service spec to deploy: the candidate configuration,
	// which becomes the target only if it passes the validators against
	// the current one (internal/sdk/config); otherwise the current target
	// runs and the deploy plan shows why (417).
	Loaded *spec.Loaded
	// Store keeps the state; the caller closes it after Run returns.
	Store store.Store
	// MasterURL is the master's base URL (http://host:5050).
	MasterURL string
	// Caller makes the calls to the master; nil means
	// framework.NewHTTPCaller(MasterURL, Principal, Secret).
	Caller calls.Caller
	// Clock is the time; nil means framework.System.
	Clock framework.Clock
	// FrameworkName (default the spec's name), Role (default <name>-role),
	// User (default the spec's scheduler.user, else $USER), Principal
	// (default the spec's scheduler.principal) are registered with Mesos.
	FrameworkName, Role, User, Principal string
	// Secret is sent with Principal as HTTP basic authentication.
	Secret string
	// FailoverTimeout (default 2 weeks), WebUIURL and Checkpoint go into
	// FrameworkInfo.
	FailoverTimeout time.Duration
	WebUIURL        string
	Checkpoint      bool
	// Executor is podinfo.ExecutorDefault or podinfo.ExecutorTaskkit.
	Executor string
	// APIHostname and APIPort are how tasks (and agents' fetchers) reach the
	// scheduler's API: SCHEDULER_API_HOSTNAME, template and artifact URIs.
	APIHostname string
	APIPort     int
	// Artifacts are the binaries served under /v1/artifacts/bin/ that every
	// pod fetches (bootstrap, healthd, tlsprov); "executor" is only fetched
	// by the taskkit executor. ArtifactDigests maps one to a digest of its
	// content: its URI then carries ?sha256=<digest> and cache=true.
	Artifacts       []string
	ArtifactDigests map[string]string
	// SecretsDir holds the files pod secrets name.
	SecretsDir string
	// CA issues transport-encryption certificates; nil means the one kept in
	// the store, created on first start.
	CA *pki.Issuer
	// TLSKeyType is the leaf key type (default pki.ECDSAP256; pki.RSA2048
	// is what the SDK issues).
	TLSKeyType pki.KeyType
	// Keys generates the leaf keys; nil means podinfo.NewKeyPool(TLSKeyType).
	Keys *podinfo.KeyPool
	// Env is the scheduler's environment: TASKCFG_* variables (part of the
	// configuration), SERVICE_REGION (the region pods are placed in, as the
	// SDK's) and PAUSE_OVERRIDE_CMD (what paused tasks run, as the SDK's).
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
	// AgentLostTimeout is, for a spec without replacement-failure-policy,
	// how long the recovery of a task that failed transiently (a crash,
	// or its agent unreachable) waits for that agent before the pod is
	// placed anew as a permanent failure. 0, the default, waits for good
	// (the SDK's NeverFailureMonitor): a pod's reservation and volumes are
	// only given up by an operator's pod replace. The spec's policy, when
	// set, wins.
	AgentLostTimeout time.Duration
	// Backoff is the crash-loop backoff of deploy and recovery steps
	// (default plan.DefaultBackoff: 1 s doubling to 30 s). A pod instance
	// whose task FAILs (ERRORs, or FINISHes with goal RUNNING) again
	// within 2×Backoff.Max of its previous failure is relaunched only
	// after the next delay (its recovery step DELAYED); other ends (a lost
	// agent, a kill) never are, as in the SDK's DeploymentStep.
	Backoff plan.Backoff
	// Stages replaces the offer evaluator's pipeline (nil: the default).
	Stages []evaluate.Stage
	// BuildSteps are extra pod builder steps.
	BuildSteps []podinfo.Step
	// Release gives back what decommissioned pod instances held (the
	// decommission plan's unreserve step); nil: nothing is reserved, the
	// step completes at once.
	Release Releaser
	// Metrics receives counters and timers; nil makes a private registry.
	Metrics *metrics.Registry
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// ErrInvalidConfig marks a Config that New rejects (the user's mistake).
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrNotRunning is returned by commands while the event loop does not run.
var ErrNotRunning = errors.New("the scheduler's event loop is not running")

// Scheduler is a service scheduler; see New and Run.
type Scheduler struct {
	cfg   Config
	spec  *spec.ServiceSpec
	log   *slog.Logger
	m     *metrics.Registry
	clock framework.Clock
	reg   framework.Registration
	eval  *evaluate.Evaluator
	build *podinfo.Builder
	keys  *podinfo.KeyPool
	// keysRunning: the key pool's workers run (Run), so launches may wait
	// for keys instead of generating them on the loop.
	keysRunning atomic.Bool
	out         *outbox

	work chan func(context.Context)
	kick chan struct{}

	// views are the plans' views as the loop last published them
	// (views.go); viewVersion the latest version given to one and
	// viewScratch publishPlans' (the loop's).
	views       atomic.Pointer[planViews]
	viewVersion uint64
	viewScratch []versionedView

	// The state. Only the event loop changes it, holding mu for writing
	// and never across I/O; it reads it without the lock. API readers hold
	// mu for reading, except the plans' readers, who read views.
	mu             sync.RWMutex
	target         *config.Configuration            // what runs (and rolls to)
	previous       *config.Configuration            // the target before this start, if any
	configs        map[string]*config.Configuration // the target and those stored tasks run with
	deployed       bool                             // a deployment has completed (stored)
	frameworkID    string
	connected      bool
	disconnectedAt time.Time
	deploy         *plan.Plan
	recovery       *plan.Plan
	custom         []*plan.Plan
	tasks          map[string]*taskState
	retired        map[string]*taskState // tasks being decommissioned, by name
	unknown        map[string]*taskState // stored tasks of no known pod (restore), by name: listed only
	decommission   *plan.Plan            // nil when nothing is decommissioned
	decom          map[*plan.Step]*decomStep
	byID           map[string]string      // task ID → name
	updating       map[string]*updateKill // pod instance → its kill before a relaunch
	pendingKill    map[string]*podKill    // pod instance → an operator's kill of its tasks
	cluster        *evaluate.Cluster      // placement values seen in offers
	suppressed     bool
	// declinedShort: offers were declined with RefuseShort while work
	// remained; new eligible work revives them at once.
	declinedShort bool
	// declinedLong: offers were declined with RefuseLong (nothing to do
	// with them); work that appears revives them, as the SDK revives on new
	// work (OfferProcessor: hasNewWork → requestRevive).
	declinedLong bool
	lastRevive   time.Time
	rec          reconciler
	crash        map[string]*crashState
	// lastReplace is when a recovery last placed a pod instance anew (for
	// replacement-failure-policy's min-replace-delay).
	lastReplace time.Time
	// agentSaid is, by pod instance, the latest failed evaluation of its
	// pinned step against its own agent's offer (offers.go).
	agentSaid map[string]agentSaid
	offerLog  offerLog
	// reservations are the pod instances' reservations, by instance
	// (reservations.go); roles the framework's roles, whose reservations
	// it releases when no instance holds them.
	reservations map[string]*reservation.Reservation
	roles        []string
	// opsSince is when each RESERVE not confirmed yet was first seen
	// pending; opsReconciledAt when operations were last reconciled.
	opsSince        map[string]time.Time
	opsReconciledAt time.Time
	// calls are decided on the loop and handed to the outbox at the end
	// of each event (flush).
	calls []*scheduler.Call
}

// New checks cfg, fills in defaults, makes the candidate configuration the
// target if it passes the validators against the stored one (or keeps the
// stored one), restores the plans' progress and the tasks from the store,
// finds the pod instances the target changes (their steps go back to
// PENDING) and those it removes (the decommission plan), and loads (or
// creates and stores) the service CA when a pod uses transport encryption.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Loaded == nil || cfg.Store == nil || cfg.MasterURL == "" && cfg.Caller == nil {
		return nil, errors.New("service: Loaded, Store and MasterURL (or Caller) are required")
	}
	cand := cfg.Loaded.Spec
	if cfg.FrameworkName == "" {
		cfg.FrameworkName = cand.Name
	}
	if cfg.Principal == "" && cand.Scheduler != nil {
		cfg.Principal = cand.Scheduler.Principal
	}
	if cfg.User == "" && cand.Scheduler != nil {
		cfg.User = cand.Scheduler.User
	}
	reg := framework.Registration{
		Name: cfg.FrameworkName, Role: cfg.Role, User: cfg.User, Principal: cfg.Principal,
		FailoverTimeout: cfg.FailoverTimeout, Checkpoint: cfg.Checkpoint, WebUIURL: cfg.WebUIURL,
	}.WithDefaults()
	if cfg.Executor == "" {
		cfg.Executor = podinfo.ExecutorDefault
	}
	if cfg.Executor != podinfo.ExecutorDefault && cfg.Executor != podinfo.ExecutorTaskkit {
		return nil, fmt.Errorf("--executor: %q, want default or taskkit: %w", cfg.Executor, ErrInvalidConfig)
	}
	if cfg.TLSKeyType == "" {
		cfg.TLSKeyType = pki.ECDSAP256
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
	if cfg.Clock == nil {
		cfg.Clock = framework.System
	}
	if cfg.Caller == nil {
		cfg.Caller = framework.NewHTTPCaller(cfg.MasterURL, cfg.Principal, cfg.Secret)
	}

	// The configuration: the candidate, or the target it may not replace.
	deployed, err := deploymentCompleted(cfg.Store)
	if err != nil {
		return nil, err
	}
	env := taskenv.Lookup(cfg.Env)
	candidate := config.FromLoaded(cfg.Loaded, cfg.Env, reg.User, reg.Role, env(envServiceRegion))
	res, err := config.Update(cfg.Store, candidate, deployed)
	if err != nil {
		return nil, err
	}
	target := res.Target
	if res.PreviousErr != nil {
		cfg.Logger.Warn("the previous target configuration cannot be read; the new one replaces it unchecked", "err", res.PreviousErr)
	}
	for _, w := range res.Warnings {
		cfg.Logger.Debug("configuration warning", "warning", w)
	}
	if len(res.Errors) > 0 {
		cfg.Logger.Warn("the new configuration is refused; the target configuration stays (see the deploy plan's errors)",
			"target", target.ID, "refused", candidate.ID, "errors", strings.Join(res.Errors, "; "))
		// The target runs as it registered.
		if target.User != "" {
			reg.User = target.User
		}
		if target.Role != "" {
			reg.Role = target.Role
		}
	} else if res.Changed {
		from := ""
		if res.Previous != nil {
			from = res.Previous.ID
		}
		cfg.Logger.Info("new target configuration", "target", target.ID, "previous", from)
	}
	cfg.Role, cfg.User, cfg.FailoverTimeout = reg.Role, reg.User, reg.FailoverTimeout
	s := target.Spec
	// The target's pre-reserved roles make the framework MULTI_ROLE.
	reg.PreReservedRoles = s.PreReservedRoles()
	if cfg.Keys == nil {
		cfg.Keys = podinfo.NewKeyPool(cfg.TLSKeyType)
	}

	sc := &Scheduler{
		cfg: cfg, spec: s, log: cfg.Logger, m: cfg.Metrics, clock: cfg.Clock, reg: reg,
		eval: evaluate.New(cfg.FrameworkName, cfg.Role), keys: cfg.Keys,
		work: make(chan func(context.Context)), kick: make(chan struct{}, 1),
		target: target, previous: res.Previous, deployed: deployed,
		tasks: map[string]*taskState{}, retired: map[string]*taskState{}, unknown: map[string]*taskState{}, byID: map[string]string{},
		updating: map[string]*updateKill{}, pendingKill: map[string]*podKill{},
		cluster: evaluate.NewCluster(), recovery: plan.NewRecovery(), crash: map[string]*crashState{}, agentSaid: map[string]agentSaid{},
		reservations: map[string]*reservation.Reservation{}, roles: reg.Roles(), opsSince: map[string]time.Time{},
	}
	sc.eval.Principal = cfg.Principal
	if cfg.Stages != nil {
		sc.eval.Stages = cfg.Stages
	}
	sc.out = newOutbox(sc)
	sc.deploy, sc.custom = plans(s, deployed)
	if len(res.Errors) > 0 {
		sc.deploy.Errors = res.Errors
	}
	for _, p := range sc.persistedPlans() {
		for _, st := range p.Steps() {
			st.Backoff = cfg.Backoff
		}
	}
	var tls *podinfo.TLS
	if usesTLS(s) {
		ca, err := serviceCA(cfg.CA, cfg.Store, cfg.FrameworkName)
		if err != nil {
			return nil, err
		}
		tls = &podinfo.TLS{CA: ca, Keys: sc.keys}
	}
	sc.build = podinfo.New(podinfo.Config{
		Service: cfg.FrameworkName, ConfigID: target.ID, APIHostname: cfg.APIHostname, APIPort: cfg.APIPort,
		Executor: cfg.Executor, Artifacts: cfg.Artifacts, ArtifactDigests: cfg.ArtifactDigests,
		Env: target.TaskCfg, TaskEnv: cfg.TaskEnv, Secrets: podinfo.DirSecrets(cfg.SecretsDir), TLS: tls, Steps: cfg.BuildSteps,
		PauseCommand: env(envPauseOverrideCmd),
	})
	if err := sc.restore(); err != nil {
		return nil, err
	}
	// keepAborted first: an instance whose scale-down is aborted holds its
	// reservation again, and followRenames, which leaves releasing
	// reservations alone, then takes a renamed resource set on it too.
	if err := sc.keepAborted(); err != nil {
		return nil, err
	}
	// releaseRemoved next: what only removed tasks held leaves the sets
	// the target uses before followRenames maps the kept tasks onto them.
	if err := sc.releaseRemoved(); err != nil {
		return nil, err
	}
	// keepAddedBack next: a removed task added back takes back what its
	// removal gave up, before followRenames maps it onto its set.
	if err := sc.keepAddedBack(); err != nil {
		return nil, err
	}
	if err := sc.followRenames(); err != nil {
		return nil, err
	}
	if err := sc.reconcileTarget(); err != nil {
		return nil, err
	}
	sc.decommission = sc.decommissionPlan()
	sc.keys.Want(sc.keysNeeded())
	sc.publishPlans()
	return sc, nil
}

// Environment variables of the scheduler the service reads, as the SDK's
// SchedulerConfig does.
const (
	envServiceRegion    = "SERVICE_REGION"
	envPauseOverrideCmd = "PAUSE_OVERRIDE_CMD"
)

// propDeployed is the property a completed deployment sets (the SDK's
// StateStoreUtils deployment-was-completed bit): the update plan replaces
// the deploy plan from then on, and the role may change.
const propDeployed = "deployment-completed"

func deploymentCompleted(st store.Store) (bool, error) {
	v, err := st.Property(propDeployed)
	if err != nil {
		return false, fmt.Errorf("reading the state store: %w", err)
	}
	return string(v) == "true", nil
}

// plans builds the deploy and custom plans of s: once a deployment has
// completed, a plan named update replaces the deploy plan (under the name
// deploy, as the SDK's SchedulerBuilder.selectDeployPlan does); before,
// it is left out.
func plans(s *spec.ServiceSpec, deployed bool) (*plan.Plan, []*plan.Plan) {
	deploy, custom := plan.FromSpec(s)
	for i, p := range custom {
		if p.Name != plan.Update {
			continue
		}
		custom = slices.Delete(custom, i, i+1)
		if deployed {
			p.Name, p.Interrupted = plan.Deploy, false
			deploy = p
		}
		break
	}
	return deploy, custom
}

// Metrics returns the scheduler's metrics registry.
func (s *Scheduler) Metrics() *metrics.Registry { return s.m }

// FrameworkName is the registered framework name.
func (s *Scheduler) FrameworkName() string { return s.cfg.FrameworkName }

// Run talks to the master until ctx ends: subscribe, handle events,
// re-subscribe after a lost stream (backoff 0.5 s doubling to 10 s). It
// returns nil when ctx ends, or an error Mesos gives that retrying cannot
// fix (framework.ErrFailedOver, framework.ErrFrameworkRemoved). It returns
// once every goroutine it started has stopped.
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	s.keysRunning.Store(true)
	go func() { // owned by Run: joined below
		defer wg.Done()
		defer s.keysRunning.Store(false)
		s.keys.Run(ctx)
	}()
	go func() { // owned by Run: joined below
		defer wg.Done()
		s.out.run(ctx)
	}()
	sess := &framework.Session{
		Caller: s.cfg.Caller, Clock: s.clock, Handler: s, Work: s.work, Wake: s.kick,
		Framework: func() *mesos.FrameworkInfo { return s.reg.FrameworkInfo(s.frameworkID) },
		Master:    s.cfg.MasterURL, Logger: s.log,
	}
	err := sess.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// wake asks the loop to look for work soon.
func (s *Scheduler) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// do runs fn on the event loop and returns its error; it fails with
// ErrNotRunning when the loop does not take it within 10 s (or ctx ends).
func (s *Scheduler) do(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	w := func(context.Context) {
		err := fn()
		s.publishPlans() // before the caller reads what fn changed
		done <- err
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case s.work <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrNotRunning
	}
	return <-done
}

// Subscribed implements framework.Handler: the framework ID is stored
// before it is used, then explicit reconciliation starts.
func (s *Scheduler) Subscribed(ctx context.Context, sub *scheduler.Event_Subscribed) error {
	defer s.publishPlans()
	id := sub.FrameworkID.Value
	old := s.frameworkID
	if id != old {
		if err := s.cfg.Store.SetFrameworkID(id); err != nil {
			return &framework.FatalError{Msg: fmt.Sprintf("storing the framework ID: %v", err), Err: err}
		}
	}
	now := s.clock.Now()
	s.mu.Lock()
	s.frameworkID, s.connected, s.suppressed = id, true, false
	s.disconnectedAt = time.Time{}
	s.startReconcileLocked(now)
	n := len(s.rec.unanswered)
	s.mu.Unlock()
	s.log.Info("subscribed", "framework_id", id, "failover", old == id, "reconciling", n)
	s.reconcile(now)
	s.reconcileOperations(now, true)
	s.calls = append(s.calls, calls.Revive())
	s.flush()
	return nil
}

// Disconnected implements framework.Handler.
func (s *Scheduler) Disconnected(error) {
	s.mu.Lock()
	if s.connected {
		s.disconnectedAt = s.clock.Now()
	}
	s.connected = false
	s.mu.Unlock()
}

// Events implements framework.Handler: runs of status updates are handled
// together (one store transaction), the rest one by one.
func (s *Scheduler) Events(ctx context.Context, evs []*scheduler.Event) error {
	defer s.publishPlans()
	var updates []mesos.TaskStatus
	for i, ev := range evs {
		if ev.Type == scheduler.Event_UPDATE {
			updates = append(updates, ev.Update.Status)
			if i+1 < len(evs) && evs[i+1].Type == scheduler.Event_UPDATE {
				continue
			}
			s.updates(updates)
			updates = nil
			continue
		}
		switch ev.Type {
		case scheduler.Event_OFFERS:
			s.offers(ev.Offers.Offers)
		case scheduler.Event_RESCIND:
			s.m.Inc("offers.rescinded")
		case scheduler.Event_FAILURE:
			s.failure(ev.Failure)
		case scheduler.Event_UPDATE_OPERATION_STATUS:
			s.operationStatus(&ev.UpdateOperationStatus.Status)
		}
	}
	s.flush()
	return nil
}

// failure logs a FAILURE event: an executor's end is normal once its tasks
// are done (its exit status tells); an agent's loss is worth a warning.
func (s *Scheduler) failure(f *scheduler.Event_Failure) {
	agent := f.GetAgentID().GetValue()
	if f.ExecutorID == nil {
		s.log.Warn("agent lost", "agent", agent)
		return
	}
	if st := f.GetStatus(); st != 0 {
		s.log.Warn("executor ended with an error", "agent", agent, "executor", f.ExecutorID.Value, "status", st)
		return
	}
	s.log.Debug("executor ended", "agent", agent, "executor", f.ExecutorID.Value)
}

// flush hands the calls decided on the loop to the outbox.
func (s *Scheduler) flush() {
	if len(s.calls) > 0 {
		s.out.push(&job{calls: s.calls})
		s.calls = nil
	}
}

// usesTLS reports whether a task of s asks for transport encryption.
func usesTLS(s *spec.ServiceSpec) bool {
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			if len(t.TransportEncryption) > 0 {
				return true
			}
		}
	}
	return false
}

// keysNeeded counts the TLS certificates of the steps still to launch in
// the plans that run: the keys the pool keeps ready ahead of need.
func (s *Scheduler) keysNeeded() int {
	n := 0
	for _, p := range s.allPlans() {
		if p.Interrupted || len(p.Errors) > 0 {
			continue
		}
		for _, st := range p.Steps() {
			if st.Status() != plan.Pending && st.Status() != plan.Delayed {
				continue
			}
			pod := s.spec.Pod(st.Pod)
			if pod == nil {
				continue
			}
			for _, name := range st.Tasks {
				if t, ok := pod.Tasks.Get(name); ok {
					n += len(t.TransportEncryption)
				}
			}
		}
	}
	return n
}

// allPlans lists the plans in coordinator order: deploy, recovery, then
// the spec's own (a decommission plan would go after recovery).
func (s *Scheduler) allPlans() []*plan.Plan {
	return append([]*plan.Plan{s.deploy, s.recovery}, s.custom...)
}

// persistedPlans are the plans whose progress the store keeps (the
// recovery plan is rebuilt from the tasks).
func (s *Scheduler) persistedPlans() []*plan.Plan {
	return append([]*plan.Plan{s.deploy}, s.custom...)
}
