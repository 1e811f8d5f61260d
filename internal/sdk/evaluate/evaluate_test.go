package evaluate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/spec"
)

// podSpec parses a one-pod svc.yml: pod "p" with the given pod-level YAML
// lines and task "t" (cpus 1, memory 256) plus extra task lines.
func podSpec(t *testing.T, podLines, taskLines string) *spec.PodSpec {
	t.Helper()
	res := "        cpus: 1\n        memory: 256\n"
	if strings.Contains(taskLines, "resource-set:") {
		res = ""
	}
	y := "name: svc\npods:\n  p:\n    count: 3\n" + indent(podLines, 4) + "    tasks:\n      t:\n        cmd: sleep 1\n" + res + indent(taskLines, 8)
	l, err := spec.Parse([]byte(y), spec.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("spec: %v\n%s", err, y)
	}
	return l.Spec.Pod("p")
}

func indent(s string, n int) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(pad + line + "\n")
	}
	return b.String()
}

func req(pod *spec.PodSpec, index int) *Requirement {
	return &Requirement{Step: "step", Pod: pod, Index: index, Tasks: pod.TaskNames()}
}

func evaluate(r *Requirement, o mesos.Offer, c *Cluster) (*Recommendation, []Outcome) {
	if c == nil {
		c = NewCluster()
	}
	c.SeeOffer(&o)
	return New("svc", "svc-role").Evaluate(r, &o, NewPool([]string{"svc-role"}, &o), c)
}

// failed returns the failing outcome ("" for a pass).
func failed(outs []Outcome) string {
	if len(outs) == 0 || outs[len(outs)-1].Pass {
		return ""
	}
	return outs[len(outs)-1].String()
}

// cluster places instances of pod p: index → placement options.
func cluster(where map[int][]sdktest.OfferOption, extra ...mesos.Offer) *Cluster {
	c := NewCluster()
	for i, opts := range where {
		o := sdktest.Offer("o", "agent-x", "", opts...)
		pl := PlacementOf(&o)
		c.Place("p", i, pl)
		c.SeeOffer(&o)
	}
	for i := range extra {
		c.SeeOffer(&extra[i])
	}
	return c
}

func host(h string) sdktest.OfferOption {
	return func(o *mesos.Offer) { o.Hostname = h }
}

