package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Errors of the control calls; the API maps them to status codes.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadCommand = errors.New("bad command")
)

// Plan commands.
const (
	CmdStart     = "start"
	CmdStop      = "stop"
	CmdInterrupt = "interrupt"
	CmdContinue  = "continue"
	CmdRestart   = "restart"
)

func (s *Scheduler) plan(name string) *plan.Plan {
	for _, p := range s.allPlans() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// PlanNames lists the plans: deploy, recovery, then custom plans.
func (s *Scheduler) PlanNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.allPlans() {
		out = append(out, p.Name)
	}
	return out
}

// PlanView describes plan name.
func (s *Scheduler) PlanView(name string) (plan.View, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan(name)
	if p == nil {
		return plan.View{}, fmt.Errorf("plan %q: %w", name, ErrNotFound)
	}
	return p.View(), nil
}

// PlanStatus is plan name's aggregated status ("" for an unknown plan).
func (s *Scheduler) PlanStatus(name string) plan.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.plan(name); p != nil {
		return p.Status()
	}
	return ""
}

// PlanCommand runs start, stop, interrupt, continue or restart on plan name
// (or one phase of it). params are start's environment values. It reports
// false when the command changed nothing.
func (s *Scheduler) PlanCommand(name, cmd, phase string, params map[string]string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plan(name)
	if p == nil {
		return false, fmt.Errorf("plan %q: %w", name, ErrNotFound)
	}
	if phase != "" && p.Phase(phase) == nil {
		return false, fmt.Errorf("plan %s has no phase %q: %w", name, phase, ErrNotFound)
	}
	changed := false
	var err error
	switch cmd {
	case CmdStart:
		if params != nil {
			p.Parameters = params
		}
		if p.Status() == plan.Complete || params != nil {
			p.Restart("")
		}
		p.Interrupted = false
		for _, ph := range p.Phases {
			ph.Interrupted = false
		}
		changed = true
	case CmdStop:
		p.Interrupt("")
		p.Restart("")
		changed = true
	case CmdInterrupt:
		changed, err = p.Interrupt(phase)
	case CmdContinue:
		changed, err = p.Continue(phase)
	case CmdRestart:
		p.Restart(phase)
		changed = true
	default:
		return false, fmt.Errorf("%q: %w", cmd, ErrBadCommand)
	}
	if err != nil {
		return false, err
	}
	s.savePlans()
	s.wake()
	return changed, nil
}

// Pods lists the pod instances ("hello-0", ...).
func (s *Scheduler) Pods() []string {
	var out []string
	for _, p := range s.spec.Pods.Values {
		for i := 0; i < p.Count; i++ {
			out = append(out, fmt.Sprintf("%s-%d", p.Name, i))
		}
	}
	return out
}

func (s *Scheduler) instance(name string) (*spec.PodSpec, int, bool) {
	for _, p := range s.spec.Pods.Values {
		if rest, ok := strings.CutPrefix(name, p.Name+"-"); ok {
			if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < p.Count {
				return p, i, true
			}
		}
	}
	return nil, 0, false
}

// TaskStatusView is one task in a pod's status.
type TaskStatusView struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// PodStatusView is GET /v1/pod/{name}/status.
type PodStatusView struct {
	Name  string           `json:"name"`
	Tasks []TaskStatusView `json:"tasks"`
}

// PodStatus describes a pod instance's tasks.
func (s *Scheduler) PodStatus(name string) (PodStatusView, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return PodStatusView{}, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := PodStatusView{Name: name, Tasks: []TaskStatusView{}}
	for _, task := range pod.Tasks.Values {
		t := s.tasks[TaskName(pod.Name, idx, task.Name)]
		if t == nil || t.info == nil {
			continue
		}
		st := "STAGING"
		if t.status != nil {
			st = strings.TrimPrefix(t.status.GetState().String(), "TASK_")
		}
		v.Tasks = append(v.Tasks, TaskStatusView{ID: t.info.TaskID.Value, Name: t.name, Status: st})
	}
	return v, nil
}

// TaskInfoView is one element of GET /v1/pod/{name}/info.
type TaskInfoView struct {
	Info   json.RawMessage `json:"info"`
	Status json.RawMessage `json:"status,omitempty"`
}

