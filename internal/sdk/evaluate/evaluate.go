// Package evaluate is scheduler-lite's offer evaluation, after the DC/OS
// SDK's offer/evaluate (OfferEvaluator, the *EvaluationStage classes,
// EvaluationOutcome, ReservationEvaluation): a pod instance requirement is
// tried against the offers of one agent by a pipeline of stages, each a
// pure function of the requirement, the offers and the view of the
// cluster, taking what it needs from what is left of them. The result is a
// Recommendation (the reserved resources, ports and TLS names each task
// gets, the offer operations that reserve them, the pod instance's
// reservation) or, stage by stage, the reason the offers do not fit.
//
//	Requirement ─┐
//	Offers ──────┼─▶ agent ─▶ reservation ─▶ placement ─▶ executor-resources ─▶ ports ─▶ resources ─▶ volumes ─▶ tls ─▶ Recommendation
//	Cluster ─────┘     │           │              │                │               │          │            │          │
//	                   └───────────┴──────────────┴─────── FAIL(stage): reason ────┴──────────┴────────────┴──────────┘
//
// Every resource a pod instance uses is reserved for the pod's role, as the
// SDK reserves them: a requirement without a Reservation (a first launch,
// or a permanent recovery) reserves all of the pod's resources — the
// executor's, each resource set's (a task's own resources are its resource
// set "<task>-resource-set"), the volumes — from unreserved resources (or
// those reserved for the pod's pre-reserved role), each under a new
// resource ID, and creates the volumes; its tasks launch on them. A
// requirement with a Reservation (transient recovery, the next step of the
// pod, a configuration update) takes those resources again by resource ID,
// grows or shrinks them to what the spec asks now, reserves what the spec
// added, and leaves out what it dropped (the scheduler releases it). A
// volume keeps its persistence ID, and so its data.
//
// Nothing here does I/O, reads a clock or holds a lock: the event loop runs
// the evaluator, and the pod builder (internal/sdk/podinfo) turns a
// Recommendation into the operations and TaskInfos. Resource arithmetic is
// mesos-go's (mesos.Resources, PushReservation).
//
// Adding a stage: implement Stage, take from Evaluation.Pool (Evaluation's
// claim helpers reserve), record what the builder needs in Evaluation.Rec
// (a field of Recommendation or TaskClaim), and insert it into
// Evaluator.Stages (see DefaultStages). A stage that fails returns Fail with
// a reason an operator can act on, and what was lacking as its Want, so
// that Explain says "no offer has 2048 MB of MOUNT disk": it is shown in
// the step's message and under GET /v1/debug/offers.
package evaluate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	imesos "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Executor resources the SDK reserves for the DEFAULT executor of a pod
// (cpus, MB, MB).
const (
	ExecutorCPUs = 0.1
	ExecutorMem  = 32
	ExecutorDisk = 256
)

// RecoveryType is why a pod instance is (re)launched, as the SDK's
// scheduler/recovery/RecoveryType.
type RecoveryType int

// Recovery types.
const (
	// RecoveryNone: a deployment (first launch, or a plan step).
	RecoveryNone RecoveryType = iota
	// RecoveryTransient: relaunch in place (a crash, pod restart); the pod
	// keeps its agent (and, once they exist, its reservations and volumes).
	RecoveryTransient
	// RecoveryPermanent: place anew from scratch (pod replace, agent gone);
	// whatever the old placement held is released.
	RecoveryPermanent
)

// String names the recovery type as the SDK does.
func (t RecoveryType) String() string {
	switch t {
	case RecoveryTransient:
		return "TRANSIENT"
	case RecoveryPermanent:
		return "PERMANENT"
	}
	return "NONE"
}

