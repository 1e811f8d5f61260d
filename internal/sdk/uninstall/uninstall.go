// Package uninstall removes a service from Mesos as a plan, after the DC/OS
// SDK's scheduler/uninstall (UninstallPlanFactory, TaskKillStep,
// ResourceCleanupStep, DeregisterStep). The plan is named deploy, as the
// SDK serves it (Cosmos polls GET /v1/plans/deploy during `dcos package
// uninstall`):
//
//	deploy (serial)
//	└─ uninstall (serial)
//	   ├─ kill-tasks           KILL every task the store knows and every task
//	   │                       Mesos reports for the framework; wait for their
//	   │                       ends (at most KillTimeout)
//	   ├─ unreserve-resources  release the service's reservations and volumes
//	   │                       (none yet: scheduler-lite does not reserve)
//	   ├─ teardown             TEARDOWN: Mesos removes the framework
//	   └─ clear-state          the state store is emptied, and deleted when it
//	                           can be (store.Remover: the bbolt file, the
//	                           ZooKeeper tree)
//
// The Uninstaller subscribes with the stored framework ID through the same
// framework.Session as the service scheduler. The scheduler of the service
// must not run meanwhile.
//
// A release step for reservations (issue 13) replaces the no-op: it takes
// the RESERVE/CREATE the store recorded, UNRESERVEs and DESTROYs them as
// their offers come (OFFERS are declined here today), and completes when
// none is left.
package uninstall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	imesos "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/store"
)

// Step names of the uninstall plan.
const (
	StepKillTasks          = "kill-tasks"
	StepUnreserveResources = "unreserve-resources"
	StepTeardown           = "teardown"
	StepClearState         = "clear-state"
)

