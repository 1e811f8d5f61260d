package service

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	imesos "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/taskenv"
)

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
	place  evaluate.Placement
	// replace asks the next launch to place the task anew (pod replace);
	// otherwise a recovery relaunches it on the same agent until pinUntil.
	replace  bool
	pinUntil time.Time
	// pinFor is the task ID whose failure set pinUntil: the failure's
	// clock runs from the task's first failure (the SDK's
	// TimedFailureMonitor keys it by task ID), through pod restarts, until
	// the task runs again or is relaunched.
	pinFor string
	// outdated names what of its TaskInfo the target configuration changes
	// (podinfo.Diff); nil when it is up to date.
	outdated []string
	// pauseTarget: an operator paused the task (stored as the TaskInfo's
	// goal_override_target label); its next launch is paused.
	pauseTarget bool
	// retired: the target has no such pod instance or task; the
	// decommission plan removes it (spec may be nil).
	retired bool
}

// readyNow reports whether t counts as ready: its readiness check passed,
// or its TaskInfo has none. What was launched decides, not the spec: a
// paused task is launched without the check and counts as ready, as the
// SDK's PodInfoBuilder gives it PAUSE_READINESS_COMMAND, which passes.
// resourceIDs yields the resource IDs t's TaskInfo names, its executor's
// included (the SDK's ResourceUtils.getResourceIds), skipping resources
// without one; nothing without a TaskInfo.
func (t *taskState) resourceIDs() iter.Seq[string] {
	return func(yield func(string) bool) {
		if t.info == nil {
			return
		}
		for _, rs := range [][]mesos.Resource{t.info.Resources, t.info.GetExecutor().GetResources()} {
			for i := range rs {
				if id := reservation.ResourceID(&rs[i]); id != "" && !yield(id) {
					return
				}
			}
		}
	}
}

func (t *taskState) readyNow() bool {
	return t.ready || t.info == nil || t.info.Check == nil
}

// launchedPaused reports whether t's TaskInfo was launched paused.
func (t *taskState) launchedPaused() bool {
	return t.info != nil && labelOf(t.info, podinfo.LabelGoalOverride) == podinfo.GoalOverridePaused
}

// live reports whether t runs, or may: launched and no terminal status.
// taskID is the ID of the task's current TaskInfo ("" before a launch).
func (t *taskState) taskID() string {
	if t.info == nil {
		return ""
	}
	return t.info.TaskID.Value
}

func (t *taskState) live() bool {
	return t.info != nil && (t.status == nil || !isTerminal(t.status.GetState()))
}

func isTerminal(s mesos.TaskState) bool {
	return imesos.IsTerminal(s) || s == mesos.TASK_UNREACHABLE || s == mesos.TASK_UNKNOWN
}

// readinessPassed reads a status's readiness result: the DEFAULT executor's
// check_status.command.exit_code == 0, or the SDK executor's
// readiness_check_passed label.
func readinessPassed(st *mesos.TaskStatus) bool {
	if cs := st.GetCheckStatus(); cs != nil && cs.Command != nil && cs.Command.ExitCode != nil && *cs.Command.ExitCode == 0 {
		return true
	}
	for _, l := range st.GetLabels().GetLabels() {
		if l.Key == "readiness_check_passed" && l.GetValue() == "true" {
			return true
		}
	}
	return false
}

// readinessWaitPrefix starts the message of a step STARTED because task
// name's readiness check has not passed yet.
func readinessWaitPrefix(name string) string {
	return "waiting for the readiness check of " + name + " "
}