// Requirement is what a plan step needs launched: some tasks of one pod
// instance (the SDK's PodInstanceRequirement).
type Requirement struct {
	// Step names the plan step that asks (for messages).
	Step string
	// Pod is the pod type and Index the instance.
	Pod   *spec.PodSpec
	Index int
	// Tasks are the svc.yml names of the tasks to launch.
	Tasks []string
	// Recovery is why they are launched.
	Recovery RecoveryType
	// Agent, when set, is the only agent that may be used, for Why (e.g.
	// "its other tasks run there", "transient recovery in place").
	Agent, Why string
	// Executor, when set, is the pod instance's running executor the tasks
	// join (no new executor, no executor resources, no placement check).
	Executor *mesos.ExecutorInfo
	// Reservation, when set, is what the pod instance has reserved: its
	// tasks relaunch on those resources, found in offers by resource ID
	// (what it lacks, a spec change added, is reserved next to them). Nil
	// places the pod instance anew (a first launch, or permanent
	// recovery) and reserves all of its resources.
	Reservation *reservation.Reservation
	// Previous are the stored TaskInfos of the pod instance's tasks (those
	// to launch and the others) when they are relaunched in place (a
	// transient recovery, a configuration update, a pause or resume):
	// what they held before, for the stages that reuse it (reservations,
	// volumes: each resource set's items follow the task whose TaskInfo
	// names them). Nil for a first launch and a permanent recovery.
	Previous []*mesos.TaskInfo
	// Paused are the tasks to launch paused (svc.yml names): the pod
	// builder replaces their command with an idle one and leaves out their
	// checks (POST /v1/pod/<name>/pause).
	Paused map[string]bool
	// Region, when set, is the region the pod must be placed in unless its
	// placement rule names one (SERVICE_REGION).
	Region string
	// ConfigID is the configuration Pod comes from, which the TaskInfos
	// are labelled with and their templates fetched from; "" is the target
	// (podinfo.Config.ConfigID). A recovery relaunches a pod on the
	// configuration its tasks ran, as the SDK's TaskUtils.getPodSpec.
	ConfigID string
}

// Instance is the pod instance's name, "<pod>-<index>".
func (r *Requirement) Instance() string { return taskenv.InstanceName(r.Pod.Name, r.Index) }

// Placement is where an agent is, as placement rules see it.
type Placement struct {
	AgentID, Hostname, Zone, Region string
	// Attributes are the agent's text and scalar attributes.
	Attributes map[string]string
}

// PlacementOf reads an offer's agent, host name, fault domain and
// attributes.
func PlacementOf(o *mesos.Offer) Placement {
	pl := Placement{AgentID: o.AgentID.Value, Hostname: o.Hostname, Attributes: map[string]string{}}
	if fd := o.GetDomain().GetFaultDomain(); fd != nil {
		pl.Zone, pl.Region = fd.Zone.Name, fd.Region.Name
	}
	for _, a := range o.Attributes {
		switch {
		case a.Text != nil:
			pl.Attributes[a.Name] = a.Text.Value
		case a.Scalar != nil:
			pl.Attributes[a.Name] = strconv.FormatFloat(a.Scalar.Value, 'f', -1, 64)
		}
	}
	return pl
}

// Field is the value of a placement field: "hostname", "@zone", "@region"
// or an attribute name.
func (p Placement) Field(f string) string {
	switch f {
	case "hostname":
		return p.Hostname
	case "@zone":
		return p.Zone
	case "@region":
		return p.Region
	}
	return p.Attributes[f]
}

// Instance is a pod instance of the service and where it runs.
type Instance struct {
	Pod   string
	Index int
	Where Placement
}

// Cluster is the view of the service the stages read: where its pod
// instances run, and which placement values offers have shown.
type Cluster struct {
	// Instances are the live pod instances by name ("<pod>-<index>").
	Instances map[string]Instance
	// Values are, per field (hostname, @zone, @region, attributes), the
	// values seen in offers: GROUP_BY spreads over them.
	Values map[string]map[string]bool
}

// NewCluster returns an empty view.
func NewCluster() *Cluster {
	return &Cluster{Instances: map[string]Instance{}, Values: map[string]map[string]bool{}}
}

// Place records that a pod instance runs (or is being launched) at where.
func (c *Cluster) Place(pod string, index int, where Placement) {
	c.Instances[taskenv.InstanceName(pod, index)] = Instance{Pod: pod, Index: index, Where: where}
}

// SeeOffer records the placement values of an offer's agent.
func (c *Cluster) SeeOffer(o *mesos.Offer) {
	pl := PlacementOf(o)
	fields := []string{"hostname", "@zone", "@region"}
	for name := range pl.Attributes {
		fields = append(fields, name)
	}
	for _, f := range fields {
		if c.Values[f] == nil {
			c.Values[f] = map[string]bool{}
		}
		c.Values[f][pl.Field(f)] = true
	}
}

// Outcome is one stage's verdict on one offer (the SDK's
// EvaluationOutcome).
type Outcome struct {
	Stage  string
	Pass   bool
	Reason string
	// Want is, for a failure, what the offer lacked ("2048 MB of MOUNT
	// disk", "port 8080"), when one thing did: Explain says when no offer
	// had it.
	Want string
}

