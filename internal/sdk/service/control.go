package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// What the HTTP API (internal/api) reads and commands. Reads take the
// state's read lock; commands run on the event loop (do).

// Errors of the control calls; the API maps them to status codes.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadCommand = errors.New("bad command")
)

// Plan commands (the SDK's PlansQueries).
const (
	CmdStart         = "start"
	CmdStop          = "stop"
	CmdInterrupt     = "interrupt"
	CmdContinue      = "continue"
	CmdRestart       = "restart"
	CmdForceComplete = "forceComplete"
)

// PlanCommands are the plan commands, in the SDK's order.
var PlanCommands = []string{CmdStart, CmdStop, CmdInterrupt, CmdContinue, CmdRestart, CmdForceComplete}

// listedPlans are the plans the API shows, in the SDK's coordinator order:
// deploy, recovery, decommission (when something is decommissioned), then
// the spec's own.
func (s *Scheduler) listedPlans() []*plan.Plan {
	out := []*plan.Plan{s.deploy, s.recovery}
	if s.decommission != nil {
		out = append(out, s.decommission)
	}
	return append(out, s.custom...)
}

func (s *Scheduler) plan(name string) *plan.Plan {
	for _, p := range s.listedPlans() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// PlanCommand runs a command (Cmd*) on plan name, or on one phase or step
// of it, on the event loop, as the SDK's PlansQueries:
//
//	start          parameters become env values (the names must be ones);
//	               a COMPLETE plan restarts, an interrupted one resumes
//	               (a phase interrupted by name stays held), one in
//	               progress goes on unchanged
//	stop           interrupt and restart
//	interrupt      hold the plan (or phase); no-op when held or COMPLETE,
//	               or for a canary phase while its canary lasts
//	continue       release it (a canary phase named: its next canary
//	               step); without a phase the plan alone; no-op when
//	               nothing is held
//	restart        the plan, phase or step back to PENDING, released (a
//	               canary phase holds its canary steps again); its steps
//	               relaunch their tasks; no-op when PENDING
//	forceComplete  the plan, phase or step COMPLETE; no-op when COMPLETE
//
// A step is named with its phase (by name or ID); a step without its phase
// is a bad command. It reports false for a no-op (the API's 208).
func (s *Scheduler) PlanCommand(ctx context.Context, name, cmd, phase, step string, params map[string]string) (bool, error) {
	if !slices.Contains(PlanCommands, cmd) {
		return false, fmt.Errorf("%q: %w", cmd, ErrBadCommand)
	}
	if step != "" && phase == "" {
		return false, fmt.Errorf("Missing phase: a step is named with its phase: %w", ErrBadCommand)
	}
	if step != "" && cmd != CmdRestart && cmd != CmdForceComplete {
		return false, fmt.Errorf("%s acts on a plan or a phase, not a step: %w", cmd, ErrBadCommand)
	}
	for k := range params {
		if !envName.MatchString(k) {
			return false, fmt.Errorf("Couldn't parse parameters: %s is not a valid environment variable name: %w", k, ErrBadCommand)
		}
	}
	changed := false
	err := s.do(ctx, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.plan(name)
		if p == nil {
			return fmt.Errorf("plan %q: %w", name, ErrNotFound)
		}
		var ph *plan.Phase
		if phase != "" {
			if ph = p.PhaseByNameOrID(phase); ph == nil {
				return fmt.Errorf("plan %s has no phase %q: %w", name, phase, ErrNotFound)
			}
			phase = ph.Name
		}
		var st *plan.Step
		if step != "" {
			if st = p.StepByNameOrID(ph, step); st == nil {
				return fmt.Errorf("phase %s of plan %s has no step %q: %w", phase, name, step, ErrNotFound)
			}
		}
		// status is the element's status, as the API shows it.
		status := p.Status()
		switch {
		case st != nil:
			status = st.Status()
		case ph != nil:
			status = ph.Status(p.Interrupted)
		}
		var err error
		switch cmd {
		case CmdStart:
			// As the SDK's PlansQueries.start: the parameters replace the
			// plan's (DeploymentStep.updateParameters), a COMPLETE plan
			// restarts, then the plan proceeds (plan.proceed(): its own
			// interrupt alone, so a phase interrupted by name stays held);
			// one in progress or interrupted keeps its steps (an empty body,
			// as the DC/OS CLI sends without -p, restarts nothing either).
			if params != nil {
				p.Parameters = params
			}
			if p.Status() == plan.Complete {
				p.Restart("")
			}
			p.Continue("")
			changed = true
		case CmdStop:
			p.Interrupt("")
			p.Restart("")
			changed = true
		case CmdInterrupt:
			// Nothing left to hold: a no-op, as the SDK's PlansQueries.
			if status == plan.Complete {
				return nil
			}
			changed, err = p.Interrupt(phase)
		case CmdContinue:
			changed, err = p.Continue(phase)
		case CmdRestart:
			if status == plan.Pending {
				return nil
			}
			if st != nil {
				st.Restart()
				st.Relaunch = true
			} else {
				p.Continue(phase)
				p.Restart(phase)
			}
			changed = true
		case CmdForceComplete:
			if status == plan.Complete {
				return nil
			}
			if st != nil {
				st.ForceComplete()
			} else {
				p.ForceComplete(phase)
			}
			changed = true
		}
		if err != nil {
			return err
		}
		s.out.push(s.progressJob())
		return nil
	})
	s.wake()
	return changed, err
}