// TestPlacement tries every placement operator on an offer, against where
// the pod's other instances run.
func TestPlacement(t *testing.T) {
	base := []sdktest.OfferOption{sdktest.CPUs(4), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31010)}
	offer := func(h string, opts ...sdktest.OfferOption) mesos.Offer {
		return sdktest.Offer("o1", "agent-"+h, h, append(slices.Clone(base), opts...)...)
	}
	for _, tt := range []struct {
		name      string
		placement string
		index     int
		others    map[int][]sdktest.OfferOption
		seen      []mesos.Offer
		offer     mesos.Offer
		fail      string // substring of the failure; "" passes
	}{
		{name: "no rule", offer: offer("h1")},
		{name: "UNIQUE free host", placement: "hostname:UNIQUE", others: map[int][]sdktest.OfferOption{1: {host("h2")}}, offer: offer("h1")},
		{name: "UNIQUE taken host", placement: "hostname:UNIQUE", others: map[int][]sdktest.OfferOption{1: {host("h1")}}, offer: offer("h1"),
			fail: `FAIL(placement): hostname:UNIQUE: p-1 already runs on host "h1"`},
		{name: "UNIQUE ignores its own instance", placement: "hostname:UNIQUE", index: 1, others: map[int][]sdktest.OfferOption{1: {host("h1")}}, offer: offer("h1")},
		{name: "UNIQUE attribute", placement: "rack:UNIQUE", others: map[int][]sdktest.OfferOption{1: {sdktest.Attr("rack", "r1")}}, offer: offer("h1", sdktest.Attr("rack", "r1")),
			fail: `rack:UNIQUE: p-1 already runs on attribute rack "r1"`},
		{name: "MAX_PER under", placement: "@zone:MAX_PER:2", others: map[int][]sdktest.OfferOption{1: {sdktest.Domain("r", "z1")}}, offer: offer("h1", sdktest.Domain("r", "z1"))},
		{name: "MAX_PER reached", placement: "@zone:MAX_PER:2", others: map[int][]sdktest.OfferOption{1: {sdktest.Domain("r", "z1")}, 2: {sdktest.Domain("r", "z1")}}, offer: offer("h1", sdktest.Domain("r", "z1")),
			fail: `@zone:MAX_PER:2: 2 instance(s) already on zone "z1" ([p-1 p-2])`},
		{name: "CLUSTER match", placement: "@region:CLUSTER:eu", offer: offer("h1", sdktest.Domain("eu", "a"))},
		{name: "CLUSTER other", placement: "@region:CLUSTER:eu", offer: offer("h1", sdktest.Domain("us", "a")), fail: `@region:CLUSTER:eu: the agent's region is "us"`},
		{name: "IS match", placement: "hostname:IS:h1", offer: offer("h1")},
		{name: "IS other", placement: "hostname:IS:h1", offer: offer("h2"), fail: `hostname:IS:h1: the agent's host is "h2"`},
		{name: "IS scalar attribute", placement: "cores:IS:8", offer: offer("h1", sdktest.ScalarAttr("cores", 8))},
		{name: "IS_NOT other", placement: "hostname:IS_NOT:h1", offer: offer("h2")},
		{name: "IS_NOT match", placement: "hostname:IS_NOT:h1", offer: offer("h1"), fail: `hostname:IS_NOT:h1: the agent's host is "h1"`},
		{name: "LIKE match", placement: "rack:LIKE:r[12]", offer: offer("h1", sdktest.Attr("rack", "r2"))},
		{name: "LIKE anchored", placement: "rack:LIKE:r[12]", offer: offer("h1", sdktest.Attr("rack", "r22")), fail: `rack:LIKE:r[12]: the agent's attribute rack "r22" does not match`},
		{name: "LIKE missing attribute", placement: "rack:LIKE:r.*", offer: offer("h1"), fail: `the agent's attribute rack "" does not match`},
		{name: "UNLIKE other", placement: "hostname:UNLIKE:h[0-9]", offer: offer("x1")},
		{name: "UNLIKE match", placement: "hostname:UNLIKE:h[0-9]", offer: offer("h1"), fail: `hostname:UNLIKE:h[0-9]: the agent's host "h1" matches`},
		{name: "GROUP_BY least used value", placement: "@zone:GROUP_BY", others: map[int][]sdktest.OfferOption{1: {sdktest.Domain("r", "z1")}},
			seen: []mesos.Offer{offer("h2", sdktest.Domain("r", "z2"))}, offer: offer("h3", sdktest.Domain("r", "z2"))},
		{name: "GROUP_BY ahead", placement: "@zone:GROUP_BY", others: map[int][]sdktest.OfferOption{1: {sdktest.Domain("r", "z1")}},
			seen: []mesos.Offer{offer("h2", sdktest.Domain("r", "z2"))}, offer: offer("h1", sdktest.Domain("r", "z1")),
			fail: `@zone:GROUP_BY: zone "z1" already has 1 instance(s), "z2" has 0`},
		{name: "GROUP_BY all even", placement: "@zone:GROUP_BY", others: map[int][]sdktest.OfferOption{1: {sdktest.Domain("r", "z1")}, 2: {sdktest.Domain("r", "z2")}},
			offer: offer("h1", sdktest.Domain("r", "z1"))},
		{name: "GROUP_BY N waits for an unseen value", placement: "@zone:GROUP_BY:3", others: map[int][]sdktest.OfferOption{1: {sdktest.Domain("r", "z1")}, 2: {sdktest.Domain("r", "z2")}},
			offer: offer("h1", sdktest.Domain("r", "z1")), fail: `zone "z1" already has 1 instance(s), a value not offered yet has 0`},
		{name: "several rules, second fails", placement: "hostname:UNIQUE,rack:IS:r1", offer: offer("h1", sdktest.Attr("rack", "r2")), fail: `rack:IS:r1: the agent's attribute rack is "r2"`},
		{name: "JSON form", placement: `[["hostname","UNIQUE"]]`, others: map[int][]sdktest.OfferOption{2: {host("h1")}}, offer: offer("h1"), fail: "hostname:UNIQUE: p-2 already runs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pl := ""
			if tt.placement != "" {
				pl = "placement: '" + tt.placement + "'"
			}
			pod := podSpec(t, pl, "")
			c := cluster(tt.others, tt.seen...)
			rec, outs := evaluate(req(pod, tt.index), tt.offer, c)
			got := failed(outs)
			if tt.fail == "" {
				if got != "" || rec == nil {
					t.Fatalf("want a pass, got %s", got)
				}
				return
			}
			if !strings.Contains(got, tt.fail) || rec != nil {
				t.Fatalf("failure %q, want it to contain %q", got, tt.fail)
			}
		})
	}
}

