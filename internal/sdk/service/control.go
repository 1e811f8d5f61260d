package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// What the HTTP API (internal/api) reads and commands. Reads take the
// state's read lock; commands run on the event loop (do).

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
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, p := range s.allPlans() {
		out = append(out, p.Name)
	}
	return out
}

// PlanView describes plan name.
func (s *Scheduler) PlanView(name string) (plan.View, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.plan(name)
	if p == nil {
		return plan.View{}, fmt.Errorf("plan %q: %w", name, ErrNotFound)
	}
	return p.View(), nil
}

// PlanStatus is plan name's aggregated status ("" for an unknown plan).
func (s *Scheduler) PlanStatus(name string) plan.Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.plan(name); p != nil {
		return p.Status()
	}
	return ""
}

// PlanCommand runs start, stop, interrupt, continue or restart on plan name
// (or one phase of it), on the event loop. params are start's environment
// values. It reports false when the command changed nothing (interrupting
// a COMPLETE plan, continuing one that is not held).
func (s *Scheduler) PlanCommand(ctx context.Context, name, cmd, phase string, params map[string]string) (bool, error) {
	switch cmd {
	case CmdStart, CmdStop, CmdInterrupt, CmdContinue, CmdRestart:
	default:
		return false, fmt.Errorf("%q: %w", cmd, ErrBadCommand)
	}
	changed := false
	err := s.do(ctx, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.plan(name)
		if p == nil {
			return fmt.Errorf("plan %q: %w", name, ErrNotFound)
		}
		if phase != "" && p.Phase(phase) == nil {
			return fmt.Errorf("plan %s has no phase %q: %w", name, phase, ErrNotFound)
		}
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
			// Nothing left to hold: a no-op, as the SDK's PlansQueries.
			if phase == "" && p.Status() == plan.Complete || phase != "" && p.Phase(phase).Status(p.Interrupted) == plan.Complete {
				return nil
			}
			changed, err = p.Interrupt(phase)
		case CmdContinue:
			changed, err = p.Continue(phase)
		case CmdRestart:
			p.Restart(phase)
			changed = true
		}
		if err != nil {
			return err
		}
		s.out.push(&job{plans: s.progress()})
		return nil
	})
	s.wake()
	return changed, err
}

// Pods lists the pod instances ("hello-0", ...).
func (s *Scheduler) Pods() []string {
	var out []string
	for _, p := range s.spec.Pods.Values {
		for i := 0; i < p.Count; i++ {
			out = append(out, taskenv.InstanceName(p.Name, i))
		}
	}
	return out
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := PodStatusView{Name: name, Tasks: []TaskStatusView{}}
	for _, t := range s.instanceTasks(pod, idx) {
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
// environment value (SECRET variables and keys that look secret) masked,
// credentials inside values and command lines too.
func (s *Scheduler) PodInfo(name string) ([]TaskInfoView, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	s.mu.RLock()
	type task struct {
		info   mesos.TaskInfo
		status *mesos.TaskStatus
	}
	var ts []task
	for _, t := range s.instanceTasks(pod, idx) {
		ts = append(ts, task{*t.info, t.status})
	}
	s.mu.RUnlock()
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

// PodRestart kills a pod instance's tasks so that the recovery plan
// relaunches them: in place (restart) or placed anew (replace). It runs on
// the event loop and returns the task names.
func (s *Scheduler) PodRestart(ctx context.Context, name string, replace bool) ([]string, error) {
	pod, idx, ok := s.instance(name)
	if !ok {
		return nil, fmt.Errorf("pod %q: %w", name, ErrNotFound)
	}
	names := []string{}
	err := s.do(ctx, func() error {
		kind := "restart"
		if replace {
			kind = "replace"
		}
		s.mu.Lock()
		var last *taskState
		killed := false
		for _, t := range s.instanceTasks(pod, idx) {
			names = append(names, t.name)
			t.replace = replace
			last = t
			if t.live() {
				s.calls = append(s.calls, killCall(t))
				killed = true
			}
		}
		if killed {
			s.pendingKill[name] = kind
		} else if last != nil && last.status != nil {
			s.pendingKill[name] = kind
			s.recoverLocked(last, s.clock.Now())
		}
		s.mu.Unlock()
		s.flush()
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.connected
}
