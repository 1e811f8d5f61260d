package podinfo

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/spec"
)

const svcYAML = `name: hello-world
pods:
  web:
    count: 2
    placement: "@zone:GROUP_BY"
    uris: ["http://example.com/app.tar.gz"]
    secrets:
      db: {secret: db-password, env-key: DB_PASSWORD}
    tasks:
      server:
        cmd: "./server"
        cpus: 0.5
        memory: 64
        env: {GREETING: hi, B: b}
        ports:
          https: {port: 0, env-key: PORT_HTTPS, advertise: true, vip: {prefix: web, port: 443}}
        configs:
          app: {template: app.mustache, dest: conf/app.conf}
        health-check: {cmd: "./check", interval: 5, grace-period: 30, max-consecutive-failures: 2, delay: 1, timeout: 3}
        readiness-check: {cmd: "./ready", interval: 2, delay: 0, timeout: 4}
        transport-encryption: [{name: server, type: TLS}]
        kill-grace-period: 5
      side:
        cmd: "./side"
        cpus: 0.1
        memory: 32
        essential: false
        discovery: {prefix: sidecar, visibility: CLUSTER}
`

func loadSpec(t *testing.T) *spec.PodSpec {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.mustache"), []byte("x={{X}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := spec.Parse([]byte(svcYAML), spec.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return l.Spec.Pod("web")
}

func recommend(t *testing.T, pod *spec.PodSpec, r *evaluate.Requirement, opts ...sdktest.OfferOption) *evaluate.Recommendation {
	t.Helper()
	opts = append([]sdktest.OfferOption{sdktest.CPUs(4), sdktest.Mem(4096), sdktest.Disk(4096), sdktest.Ports(31000, 31010), sdktest.Domain("eu", "eu-1a")}, opts...)
	o := sdktest.Offer("offer-1", "agent-1", "host-1", opts...)
	rec, outs := evaluate.New("hello-world", "hello-world-role").Evaluate(r, &o, evaluate.NewPool([]string{"hello-world-role"}, &o), evaluate.NewCluster())
	if rec == nil {
		t.Fatalf("no fit: %v", outs)
	}
	return rec
}

func testCA(t *testing.T) *pki.Issuer {
	ca, err := pki.NewCA(pki.CARequest{CommonName: "test CA", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newBuilder(t *testing.T, mutate func(*Config)) *Builder {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "db-password"), []byte("hunter2\n"), 0o600)
	var n atomic.Int64
	cfg := Config{
		Service: "hello-world", ConfigID: "cfg1", APIHostname: "api.example", APIPort: 8080,
		Artifacts: []string{"bootstrap", "healthd", "executor"}, ArtifactDigests: map[string]string{"bootstrap": "d1"},
		Env: []string{"TASKCFG_ALL_LEVEL=debug", "TASKCFG_WEB_GREETING=hello"}, TaskEnv: []string{"BOOTSTRAP_RESOLVERS=1.2.3.4:53"},
		Secrets: DirSecrets(dir), TLS: &TLS{CA: testCA(t), Keys: NewKeyPool("")},
		NewID: func() string { return "id" + strconv.FormatInt(n.Add(1), 10) },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return New(cfg)
}

func env(ti *mesos.TaskInfo) map[string]string {
	out := map[string]string{}
	for _, v := range ti.GetCommand().GetEnvironment().GetVariables() {
		if v.Secret != nil {
			out[v.Name] = "SECRET:" + string(v.Secret.GetValue().GetData())
			continue
		}
		out[v.Name] = v.GetValue()
	}
	return out
}

func label(ti *mesos.TaskInfo, k string) string {
	for _, l := range ti.GetLabels().GetLabels() {
		if l.Key == k {
			return l.GetValue()
		}
	}
	return ""
}

// TestBuild builds a new pod instance and checks every part of its
// TaskInfos and LAUNCH_GROUPs.
func TestBuild(t *testing.T) {
	pod := loadSpec(t)
	r := &evaluate.Requirement{Pod: pod, Index: 1, Tasks: pod.TaskNames()}
	rec := recommend(t, pod, r)
	l, err := newBuilder(t, nil).Build(rec, "fw-1", map[string]string{"PARAM": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got := opTypes(l.Operations); !slices.Equal(got, []string{"RESERVE", "LAUNCH_GROUP", "LAUNCH_GROUP"}) {
		t.Fatalf("operations %v", got)
	}
	lg := l.Operations[1].LaunchGroup
	if lg.Executor.ExecutorID.Value != "web-1__id1" || lg.Executor.Type != mesos.ExecutorInfo_DEFAULT || lg.Executor.FrameworkID.Value != "fw-1" || len(lg.Executor.Resources) != 3 {
		t.Errorf("executor %+v", lg.Executor)
	}
	// A task group of one per task, every one with the pod's executor (as
	// the SDK's LaunchOfferRecommendation): the executor's group rule
	// never reaches a sibling.
	for i, op := range l.Operations[1:] {
		g := op.LaunchGroup
		if !g.Executor.Equal(&lg.Executor) {
			t.Errorf("LAUNCH_GROUP %d: executor %+v, want the pod's %+v", i, g.Executor, lg.Executor)
		}
		if len(g.TaskGroup.Tasks) != 1 || g.TaskGroup.Tasks[0].TaskID != l.TaskInfos[i].TaskID {
			t.Errorf("LAUNCH_GROUP %d: tasks %v, want %s alone", i, names(g.TaskGroup.Tasks), l.TaskInfos[i].Name)
		}
		if g.TaskGroup.Tasks[0].Executor != nil {
			t.Errorf("LAUNCH_GROUP %d: the group's task must not carry the executor", i)
		}
	}
	server, side := l.TaskInfos[0], l.TaskInfos[1]
	if server.Executor == nil || server.Executor.ExecutorID != lg.Executor.ExecutorID {
		t.Error("stored TaskInfos carry the executor")
	}
	if server.Name != "web-1-server" || server.TaskID.Value != "hello-world__web-1-server__id2" || server.AgentID.Value != "agent-1" {
		t.Errorf("names %s %s %s", server.Name, server.TaskID.Value, server.AgentID.Value)
	}
	e := env(server)
	want := map[string]string{
		"GREETING": "hello", "B": "b", "LEVEL": "debug", "POD_INSTANCE_INDEX": "1", "FRAMEWORK_NAME": "hello-world",
		"FRAMEWORK_HOST": "hello-world.autoip.dcos.thisdcos.directory", "FRAMEWORK_VIP_HOST": "hello-world.l4lb.thisdcos.directory",
		"SCHEDULER_API_HOSTNAME": "api.example", "SCHEDULER_API_PORT": "8080", "TASK_NAME": "web-1-server", "web-1-server": "true",
		"PLACEMENT_REFERENCED_ZONE": "true", "CONFIG_TEMPLATE_APP": "config-templates/app,conf/app.conf", "PARAM": "p",
		"DB_PASSWORD": "SECRET:hunter2", "PORT_HTTPS": "31000", "REGION": "eu", "ZONE": "eu-1a", "BOOTSTRAP_RESOLVERS": "1.2.3.4:53",
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("env %s = %q, want %q", k, e[k], v)
		}
	}
	if !strings.HasPrefix(e["TLS_SERVER_KEY"], "SECRET:-----BEGIN PRIVATE KEY") || !strings.HasPrefix(e["TLS_SERVER_CERT"], "SECRET:-----BEGIN CERTIFICATE") {
		t.Errorf("TLS env %.40q %.40q", e["TLS_SERVER_KEY"], e["TLS_SERVER_CERT"])
	}
	blk, _ := pem.Decode([]byte(strings.TrimPrefix(e["TLS_SERVER_CERT"], "SECRET:")))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || cert.Subject.CommonName != "web-1-server-hello-world" || !slices.Equal(cert.DNSNames, []string{"web-1-server.hello-world.autoip.dcos.thisdcos.directory", "web.hello-world.l4lb.thisdcos.directory"}) {
		t.Errorf("certificate %v %v", cert, err)
	}
	if _, ok := env(side)["TLS_SERVER_KEY"]; ok {
		t.Error("side got the server's certificate")
	}
	if got := *server.Command.Value; got != "./tlsprov materialize --all && ./server" || !server.Command.GetShell() {
		t.Errorf("command %q", got)
	}
	var uris []string
	for _, u := range server.Command.URIs {
		uris = append(uris, u.Value)
	}
	if !slices.Equal(uris, []string{"http://api.example:8080/v1/artifacts/bin/bootstrap?sha256=d1", "http://api.example:8080/v1/artifacts/bin/healthd",
		"http://example.com/app.tar.gz", "http://api.example:8080/v1/artifacts/template/cfg1/web/server/app"}) {
		t.Errorf("URIs %q", uris)
	}
	if u := server.Command.URIs[0]; !u.GetCache() || !u.GetExecutable() {
		t.Error("a digested artifact is cacheable and executable")
	}
	if u := server.Command.URIs[3]; u.GetOutputFile() != "config-templates/app" || u.GetExtract() {
		t.Errorf("template URI %+v", u)
	}
	hc := server.HealthCheck
	if hc == nil || hc.GetDelaySeconds() != 1 || hc.GetIntervalSeconds() != 5 || hc.GetTimeoutSeconds() != 3 || hc.GetConsecutiveFailures() != 2 || hc.GetGracePeriodSeconds() != 30 || hc.Command.GetValue() != "./check" {
		t.Errorf("health check %+v", hc)
	}
	if ck := server.Check; ck == nil || ck.Command.Command.GetValue() != "./ready" || ck.GetIntervalSeconds() != 2 || ck.GetTimeoutSeconds() != 4 {
		t.Errorf("readiness check %+v", ck)
	}
	if server.KillPolicy.GetGracePeriod().GetNanoseconds() != int64(5*time.Second) {
		t.Errorf("kill policy %v", server.KillPolicy)
	}
	d := server.Discovery
	if d.GetName() != "web-1-server" || d.Visibility != mesos.FRAMEWORK || len(d.Ports.Ports) != 1 || d.Ports.Ports[0].Number != 31000 || len(d.Ports.Ports[0].Labels.Labels) != 2 {
		t.Errorf("discovery %+v", d)
	}
	if sd := side.Discovery; sd.GetName() != "sidecar-1" || sd.Visibility != mesos.CLUSTER {
		t.Errorf("side discovery %+v", sd)
	}
	if label(server, "goal_state") != "RUNNING" || label(server, "offer_hostname") != "host-1" || label(server, "target_configuration") != "cfg1" ||
		label(server, "offer_zone") != "eu-1a" || label(server, "offer_region") != "eu" || label(server, "essential") != "" || label(side, "essential") != "false" {
		t.Errorf("labels %v / %v", server.Labels, side.Labels)
	}
	if pl := Placement(server); pl.AgentID != "agent-1" || pl.Hostname != "host-1" || pl.Zone != "eu-1a" || pl.Region != "eu" {
		t.Errorf("Placement %+v", pl)
	}
}

// TestBuildJoinsRunningExecutor relaunches one task into its pod's running
// executor: no new executor, no executor resources.
func TestBuildJoinsRunningExecutor(t *testing.T) {
	pod := loadSpec(t)
	running := &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "web-0__old"}, Type: mesos.ExecutorInfo_DEFAULT}
	r := &evaluate.Requirement{Pod: pod, Index: 0, Tasks: []string{"side"}, Executor: running, Agent: "agent-1"}
	rec := recommend(t, pod, r, sdktest.Executors("web-0__old"))
	l, err := newBuilder(t, nil).Build(rec, "fw-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Executor.ExecutorID.Value != "web-0__old" || len(l.TaskInfos) != 1 || l.TaskInfos[0].Name != "web-0-side" {
		t.Errorf("launch %+v", l)
	}
}

// TestBuildTaskkitExecutor uses the fetched CUSTOM executor.
func TestBuildTaskkitExecutor(t *testing.T) {
	pod := loadSpec(t)
	rec := recommend(t, pod, &evaluate.Requirement{Pod: pod, Tasks: []string{"side"}})
	l, err := newBuilder(t, func(c *Config) { c.Executor = ExecutorTaskkit }).Build(rec, "fw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Executor.Type != mesos.ExecutorInfo_CUSTOM || l.Executor.Command.GetValue() != "./executor" || l.Executor.Command.URIs[0].Value != "http://api.example:8080/v1/artifacts/bin/executor" {
		t.Errorf("executor %+v", l.Executor)
	}
}

// buildApp builds every task of yaml's pod app with a test builder.
func buildApp(t *testing.T, yaml string) *Launch {
	t.Helper()
	l, err := spec.Parse([]byte(yaml), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := l.Spec.Pod("app")
	launch, err := newBuilder(t, nil).Build(recommend(t, pod, &evaluate.Requirement{Pod: pod, Tasks: pod.TaskNames()}), "fw", nil)
	if err != nil {
		t.Fatal(err)
	}
	return launch
}

func names(tis []mesos.TaskInfo) []string {
	var out []string
	for _, ti := range tis {
		out = append(out, ti.Name)
	}
	return out
}

func opTypes(ops []mesos.Offer_Operation) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.Type.String())
	}
	return out
}

type prepend struct{ calls int }

func (p *prepend) Name() string { return "prepend" }
func (p *prepend) Build(l *Launch) error {
	p.calls++
	if len(l.TaskInfos) == 0 {
		return errors.New("no tasks")
	}
	l.Operations = append(l.Operations, mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME})
	return nil
}