// TestPlacementSkippedForRunningExecutor: tasks joining their pod's
// executor are placed already.
func TestPlacementSkippedForRunningExecutor(t *testing.T) {
	pod := podSpec(t, "placement: 'hostname:UNIQUE'", "")
	r := req(pod, 0)
	r.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e1"}}
	c := cluster(map[int][]sdktest.OfferOption{1: {host("h1")}})
	rec, outs := evaluate(r, sdktest.Offer("o", "a1", "h1", sdktest.CPUs(1), sdktest.Mem(256), sdktest.Executors("e1")), c)
	if rec == nil {
		t.Fatalf("joining the running executor failed: %v", outs)
	}
	if len(rec.ExecutorResources) != 0 {
		t.Errorf("executor resources taken again: %v", rec.ExecutorResources)
	}
}

func TestInvalidPlacement(t *testing.T) {
	pod := podSpec(t, "", "")
	pod.Placement = "hostname:NOPE"
	_, outs := evaluate(req(pod, 0), sdktest.Offer("o", "a", "h"), nil)
	if got := failed(outs); !strings.Contains(got, "pods.p.placement") {
		t.Errorf("failure %q", got)
	}
}

// TestAgentStage pins requirements to an agent and to a running executor.
func TestAgentStage(t *testing.T) {
	pod := podSpec(t, "", "")
	r := req(pod, 0)
	r.Agent, r.Why = "a1", "transient recovery in place"
	if _, outs := evaluate(r, sdktest.Offer("o", "a2", "h2"), nil); !strings.Contains(failed(outs), "FAIL(agent): p-0 must run on agent a1 (transient recovery in place)") {
		t.Errorf("other agent: %v", outs)
	}
	if rec, outs := evaluate(r, sdktest.Offer("o", "a1", "h1"), nil); rec == nil {
		t.Errorf("pinned agent: %v", outs)
	}
	r.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "p-0__e"}}
	if _, outs := evaluate(r, sdktest.Offer("o", "a1", "h1"), nil); !strings.Contains(failed(outs), "p-0's executor p-0__e no longer runs on this agent") {
		t.Errorf("executor gone: %v", outs)
	}
}

func sum(rs []mesos.Resource, name string) float64 {
	var v float64
	for _, r := range rs {
		if r.Name == name {
			v += r.GetScalar().GetValue()
		}
	}
	return v
}

func ports(c *TaskClaim) []uint64 {
	var out []uint64
	for _, p := range c.Ports {
		out = append(out, p.Number)
	}
	return out
}

