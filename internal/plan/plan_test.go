package plan

import (
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/spec"
)

var t0 = time.Unix(1000, 0)

func TestStepUpdates(t *testing.T) {
	tests := []struct {
		name  string
		goal  string
		ready bool
		seq   []mesos.TaskState
		want  Status
	}{
		{"staging", "RUNNING", false, []mesos.TaskState{mesos.TASK_STAGING}, Starting},
		{"starting", "RUNNING", false, []mesos.TaskState{mesos.TASK_STARTING}, Starting},
		{"running ready", "RUNNING", true, []mesos.TaskState{mesos.TASK_RUNNING}, Complete},
		{"running not ready", "RUNNING", false, []mesos.TaskState{mesos.TASK_RUNNING}, Started},
		{"finish goal running", "FINISH", true, []mesos.TaskState{mesos.TASK_RUNNING}, Started},
		{"finished goal finish", "FINISH", true, []mesos.TaskState{mesos.TASK_RUNNING, mesos.TASK_FINISHED}, Complete},
		{"finished goal once", "ONCE", true, []mesos.TaskState{mesos.TASK_FINISHED}, Complete},
		{"finished goal running", "RUNNING", false, []mesos.TaskState{mesos.TASK_FINISHED}, Pending},
		{"failed", "RUNNING", false, []mesos.TaskState{mesos.TASK_FAILED}, Delayed},
		{"error", "FINISH", false, []mesos.TaskState{mesos.TASK_ERROR}, Delayed},
		{"killed", "RUNNING", false, []mesos.TaskState{mesos.TASK_KILLED}, Pending},
		{"lost", "RUNNING", false, []mesos.TaskState{mesos.TASK_LOST}, Pending},
		{"gone", "RUNNING", false, []mesos.TaskState{mesos.TASK_GONE}, Pending},
		{"unreachable", "RUNNING", false, []mesos.TaskState{mesos.TASK_UNREACHABLE}, Pending},
		{"complete sticks", "RUNNING", true, []mesos.TaskState{mesos.TASK_RUNNING, mesos.TASK_KILLED}, Complete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStep("hello", 0, []string{"server"})
			s.Launched()
			for _, st := range tc.seq {
				s.TaskUpdate("hello-0-server", st, tc.goal, tc.ready, "", t0)
			}
			if s.Status() != tc.want {
				t.Errorf("status %s, want %s", s.Status(), tc.want)
			}
		})
	}
}

func TestStepLowestOfTasks(t *testing.T) {
	s := NewStep("p", 1, []string{"a", "b"})
	if s.Name != "p-1:[a,b]" {
		t.Fatalf("name %q", s.Name)
	}
	s.Launched()
	s.TaskUpdate("p-1-a", mesos.TASK_RUNNING, "RUNNING", true, "", t0)
	if s.Status() != Prepared {
		t.Fatalf("one task running: %s", s.Status())
	}
	s.TaskUpdate("p-1-b", mesos.TASK_STARTING, "RUNNING", true, "", t0)
	if s.Status() != Starting {
		t.Fatalf("%s", s.Status())
	}
	s.TaskUpdate("p-1-b", mesos.TASK_RUNNING, "RUNNING", true, "", t0)
	if s.Status() != Complete {
		t.Fatalf("%s", s.Status())
	}
	// Delayed steps become eligible after their backoff.
	d := NewStep("p", 0, []string{"a"})
	d.Launched()
	d.TaskUpdate("p-0-a", mesos.TASK_FAILED, "RUNNING", false, "boom", t0)
	if d.Eligible(t0) || !d.Eligible(t0.Add(time.Second)) || d.Message == "" {
		t.Fatalf("backoff: %v %v %q", d.Eligible(t0), d.Eligible(t0.Add(time.Second)), d.Message)
	}
}

func TestAggregate(t *testing.T) {
	tests := []struct {
		children    []Status
		errs        []string
		interrupted bool
		want        Status
	}{
		{[]Status{Complete, Complete}, nil, false, Complete},
		{[]Status{Complete, Error}, nil, false, Error},
		{[]Status{Complete}, []string{"bad"}, false, Error},
		{[]Status{Pending, Pending}, nil, true, Waiting},
		{[]Status{Complete, Complete}, nil, true, Complete},
		{[]Status{Delayed, Delayed}, nil, false, Delayed},
		{[]Status{Prepared, Pending}, nil, false, InProgress},
		{[]Status{Complete, Pending}, nil, false, InProgress},
		{[]Status{Pending, Pending}, nil, false, Pending},
		{[]Status{Starting, Waiting}, nil, false, Waiting},
		{[]Status{Starting, Started}, nil, false, Starting},
		{[]Status{Started}, nil, false, Started},
	}
	for i, tc := range tests {
		if got := aggregate(tc.children, tc.errs, tc.interrupted); got != tc.want {
			t.Errorf("%d %v: got %s want %s", i, tc.children, got, tc.want)
		}
	}
}