// TestBuildKillPolicy: every task has a kill policy, grace 0 when
// svc.yml gives no kill-grace-period (or 0), as the SDK's
// PodInfoBuilder.setTaskKillGracePeriod: without one the executor would
// give the task its own default, 3 s (helper-66's fault 05).
func TestBuildKillPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		want        time.Duration
	}{
		{"unset", "", 0},
		{"zero", "kill-grace-period: 0", 0},
		{"set", "kill-grace-period: 30", 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			launch := buildApp(t, `name: s
pods:
  app:
    count: 1
    tasks:
      server:
        cmd: sleep 1
        cpus: 0.1
        memory: 32
        `+tc.field+`
`)
			for _, ti := range append([]mesos.TaskInfo{*launch.TaskInfos[0]}, launch.Operations[len(launch.Operations)-1].LaunchGroup.TaskGroup.Tasks...) {
				kp := ti.KillPolicy
				if kp == nil || kp.GracePeriod == nil {
					t.Fatalf("%s: no kill policy, want grace %s", ti.Name, tc.want)
				}
				if got := time.Duration(kp.GracePeriod.Nanoseconds); got != tc.want {
					t.Errorf("%s: grace %s, want %s", ti.Name, got, tc.want)
				}
			}
		})
	}
}

// TestBuildSteps runs extra builder steps before the LAUNCH_GROUP is added.
func TestBuildSteps(t *testing.T) {
	pod := loadSpec(t)
	st := &prepend{}
	b := newBuilder(t, func(c *Config) { c.Steps = []Step{st} })
	l, err := b.Build(recommend(t, pod, &evaluate.Requirement{Pod: pod, Tasks: []string{"side"}}), "fw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := opTypes(l.Operations); st.calls != 1 || !slices.Equal(got, []string{"RESERVE", "GROW_VOLUME", "LAUNCH_GROUP"}) {
		t.Errorf("operations %v", got)
	}
	rec := recommend(t, pod, &evaluate.Requirement{Pod: pod, Tasks: []string{"side"}})
	rec.Tasks = nil
	if _, err := b.Build(rec, "fw", nil); err == nil || err.Error() != "prepend: no tasks" {
		t.Errorf("a failing step: %v", err)
	}
}

