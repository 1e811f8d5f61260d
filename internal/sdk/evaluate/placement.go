package evaluate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/taskkit/taskkit/internal/spec"
)

// PlacementStage checks the pod's placement rule (the SDK's
// PlacementRuleEvaluationStage; Marathon's constraint operators) on the
// offer's agent, against where the pod type's other instances run. Tasks
// joining a running executor skip it: the pod instance is placed already.
type PlacementStage struct{}

// Name implements Stage.
func (PlacementStage) Name() string { return "placement" }

// Evaluate implements Stage. A service region (Requirement.Region) binds
// every pod whose rule names no @region, as the SDK's region-aware
// scheduler adds "@region:IS:<region>" to them.
func (s PlacementStage) Evaluate(e *Evaluation) Outcome {
	pod := e.Req.Pod
	if e.Req.Executor != nil {
		return Pass(s.Name(), "joins its pod's running executor")
	}
	if r := e.Req.Region; r != "" && !strings.Contains(pod.Placement, "@region") && e.Where.Region != r {
		return Fail(s.Name(), "the service runs in region %q (SERVICE_REGION), the agent's region is %q", r, e.Where.Region)
	}
	if pod.Placement == "" {
		return Pass(s.Name(), "no placement rule")
	}
	rules, err := spec.ParsePlacement(pod.Placement)
	if err != nil {
		return Fail(s.Name(), "pods.%s.placement: %v", pod.Name, err)
	}
	for _, c := range rules {
		if why := checkConstraint(c, e.Where, others(e), e.Cluster.Values[c.Field]); why != "" {
			return Fail(s.Name(), "%s: %s", constraintString(c), why)
		}
	}
	return Pass(s.Name(), pod.Placement)
}

// others are the placements of the pod type's other live instances.
func others(e *Evaluation) []Instance {
	var out []Instance
	for _, in := range e.Cluster.Instances {
		if in.Pod == e.Req.Pod.Name && in.Index != e.Req.Index {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func constraintString(c spec.Constraint) string {
	if c.Value == "" {
		return c.Field + ":" + c.Op
	}
	return c.Field + ":" + c.Op + ":" + c.Value
}

// fieldName names a placement field in a message: "host", "zone",
// "region" or "attribute rack".
func fieldName(f string) string {
	switch f {
	case "hostname":
		return "host"
	case "@zone":
		return "zone"
	case "@region":
		return "region"
	}
	return "attribute " + f
}

// checkConstraint returns why the agent at here breaks c ("" when it does
// not), given the other instances and the values offers have shown for the
// constraint's field.
func checkConstraint(c spec.Constraint, here Placement, others []Instance, known map[string]bool) string {
	v := here.Field(c.Field)
	var same []string
	counts := map[string]int{}
	for _, o := range others {
		ov := o.Where.Field(c.Field)
		counts[ov]++
		if ov == v {
			same = append(same, fmt.Sprintf("%s-%d", o.Pod, o.Index))
		}
	}
	switch c.Op {
	case "UNIQUE":
		if len(same) > 0 {
			return fmt.Sprintf("%s already runs on %s %q", same[0], fieldName(c.Field), v)
		}
	case "MAX_PER":
		if len(same) >= c.N {
			return fmt.Sprintf("%d instance(s) already on %s %q (%v)", len(same), fieldName(c.Field), v, same)
		}
	case "CLUSTER", "IS":
		if v != c.Value {
			return fmt.Sprintf("the agent's %s is %q", fieldName(c.Field), v)
		}
	case "IS_NOT":
		if v == c.Value {
			return fmt.Sprintf("the agent's %s is %q", fieldName(c.Field), v)
		}
	case "LIKE":
		if !c.Regexp.MatchString(v) {
			return fmt.Sprintf("the agent's %s %q does not match", fieldName(c.Field), v)
		}
	case "UNLIKE":
		if c.Regexp.MatchString(v) {
			return fmt.Sprintf("the agent's %s %q matches", fieldName(c.Field), v)
		}
	case "GROUP_BY":
		// Spread evenly: this value may not get ahead of the least used
		// value known (with N given, of N values, known or not yet seen).
		least, leastVal := -1, ""
		for kv := range known {
			if least < 0 || counts[kv] < least || counts[kv] == least && kv < leastVal {
				least, leastVal = counts[kv], kv
			}
		}
		leastAt := fmt.Sprintf("%q", leastVal)
		if c.N > len(known) {
			least, leastAt = 0, "a value not offered yet"
		}
		if least >= 0 && len(same) > least {
			return fmt.Sprintf("%s %q already has %d instance(s), %s has %d", fieldName(c.Field), v, len(same), leastAt, least)
		}
	}
	return ""
}