func phase(strategy string, n int) *Phase {
	ph := &Phase{Name: "p", Strategy: strategy}
	for i := 0; i < n; i++ {
		ph.Steps = append(ph.Steps, NewStep("pod", i, []string{"t"}))
	}
	ph.Hold()
	return ph
}

func names(steps []*Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Instance())
	}
	return out
}

func complete(s *Step) {
	s.Launched()
	s.TaskUpdate(s.TaskNames()[0], mesos.TASK_RUNNING, "RUNNING", true, "", t0)
}

func TestStrategies(t *testing.T) {
	serial := &Plan{Name: "deploy", Strategy: Serial, Phases: []*Phase{phase(Serial, 3)}}
	if got := names(serial.Candidates(t0)); len(got) != 1 || got[0] != "pod-0" {
		t.Fatalf("serial: %v", got)
	}
	serial.Phases[0].Steps[0].Launched()
	if got := serial.Candidates(t0); len(got) != 0 {
		t.Fatalf("serial waits for the running step: %v", names(got))
	}
	if serial.Status() != InProgress {
		t.Fatalf("status %s", serial.Status())
	}
	complete(serial.Phases[0].Steps[0])
	if got := names(serial.Candidates(t0)); len(got) != 1 || got[0] != "pod-1" {
		t.Fatalf("serial next: %v", got)
	}

	par := &Plan{Name: "deploy", Strategy: Serial, Phases: []*Phase{phase(Parallel, 3)}}
	if got := par.Candidates(t0); len(got) != 3 {
		t.Fatalf("parallel: %v", names(got))
	}

	canary := &Plan{Name: "deploy", Strategy: Serial, Phases: []*Phase{phase(ParallelCanary, 3)}}
	if got := canary.Candidates(t0); len(got) != 0 || canary.Status() != Waiting {
		t.Fatalf("canary before continue: %v %s", names(got), canary.Status())
	}
	// A continue without a phase proceeds the plan only: the canary holds.
	if ok, _ := canary.Continue(""); ok || len(canary.Candidates(t0)) != 0 {
		t.Fatalf("continue without a phase released the canary: %v", names(canary.Candidates(t0)))
	}
	if ok, _ := canary.Continue("p"); !ok {
		t.Fatal("continue was a no-op")
	}
	if got := names(canary.Candidates(t0)); len(got) != 1 || got[0] != "pod-0" {
		t.Fatalf("canary stage 1: %v", got)
	}
	complete(canary.Phases[0].Steps[0])
	if got := canary.Candidates(t0); len(got) != 0 {
		t.Fatalf("canary holds the rest: %v", names(got))
	}
	canary.Continue("p")
	if got := canary.Candidates(t0); len(got) != 2 {
		t.Fatalf("canary stage 2: %v", names(got))
	}

	// Interrupt and continue, with no-op detection.
	if ok, _ := par.Interrupt(""); !ok || par.Candidates(t0) != nil || par.Status() != Waiting {
		t.Fatal("interrupt")
	}
	if ok, _ := par.Interrupt(""); ok {
		t.Fatal("second interrupt is not a no-op")
	}
	if _, err := par.Interrupt("nope"); err == nil {
		t.Fatal("unknown phase accepted")
	}
	par.Continue("")
	if len(par.Candidates(t0)) != 3 {
		t.Fatal("continue")
	}
	// Two phases of a serial plan: the second waits for the first.
	two := &Plan{Name: "x", Strategy: Serial, Phases: []*Phase{phase(Serial, 1), phase(Serial, 1)}}
	two.Phases[1].Name = "q"
	if got := two.Candidates(t0); len(got) != 1 || got[0] != two.Phases[0].Steps[0] {
		t.Fatal("serial plan")
	}
	two.Strategy = Parallel
	if got := two.Candidates(t0); len(got) != 2 {
		t.Fatal("parallel plan")
	}
}

