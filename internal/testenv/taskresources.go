package testenv

import (
	"errors"
	"fmt"
	"math"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// The resource checks of a task launch, as Mesos' master makes them
// (validation::task in src/master/validation.cpp): reserved resources and
// persistent volumes are launched on like any other resource, so a task
// must name each exactly as offered — the same reservations (labels
// included) and, for a volume, the same persistence ID and size (its
// container_path and mode may differ: Mesos ignores DiskInfo.volume when
// comparing resources, and the task's container_path is where its sandbox
// sees the volume).

// taskResources validates a task's resources (validateResources and
// validateResourceLimits) and returns them.
func taskResources(ti *mesos.TaskInfo) (res, error) {
	r, err := parseResources(ti.Resources)
	if err != nil {
		return nil, fmt.Errorf("Task uses invalid resources: %v", err)
	}
	if err := uniquePersistenceIDs(r); err != nil {
		return nil, fmt.Errorf("Task uses duplicate persistence ID: %v", err)
	}
	if err := singleAllocationRole(r); err != nil {
		return nil, fmt.Errorf("Invalid task resources: %v", err)
	}
	if err := validateLimits(ti, r); err != nil {
		return nil, err
	}
	return r, nil
}

// groupTaskResources is taskResources for a task of a LAUNCH_GROUP, where
// resource limits need 'share_cgroups' false.
func groupTaskResources(ti *mesos.TaskInfo) (res, error) {
	r, err := taskResources(ti)
	if err != nil {
		return nil, err
	}
	if len(ti.Limits) > 0 && (ti.Container == nil || ti.Container.LinuxInfo == nil || ti.Container.LinuxInfo.GetShareCgroups()) {
		return nil, errors.New("Resource limits may only be set for tasks within a task group when the 'share_cgroups' field is set to 'false'.")
	}
	return r, nil
}

// validateLimits is validateResourceLimits: only cpus and mem, each at
// least its request (mem may be infinite). testenv's agents have the
// TASK_RESOURCE_LIMITS capability of Mesos 1.11 agents; the limits reach
// the executor in the TaskInfo (testenv enforces none: no cgroups).
func validateLimits(ti *mesos.TaskInfo, r res) error {
	if len(ti.Limits) == 0 {
		return nil
	}
	for name := range ti.Limits {
		if name != "cpus" && name != "mem" {
			return errors.New("Only cpus and mem may be included in a task's resource limits")
		}
	}
	if l, ok := ti.Limits["cpus"]; ok {
		if !r.has("cpus") {
			return errors.New("When a CPU limit is specified, a CPU request must also be specified")
		}
		if l.Value < r.scalar("cpus") {
			return errors.New("The cpu limit must be greater than or equal to the cpu request")
		}
	}
	if l, ok := ti.Limits["mem"]; ok {
		if !r.has("mem") {
			return errors.New("When a memory limit is specified, a memory request must also be specified")
		}
		if !math.IsInf(l.Value, 1) && l.Value < r.scalar("mem") {
			return errors.New("The memory limit must be greater than or equal to the memory request")
		}
	}
	return nil
}

// taskFits checks a LAUNCH task with its executor
// (validateTaskAndExecutorResources) and that need, what it takes, is
// within avail.
func taskFits(ti *mesos.TaskInfo, need, avail res) error {
	task, _ := parseResources(ti.Resources)
	all := []res{task}
	if ti.Executor != nil {
		exec, _ := parseResources(ti.Executor.Resources)
		all = append(all, exec)
		if overlapping(all...) {
			return fmt.Errorf("There are overlapping resources in the task resources %s and executor resources %s", describe(task), describe(exec))
		}
	}
	if err := uniquePersistenceIDs(sum(all...)); err != nil {
		return fmt.Errorf("Task and its executor use duplicate persistence ID: %v", err)
	}
	if !avail.contains(need) {
		return fmt.Errorf("Total resources %s required by task and its executor is more than available %s", describe(need), describe(avail))
	}
	return nil
}

// groupFits checks a LAUNCH_GROUP's tasks with their executor
// (validateTaskGroupAndExecutorResources) and that need is within avail.
func groupFits(lg *mesos.Offer_Operation_LaunchGroup, need, avail res) error {
	exec, _ := parseResources(lg.Executor.Resources)
	all := []res{exec}
	for i := range lg.TaskGroup.Tasks {
		r, _ := parseResources(lg.TaskGroup.Tasks[i].Resources)
		all = append(all, r)
	}
	if err := uniquePersistenceIDs(sum(all...)); err != nil {
		return fmt.Errorf("Task group and executor use duplicate persistence ID: %v", err)
	}
	if overlapping(all...) {
		return fmt.Errorf("There are overlapping resources in the task group's task resources and/or executor resources %s", describe(exec))
	}
	if !avail.contains(need) {
		return fmt.Errorf("Total resources %s required by task group and its executor are more than available %s", describe(need), describe(avail))
	}
	return nil
}

func sum(rs ...res) res {
	var out res
	for _, r := range rs {
		out = append(out, r...)
	}
	return out
}

// overlapping reports whether range or set resources of the given
// collections overlap (detectOverlappingSetAndRangeResources): the items
// they hold apart are more than those they hold together.
func overlapping(rs ...res) bool {
	count := func(r res) map[string]uint64 {
		out := map[string]uint64{}
		for i := range r {
			switch r[i].GetType() {
			case mesos.RANGES:
				out[r[i].Name] += mesos.Ranges(r[i].GetRanges().GetRange()).Size()
			case mesos.SET:
				out[r[i].Name] += uint64(len(r[i].GetSet().GetItem()))
			}
		}
		return out
	}
	apart := map[string]uint64{}
	var together res
	for _, r := range rs {
		for k, v := range count(r) {
			apart[k] += v
		}
		together = together.add(r)
	}
	got := count(together)
	for k, v := range apart {
		if got[k] != v {
			return true
		}
	}
	return false
}
