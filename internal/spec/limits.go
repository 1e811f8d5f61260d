package spec

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// The fields of a pod and a task that shape its processes and its
// TaskInfo beyond resources: rlimits, labels, resource limits, and the
// ranges of a dynamic port.

// RLimitType is the Mesos rlimit of name ("RLIMIT_NOFILE" is RLMT_NOFILE),
// as the SDK's RLimitSpec maps them; false for a name that is none.
func RLimitType(name string) (mesos.RLimitInfo_RLimit_Type, bool) {
	rest, ok := strings.CutPrefix(name, "RLIMIT_")
	if !ok {
		return 0, false
	}
	v, ok := mesos.RLimitInfo_RLimit_Type_value["RLMT_"+rest]
	return mesos.RLimitInfo_RLimit_Type(v), ok
}

// rlimitNames lists the valid rlimit names, sorted, for messages.
func rlimitNames() string {
	var ns []string
	for n, v := range mesos.RLimitInfo_RLimit_Type_value {
		if r, ok := strings.CutPrefix(n, "RLMT_"); ok && v != 0 {
			ns = append(ns, "RLIMIT_"+r)
		}
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// rlimitSpecs follows RLimitSpec.validate: a known name, soft and hard both
// set or both unset, soft at most hard, no value below -1 (unlimited), and
// -1 in both or in neither.
func rlimitSpecs(_, s *ServiceSpec) Problems {
	var ps Problems
	for _, p := range s.Pods.Values {
		for _, name := range sortedKeys(p.RLimits) {
			rl := p.RLimits[name]
			path := podPath(p) + ".rlimits." + name
			if _, ok := RLimitType(name); !ok {
				ps.add(path, "%q is not a valid rlimit, expected one of %s (see man setrlimit(2))", name, rlimitNames())
			}
			if rl == nil {
				continue
			}
			switch {
			case (rl.Soft == nil) != (rl.Hard == nil):
				ps.add(path, "soft and hard must be either both set or both unset")
			case rl.Soft == nil:
			case *rl.Soft < RLimitInfinity || *rl.Hard < RLimitInfinity:
				ps.add(path, "soft and hard must be positive, or %d for unlimited", RLimitInfinity)
			case (*rl.Soft == RLimitInfinity) != (*rl.Hard == RLimitInfinity):
				ps.add(path, "unlimited (%d) must be both soft and hard", RLimitInfinity)
			case *rl.Soft > *rl.Hard:
				ps.add(path+".soft", "%d: must be at most hard (%d)", *rl.Soft, *rl.Hard)
			}
		}
	}
	return ps
}

// builderLabels are the TaskInfo labels scheduler-lite's pod builder writes
// and reads back (internal/sdk/podinfo); a task's own labels may not take
// their keys.
var builderLabels = []string{"goal_state", "offer_hostname", "offer_zone", "offer_region", "target_configuration", "essential"}

// TaskLabels parses a task's labels as the SDK's convertLabels does:
// "key:value" pairs separated by commas, the value from the first ':' on.
// It returns them in order; the error says what is wrong.
func TaskLabels(csv string) ([][2]string, error) {
	if csv == "" {
		return nil, nil
	}
	var out [][2]string
	seen := map[string]bool{}
	for _, kv := range strings.Split(csv, ",") {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("got %q: want comma-separated key:value pairs, for example k_0:v_0,k_1:v_1", kv)
		}
		if seen[k] {
			return nil, fmt.Errorf("key %q given twice", k)
		}
		seen[k] = true
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// taskLabels follows convertLabels: the labels parse. Keys the pod builder
// writes itself (goal_state, target_configuration, ...) are refused: the
// SDK would let a task's label replace them, which breaks recovery.
func taskLabels(_, s *ServiceSpec) Problems {
	var ps Problems
	eachTask(s, func(_ *PodSpec, t *TaskSpec, path string) {
		kvs, err := TaskLabels(t.Labels)
		if err != nil {
			ps.add(path+".labels", "%v", err)
			return
		}
		for _, kv := range kvs {
			for _, b := range builderLabels {
				if kv[0] == b {
					ps.add(path+".labels", "key %q is a label scheduler-lite writes itself", b)
				}
			}
		}
	})
	return ps
}

// Limit parses a resource-limits value as the SDK's DefaultResourceLimits
// does: "" is none (ok false), "unlimited" is +Inf, else a number.
func Limit(v string) (limit float64, ok bool, err error) {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return 0, false, nil
	case "unlimited":
		return math.Inf(1), true, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false, fmt.Errorf("%q: want a number or unlimited", v)
	}
	return f, true, nil
}

// Limits returns a task's effective resource limits: its resource set's
// when it names one (the SDK takes the task's from its resource set), else
// its own; nil when none.
func (p *PodSpec) Limits(t *TaskSpec) *ResourceLimitsSpec {
	if t.ResourceSet != "" {
		if rs := p.ResourceSets[t.ResourceSet]; rs != nil {
			return rs.ResourceLimits
		}
		return nil
	}
	return t.ResourceLimits
}

// Resources returns the cpus and memory (MB) a task asks for: its resource
// set's when it names one, else its own.
func (p *PodSpec) Resources(t *TaskSpec) (cpus, mem float64) {
	if t.ResourceSet != "" {
		if rs := p.ResourceSets[t.ResourceSet]; rs != nil {
			return rs.CPUs, rs.Memory
		}
		return 0, 0
	}
	return t.CPUs, t.Memory
}

// resourceLimits follows DefaultResourceLimits (each value a number or
// "unlimited") and ResourceLimitsMustExceedRequestedResources (a limit is
// at least what the task asks for). A task naming a resource set gets the
// set's limits: its own are refused rather than ignored.
func resourceLimits(_, s *ServiceSpec) Problems {
	var ps Problems
	check := func(path string, rl *ResourceLimitsSpec, cpus, mem float64, task string) {
		if rl == nil {
			return
		}
		for _, f := range []struct {
			field, value, name string
			request            float64
		}{{"cpus", rl.CPUs, "cpus", cpus}, {"memory", rl.Memory, "mem", mem}} {
			limit, ok, err := Limit(f.value)
			switch {
			case err != nil:
				ps.add(path+".resource-limits."+f.field, "%v", err)
			case ok && limit < f.request:
				ps.add(path+".resource-limits."+f.field, "the %s resource-limits for task %q, %g, is less than the requested amount, %g", f.name, task, limit, f.request)
			}
		}
	}
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			path := taskPath(p, t)
			if t.ResourceSet != "" {
				if t.ResourceLimits != nil {
					ps.add(path+".resource-limits", "the task takes its resource limits from resource set %q (the SDK would ignore these)", t.ResourceSet)
				}
				if rs := p.ResourceSets[t.ResourceSet]; rs != nil {
					check(podPath(p)+".resource-sets."+t.ResourceSet, rs.ResourceLimits, rs.CPUs, rs.Memory, t.Name)
				}
				continue
			}
			check(path, t.ResourceLimits, t.CPUs, t.Memory, t.Name)
		}
	}
	return ps
}