func TestFromSpec(t *testing.T) {
	l, err := spec.Load("../../examples/hello-world/svc.yml", spec.Options{Env: []string{"ARTIFACTS_URL=x"}})
	if err != nil {
		t.Fatal(err)
	}
	deploy, custom := FromSpec(l.Spec)
	v := deploy.View()
	if len(v.Phases) != 2 || v.Phases[0].Strategy != Parallel || len(v.Phases[0].Steps) != 2 ||
		v.Phases[0].Steps[1].Name != "hello-1:[server]" || v.Phases[1].Steps[0].Name != "world-0:[once]" || v.Status != Pending {
		t.Fatalf("deploy: %+v", v)
	}
	if len(custom) != 1 || custom[0].Name != "greet" || !custom[0].Interrupted || custom[0].Status() != Waiting {
		t.Fatalf("custom: %+v", custom)
	}
	// Restore keeps completed steps.
	complete(deploy.Phases[0].Steps[0])
	pr := deploy.Progress()
	d2, _ := FromSpec(l.Spec)
	d2.Restore(pr)
	if d2.Phases[0].Steps[0].Status() != Complete || d2.Phases[0].Steps[1].Status() != Pending {
		t.Fatal("restore")
	}
	// Without custom deploy: one phase per pod, one step per instance.
	l.Spec.Plans = spec.Ordered[*spec.PlanSpec]{}
	def, _ := FromSpec(l.Spec)
	if dv := def.View(); len(dv.Phases) != 2 || dv.Phases[1].Steps[0].Name != "world-0:[once,greet]" || dv.Phases[0].Strategy != Serial {
		t.Fatalf("default deploy: %+v", dv)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 5 * time.Second}
	tests := []struct{ prev, want time.Duration }{
		{0, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second},
		{4 * time.Second, 5 * time.Second}, {5 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		if got := b.Next(tc.prev); got != tc.want {
			t.Errorf("Next(%s) = %s, want %s", tc.prev, got, tc.want)
		}
	}
	if got := (Backoff{}).Next(0); got != DefaultBackoff.Initial {
		t.Errorf("zero Backoff: %s", got)
	}
	// A step uses its own backoff when a task fails, and Delay sets it.
	s := NewStep("p", 0, []string{"a"})
	s.Backoff = Backoff{Initial: 3 * time.Second, Max: 3 * time.Second}
	s.Launched()
	s.TaskUpdate("p-0-a", mesos.TASK_FAILED, "RUNNING", false, "", t0)
	if s.Status() != Delayed || s.Eligible(t0.Add(2*time.Second)) || !s.Eligible(t0.Add(3*time.Second)) {
		t.Errorf("failed step: %s, eligible at +2s %v", s.Status(), s.Eligible(t0.Add(2*time.Second)))
	}
	s = NewStep("p", 0, []string{"a"})
	s.Delay(2*time.Second, t0)
	if s.Status() != Delayed || s.NotBefore() != t0.Add(2*time.Second) || s.Eligible(t0.Add(time.Second)) {
		t.Errorf("delayed step: %s until %s", s.Status(), s.NotBefore())
	}
	s = NewStep("p", 0, []string{"a"})
	if s.Delay(0, t0); s.Status() != Pending {
		t.Errorf("Delay(0): %s", s.Status())
	}
}

// TestStepNamesAndLookup: names are cached, action steps have none, a plan
// finds a step by phase and name.
func TestStepNamesAndLookup(t *testing.T) {
	s := NewStep("web", 3, []string{"server", "side"})
	if s.Instance() != "web-3" || strings.Join(s.TaskNames(), ",") != "web-3-server,web-3-side" {
		t.Errorf("names %s %v", s.Instance(), s.TaskNames())
	}
	s.Tasks = append(s.Tasks, "more") // changed after creation: recomputed
	if got := s.TaskNames(); len(got) != 3 || got[2] != "web-3-more" {
		t.Errorf("task names after a change %v", got)
	}
	a := NewActionStep("teardown")
	if a.Name != "teardown" || a.Status() != Pending || len(a.TaskNames()) != 0 || a.Instance() != "" {
		t.Errorf("action step %+v", a)
	}
	p := &Plan{Name: "x", Phases: []*Phase{{Name: "one", Steps: []*Step{s}}, {Name: "two", Steps: []*Step{a}}}}
	if p.Step("two", "teardown") != a || p.Step("", "web-3:[server,side]") != s || p.Step("one", "teardown") != nil {
		t.Error("Plan.Step")
	}
}

// TestStepFactoryRefuses: a spec whose step launches tasks sharing a
// discovery prefix or a resource set loads (with a warning), and that step
// is ERROR for good with the SDK's message (DefaultStepFactory.validate),
// while the other steps are built as usual.
func TestStepFactoryRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       map[string]string // step name → ERROR message; every other step PENDING
		plan       Status
	}{
		{"discovery prefix, default deploy plan", `name: dns
pods:
  app:
    count: 2
    tasks:
      once: {goal: ONCE, cmd: echo once, cpus: 0.1, memory: 32, discovery: {prefix: app}}
      server: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32, discovery: {prefix: app}}
`, map[string]string{
			"app-0:[once,server]": "Attempted to simultaneously launch tasks: [once, server] in pod: app-0 using the same DNS name: [app, app]. These tasks should either be run in separate steps or use different DNS names",
			"app-1:[once,server]": "Attempted to simultaneously launch tasks: [once, server] in pod: app-1 using the same DNS name: [app, app]. These tasks should either be run in separate steps or use different DNS names",
		}, Error},
		{"discovery prefix, separate steps", `name: dns
pods:
  app:
    count: 1
    tasks:
      once: {goal: ONCE, cmd: echo once, cpus: 0.1, memory: 32, discovery: {prefix: app}}
      server: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32, discovery: {prefix: app}}
plans:
  deploy:
    phases:
      app: {pod: app, steps: [{default: [[once], [server]]}]}
`, nil, Pending},
		{"resource set, one custom step", `name: rs
pods:
  app:
    count: 1
    resource-sets:
      rs: {cpus: 0.1, memory: 32}
    tasks:
      server: {goal: RUNNING, cmd: sleep 100, resource-set: rs}
      other: {goal: ONCE, cmd: echo, cpus: 0.1, memory: 32}
      once: {goal: ONCE, cmd: echo once, resource-set: rs}
plans:
  deploy:
    phases:
      first: {pod: app, steps: [{default: [[once, other, server]]}]}
      again: {pod: app, steps: [{default: [[other]]}]}
`, map[string]string{
			"app-0:[once,other,server]": "Attempted to simultaneously launch tasks: [once, other, server] in pod: app-0 using the same resource set id: [rs, other-resource-set, rs]. These tasks should either be run in separate steps or use different resource set ids",
		}, Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := spec.Parse([]byte(tc.spec), spec.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatalf("the SDK loads it: %v", err)
			}
			deploy, _ := FromSpec(l.Spec)
			for _, st := range deploy.Steps() {
				want, refused := tc.want[st.Name]
				if refused && (st.Status() != Error || st.Message != want) {
					t.Errorf("%s: %s %q, want ERROR %q", st.Name, st.Status(), st.Message, want)
				}
				if !refused && st.Status() != Pending {
					t.Errorf("%s: %s %q, want PENDING", st.Name, st.Status(), st.Message)
				}
			}
			if got := deploy.Status(); got != tc.plan {
				t.Errorf("plan %s, want %s", got, tc.plan)
			}
			if tc.plan == Error && len(deploy.Candidates(t0)) != 0 {
				t.Errorf("a refused step is a candidate: %v", deploy.Candidates(t0))
			}
			// A restart (plan restart, pod replace) leaves it in ERROR.
			deploy.Restart("")
			for _, st := range deploy.Steps() {
				if _, refused := tc.want[st.Name]; refused && st.Status() != Error {
					t.Errorf("%s after restart: %s", st.Name, st.Status())
				}
			}
		})
	}
}