// TestResources fits tasks and the executor into offers of every shape.
func TestResources(t *testing.T) {
	for _, tt := range []struct {
		name       string
		pod, task  string
		offer      []sdktest.OfferOption
		fail       string
		wantPorts  []uint64
		checkTaken func(t *testing.T, rec *Recommendation)
	}{
		{name: "fits exactly", offer: []sdktest.OfferOption{sdktest.CPUs(1.1), sdktest.Mem(288), sdktest.Disk(256)},
			checkTaken: func(t *testing.T, rec *Recommendation) {
				if l := rec.Left.Resources(); len(l) != 0 {
					t.Errorf("left %v", l)
				}
			}},
		{name: "cpus short", offer: []sdktest.OfferOption{sdktest.CPUs(1.05), sdktest.Mem(4096), sdktest.Disk(4096)},
			fail: "FAIL(resources): task p-0-t needs 1 cpus (0.95 cpus left)"},
		{name: "mem short", offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(200), sdktest.Disk(4096)},
			fail: "FAIL(resources): task p-0-t needs 256 MB mem (168 MB mem left)"},
		{name: "executor disk short", offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(100)},
			fail: "FAIL(executor-resources): the executor of p-0 needs 256 MB disk (100 MB disk left)"},
		{name: "no disk at all", offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096)},
			fail: "needs 256 MB disk (0 MB disk left)"},
		{name: "fixed and dynamic ports, fixed first", task: "ports:\n  web: {port: 0}\n  admin: {port: 31000}\n",
			offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31001)}, wantPorts: []uint64{31001, 31000}},
		{name: "fixed port not offered", task: "ports:\n  admin: {port: 8080}\n",
			offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31001)},
			fail:  "FAIL(ports): task p-0-t port admin needs port 8080 (31000-31001 left)"},
		{name: "no free port", task: "ports:\n  a: {port: 0}\n  b: {port: 0}\n",
			offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31000)},
			fail:  "task p-0-t port b needs a free port (none left)"},
		{name: "ports across ranges", task: "ports:\n  a: {port: 0}\n  b: {port: 0}\n  c: {port: 31005}\n",
			offer:     []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31005, 31005), sdktest.Ports(20, 20), sdktest.Ports(40, 41)},
			wantPorts: []uint64{20, 40, 31005}},
		{name: "reserved to another role unused", offer: []sdktest.OfferOption{sdktest.CPUs(0.5), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Reserved("other", sdktest.CPUs(4))},
			fail: "needs 1 cpus (0.4 cpus left)"},
		{name: "revocable unused", offer: []sdktest.OfferOption{sdktest.Revocable(sdktest.CPUs(8)), sdktest.Mem(4096), sdktest.Disk(4096)},
			fail: "the executor of p-0 needs 0.1 cpus (0 cpus left)"},
		{name: "allocation info kept", offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Allocated("svc-role")},
			checkTaken: func(t *testing.T, rec *Recommendation) {
				for _, r := range append(rec.ExecutorResources, rec.Tasks[0].Resources...) {
					if r.GetAllocationInfo().GetRole() != "svc-role" {
						t.Errorf("%s lost its allocation info", r.Name)
					}
				}
			}},
		{name: "dynamic port in ranges", task: "ports:\n  a: {port: 0, ranges: [{begin: 31003, end: 31004}, {begin: 40, end: 45}]}\n  b: {port: 0, ranges: [{begin: 31003}]}\n",
			offer:     []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31010)},
			wantPorts: []uint64{31003, 31004}},
		{name: "no free port in ranges", task: "ports:\n  a: {port: 0, ranges: [{begin: 8000, end: 8100}]}\n",
			offer: []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31010)},
			fail:  "FAIL(ports): task p-0-t port a needs a free port in 8000-8100 (31000-31010 left)"},
		{name: "ranges ignored on a fixed port", task: "ports:\n  a: {port: 31002, ranges: [{begin: 8000, end: 8100}]}\n",
			offer:     []sdktest.OfferOption{sdktest.CPUs(2), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31010)},
			wantPorts: []uint64{31002}},
		{name: "resource set", pod: "resource-sets:\n  rs: {cpus: 0.5, memory: 64, ports: {x: {port: 0}}}\n", task: "resource-set: rs\n",
			offer: []sdktest.OfferOption{sdktest.CPUs(0.6), sdktest.Mem(96), sdktest.Disk(256), sdktest.Ports(5, 9)}, wantPorts: []uint64{5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pod := podSpec(t, tt.pod, tt.task)
			rec, outs := evaluate(req(pod, 0), sdktest.Offer("o", "a1", "h1", tt.offer...), nil)
			got := failed(outs)
			if tt.fail != "" {
				if !strings.Contains(got, tt.fail) {
					t.Fatalf("failure %q, want %q", got, tt.fail)
				}
				return
			}
			if rec == nil {
				t.Fatalf("want a fit: %v", outs)
			}
			if tt.wantPorts != nil && !slices.Equal(ports(rec.Tasks[0]), tt.wantPorts) {
				t.Errorf("ports %v, want %v", ports(rec.Tasks[0]), tt.wantPorts)
			}
			if tt.checkTaken != nil {
				tt.checkTaken(t, rec)
			}
			// What was taken plus what is left is the offer.
			o := sdktest.Offer("o", "a1", "h1", tt.offer...)
			all := mesos.Resources(rec.Left.Resources()).Plus(rec.ExecutorResources...)
			for _, c := range rec.Tasks {
				all = all.Plus(c.Resources...)
			}
			pool := NewPool([]string{"svc-role"}, &o)
			for _, name := range []string{"cpus", "mem", "disk"} {
				if a, b := sum(all, name), pool.Scalar(name); math.Abs(a-b) > 1e-9 {
					t.Errorf("%s: taken + left = %g, offered %g", name, a, b)
				}
			}
		})
	}
}