// PortRange returns a port range's bounds as the SDK's RangeSpec reads
// them: an end of 0 (or none) is 65535.
func (r *RangeSpec) PortRange() (begin, end uint64) {
	e := r.End
	if e == 0 {
		e = 65535
	}
	return uint64(max(r.Begin, 0)), uint64(max(e, 0))
}

// portRanges follows RangeSpec.validate (begin at most end; an end of 0 is
// 65535). The SDK uses ranges for dynamic ports only: on a fixed port they
// are ignored, with a warning here.
func portRanges(_, s *ServiceSpec) Problems {
	var ps Problems
	check := func(path string, ports Ordered[*PortSpec]) {
		for _, pt := range ports.Values {
			pp := path + ".ports." + pt.Name
			if len(pt.Ranges) > 0 && pt.Port != 0 {
				ps.warn(pp+".ranges", "ignored: port %d is fixed, ranges restrict a dynamic port (port 0)", pt.Port)
			}
			for i, r := range pt.Ranges {
				if r == nil {
					continue
				}
				b, e := r.PortRange()
				if r.Begin < 0 || r.End < 0 || e > 65535 || b > e {
					ps.add(pp+".ranges["+strconv.Itoa(i)+"]", "invalid port constraint: begin %d, end %d (want 0 ≤ begin ≤ end ≤ 65535; an end of 0 is 65535)", r.Begin, r.End)
				}
			}
		}
	}
	for _, p := range s.Pods.Values {
		for _, id := range sortedKeys(p.ResourceSets) {
			check(podPath(p)+".resource-sets."+id, p.ResourceSets[id].Ports)
		}
		for _, t := range p.Tasks.Values {
			check(taskPath(p, t), t.Ports)
		}
	}
	return ps
}