// envName is what a plan parameter's name must be (the SDK's ENVVAR_MATCHER).
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Pods lists the pod instances that have tasks in the state store
// ("hello-0", ...), in string order, as the SDK's PodQueries.list: an
// instance whose deploy step has not launched it yet is absent; one being
// decommissioned is listed until its tasks are erased.
func (s *Scheduler) Pods() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{}
	for name := range s.storedInstancesLocked() {
		out = append(out, name)
	}
	slices.Sort(out)
	for _, name := range slices.Sorted(maps.Keys(s.unknown)) {
		out = append(out, unknownPod+"_"+name)
	}
	return out
}

// unknownPod is the pod type the pod API gives stored tasks of no known pod
// (the SDK's PodQueries.UNKNOWN_POD_LABEL): GET /v1/pod lists each as
// UNKNOWN_POD_<task>, GET /v1/pod/status all of them as the instance
// UNKNOWN_POD-0 of type UNKNOWN_POD, after the known types; neither name
// has a status of its own (404), as in the SDK.
const unknownPod = "UNKNOWN_POD"

// storedInstancesLocked groups the stored tasks (launched, or retired and
// not yet erased) by pod instance name, each instance's tasks by task
// name, as the SDK's GroupedTasks. Call it with s.mu held.
func (s *Scheduler) storedInstancesLocked() map[string][]*taskState {
	out := map[string][]*taskState{}
	for _, ts := range []map[string]*taskState{s.tasks, s.retired} {
		for _, t := range ts {
			if t.info != nil {
				out[t.instanceName()] = append(out[t.instanceName()], t)
			}
		}
	}
	for _, tasks := range out {
		slices.SortFunc(tasks, func(a, b *taskState) int { return strings.Compare(a.name, b.name) })
	}
	return out
}

// TaskStatusView is one task in a pod's status. Status is the Mesos state
// without "TASK_", or PAUSED (launched paused, as asked), PAUSING (a pause
// asked, not yet relaunched), STARTING (a resume asked, not yet
// relaunched) or DECOMMISSIONING, as the SDK's PodQueries show a goal
// state override; empty (left out) for a task of no known pod (unknownPod)
// with no status stored, as the SDK leaves it out. Configuration is the
// ID of the configuration its TaskInfo is on, and OutOfDate what of it the
// target configuration changes (it is relaunched when its step's turn
// comes).
type TaskStatusView struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Status        string   `json:"status,omitempty"`
	Configuration string   `json:"configuration,omitempty"`
	OutOfDate     []string `json:"outOfDate,omitempty"`
}

// PodStatusView is GET /v1/pod/{name}/status.
type PodStatusView struct {
	Name  string           `json:"name"`
	Tasks []TaskStatusView `json:"tasks"`
}

// PodTypeStatusView is one pod type in GET /v1/pod/status.
type PodTypeStatusView struct {
	Name      string          `json:"name"`
	Instances []PodStatusView `json:"instances"`
}