// TestBuildErrors: a missing secret, no CA, an unsafe secret path; each
// names what is at fault and no secret value.
func TestBuildErrors(t *testing.T) {
	pod := loadSpec(t)
	r := &evaluate.Requirement{Pod: pod, Tasks: pod.TaskNames()}
	if _, err := newBuilder(t, func(c *Config) { c.Secrets = DirSecrets(t.TempDir()) }).Build(recommend(t, pod, r), "fw", nil); err == nil || !strings.Contains(err.Error(), "pods.web.secrets.db") {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := newBuilder(t, func(c *Config) { c.Secrets = nil }).Build(recommend(t, pod, r), "fw", nil); err == nil || !strings.Contains(err.Error(), "no secret source") {
		t.Errorf("no secret source: %v", err)
	}
	if _, err := newBuilder(t, func(c *Config) { c.TLS = nil }).Build(recommend(t, pod, r), "fw", nil); err == nil || !strings.Contains(err.Error(), "pods.web.tasks.server.transport-encryption") {
		t.Errorf("no CA: %v", err)
	}
	if _, err := DirSecrets(t.TempDir()).Secret("../etc/passwd"); err == nil {
		t.Error("a secret path leaving the directory was read")
	}
	bad := &TLS{CA: &pki.Issuer{}, Keys: NewKeyPool(pki.ECDSAP256)}
	if _, err := newBuilder(t, func(c *Config) { c.TLS = bad }).Build(recommend(t, pod, r), "fw", nil); err == nil || !strings.Contains(err.Error(), "issuing web-0-server's server certificate") {
		t.Errorf("broken CA: %v", err)
	}
}

func TestIssuerFromPEM(t *testing.T) {
	ca := testCA(t)
	key, _ := pki.EncodeKeyPEM(ca.Key)
	is, err := IssuerFromPEM(pki.EncodeCertsPEM(ca.Cert), key)
	if err != nil || !is.Cert.Equal(ca.Cert) {
		t.Fatalf("IssuerFromPEM: %v", err)
	}
	other := testCA(t)
	otherKey, _ := pki.EncodeKeyPEM(other.Key)
	if _, err := IssuerFromPEM(pki.EncodeCertsPEM(ca.Cert), otherKey); !errors.Is(err, pki.ErrKeyMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := IssuerFromPEM([]byte("x"), key); err == nil || !strings.Contains(err.Error(), "CA certificate") {
		t.Errorf("bad cert: %v", err)
	}
	if _, err := IssuerFromPEM(pki.EncodeCertsPEM(ca.Cert), []byte("x")); err == nil || !strings.Contains(err.Error(), "CA key") {
		t.Errorf("bad key: %v", err)
	}
}

// TestKeyPool: keys wanted are generated by the workers ahead of need;
// Take hands them out, and generates on the spot when none is ready.
func TestKeyPool(t *testing.T) {
	p := NewKeyPool("")
	if p.Type() != pki.ECDSAP256 {
		t.Errorf("default type %s", p.Type())
	}
	var gens atomic.Int64
	p.gen = func(kt pki.KeyType) (crypto.Signer, error) {
		gens.Add(1)
		return pki.GenerateKey(kt)
	}
	if _, err := p.Take(); err != nil {
		t.Fatal(err)
	}
	if ahead, onDemand := p.Stats(); ahead != 0 || onDemand != 1 {
		t.Errorf("stats %d %d", ahead, onDemand)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	p.Want(5)
	deadline := time.Now().Add(5 * time.Second)
	for p.Ready() < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if p.Ready() != 5 {
		t.Fatalf("ready %d, want 5", p.Ready())
	}
	for range 3 {
		if _, err := p.Take(); err != nil {
			t.Fatal(err)
		}
	}
	for p.Ready() < 5 && time.Now().Before(deadline) { // refilled after the takes
		time.Sleep(time.Millisecond)
	}
	p.Want(0)
	if ahead, onDemand := p.Stats(); ahead != 8 || onDemand != 1 || p.Ready() != 5 {
		t.Errorf("ahead %d on demand %d ready %d; want 8, 1, 5", ahead, onDemand, p.Ready())
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if gens.Load() != 9 {
		t.Errorf("%d keys generated, want 9", gens.Load())
	}
}

// TestKeyPoolGenerationError: a failing generator is retried only after a
// change, and Take reports the error.
func TestKeyPoolGenerationError(t *testing.T) {
	p := NewKeyPool(pki.RSA2048)
	var calls atomic.Int64
	p.gen = func(pki.KeyType) (crypto.Signer, error) { calls.Add(1); return nil, errors.New("no entropy") }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	p.Want(1)
	// The first attempt (a worker may be slow to start on a loaded
	// machine), then 20 ms for the retries there must not be.
	for deadline := time.Now().Add(5 * time.Second); calls.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := calls.Load(); n < 1 || n > 2 {
		t.Errorf("%d generation attempts without a change", n)
	}
	if _, err := p.Take(); err == nil {
		t.Error("Take hid the error")
	}
	cancel()
	<-done
}

// TestBuildProcessSettings: a pod's rlimits go on each task's container
// (unlimited as neither soft nor hard), a task's labels after the
// builder's, its resource-limits (or its resource set's) in
// TaskInfo.limits with its own cgroups, as the SDK's PodInfoBuilder builds
// them.
func TestBuildProcessSettings(t *testing.T) {
	launch := buildApp(t, `name: s
pods:
  app:
    count: 1
    rlimits:
      RLIMIT_NOFILE: {soft: 1024, hard: 2048}
      RLIMIT_CORE:
      RLIMIT_STACK: {soft: -1, hard: -1}
    resource-sets:
      rs: {cpus: 0.5, resource-limits: {memory: unlimited}}
    tasks:
      server:
        cmd: sleep 1
        cpus: 0.1
        memory: 32
        labels: "team:storage,url:http://x:80"
        resource-limits: {cpus: 2, memory: 64}
      worker: {cmd: sleep 1, resource-set: rs}
      plain: {cmd: sleep 1, cpus: 0.1}
`)
	u := func(v uint64) *uint64 { return &v }
	wantRL := []mesos.RLimitInfo_RLimit{{Type: mesos.RLimitInfo_RLimit_RLMT_CORE}, {Type: mesos.RLimitInfo_RLimit_RLMT_NOFILE, Soft: u(1024), Hard: u(2048)}, {Type: mesos.RLimitInfo_RLimit_RLMT_STACK}}
	for _, ti := range launch.TaskInfos {
		if got := ti.GetContainer().GetRlimitInfo().GetRlimits(); !slices.EqualFunc(got, wantRL, func(a, b mesos.RLimitInfo_RLimit) bool { return a.Equal(&b) }) {
			t.Errorf("%s: rlimits %v, want %v", ti.Name, got, wantRL)
		}
		if ti.GetContainer().GetType() != mesos.ContainerInfo_MESOS {
			t.Errorf("%s: container type %v", ti.Name, ti.GetContainer().GetType())
		}
		switch ti.Name {
		case "app-0-server":
			if label(ti, "team") != "storage" || label(ti, "url") != "http://x:80" || label(ti, LabelGoalState) != "RUNNING" {
				t.Errorf("labels %v", ti.GetLabels())
			}
			if ti.Limits["cpus"].Value != 2 || ti.Limits["mem"].Value != 64 || ti.GetContainer().GetLinuxInfo().GetShareCgroups() {
				t.Errorf("limits %v, linux %v", ti.Limits, ti.GetContainer().GetLinuxInfo())
			}
		case "app-0-worker":
			if _, ok := ti.Limits["cpus"]; ok || !math.IsInf(ti.Limits["mem"].Value, 1) || ti.GetContainer().GetLinuxInfo().GetShareCgroups() {
				t.Errorf("limits %v, linux %v", ti.Limits, ti.GetContainer().GetLinuxInfo())
			}
		case "app-0-plain":
			if ti.Limits != nil || ti.GetContainer().GetLinuxInfo() != nil {
				t.Errorf("limits %v, linux %v", ti.Limits, ti.GetContainer().GetLinuxInfo())
			}
		}
	}
}

// TestBuildReservations: the Reservations step puts UNRESERVE, RESERVE
// (with an operation ID, which the reservation's new items carry) and
// CREATE before the LAUNCH_GROUP, and every task sees the pod's volumes
// through its executor.
func TestBuildReservations(t *testing.T) {
	l, err := spec.Parse([]byte(`name: s
pods:
  app:
    count: 1
    volume: {path: shared, type: ROOT, size: 10}
    tasks:
      server:
        cmd: sleep 1
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 20}
      other: {cmd: sleep 1, cpus: 0.1}
`), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := l.Spec.Pod("app")
	rec := recommend(t, pod, &evaluate.Requirement{Pod: pod, Tasks: pod.TaskNames()})
	rec.Unreserve = rec.Reserve[:1] // as if a reservation shrank
	launch, err := newBuilder(t, nil).Build(rec, "fw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := opTypes(launch.Operations); !slices.Equal(got, []string{"UNRESERVE", "RESERVE", "CREATE", "LAUNCH_GROUP", "LAUNCH_GROUP"}) {
		t.Fatalf("operations %v", got)
	}
	op := launch.Operations[1].GetID().GetValue()
	if !strings.HasPrefix(op, "app-0-reserve-") {
		t.Errorf("RESERVE operation ID %q", op)
	}
	if launch.Reservation == nil || len(launch.Reservation.Items) != len(rec.Reservation.Items) {
		t.Fatalf("reservation %v", launch.Reservation)
	}
	for _, it := range launch.Reservation.Items {
		if it.Op != op {
			t.Errorf("item %s: op %q, want %q", it.Key, it.Op, op)
		}
	}
	if rec.Reservation.Items[0].Op != "" {
		t.Error("the recommendation's reservation must not change")
	}
	if creates := launch.Operations[2].GetCreate().Volumes; len(creates) != 2 {
		t.Errorf("creates %v", creates)
	}
	for _, ti := range launch.TaskInfos {
		vs := ti.GetContainer().GetVolumes()
		if len(vs) != 1 || vs[0].ContainerPath != "shared" || vs[0].GetSource().GetType() != mesos.Volume_Source_SANDBOX_PATH ||
			vs[0].GetSource().GetSandboxPath().GetType() != mesos.Volume_Source_SandboxPath_PARENT || vs[0].GetSource().GetSandboxPath().GetPath() != "shared" {
			t.Errorf("%s: volumes %v", ti.Name, vs)
		}
	}
	// Released: DESTROY the volumes, then UNRESERVE everything.
	var held []mesos.Resource
	for _, it := range rec.Reservation.Items {
		held = append(held, it.Resource)
	}
	ops := Released(held, "op-1")
	if got := opTypes(ops); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) || len(ops[0].GetDestroy().Volumes) != 2 || len(ops[1].GetUnreserve().Resources) != len(held) {
		t.Errorf("released: %v", got)
	}
	if ops[1].GetID().GetValue() != "op-1" || ops[0].ID != nil {
		t.Errorf("operation IDs %v %v", ops[0].ID, ops[1].ID)
	}
	for _, r := range ops[1].GetUnreserve().Resources {
		if r.IsPersistentVolume() {
			t.Errorf("UNRESERVE of a volume, not its disk: %v", r)
		}
	}
}

// TestBuildSecretFile: a secret without env-key is a read-only SECRET
// volume at its path in every task (the SDK's PodInfoBuilder), not an
// environment variable; with env-key and file it is both; the volumes sit
// next to the pod's rlimits on the task's container.
func TestBuildSecretFile(t *testing.T) {
	l, err := spec.Parse([]byte(`name: s
pods:
  app:
    count: 1
    secrets:
      keytab:
        secret: app/keytab
      token:
        secret: app/token
        env-key: TOKEN
      both:
        secret: app/token
        env-key: BOTH
        file: conf/token
    rlimits:
      RLIMIT_NOFILE: {soft: 1024, hard: 2048}
    tasks:
      server: {cmd: sleep 1, cpus: 0.1, memory: 32}
      helper: {cmd: sleep 1, cpus: 0.1, memory: 32}
`), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := l.Spec.Pod("app")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o700)
	os.WriteFile(filepath.Join(dir, "app/keytab"), []byte("kt\x00bytes\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "app/token"), []byte("tok\n"), 0o600)
	b := newBuilder(t, func(c *Config) { c.Secrets = DirSecrets(dir) })
	launch, err := b.Build(recommend(t, pod, &evaluate.Requirement{Pod: pod, Tasks: pod.TaskNames()}), "fw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(launch.TaskInfos) != 2 {
		t.Fatalf("%d tasks", len(launch.TaskInfos))
	}
	for _, ti := range launch.TaskInfos {
		vs := ti.GetContainer().GetVolumes()
		if ti.GetContainer().GetType() != mesos.ContainerInfo_MESOS || len(vs) != 2 || ti.GetContainer().GetRlimitInfo() == nil {
			t.Fatalf("%s: container %v", ti.Name, ti.GetContainer())
		}
		if v := vs[0]; v.ContainerPath != "conf/token" || string(v.GetSource().GetSecret().GetValue().GetData()) != "tok\n" {
			t.Errorf("%s: volume %v", ti.Name, v)
		}
		v := vs[1]
		if v.ContainerPath != "app/keytab" || v.GetMode() != mesos.RO || v.GetSource().GetType() != mesos.Volume_Source_SECRET ||
			v.GetSource().GetSecret().GetType() != mesos.Secret_VALUE || string(v.GetSource().GetSecret().GetValue().GetData()) != "kt\x00bytes\n" {
			t.Errorf("%s: volume %v", ti.Name, v)
		}
		if e := env(ti); e["TOKEN"] != "SECRET:tok" || e["BOTH"] != "SECRET:tok" || len(e["keytab"]) > 0 {
			t.Errorf("%s: env %v", ti.Name, e)
		}
	}
}