// PodInfo returns a pod instance's TaskInfos and statuses with every secret
// environment value (SECRET variables and keys that look secret) masked.
func (s *Scheduler) PodInfo(name string) ([]TaskInfoView, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	for _, task := range pod.Tasks.Values {
		t := s.tasks[TaskName(pod.Name, idx, task.Name)]
		if t == nil || t.info == nil {
			continue
		}
		ti := *t.info
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
		if ti.HealthCheck != nil || ti.Check != nil {
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
		}
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

// PodRestart kills a pod instance's tasks so that the recovery plan
// relaunches them: in place (restart) or placed anew (replace). It returns
// the task names.
func (s *Scheduler) PodRestart(ctx context.Context, name string, replace bool) ([]string, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	s.mu.Lock()
	kind := "restart"
	if replace {
		kind = "replace"
	}
	var kills [][2]string
	names := []string{}
	var last *taskState
	for _, task := range pod.Tasks.Values {
		t := s.tasks[TaskName(pod.Name, idx, task.Name)]
		if t == nil || t.info == nil {
			continue
		}
		names = append(names, t.name)
		t.replace = replace
		last = t
		if t.status == nil || !isTerminal(t.status.GetState()) {
			kills = append(kills, [2]string{t.info.TaskID.Value, t.info.AgentID.Value})
		}
	}
	if len(kills) > 0 {
		s.pendingKill[name] = kind
	} else if last != nil && last.status != nil {
		s.pendingKill[name] = kind
		s.recover(last)
	}
	s.mu.Unlock()
	for _, k := range kills {
		s.send(ctx, calls.Kill(k[0], k[1]))
	}
	s.flush(ctx)
	s.wake()
	return names, nil
}

// FrameworkID is the framework ID ("" before the first subscription).
func (s *Scheduler) FrameworkID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frameworkID
}

// Endpoints lists the advertised port names (and VIP names).
func (s *Scheduler) Endpoints() []string {
	seen := map[string]bool{}
	var out []string
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
	s.mu.Lock()
	defer s.mu.Unlock()
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

// Health codes (inventory §3): GET /v1/health answers with the code as its
// HTTP status.
const (
	HealthRunning              = 200 // deploy COMPLETE, nothing to recover
	HealthDeployingPending     = 202 // deploy waiting for offers
	HealthRecoveringPending    = 203 // recovery waiting for offers
	HealthDeployingInProgress  = 204 // deploy launching tasks
	HealthRecoveringInProgress = 205 // recovery launching tasks
	HealthWaiting              = 207 // deploy interrupted: waiting for the user
	HealthDelayed              = 208 // crash-loop backoff
	HealthInitializing         = 318 // not yet subscribed, or reconciling tasks
	HealthError                = 500 // a plan has errors (e.g. an invalid config)
	HealthUnavailable          = 503 // lost the master for over 10 s
)

// disconnectedGrace is how long a lost subscription may last before
// Health reports UNAVAILABLE (a re-subscription usually takes well under a
// second).
const disconnectedGrace = 10 * time.Second

// Health returns the service's health code and a word for it: the first
// of unavailable, initializing, error, deploying (waiting, delayed,
// pending, in progress), recovering (delayed, pending, in progress),
// running.
func (s *Scheduler) Health() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.connected && !s.disconnectedAt.IsZero() && time.Since(s.disconnectedAt) > disconnectedGrace:
		return HealthUnavailable, "UNAVAILABLE"
	case !s.connected && s.reconciledAt.IsZero(), s.reconciling:
		return HealthInitializing, "INITIALIZING"
	}
	for _, p := range s.allPlans() {
		if len(p.Errors) > 0 || (p.Status() == plan.Error && !p.Interrupted) {
			return HealthError, "ERROR"
		}
	}
	switch s.deploy.Status() {
	case plan.Complete:
	case plan.Waiting:
		return HealthWaiting, "WAITING_FOR_USER"
	case plan.Delayed:
		return HealthDelayed, "DELAYED"
	case plan.Pending:
		return HealthDeployingPending, "DEPLOYING_PENDING"
	default:
		return HealthDeployingInProgress, "DEPLOYING_IN_PROGRESS"
	}
	switch s.recovery.Status() {
	case plan.Complete:
		return HealthRunning, "RUNNING"
	case plan.Delayed:
		return HealthDelayed, "DELAYED"
	case plan.Pending:
		return HealthRecoveringPending, "RECOVERING_PENDING"
	default:
		return HealthRecoveringInProgress, "RECOVERING_IN_PROGRESS"
	}
}

// Template returns the content of config template name of pod/task, if
// configID is the current configuration.
func (s *Scheduler) Template(configID, pod, task, name string) (string, bool) {
	if configID != s.cfg.Loaded.ConfigID {
		return "", false
	}
	p := s.spec.Pod(pod)
	if p == nil {
		return "", false
	}
	t, ok := p.Tasks.Get(task)
	if !ok {
		return "", false
	}
	c, ok := t.Configs.Get(name)
	if !ok {
		return "", false
	}
	return c.Content, true
}

// Connected reports whether the scheduler has a live subscription.
func (s *Scheduler) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Teardown kills every task of the framework and removes it from Mesos
// (TEARDOWN), then clears the store. Used by uninstall and local demos.
func (s *Scheduler) Teardown(ctx context.Context) error {
	if !s.send(ctx, &scheduler.Call{Type: scheduler.Call_TEARDOWN}) {
		return errors.New("teardown call failed")
	}
	return s.cfg.Store.Clear()
}