// readinessWaitMessage says why t's step is STARTED rather than COMPLETE
// when st, t's latest status, is TASK_RUNNING of a task whose goal is
// RUNNING and whose readiness check has not passed: the check's last
// result as the status carries it, e.g. "waiting for the readiness check
// of web-0-server (last: exit 1)" or "(not run yet)". "" when the step
// does not wait for it. The SDK's DeploymentStep keeps STARTED with its
// generic message ("... with status: STARTED"). svc.yml's readiness-check
// is a command; Mesos' check_status carries its exit code, not its output
// (that is in the task's sandbox).
func readinessWaitMessage(t *taskState, st *mesos.TaskStatus) string {
	if st.GetState() != mesos.TASK_RUNNING || t.spec == nil || t.spec.Goal != "RUNNING" || t.readyNow() {
		return ""
	}
	last := "not run yet"
	if cs := st.GetCheckStatus(); cs != nil {
		if cs.Command != nil && cs.Command.ExitCode != nil {
			last = fmt.Sprintf("last: exit %d", *cs.Command.ExitCode)
		}
	} else {
		for _, l := range st.GetLabels().GetLabels() {
			if l.Key == "readiness_check_passed" {
				last = "last: failed"
			}
		}
	}
	return readinessWaitPrefix(t.name) + "(" + last + ")"
}

// splitName finds the pod type, index and task of a full task name in the
// target.
func (s *Scheduler) splitName(name string) (*spec.PodSpec, int, *spec.TaskSpec, bool) {
	return splitName(s.spec, name)
}

// splitName finds the pod type, index and task of a full task name in sp.
func splitName(sp *spec.ServiceSpec, name string) (*spec.PodSpec, int, *spec.TaskSpec, bool) {
	for _, p := range sp.Pods.Values {
		rest, ok := strings.CutPrefix(name, p.Name+"-")
		if !ok {
			continue
		}
		idx, tname, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		if t, ok := p.Tasks.Get(tname); ok {
			return p, i, t, true
		}
	}
	return nil, 0, nil, false
}

// instance finds a pod instance ("hello-0") of the spec.
func (s *Scheduler) instance(name string) (*spec.PodSpec, int, bool) {
	for _, p := range s.spec.Pods.Values {
		if rest, ok := strings.CutPrefix(name, p.Name+"-"); ok {
			if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < p.Count && taskenv.InstanceName(p.Name, i) == name {
				return p, i, true
			}
		}
	}
	return nil, 0, false
}

// instanceTasks returns the launched tasks of pod instance (pod, index).
func (s *Scheduler) instanceTasks(pod *spec.PodSpec, index int) []*taskState {
	var out []*taskState
	for _, task := range pod.Tasks.Values {
		if x := s.tasks[taskenv.TaskName(pod.Name, index, task.Name)]; x != nil && x.info != nil {
			out = append(out, x)
		}
	}
	return out
}

// clusterView is where the service's pod instances run, for placement
// rules, with the placement values offers have shown: those with a live
// task, and those holding a reservation (they relaunch there).
func (s *Scheduler) clusterView() *evaluate.Cluster {
	c := &evaluate.Cluster{Instances: make(map[string]evaluate.Instance, len(s.tasks)), Values: s.cluster.Values}
	for _, ts := range []map[string]*taskState{s.tasks, s.retired} {
		for _, t := range ts {
			if t.live() || (t.info != nil && s.reservationFor(t.instanceName()) != nil) {
				c.Place(t.pod, t.index, t.place)
			}
		}
	}
	return c
}

// serviceCA returns the service's CA: the configured one, else the one in
// the store, else a new one (ECDSA P-256), stored before first use.
func serviceCA(ca *pki.Issuer, st store.Store, service string) (*pki.Issuer, error) {
	if ca != nil {
		return ca, nil
	}
	certPEM, err := st.Property("ca.crt")
	if err != nil {
		return nil, fmt.Errorf("reading the state store: %w", err)
	}
	keyPEM, err := st.Property("ca.key")
	if err != nil {
		return nil, fmt.Errorf("reading the state store: %w", err)
	}
	if certPEM != nil && keyPEM != nil {
		ca, err := podinfo.IssuerFromPEM(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("the stored CA: %w", err)
		}
		return ca, nil
	}
	ca, err = pki.NewCA(pki.CARequest{CommonName: service + " service CA", KeyType: pki.ECDSAP256})
	if err != nil {
		return nil, err
	}
	key, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := st.SetProperties(map[string][]byte{"ca.crt": pki.EncodeCertsPEM(ca.Cert), "ca.key": key}); err != nil {
		return nil, fmt.Errorf("storing the CA: %w", err)
	}
	return ca, nil
}