// TestSeveralRequirementsShareAnOffer fits requirements one after another
// into what is left of one offer, as the scheduler does.
func TestSeveralRequirementsShareAnOffer(t *testing.T) {
	pod := podSpec(t, "", "ports:\n  web: {port: 0}\n")
	o := sdktest.Offer("o", "a1", "h1", sdktest.CPUs(2.5), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31002))
	ev := New("svc", "svc-role")
	pool := NewPool([]string{"svc-role"}, &o)
	c := NewCluster()
	var got []uint64
	for i := 0; i < 3; i++ {
		rec, outs := ev.Evaluate(req(pod, i), &o, pool, c)
		if i == 2 {
			if rec != nil || !strings.Contains(failed(outs), "needs 1 cpus (0.2 cpus left)") {
				t.Errorf("third: %v", outs)
			}
			break
		}
		if rec == nil {
			t.Fatalf("requirement %d: %v", i, outs)
		}
		pool = rec.Left
		got = append(got, ports(rec.Tasks[0])...)
	}
	if !slices.Equal(got, []uint64{31000, 31001}) {
		t.Errorf("ports %v", got)
	}
	if pool.Scalar("cpus") < 0.29 {
		t.Errorf("the failed evaluation took from the pool: %g cpus left", pool.Scalar("cpus"))
	}
}

// TestTLSNames checks the certificate names the TLS stage computes.
func TestTLSNames(t *testing.T) {
	pod := podSpec(t, "", "transport-encryption: [{name: server, type: TLS}, {name: ks, type: KEYSTORE}]\nports:\n  https: {port: 0, vip: {prefix: web, port: 443}}\n")
	rec, outs := evaluate(req(pod, 2), sdktest.Offer("o", "a", "h"), nil)
	if rec == nil {
		t.Fatal(outs)
	}
	tls := rec.Tasks[0].TLS
	if len(tls) != 2 || tls[0].Name != "server" || tls[1].Type != "KEYSTORE" || tls[0].CommonName != "p-2-t-svc" ||
		!slices.Equal(tls[0].DNSNames, []string{"p-2-t.svc.autoip.dcos.thisdcos.directory", "web.svc.l4lb.thisdcos.directory"}) {
		t.Errorf("TLS claims %+v", tls)
	}
	disc := podSpec(t, "", "transport-encryption: [{name: server, type: TLS}]\ndiscovery: {prefix: broker}\n")
	rec, outs = New(strings.Repeat("long-service-name.", 3)+"xxxxxx", "r").Evaluate(req(disc, 1), ptr(sdktest.Offer("o", "a", "h")), NewPool([]string{"r"}, ptr(sdktest.Offer("o", "a", "h"))), NewCluster())
	if rec == nil {
		t.Fatal("discovery task", outs)
	}
	c := rec.Tasks[0].TLS[0]
	if !strings.HasPrefix(c.DNSNames[0], "broker-1.long-service-name-") || len(c.CommonName) != 64 || !strings.HasSuffix(c.CommonName, "long-service-name-xxxxxx") {
		t.Errorf("discovery claim %+v", c)
	}
	bad := podSpec(t, "", "transport-encryption: [{name: server, type: TLS}]\n")
	// '_' and upper case become DNS labels (taskenv.DNSLabel); a name
	// without a letter or digit makes no DNS name.
	rec, outs = New("Bad_Name", "r").Evaluate(req(bad, 0), ptr(sdktest.Offer("o", "a", "h")), NewPool([]string{"r"}, ptr(sdktest.Offer("o", "a", "h"))), NewCluster())
	if rec == nil || rec.Tasks[0].TLS[0].DNSNames[0] != "p-0-t.bad-name.autoip.dcos.thisdcos.directory" {
		t.Errorf("Bad_Name: %v", outs)
	}
	_, outs = New("_!_", "r").Evaluate(req(bad, 0), ptr(sdktest.Offer("o", "a", "h")), NewPool([]string{"r"}, ptr(sdktest.Offer("o", "a", "h"))), NewCluster())
	if !strings.Contains(failed(outs), "FAIL(tls)") {
		t.Errorf("invalid name: %v", outs)
	}
}

