package evaluate

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// AgentStage checks that the offer comes from the agent the requirement is
// pinned to, and that the running executor the tasks join still runs there
// (the SDK's ExecutorEvaluationStage).
type AgentStage struct{}

// Name implements Stage.
func (AgentStage) Name() string { return "agent" }

// Evaluate implements Stage.
func (s AgentStage) Evaluate(e *Evaluation) Outcome {
	if a := e.Req.Agent; a != "" && a != e.Offer.AgentID.Value {
		return Fail(s.Name(), "%s must run on agent %s (%s)", e.Req.Instance(), a, e.Req.Why)
	}
	if ex := e.Req.Executor; ex != nil {
		if !slices.ContainsFunc(e.Offer.ExecutorIDs, func(id mesos.ExecutorID) bool { return id.Value == ex.ExecutorID.Value }) {
			return Fail(s.Name(), "%s's executor %s no longer runs on this agent", e.Req.Instance(), ex.ExecutorID.Value)
		}
		return Pass(s.Name(), "joins executor "+ex.ExecutorID.Value)
	}
	return Pass(s.Name(), "agent "+e.Offer.AgentID.Value)
}

// ExecutorResourceStage takes a new executor's share (ExecutorCPUs,
// ExecutorMem, ExecutorDisk), once per pod instance; tasks joining a
// running executor need none.
type ExecutorResourceStage struct{}

// Name implements Stage.
func (ExecutorResourceStage) Name() string { return "executor-resources" }

// Evaluate implements Stage.
func (s ExecutorResourceStage) Evaluate(e *Evaluation) Outcome {
	if e.Req.Executor != nil {
		return Pass(s.Name(), "none: the running executor has its share")
	}
	for _, r := range []struct {
		name   string
		amount float64
	}{{"cpus", ExecutorCPUs}, {"mem", ExecutorMem}, {"disk", ExecutorDisk}} {
		took, err := e.Pool.TakeScalar(r.name, r.amount)
		if err != nil {
			return Fail(s.Name(), "the executor of %s needs %s", e.Req.Instance(), shortfall(err))
		}
		e.Rec.ExecutorResources = append(e.Rec.ExecutorResources, took...)
	}
	return Pass(s.Name(), executorShare)
}

// executorShare describes what ExecutorResourceStage takes.
var executorShare = fmt.Sprintf("%g cpus, %d MB mem, %d MB disk", ExecutorCPUs, ExecutorMem, ExecutorDisk)

// shortfall words a ShortError for a reason: "0.5 cpus (0.2 cpus left)".
func shortfall(err error) string {
	var se *ShortError
	if errors.As(err, &se) {
		return se.Want + " (" + se.Have + " left)"
	}
	return err.Error()
}

// PortStage takes each task's ports: fixed ones first, then dynamic ones
// (port 0: the lowest free), as the SDK orders them.
type PortStage struct{}

// Name implements Stage.
func (PortStage) Name() string { return "ports" }

// Evaluate implements Stage.
func (s PortStage) Evaluate(e *Evaluation) Outcome {
	n := 0
	for _, fixed := range []bool{true, false} {
		for _, c := range e.Rec.Tasks {
			_, _, ports := TaskResources(e.Req.Pod, c.Spec)
			if fixed {
				c.Ports = make([]PortClaim, len(ports.Values))
			}
			for i, pt := range ports.Values {
				if (pt.Port != 0) != fixed {
					continue
				}
				var within mesos.Ranges
				if !fixed {
					within = portRanges(pt)
				}
				num, took, err := e.Pool.TakePort(uint64(pt.Port), within)
				if err != nil {
					return Fail(s.Name(), "task %s port %s needs %s", c.Name, pt.Name, shortfall(err))
				}
				c.Ports[i] = PortClaim{Spec: pt, Number: num}
				c.Resources = append(c.Resources, took)
				n++
			}
		}
	}
	return Pass(s.Name(), strconv.Itoa(n)+" port(s)")
}

