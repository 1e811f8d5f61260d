package spec

import (
	"fmt"
	"slices"
	"strings"
)

// StepError is DefaultStepFactory.validate (sdk/scheduler/.../scheduler/
// plan/DefaultStepFactory.java): the error of a step that launches tasks
// (names in pod) of instance index together while two of them use the same
// resource set, or the same discovery prefix; nil when they may launch
// together. The message is the SDK's, e.g. "Attempted to simultaneously
// launch tasks: [once, server] in pod: app-0 using the same DNS name:
// [app, app]. These tasks should either be run in separate steps or use
// different DNS names". The SDK loads such a spec and puts the step, and
// so its plan, in ERROR for good when it builds the step; so does
// scheduler-lite (internal/plan).
func StepError(pod *PodSpec, index int, tasks []string) error {
	sets, prefixes := launchIDs(pod, tasks)
	instance := fmt.Sprintf("%s-%d", pod.Name, index)
	if dupOf(sets) != "" {
		return fmt.Errorf("Attempted to simultaneously launch tasks: %s in pod: %s using the same resource set id: %s. "+
			"These tasks should either be run in separate steps or use different resource set ids", javaList(tasks), instance, javaList(sets))
	}
	if dupOf(prefixes) != "" {
		return fmt.Errorf("Attempted to simultaneously launch tasks: %s in pod: %s using the same DNS name: %s. "+
			"These tasks should either be run in separate steps or use different DNS names", javaList(tasks), instance, javaList(prefixes))
	}
	return nil
}

// launchIDs returns the resource set IDs and the discovery prefixes of the
// tasks of pod that tasks names, in the pod's order, as DefaultStepFactory
// lists them: a task without a resource set has its own,
// "<task>-resource-set" (YAMLToInternalMappers); a task without a
// discovery prefix adds none.
func launchIDs(pod *PodSpec, tasks []string) (sets, prefixes []string) {
	for _, t := range pod.Tasks.Values {
		if !slices.Contains(tasks, t.Name) {
			continue
		}
		if t.ResourceSet != "" {
			sets = append(sets, t.ResourceSet)
		} else {
			sets = append(sets, t.Name+"-resource-set")
		}
		if t.Discovery != nil && t.Discovery.Prefix != "" {
			prefixes = append(prefixes, t.Discovery.Prefix)
		}
	}
	return sets, prefixes
}

// dupOf returns the first value that ids holds twice, "" when none.
func dupOf(ids []string) string {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return id
		}
		seen[id] = true
	}
	return ""
}

// javaList writes a list as Java's List.toString does: "[a, b]".
func javaList(l []string) string { return "[" + strings.Join(l, ", ") + "]" }

// stepsCanLaunch warns, at load, of every step StepError will put in ERROR
// when the scheduler builds it: the default deploy plan's (one step per
// instance with all of the pod's tasks) when svc.yml has no deploy plan,
// and every custom step. The SDK accepts such a spec; so does
// scheduler-lite, which tells why its deploy will not complete.
func stepsCanLaunch(_, s *ServiceSpec) Problems {
	var ps Problems
	check := func(path string, pod *PodSpec, tasks []string, where string) {
		sets, prefixes := launchIDs(pod, tasks)
		if id := dupOf(sets); id != "" {
			ps.warn(path, "%s launches tasks sharing resource set %q together: the SDK's step factory puts it in ERROR, and so does scheduler-lite; give them separate steps", where, id)
		} else if p := dupOf(prefixes); p != "" {
			ps.warn(path, "%s launches tasks sharing discovery prefix %q together: the SDK's step factory puts it in ERROR, and so does scheduler-lite; give them separate steps", where, p)
		}
	}
	if _, ok := s.Plans.Get("deploy"); !ok {
		for _, p := range s.Pods.Values {
			check(podPath(p)+".tasks", p, p.TaskNames(), "the default deploy plan's step for each instance")
		}
	}
	for _, pl := range s.Plans.Values {
		for _, ph := range pl.Phases.Values {
			pod := s.Pod(ph.Pod)
			if pod == nil {
				continue
			}
			pp := "plans." + pl.Name + ".phases." + ph.Name
			if len(ph.Steps) == 0 {
				check(pp, pod, pod.TaskNames(), "phase "+ph.Name+"'s step for each instance")
			}
			for i, m := range ph.Steps {
				for _, k := range sortedKeys(m) {
					for j, st := range m[k] {
						check(fmt.Sprintf("%s.steps[%d].%s[%d]", pp, i, k, j), pod, st, "this step")
					}
				}
			}
		}
	}
	return ps
}