func ptr[T any](v T) *T { return &v }

func TestUnknownTask(t *testing.T) {
	pod := podSpec(t, "", "")
	r := req(pod, 0)
	r.Tasks = []string{"nope"}
	if _, outs := evaluate(r, sdktest.Offer("o", "a", "h"), nil); !strings.Contains(failed(outs), `pod p has no task "nope"`) {
		t.Errorf("%v", outs)
	}
}

func TestExplainAndNames(t *testing.T) {
	if got := Explain(nil); got != "no offers received" {
		t.Errorf("Explain(nil) = %q", got)
	}
	var fs []OfferFailure
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5"} {
		fs = append(fs, OfferFailure{Host: h, Outcome: Fail("resources", "short")})
	}
	if got := Explain(fs); got != "h1: FAIL(resources): short; h2: FAIL(resources): short; h3: FAIL(resources): short; and 2 more" {
		t.Errorf("Explain = %q", got)
	}
	for tp, want := range map[RecoveryType]string{RecoveryNone: "NONE", RecoveryTransient: "TRANSIENT", RecoveryPermanent: "PERMANENT"} {
		if tp.String() != want {
			t.Errorf("%d: %s", tp, tp)
		}
	}
	if Pass("x", "ok").String() != "PASS(x): ok" {
		t.Error(Pass("x", "ok"))
	}
	se := &ShortError{What: "cpus", Want: "1 cpus", Have: "0 cpus"}
	if se.Error() != "cpus: want 1 cpus, 0 cpus left" {
		t.Error(se)
	}
}

// TestMessageParts: the amounts and counts in outcomes read as
// fmt.Sprintf("%g ...") and strconv.Itoa read them.
func TestMessageParts(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
	}{{"cpus", 0.1}, {"cpus", 0.30000000000000004}, {"mem", 32}, {"disk", 16384}, {"MOUNT disk", 2048}, {"mem", 1e21}, {"gpus", 0}, {"disk", 1.5e-7}} {
		want := fmt.Sprintf("%g %s", tc.v, tc.name)
		if tc.name == "mem" || tc.name == "disk" || tc.name == "MOUNT disk" {
			want = fmt.Sprintf("%g MB %s", tc.v, tc.name)
		}
		if got := formatScalar(tc.name, tc.v); got != want {
			t.Errorf("formatScalar(%q, %v) = %q, want %q", tc.name, tc.v, got, want)
		}
	}
	for _, n := range []int{0, 1, 7, 8, 200, -1} {
		if got, want := volumesTaken.of(n), fmt.Sprintf("%d volume(s)", n); got != want {
			t.Errorf("volumesTaken.of(%d) = %q, want %q", n, got, want)
		}
	}
}