// portRanges are the ranges a dynamic port must be in (nil: any).
func portRanges(pt *spec.PortSpec) mesos.Ranges {
	var rs mesos.Ranges
	for _, r := range pt.Ranges {
		if r != nil {
			b, e := r.PortRange()
			rs = append(rs, mesos.Value_Range{Begin: b, End: e})
		}
	}
	return rs
}

// TaskResources are the cpus, memory (MB) and ports task t of pod asks
// for: its resource set's when it names one, else its own.
func TaskResources(pod *spec.PodSpec, t *spec.TaskSpec) (cpus, mem float64, ports spec.Ordered[*spec.PortSpec]) {
	if rs := t.ResourceSet; rs != "" && pod.ResourceSets[rs] != nil {
		set := pod.ResourceSets[rs]
		return set.CPUs, set.Memory, set.Ports
	}
	return t.CPUs, t.Memory, t.Ports
}

// ResourceStage takes each task's cpus and memory (its resource set's when
// it names one).
type ResourceStage struct{}

// Name implements Stage.
func (ResourceStage) Name() string { return "resources" }

// Evaluate implements Stage.
func (s ResourceStage) Evaluate(e *Evaluation) Outcome {
	for _, c := range e.Rec.Tasks {
		cpus, mem, _ := TaskResources(e.Req.Pod, c.Spec)
		var scalars []mesos.Resource
		for _, r := range []struct {
			name   string
			amount float64
		}{{"cpus", cpus}, {"mem", mem}} {
			took, err := e.Pool.TakeScalar(r.name, r.amount)
			if err != nil {
				return Fail(s.Name(), "task %s needs %s", c.Name, shortfall(err))
			}
			scalars = append(scalars, took...)
		}
		// cpus and mem first, then ports, as TaskInfos list them.
		c.Resources = append(scalars, c.Resources...)
	}
	return Pass(s.Name(), strconv.Itoa(len(e.Rec.Tasks))+" task(s)")
}

// TLSStage names each transport-encryption certificate of the tasks to
// launch (the SDK's TLSEvaluationStage): subject CN
// "<pod-index-task>-<service>" (dots and slashes out, at most the last 64
// characters), DNS names the task's autoip name (its discovery name when it
// has one) and one VIP name per VIP port. The pod builder issues them.
type TLSStage struct{}

// Name implements Stage.
func (TLSStage) Name() string { return "tls" }

// Evaluate implements Stage.
func (s TLSStage) Evaluate(e *Evaluation) Outcome {
	n := 0
	for _, c := range e.Rec.Tasks {
		t := c.Spec
		if len(t.TransportEncryption) == 0 {
			continue
		}
		host := c.Name
		if t.Discovery != nil && t.Discovery.Prefix != "" {
			host = taskenv.DiscoveryName(t.Discovery.Prefix, e.Req.Index)
		}
		sans := []string{taskenv.AutoIPHost(host, e.Service)}
		for _, pt := range t.Ports.Values {
			if pt.VIP != nil {
				sans = append(sans, taskenv.VIPHost(pt.VIP.Prefix, e.Service))
			}
		}
		for _, n := range sans {
			if !pki.ValidDNSName(n) {
				return Fail(s.Name(), "task %s: %q is not a valid DNS name for a certificate", c.Name, n)
			}
		}
		cn := strings.ReplaceAll(strings.ReplaceAll(c.Name+"."+e.Service, ".", "-"), "/", "")
		if len(cn) > 64 {
			cn = cn[len(cn)-64:]
		}
		for _, te := range t.TransportEncryption {
			c.TLS = append(c.TLS, TLSClaim{Name: te.Name, Type: te.Type, CommonName: cn, DNSNames: sans})
			n++
		}
	}
	return Pass(s.Name(), strconv.Itoa(n)+" certificate(s)")
}