// errNoTask is the error of a pod instance with no task in the state store
// (its deploy step has not launched it yet, or its tasks are erased, or the
// spec never had it): ErrNotFound, as the SDK's PodQueries know an
// instance only by its stored tasks (GroupedTasks.getPodInstanceTasks) and
// answer 404 "Pod <name> not found" for the status, info, restart,
// replace, pause and resume of one without.
func errNoTask(name string) error {
	return fmt.Errorf("pod %q has no task launched yet: %w", name, ErrNotFound)
}

// PodStatus describes a pod instance's stored tasks, by task name. An
// instance with none is ErrNotFound (errNoTask).
func (s *Scheduler) PodStatus(name string) (PodStatusView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tasks := s.storedInstancesLocked()[name]
	if len(tasks) == 0 {
		return PodStatusView{}, errNoTask(name)
	}
	return podStatusView(name, tasks), nil
}

// PodStatuses describes every pod instance with stored tasks, by pod type
// (in string order) and index, as the SDK's PodQueries.getStatuses
// groups the state store's tasks (GroupedTasks): an instance not launched
// yet is absent, one being decommissioned present until it is erased.
func (s *Scheduler) PodStatuses() []PodTypeStatusView {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type key struct {
		pod   string
		index int
	}
	var keys []key
	insts := s.storedInstancesLocked()
	for _, tasks := range insts {
		keys = append(keys, key{tasks[0].pod, tasks[0].index})
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.pod, b.pod); c != 0 {
			return c
		}
		return a.index - b.index
	})
	out := []PodTypeStatusView{}
	for _, k := range keys {
		if n := len(out); n == 0 || out[n-1].Name != k.pod {
			out = append(out, PodTypeStatusView{Name: k.pod})
		}
		name := taskenv.InstanceName(k.pod, k.index)
		last := &out[len(out)-1]
		last.Instances = append(last.Instances, podStatusView(name, insts[name]))
	}
	if len(s.unknown) > 0 {
		var tasks []*taskState
		for _, name := range slices.Sorted(maps.Keys(s.unknown)) {
			tasks = append(tasks, s.unknown[name])
		}
		name := taskenv.InstanceName(unknownPod, 0)
		out = append(out, PodTypeStatusView{Name: unknownPod, Instances: []PodStatusView{podStatusView(name, tasks)}})
	}
	return out
}

// podStatusView is the status of instance name's tasks. A retired task
// (the decommission plan removes it) is DECOMMISSIONING, as the SDK shows
// its DECOMMISSIONED goal state override in progress; a task of no known
// pod without a status of its TaskInfo has none.
func podStatusView(name string, tasks []*taskState) PodStatusView {
	v := PodStatusView{Name: name, Tasks: []TaskStatusView{}}
	for _, t := range tasks {
		st := "STAGING"
		if t.status != nil {
			st = strings.TrimPrefix(t.status.GetState().String(), "TASK_")
		}
		switch paused := t.launchedPaused(); {
		case t.pod == "" && t.status == nil: // of no known pod (unknownPod)
			st = ""
		case t.pod == "": // its Mesos state: no override applies to it
		case t.retired:
			st = "DECOMMISSIONING"
		case t.pauseTarget && paused && t.live():
			st = "PAUSED"
		case t.pauseTarget && !paused:
			st = "PAUSING"
		case !t.pauseTarget && paused:
			st = "STARTING"
		}
		v.Tasks = append(v.Tasks, TaskStatusView{ID: t.info.TaskID.Value, Name: t.name, Status: st,
			Configuration: labelOf(t.info, podinfo.LabelTargetConfiguration), OutOfDate: t.outdated})
	}
	return v
}

// TaskInfoView is one element of GET /v1/pod/{name}/info.
type TaskInfoView struct {
	Info   json.RawMessage `json:"info"`
	Status json.RawMessage `json:"status,omitempty"`
}