// Pass returns a passing outcome of stage.
func Pass(stage, reason string) Outcome { return Outcome{Stage: stage, Pass: true, Reason: reason} }

// Fail returns a failing outcome of stage, its reason formatted.
func Fail(stage, format string, args ...any) Outcome {
	return Outcome{Stage: stage, Reason: fmt.Sprintf(format, args...)}
}

// String is "PASS(stage): reason" or "FAIL(stage): reason", as the SDK logs
// outcomes.
func (o Outcome) String() string {
	v := "FAIL"
	if o.Pass {
		v = "PASS"
	}
	return v + "(" + o.Stage + "): " + o.Reason
}

// Recommendation is a requirement fitted into an offer: what each stage
// claimed, for the pod builder.
type Recommendation struct {
	Req   *Requirement
	Offer *mesos.Offer
	Where Placement
	// ExecutorResources are a new executor's resources (nil when the tasks
	// join a running executor), reserved, its volumes among them.
	ExecutorResources []mesos.Resource
	// Reservation is the pod instance's reservation with this launch: what
	// the scheduler stores before the ACCEPT. Its new items have Op "" (the
	// builder sets their RESERVE's operation ID), the keys of Reserved.
	Reservation *reservation.Reservation
	// Reserved are the keys of the items reserved anew.
	Reserved []string
	// Unreserve, Reserve and Create are the resources of the offer
	// operations that come before the LAUNCH_GROUPs, in this order:
	// reservations shrunk to what the spec asks now, new (or grown)
	// reservations, new volumes.
	Unreserve, Reserve, Create []mesos.Resource
	// Tasks are the claims of the tasks to launch, in Req.Tasks order.
	Tasks []*TaskClaim
	// Outcomes are the stages' verdicts, all passing.
	Outcomes []Outcome
	// Left is what remains of the offer.
	Left Pool
}

// TaskClaim is what one task to launch gets.
type TaskClaim struct {
	Spec *spec.TaskSpec
	// Name is the full task name, "<pod>-<index>-<task>".
	Name string
	// Resources are its cpus, mem, ports and volumes, reserved.
	Resources []mesos.Resource
	// Ports are its ports' numbers, in the spec's order.
	Ports []PortClaim
	// TLS are the certificates to issue for its transport encryption.
	TLS []TLSClaim
}

// PortClaim is a port with its number.
type PortClaim struct {
	Spec   *spec.PortSpec
	Number uint64
}

// TLSClaim is a certificate to issue: subject CN and DNS SANs, as the
// SDK's TLSEvaluationStage names them.
type TLSClaim struct {
	// Name and Type are the transport-encryption entry's.
	Name, Type string
	CommonName string
	DNSNames   []string
}

// Evaluation is one requirement tried against one offer: what the stages
// read (Req, Offer, Where, Cluster, Service) and what they fill in (Pool,
// Rec).
type Evaluation struct {
	Service string
	Req     *Requirement
	Offer   *mesos.Offer
	Where   Placement
	Cluster *Cluster
	// Pool is what is left of the offer; stages take from it.
	Pool *Pool
	// Rec is the recommendation being built.
	Rec *Recommendation
	// Role and Principal are what the pod's reservations are made for and
	// by; NewID names new reservations and volumes.
	Role, Principal string
	NewID           func() string
	// res is the pod instance's reservation as this evaluation takes it:
	// Req.Reservation, with each resource set's items under the set the
	// task whose previous TaskInfo names them uses in the pod spec
	// (renames).
	res *reservation.Reservation
	// renamed says which resource sets renames followed, for the
	// reservation stage's outcome; unmapped why it could follow none.
	renamed  []string
	unmapped string
	// sets are the pod's resource sets this evaluation reserves (or
	// takes by resource ID), in task order: with a new executor's and the
	// pod's, the reservation owners it evaluates (their items not claimed
	// are dropped; see evaluates).
	sets []*resourceSet
	// claimed are the items claimed so far, in the order they were first
	// claimed (a pod instance has a handful: a slice searched by key
	// costs less than a map).
	claimed []reservation.Item
	// claims is how many items plan expects to be claimed (room for
	// them, made by the first claim).
	claims int
	// pool and rec are what Pool and Rec point at, allocated with the
	// evaluation (a big round makes hundreds).
	pool Pool
	rec  Recommendation
}

// claim returns the claim of task name (svc.yml name).
func (e *Evaluation) claim(task string) *TaskClaim {
	for _, c := range e.Rec.Tasks {
		if c.Spec.Name == task {
			return c
		}
	}
	return nil
}