// TestSerialHeldByReadiness: a serial phase whose first step runs but is
// not ready yet (a roll held by a readiness check) is STARTED, not
// PENDING: the SDK aggregates over its strategy's candidates, and the
// steps after the running one are not candidates yet (helper-41's fault
// 8). A serial plan of such a phase is STARTED too; once a step is
// COMPLETE it is IN_PROGRESS, as before.
func TestSerialHeldByReadiness(t *testing.T) {
	p := &Plan{Name: "deploy", Strategy: Serial, Phases: []*Phase{phase(Serial, 3), phase(Serial, 1)}}
	p.Phases[1].Name = "q"
	s := p.Phases[0].Steps[0]
	s.Launched()
	s.TaskUpdate(s.TaskNames()[0], mesos.TASK_RUNNING, "RUNNING", false, "", t0)
	if s.Status() != Started || p.Phases[0].Status(false) != Started || p.Status() != Started {
		t.Errorf("step %s, phase %s, plan %s; want STARTED", s.Status(), p.Phases[0].Status(false), p.Status())
	}
	par := &Plan{Name: "deploy", Strategy: Serial, Phases: []*Phase{phase(Parallel, 2)}}
	s = par.Phases[0].Steps[0]
	s.Launched()
	s.TaskUpdate(s.TaskNames()[0], mesos.TASK_RUNNING, "RUNNING", false, "", t0)
	if got := par.Status(); got != Pending {
		t.Errorf("parallel phase with a step pending: %s, want PENDING (a candidate)", got)
	}
	complete(p.Phases[0].Steps[0])
	p.Phases[0].Steps[1].Launched()
	if got := p.Status(); got != InProgress {
		t.Errorf("after one COMPLETE: %s", got)
	}
}

// aggregate is aggregateSet of a list of children's statuses, as the
// table above writes them.
func aggregate(children []Status, errs []string, interrupted bool) Status {
	return aggregateSet(statusesOf(len(children), func(i int) Status { return children[i] }), errs, interrupted)
}
