package evaluate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
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

// ExecutorResourceStage reserves a new executor's share (ExecutorCPUs,
// ExecutorMem, ExecutorDisk), once per pod instance, or takes its earlier
// reservation; tasks joining a running executor need none.
type ExecutorResourceStage struct{}

// Name implements Stage.
func (ExecutorResourceStage) Name() string { return "executor-resources" }

// Evaluate implements Stage.
func (s ExecutorResourceStage) Evaluate(e *Evaluation) Outcome {
	if e.Req.Executor != nil {
		return Pass(s.Name(), "none: the running executor has its share")
	}
	what := func() string { return "the executor of " + e.Req.Instance() }
	if e.Req.Reservation == nil {
		// Its share is reserved anew: an offer that lacks part of it
		// fails here, for the reason the claims would fail with, before
		// anything is reserved (and a resource ID spent) in vain.
		for _, r := range executorShares {
			if err := e.Pool.ShortScalar(r.name, r.amount); err != nil {
				return fail(s.Name(), short(what(), err))
			}
		}
	}
	e.Rec.ExecutorResources = make([]mesos.Resource, 0, len(executorShares)+e.Req.Pod.Volumes.Len())
	for _, r := range executorShares {
		took, err := e.claimScalar(r.key, r.name, r.amount, what)
		if err != nil {
			return fail(s.Name(), err)
		}
		e.Rec.ExecutorResources = append(e.Rec.ExecutorResources, took)
	}
	return Pass(s.Name(), executorShare)
}

// executorShares are what ExecutorResourceStage takes, under their item
// keys.
var executorShares = [...]struct {
	key, name string
	amount    float64
}{
	{reservation.ScalarKey(reservation.KeyExecutor, "cpus"), "cpus", ExecutorCPUs},
	{reservation.ScalarKey(reservation.KeyExecutor, "mem"), "mem", ExecutorMem},
	{reservation.ScalarKey(reservation.KeyExecutor, "disk"), "disk", ExecutorDisk},
}

// executorShare describes what ExecutorResourceStage takes.
var executorShare = fmt.Sprintf("%g cpus, %d MB mem, %d MB disk", ExecutorCPUs, ExecutorMem, ExecutorDisk)

// PortStage takes each resource set's ports: fixed ones first, then
// dynamic ones (port 0: the lowest free, inside the port's ranges when it
// has some), as the SDK orders them; a reserved port is kept.
type PortStage struct{}

// Name implements Stage.
func (PortStage) Name() string { return "ports" }

// Evaluate implements Stage.
func (s PortStage) Evaluate(e *Evaluation) Outcome {
	n := 0
	for _, fixed := range []bool{true, false} {
		for _, rs := range e.sets {
			if fixed {
				for _, c := range rs.Tasks {
					c.Ports = make([]PortClaim, rs.Ports.Len())
				}
			}
			for i, pt := range rs.Ports.Values {
				if (pt.Port != 0) != fixed {
					continue
				}
				num, r, err := e.claimPort(reservation.PortKey(rs.ID, pt.Name), pt, func() string { return rs.what(e) + " port " + pt.Name })
				if err != nil {
					return fail(s.Name(), err)
				}
				for _, c := range rs.Tasks {
					c.Ports[i] = PortClaim{Spec: pt, Number: num}
					c.Resources = append(c.Resources, r)
				}
				n++
			}
		}
	}
	return Pass(s.Name(), portsTaken.of(n))
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

// ResourceStage takes each resource set's cpus and memory (a task's own, or
// the resource set it names), reserved.
type ResourceStage struct{}

// Name implements Stage.
func (ResourceStage) Name() string { return "resources" }

// Evaluate implements Stage.
func (s ResourceStage) Evaluate(e *Evaluation) Outcome {
	for _, rs := range e.sets {
		var buf [2]mesos.Resource
		scalars, what := buf[:0], func() string { return rs.what(e) }
		for _, r := range [...]struct {
			name   string
			amount float64
		}{{"cpus", rs.CPUs}, {"mem", rs.Mem}} {
			if r.amount <= 0 {
				continue
			}
			took, err := e.claimScalar(reservation.ScalarKey(rs.ID, r.name), r.name, r.amount, what)
			if err != nil {
				return fail(s.Name(), err)
			}
			scalars = append(scalars, took)
		}
		// cpus and mem first, then ports, as TaskInfos list them.
		for _, c := range rs.Tasks {
			c.Resources = slices.Concat(scalars, c.Resources)
		}
	}
	return Pass(s.Name(), tasksFitted.of(len(e.Rec.Tasks)))
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
	return Pass(s.Name(), certificatesNamed.of(n))
}

// counts are a passing stage's reasons "<n> <noun>", those of small n
// made once: nearly every fit's stages say "1 task(s)", "0 volume(s)".
type counts struct {
	noun  string
	small [8]string
}

// Passing stages' counts.
var (
	portsTaken        = newCounts("port(s)")
	tasksFitted       = newCounts("task(s)")
	volumesTaken      = newCounts("volume(s)")
	certificatesNamed = newCounts("certificate(s)")
)

func newCounts(noun string) *counts {
	c := &counts{noun: noun}
	for n := range c.small {
		c.small[n] = strconv.Itoa(n) + " " + noun
	}
	return c
}

// of is "<n> <noun>".
func (c *counts) of(n int) string {
	if n >= 0 && n < len(c.small) {
		return c.small[n]
	}
	return strconv.Itoa(n) + " " + c.noun
}