// Stage is one step of the pipeline (the SDK's OfferEvaluationStage).
type Stage interface {
	// Name names the stage in outcomes ("placement").
	Name() string
	// Evaluate passes or fails the offer; it may take from e.Pool and fill
	// in e.Rec, and must not change anything else.
	Evaluate(e *Evaluation) Outcome
}

// Evaluator runs the stages.
type Evaluator struct {
	// Service is the framework name (TLS names).
	Service string
	// Role is the framework's role; a pod with a pre-reserved role
	// reserves for "<pre-reserved role>/<Role>" (spec.PodSpec.PodRole).
	Role string
	// Principal reserves and creates volumes ("" for none).
	Principal string
	// NewID names new reservations (resource IDs) and volumes
	// (persistence IDs); nil means random UUIDs.
	NewID func() string
	// Stages run in order; the first failing one ends the evaluation.
	Stages []Stage
}

// New returns an evaluator with DefaultStages.
func New(service, role string) *Evaluator {
	return &Evaluator{Service: service, Role: role, Stages: DefaultStages()}
}

// DefaultStages is the pipeline, in the SDK's order.
func DefaultStages() []Stage {
	return []Stage{AgentStage{}, ReservationStage{}, PlacementStage{}, ExecutorResourceStage{}, PortStage{}, ResourceStage{}, VolumeStage{}, TLSStage{}}
}

// Evaluate tries req against offer o, of which pool is still free, with
// cluster as the view of the service. It returns the recommendation (nil
// when a stage fails) and the outcomes of the stages that ran.
func (ev *Evaluator) Evaluate(req *Requirement, o *mesos.Offer, pool Pool, cluster *Cluster) (*Recommendation, []Outcome) {
	return ev.EvaluateAt(req, o, PlacementOf(o), pool, cluster)
}

// EvaluateAt is Evaluate with the offer's placement read already (once per
// offer, when many requirements try it).
func (ev *Evaluator) EvaluateAt(req *Requirement, o *mesos.Offer, where Placement, pool Pool, cluster *Cluster) (*Recommendation, []Outcome) {
	newID := ev.NewID
	if newID == nil {
		newID = imesos.NewID
	}
	e := &Evaluation{
		Service: ev.Service, Req: req, Offer: o, Where: where, Cluster: cluster,
		Role: req.Pod.PodRole(ev.Role), Principal: ev.Principal, NewID: newID,
		// The stages take from the offer's pool, copied by the first
		// take.
		pool: pool.share().From(req.Pod.PreReserved()),
		rec:  Recommendation{Req: req, Offer: o, Where: where},
	}
	e.Pool, e.Rec = &e.pool, &e.rec
	e.Rec.Tasks = make([]*TaskClaim, 0, len(req.Tasks))
	for _, name := range req.Tasks {
		t, ok := req.Pod.Tasks.Get(name)
		if !ok {
			return nil, []Outcome{Fail("requirement", "pod %s has no task %q", req.Pod.Name, name)}
		}
		e.Rec.Tasks = append(e.Rec.Tasks, &TaskClaim{Spec: t, Name: taskenv.TaskName(req.Pod.Name, req.Index, name)})
	}
	e.plan()
	outcomes := make([]Outcome, 0, len(ev.Stages))
	for _, st := range ev.Stages {
		out := st.Evaluate(e)
		outcomes = append(outcomes, out)
		if !out.Pass {
			return nil, outcomes
		}
	}
	e.finish()
	e.Rec.Outcomes = outcomes
	e.Pool.own() // what is left is the caller's to take from
	e.Rec.Left = *e.Pool
	return e.Rec, outcomes
}

// Explain is the reason no offer fits, from the failing outcome of each
// offer tried (host name → outcome), at most three of them named; when
// every offer lacked the same thing it says so first ("no offer has 2048
// MB of MOUNT disk: h1: FAIL(volumes): ...").
func Explain(failures []OfferFailure) string {
	if len(failures) == 0 {
		return "no offers received"
	}
	var b strings.Builder
	if w := failures[0].Outcome.Want; w != "" && !slices.ContainsFunc(failures, func(f OfferFailure) bool { return f.Outcome.Want != w }) {
		b.WriteString("no offer has " + w + ": ")
	}
	for i, f := range failures {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(failures)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", f.Host, f.Outcome)
	}
	return b.String()
}

// OfferFailure is why one offer did not fit.
type OfferFailure struct {
	Host    string
	Outcome Outcome
}