// Config configures an Uninstaller.
type Config struct {
	// Store is the service's state; the plan clears it.
	Store store.Store
	// Registration must be the service's (Name and Role required; the
	// user and checkpointing as it ran, or Mesos refuses the
	// re-subscription).
	Registration framework.Registration
	// Caller makes the calls; nil means framework.NewHTTPCaller(MasterURL,
	// Principal, Secret).
	Caller calls.Caller
	// MasterURL names the master (and makes the default Caller); Secret
	// authenticates Registration.Principal.
	MasterURL, Secret string
	// Clock is the time; nil means framework.System.
	Clock framework.Clock
	// KillTimeout bounds the wait for the killed tasks' ends (default 30 s)
	// before the framework is torn down anyway; it also bounds the wait
	// for SUBSCRIBED.
	KillTimeout time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Result says what an uninstall did.
type Result struct {
	FrameworkID string
	// Killed counts the tasks a KILL was sent for; Ended those whose end
	// was seen before the teardown.
	Killed, Ended int
}

// Uninstaller runs the uninstall plan; see Run.
type Uninstaller struct {
	cfg Config
	log *slog.Logger

	mu   sync.RWMutex // guards plan for PlanView; the loop is the only writer
	plan *plan.Plan

	id       string
	live     map[string]string // task ID → agent ID, from the store
	pending  map[string]bool   // killed, end not seen
	deadline time.Time
	res      Result
}

// errDone ends the session once the plan is complete.
var errDone = errors.New("uninstall complete")

// New checks cfg and builds the plan.
func New(cfg Config) (*Uninstaller, error) {
	if cfg.Store == nil || cfg.Registration.Name == "" || cfg.Registration.Role == "" || cfg.Caller == nil && cfg.MasterURL == "" {
		return nil, errors.New("uninstall: Store, Registration.Name, Registration.Role and MasterURL (or Caller) are required")
	}
	cfg.Registration = cfg.Registration.WithDefaults()
	if cfg.Caller == nil {
		cfg.Caller = framework.NewHTTPCaller(cfg.MasterURL, cfg.Registration.Principal, cfg.Secret)
	}
	if cfg.Clock == nil {
		cfg.Clock = framework.System
	}
	if cfg.KillTimeout <= 0 {
		cfg.KillTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Uninstaller{cfg: cfg, log: cfg.Logger, plan: NewPlan()}, nil
}

// NewPlan returns the uninstall plan, every step PENDING.
func NewPlan() *plan.Plan {
	return &plan.Plan{Name: plan.Deploy, Strategy: plan.Serial, Phases: []*plan.Phase{{
		Name: "uninstall", Strategy: plan.Serial, Steps: []*plan.Step{
			plan.NewActionStep(StepKillTasks), plan.NewActionStep(StepUnreserveResources),
			plan.NewActionStep(StepTeardown), plan.NewActionStep(StepClearState),
		},
	}}}
}

// PlanView describes the uninstall plan (only "deploy" exists).
func (u *Uninstaller) PlanView(name string) (plan.View, error) {
	if name != plan.Deploy {
		return plan.View{}, fmt.Errorf("plan %q: not found (uninstalling: only deploy)", name)
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.plan.View(), nil
}

// PlanStatus is the plan's status.
func (u *Uninstaller) PlanStatus() plan.Status {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.plan.Status()
}

func (u *Uninstaller) step(name string) *plan.Step {
	for _, st := range u.plan.Steps() {
		if st.Name == name {
			return st
		}
	}
	return nil
}

// set moves a step, under the lock.
func (u *Uninstaller) set(name string, status plan.Status, msg string) {
	u.mu.Lock()
	st := u.step(name)
	st.SetStatus(status)
	st.Message = msg
	u.mu.Unlock()
}

// setErrors shows why the last attempt failed (nil clears it).
func (u *Uninstaller) setErrors(err error) {
	u.mu.Lock()
	u.plan.Errors = nil
	if err != nil {
		u.plan.Errors = []string{err.Error()}
	}
	u.mu.Unlock()
}

// Run runs the plan once: it re-subscribes with the stored framework ID,
// kills every task, waits for their ends (at most KillTimeout), tears the
// framework down and clears the store. Without a stored framework ID it
// only clears the store. An error leaves the plan where it stopped, with
// the error among the plan's errors; Run may be called again.
func (u *Uninstaller) Run(ctx context.Context) (Result, error) {
	u.setErrors(nil)
	res, err := u.run(ctx)
	if err != nil {
		u.setErrors(err)
	}
	return res, err
}

func (u *Uninstaller) run(ctx context.Context) (Result, error) {
	st := u.cfg.Store
	id, err := st.FrameworkID()
	if err != nil {
		return u.res, fmt.Errorf("reading the state store: %w", err)
	}
	u.id, u.res = id, Result{FrameworkID: id}
	if id == "" {
		u.log.Info("no framework ID stored: nothing registered with Mesos")
		u.set(StepKillTasks, plan.Complete, "no framework registered: no task to kill")
		u.set(StepUnreserveResources, plan.Complete, "nothing reserved")
		u.set(StepTeardown, plan.Complete, "no framework registered")
		return u.res, u.clear()
	}
	stored, err := st.Tasks()
	if err != nil {
		return u.res, fmt.Errorf("reading the state store: %w", err)
	}
	u.live, u.pending = map[string]string{}, map[string]bool{}
	for name, t := range stored {
		ti := new(mesos.TaskInfo)
		if err := ti.Unmarshal(t.Info); err != nil {
			return u.res, fmt.Errorf("stored task %s: %w", name, err)
		}
		if t.Status != nil {
			ts := new(mesos.TaskStatus)
			if ts.Unmarshal(t.Status) == nil && ts.TaskID.Value == ti.TaskID.Value && isTerminal(ts.GetState()) {
				continue
			}
		}
		u.live[ti.TaskID.Value] = ti.AgentID.Value
	}
	u.set(StepKillTasks, plan.Prepared, fmt.Sprintf("subscribing to %s as framework %s", u.cfg.MasterURL, id))
	sess := &framework.Session{
		Caller: u.cfg.Caller, Clock: u.cfg.Clock, Handler: u, Once: true, SubscribeTimeout: u.cfg.KillTimeout,
		Framework: func() *mesos.FrameworkInfo { return u.cfg.Registration.FrameworkInfo(id) },
		Master:    u.cfg.MasterURL, Logger: u.log,
	}
	err = sess.Run(ctx)
	switch {
	case errors.Is(err, errDone):
		return u.res, nil
	case err != nil:
		return u.res, err
	}
	return u.res, ctx.Err()
}

func isTerminal(s mesos.TaskState) bool {
	return imesos.IsTerminal(s) || s == mesos.TASK_UNREACHABLE || s == mesos.TASK_UNKNOWN
}

// call makes one call for the framework.
func (u *Uninstaller) call(ctx context.Context, c *scheduler.Call) error {
	return framework.Send(ctx, u.cfg.Caller, u.id, c)
}

// Subscribed implements framework.Handler: KILL every task the store
// knows, and ask Mesos (implicit reconciliation) for the ones it does not.
func (u *Uninstaller) Subscribed(ctx context.Context, _ *scheduler.Event_Subscribed) error {
	u.log.Info("subscribed; killing tasks", "framework_id", u.id, "tasks", len(u.live))
	u.set(StepKillTasks, plan.Starting, fmt.Sprintf("killing %d task(s)", len(u.live)))
	u.deadline = u.cfg.Clock.Now().Add(u.cfg.KillTimeout)
	for tid, aid := range u.live {
		u.kill(ctx, tid, aid)
	}
	// Tasks Mesos knows and the store does not are reported by an implicit
	// reconciliation; they are killed too.
	if err := u.call(ctx, calls.Reconcile(calls.ReconcileTasks(nil))); err != nil {
		u.log.Warn("reconciliation failed", "err", err)
	}
	return u.maybeDone(ctx)
}

func (u *Uninstaller) kill(ctx context.Context, tid, aid string) {
	if err := u.call(ctx, calls.Kill(tid, aid)); err != nil {
		u.log.Warn("kill failed", "task_id", tid, "err", err)
		return
	}
	u.pending[tid] = true
	u.res.Killed++
}

// Events implements framework.Handler: offers are declined, updates
// acknowledged; an end of a killed task is counted, a live task nobody
// killed yet is killed.
func (u *Uninstaller) Events(ctx context.Context, evs []*scheduler.Event) error {
	for _, ev := range evs {
		switch ev.Type {
		case scheduler.Event_OFFERS:
			var ids []mesos.OfferID
			for _, o := range ev.Offers.Offers {
				ids = append(ids, o.ID)
			}
			u.call(ctx, calls.Decline(ids...))
		case scheduler.Event_UPDATE:
			st := ev.Update.Status
			if st.UUID != nil && st.AgentID != nil {
				u.call(ctx, calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
			}
			tid := st.TaskID.Value
			switch {
			case isTerminal(st.GetState()):
				if u.pending[tid] {
					delete(u.pending, tid)
					u.res.Ended++
				}
			case !u.pending[tid] && u.live[tid] == "":
				u.kill(ctx, tid, st.GetAgentID().GetValue())
			}
		}
	}
	return u.maybeDone(ctx)
}

// Tick implements framework.Handler: past KillTimeout the framework is torn
// down anyway (TEARDOWN kills what is left).
func (u *Uninstaller) Tick(ctx context.Context) error {
	if len(u.pending) == 0 || u.cfg.Clock.Now().Before(u.deadline) {
		return nil
	}
	u.log.Warn("tasks did not end in time; tearing down anyway", "left", len(u.pending))
	u.pending = map[string]bool{}
	return u.maybeDone(ctx)
}

// Disconnected implements framework.Handler.
func (u *Uninstaller) Disconnected(error) {}

// maybeDone runs the rest of the plan once no killed task is left
// waiting for.
func (u *Uninstaller) maybeDone(ctx context.Context) error {
	if len(u.pending) > 0 {
		u.set(StepKillTasks, plan.Started, fmt.Sprintf("%d task(s) killed, %d ended, waiting for %d", u.res.Killed, u.res.Ended, len(u.pending)))
		return nil
	}
	u.set(StepKillTasks, plan.Complete, fmt.Sprintf("%d tasks killed (%d ended before the teardown)", u.res.Killed, u.res.Ended))
	u.set(StepUnreserveResources, plan.Complete, "nothing reserved: scheduler-lite makes no reservations")
	if err := u.call(ctx, &scheduler.Call{Type: scheduler.Call_TEARDOWN}); err != nil {
		return fmt.Errorf("tearing down framework %s: %w", u.id, err)
	}
	u.log.Info("framework torn down", "framework_id", u.id, "killed", u.res.Killed, "ended", u.res.Ended)
	u.set(StepTeardown, plan.Complete, fmt.Sprintf("framework %s torn down", u.id))
	if err := u.clear(); err != nil {
		return err
	}
	return errDone
}

// clear empties the store and deletes it when it can (the clear-state
// step); a deleted store is closed.
func (u *Uninstaller) clear() error {
	err := u.cfg.Store.Clear()
	if err != nil {
		err = fmt.Errorf("clearing the state store: %w", err)
	} else if r, ok := u.cfg.Store.(store.Remover); ok {
		if err = r.Remove(); err != nil {
			err = fmt.Errorf("deleting the state store: %w", err)
		}
	}
	if err != nil {
		u.set(StepClearState, plan.Error, err.Error())
		return err
	}
	u.set(StepClearState, plan.Complete, "state deleted")
	return nil
}