// retiredPodCommand carries out a pod command (restart, replace, pause,
// resume) to pod instance name, which the spec does not have. One being
// decommissioned has its live tasks among tasks (svc.yml or full names;
// none: all its stored ones) killed, and their names are returned, as the
// SDK's PodQueries kill the stored tasks of any instance they know
// (restartPod, overrideGoalState); its decommission plan goes on (a task's
// kill step completes once it ended), nothing relaunches it and no goal
// state is stored for it. Any other instance is ErrNotFound, and so is a
// task the instance does not have (ErrNoSuchTask).
func (s *Scheduler) retiredPodCommand(ctx context.Context, name string, tasks []string) ([]string, error) {
	retired := func() []*taskState {
		var all []*taskState
		for _, t := range s.retired {
			if t.info != nil && t.instanceName() == name {
				all = append(all, t)
			}
		}
		return all
	}
	s.mu.RLock()
	known := len(retired()) > 0
	s.mu.RUnlock()
	if !known { // without waiting for the event loop
		return nil, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	var names []string
	err := s.do(ctx, func() error {
		s.mu.Lock()
		all := retired()
		if len(all) == 0 { // erased meanwhile
			s.mu.Unlock()
			return fmt.Errorf("pod %q: %w", name, ErrNotFound)
		}
		slices.SortFunc(all, func(a, b *taskState) int { return strings.Compare(a.name, b.name) })
		chosen, err := s.chooseTasksLocked(name, all, tasks)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		j := &job{}
		for _, t := range chosen {
			names = append(names, t.name)
			if t.live() {
				j.calls = append(j.calls, killCall(t))
			}
		}
		s.mu.Unlock()
		s.out.push(j)
		s.flush()
		s.log.Info("pod command to a pod being decommissioned", "pod", name, "tasks", names, "killing", len(j.calls))
		return nil
	})
	s.wake()
	return names, err
}

// PodInfo returns a pod instance's stored TaskInfos and statuses (by task
// name) with every secret environment value (SECRET variables and keys
// that look secret) masked, credentials inside values and command lines
// too. An instance with no stored task is ErrNotFound (errNoTask).
func (s *Scheduler) PodInfo(name string) ([]TaskInfoView, error) {
	s.mu.RLock()
	type task struct {
		info   mesos.TaskInfo
		status *mesos.TaskStatus
	}
	var ts []task
	for _, t := range s.storedInstancesLocked()[name] {
		ts = append(ts, task{*t.info, t.status})
	}
	s.mu.RUnlock()
	if len(ts) == 0 {
		return nil, errNoTask(name)
	}
	out := []TaskInfoView{}
	red := redact.Default()
	mask := func(env *mesos.Environment) {
		if env == nil {
			return
		}
		for i, v := range env.Variables {
			if v.Secret != nil || red.IsSecretKey(v.Name) {
				m := redact.Mask
				env.Variables[i] = mesos.Environment_Variable{Name: v.Name, Type: v.Type, Value: &m}
			} else if v.Value != nil {
				m := red.Value(v.Name, *v.Value) // credentials inside the value
				env.Variables[i].Value = &m
			}
		}
	}
	for _, t := range ts {
		ti := t.info
		if ti.Command != nil {
			c := *ti.Command
			if c.Value != nil {
				cmd := red.String(*c.Value) // --password=... on the command line
				c.Value = &cmd
			}
			c.Arguments = append([]string(nil), c.Arguments...)
			for i, a := range c.Arguments {
				c.Arguments[i] = red.String(a)
			}
			if c.Environment != nil {
				e := mesos.Environment{Variables: append([]mesos.Environment_Variable(nil), c.Environment.Variables...)}
				mask(&e)
				c.Environment = &e
			}
			ti.Command = &c
		}
		// Checks carry the same environment; show them without it.
		if ti.HealthCheck != nil {
			hc := *ti.HealthCheck
			if hc.Command != nil {
				c := *hc.Command
				c.Environment = nil
				hc.Command = &c
			}
			ti.HealthCheck = &hc
		}
		if ti.Check != nil {
			ck := *ti.Check
			if ck.Command != nil {
				cc := *ck.Command
				cc.Command.Environment = nil
				ck.Command = &cc
			}
			ti.Check = &ck
		}
		ti.Container = mesosx.MaskSecretVolumes(ti.Container) // secret files
		ib, err := json.Marshal(&ti)
		if err != nil {
			return nil, err
		}
		v := TaskInfoView{Info: ib}
		if t.status != nil {
			if sb, err := json.Marshal(t.status); err == nil {
				v.Status = sb
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// PodRestart kills a pod instance's tasks so that the recovery plan (or a
// step working on the instance) relaunches them: in place (restart) or
// placed anew (replace). A replace is stored with the tasks (their
// TaskInfos' permanently-failed label, as the SDK's PodQueries.restartPod)
// before the kills: a later restart or a scheduler crash does not undo it.
// It runs on the event loop and returns the task names. An instance with
// no launched task (its deploy step has not launched it yet) is
// ErrNotFound; one the spec does not have is retiredPodCommand's.
func (s *Scheduler) PodRestart(ctx context.Context, name string, replace bool) ([]string, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return s.retiredPodCommand(ctx, name, nil)
	}
	names := []string{}
	err := s.do(ctx, func() error {
		kind := killRestart
		if replace {
			kind = killReplace
		}
		now := s.clock.Now()
		j := &job{}
		s.mu.Lock()
		tasks := s.instanceTasks(pod, idx)
		if len(tasks) == 0 {
			// Nothing to kill or relaunch: its deploy step launches it.
			s.mu.Unlock()
			return errNoTask(name)
		}
		var last *taskState
		var killed []*taskState
		for _, t := range tasks {
			names = append(names, t.name)
			if replace {
				t.replace = true // a restart does not undo it
				t.info = withLabel(t.info, podinfo.LabelPermanentlyFailed, "true")
				j.tasks = append(j.tasks, t.info)
			}
			last = t
			if t.live() {
				j.calls = append(j.calls, killCall(t))
				killed = append(killed, t)
			}
		}
		s.killPodLocked(name, kind, killed, now)
		if len(killed) == 0 && last.status != nil {
			s.recoverLocked(last, now)
		}
		s.settleKillLocked(name)
		s.mu.Unlock()
		// The replace is stored before the kills.
		s.out.push(j)
		s.flush()
		s.log.Info("pod "+kind, "pod", name, "tasks", names, "killing", len(killed))
		return nil
	})
	s.wake()
	return names, err
}

// FrameworkID is the framework ID ("" before the first subscription).
func (s *Scheduler) FrameworkID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.frameworkID
}

// Endpoints lists the advertised port names (and VIP names).
func (s *Scheduler) Endpoints() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, p := range s.spec.Pods.Values {
		for _, t := range p.Tasks.Values {
			for _, pt := range t.Ports.Values {
				if (pt.Advertise || pt.VIP != nil) && !seen[pt.Name] {
					seen[pt.Name] = true
					out = append(out, pt.Name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// EndpointView is GET /v1/endpoints/{name}.
type EndpointView struct {
	DNS     []string `json:"dns"`
	Address []string `json:"address"`
	VIP     string   `json:"vip,omitempty"`
	VIPs    []string `json:"vips,omitempty"`
}

// Endpoint describes where the running tasks serve port name.
func (s *Scheduler) Endpoint(name string) (EndpointView, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := EndpointView{DNS: []string{}, Address: []string{}}
	found := false
	names := make([]string, 0, len(s.tasks))
	for n := range s.tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := s.tasks[n]
		for _, pt := range t.spec.Ports.Values {
			if pt.Name != name || !(pt.Advertise || pt.VIP != nil) {
				continue
			}
			found = true
			if pt.VIP != nil {
				v.VIP = net.JoinHostPort(taskenv.VIPHost(pt.VIP.Prefix, s.cfg.FrameworkName), strconv.Itoa(pt.VIP.Port))
			}
			if t.info == nil || t.status == nil || t.status.GetState() != mesos.TASK_RUNNING {
				continue
			}
			for _, dp := range t.info.GetDiscovery().GetPorts().GetPorts() {
				if dp.GetName() != name {
					continue
				}
				port := strconv.Itoa(int(dp.Number))
				v.DNS = append(v.DNS, net.JoinHostPort(taskenv.AutoIPHost(t.info.GetDiscovery().GetName(), s.cfg.FrameworkName), port))
				v.Address = append(v.Address, net.JoinHostPort(t.place.Hostname, port))
			}
		}
	}
	if !found {
		return v, fmt.Errorf("endpoint %q: %w", name, ErrNotFound)
	}
	if v.VIP != "" {
		v.VIPs = []string{v.VIP}
	}
	return v, nil
}

// Template returns the content of config template name of pod/task in
// configuration configID: the target, or one a stored task runs with.
func (s *Scheduler) Template(configID, pod, task, name string) (string, bool) {
	return s.templateOf(configID, pod, task, name)
}

// Connected reports whether the scheduler has a live subscription.
func (s *Scheduler) Connected() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.connected
}
