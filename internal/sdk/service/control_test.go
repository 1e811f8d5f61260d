package service

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

const twoPhases = `name: svc
pods:
  a:
    count: 1
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64}
  b:
    count: 1
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64}
`

// TestHealthCodes walks every code of the documented table (first match
// wins), with dcos-commons' HealthResource as the reference: 318 before
// SUBSCRIBED and while reconciling; 204 while a deploy step is PENDING or
// PREPARED (even with another one STARTING: the SDK is pessimistic), 202
// once every unfinished step is STARTING or STARTED (these two were swapped
// before); 207 interrupted (before the deploy's step codes, unlike the
// SDK: see Health); 208 the first phase crash-looping while the
// second waits (issue 16: it said 202); 500 a plan with errors, also while
// reconciling; 200 running; 203 and 205 recovering; 503 without a master
// for over 10 s.
func TestHealthCodes(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	h := newHarness(t, twoPhases, st, nil)
	ctx := context.Background()
	expect := func(want int) {
		t.Helper()
		h.eventually(fmt.Sprintf("health %d", want), func() bool { code, _ := h.s.Health(); return code == want })
	}
	expect(HealthInitializing)
	setErrors := func(errs []string) { h.s.mu.Lock(); h.s.deploy.Errors = errs; h.s.mu.Unlock() }
	setErrors([]string{"bad"}) // the SDK checks errors before initializing
	expect(HealthError)
	setErrors(nil)
	expect(HealthInitializing)
	h.ready()
	expect(HealthDeployingPending)

	if changed, err := h.s.PlanCommand(ctx, plan.Deploy, CmdInterrupt, "", "", nil); err != nil || !changed {
		t.Fatalf("interrupt %v %v", changed, err)
	}
	expect(HealthWaitingUser)
	h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "", "", nil)
	expect(HealthDeployingPending)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	acceptA := h.master.Expect(t, tACCEPT)[0]
	id := taskID(t, launched(acceptA), "a-0-t")
	expect(HealthDeployingPending) // a-0 PREPARED, b-0 PENDING
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_STARTING))
	h.eventually("a-0 STARTING", func() bool { return h.stepStatus(plan.Deploy, "a-0:[t]") == plan.Starting })
	expect(HealthDeployingPending) // b-0 still PENDING
	// Interrupted with a-0 in flight: 207 (the SDK would say 202).
	h.s.PlanCommand(ctx, plan.Deploy, CmdInterrupt, "", "", nil)
	expect(HealthWaitingUser)
	h.s.PlanCommand(ctx, plan.Deploy, CmdContinue, "", "", nil)
	expect(HealthDeployingPending)
	// a-0 crash-loops; b waits behind it.
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_FAILED))
	expect(HealthDelayed)
	if h.s.PlanStatus(plan.Deploy) == plan.Delayed {
		t.Error("the plan itself is not all DELAYED: the old code's test would pass")
	}
	h.tick(2 * time.Second)
	h.skip()
	// The deploy step relaunches a-0 on its reservation.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.ReservedBy(acceptA))))
	id = taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "a-0-t")
	h.master.Send(t, sdktest.Status(id, "a1", mesos.TASK_RUNNING))
	h.eventually("a-0 COMPLETE", func() bool { return h.stepStatus(plan.Deploy, "a-0:[t]") == plan.Complete })
	expect(HealthDeployingPending) // phase a COMPLETE, b PENDING
	h.skip()
	h.tick(time.Second)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o3", "a2", "h2")))
	acceptB := h.master.Expect(t, tACCEPT)[0]
	idb := taskID(t, launched(acceptB), "b-0-t")
	expect(HealthDeployingPending) // b-0 PREPARED
	h.master.Send(t, sdktest.Status(idb, "a2", mesos.TASK_STARTING))
	expect(HealthDeployingStarting)
	h.master.Send(t, sdktest.Status(idb, "a2", mesos.TASK_RUNNING))
	expect(HealthRunning)

	// Recovery: pending, then in progress.
	h.master.Send(t, sdktest.Status(idb, "a2", mesos.TASK_KILLED))
	expect(HealthRecoveringPending)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o4", "a2", "h2", sdktest.ReservedBy(acceptB))))
	idb = taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), "b-0-t")
	expect(HealthRecoveringPending) // PREPARED
	h.master.Send(t, sdktest.Status(idb, "a2", mesos.TASK_STARTING))
	expect(HealthRecoveringStarting)
	h.master.Send(t, sdktest.Status(idb, "a2", mesos.TASK_RUNNING))
	expect(HealthRunning)

	// A plan with errors (an invalid configuration update, issue 12).
	h.onLoop(func() { h.s.mu.Lock(); h.s.deploy.Errors = []string{"bad"}; h.s.mu.Unlock() })
	expect(HealthError)
	h.onLoop(func() { h.s.mu.Lock(); h.s.deploy.Errors = nil; h.s.mu.Unlock() })
	expect(HealthRunning)

	// The master lost for over 10 s.
	h.master.Drop()
	h.eventually("disconnected", func() bool { return !h.s.Connected() })
	h.clock.Advance(11 * time.Second)
	expect(HealthUnavailable)
}

const backupRestore = `name: svc
pods:
  p:
    count: 1
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64}
  bk:
    count: 1
    tasks:
      backup: {goal: FINISH, cmd: "sleep 60", cpus: 0.1, memory: 32}
  rs:
    count: 1
    tasks:
      restore: {goal: FINISH, cmd: "sleep 60", cpus: 0.1, memory: 32}
plans:
  deploy:
    phases:
      d: {pod: p, steps: [{default: [[t]]}]}
  %s:
    phases:
      b: {pod: bk, steps: [{default: [[backup]]}]}
  %s:
    phases:
      r: {pod: rs, steps: [{default: [[restore]]}]}
`

// TestHealthBackupRestore: once the deploy is COMPLETE, a running plan
// named like "*back*" makes the health 320 BACKING_UP and one named like
// "*restor*" 321 RESTORING, restoring first (dcos-commons' HealthResource:
// BACKUP_PLAN_REGEXP, RESTORE_PLAN_REGEXP, applied to a RUNNING code
// only). A started plan whose step waits for an offer is PENDING, not
// running; the names are matched case-sensitively, as Java's matches.
func TestHealthBackupRestore(t *testing.T) {
	for _, tc := range []struct {
		backup, restore string
		wantBackup      int
		wantBoth        int
	}{
		{"backup-s3", "restore-s3", HealthBackingUp, HealthRestoring},
		{"snapshot-back", "post-restoration", HealthBackingUp, HealthRestoring},
		{"Backup", "Restore", HealthRunning, HealthRunning},
	} {
		t.Run(tc.backup, func(t *testing.T) {
			h := newHarness(t, fmt.Sprintf(backupRestore, tc.backup, tc.restore), nil, nil)
			ctx := context.Background()
			expect := func(want int) {
				t.Helper()
				h.eventually(fmt.Sprintf("health %d", want), func() bool { code, _ := h.s.Health(); return code == want })
			}
			h.ready()
			h.runOnA1()
			expect(HealthRunning)
			start := func(name, offer, task string, before int) string {
				t.Helper()
				if _, err := h.s.PlanCommand(ctx, name, CmdStart, "", "", nil); err != nil {
					t.Fatal(err)
				}
				expect(before) // the plan is PENDING: waiting for an offer
				h.tick(time.Second)
				h.skip()
				h.master.Send(t, sdktest.Offers(sdktest.Offer(offer, "a2", "h2")))
				return taskID(t, launched(h.master.Expect(t, tACCEPT)[0]), task)
			}
			backup := start(tc.backup, "o2", "bk-0-backup", HealthRunning)
			expect(tc.wantBackup)
			h.master.Send(t, sdktest.Status(backup, "a2", mesos.TASK_RUNNING))
			expect(tc.wantBackup)
			restore := start(tc.restore, "o3", "rs-0-restore", tc.wantBackup)
			expect(tc.wantBoth)
			if r := h.s.HealthReport(); tc.wantBoth == HealthRestoring && !slices.Contains(r.Reasons, "plan "+tc.restore+" "+string(plan.InProgress)) {
				t.Errorf("reasons %q, want the restore plan named", r.Reasons)
			}
			h.master.Send(t, sdktest.Status(restore, "a2", mesos.TASK_FINISHED))
			expect(tc.wantBackup)
			h.master.Send(t, sdktest.Status(backup, "a2", mesos.TASK_FINISHED))
			expect(HealthRunning)
		})
	}
}

// TestPlanCommands: each command, its no-op (208) answers, and its errors.
func TestPlanCommands(t *testing.T) {
	h := newHarness(t, `name: svc
pods:
  p:
    count: 1
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64}
      once: {goal: ONCE, cmd: "echo $GREET", cpus: 0.1, memory: 32}
plans:
  deploy:
    phases:
      p: {pod: p, steps: [{default: [[t]]}]}
  custom:
    phases:
      one: {pod: p, steps: [{default: [[once]]}]}
`, nil, nil)
	h.ready()
	ctx := context.Background()
	cmd := func(plan, c, phase string, params map[string]string) (bool, error) {
		t.Helper()
		return h.s.PlanCommand(ctx, plan, c, phase, "", params)
	}
	if names := h.s.PlanNames(); !slices.Equal(names, []string{"deploy", "recovery", "custom"}) {
		t.Errorf("plans %v", names)
	}
	if h.s.PlanStatus("custom") != plan.Waiting {
		t.Errorf("a custom plan starts interrupted: %s", h.s.PlanStatus("custom"))
	}
	for _, tt := range []struct {
		plan, cmd, phase string
		changed          bool
		status           plan.Status
	}{
		{"deploy", CmdInterrupt, "", true, plan.Waiting},
		{"deploy", CmdInterrupt, "", false, plan.Waiting},
		{"deploy", CmdContinue, "", true, plan.Pending},
		{"deploy", CmdContinue, "", false, plan.Pending},
		{"deploy", CmdInterrupt, "p", true, plan.Waiting},
		{"deploy", CmdContinue, "p", true, plan.Pending},
		{"custom", CmdStart, "", true, plan.Pending},
		{"custom", CmdStop, "", true, plan.Waiting},
		{"custom", CmdRestart, "one", true, plan.Waiting},
	} {
		changed, err := cmd(tt.plan, tt.cmd, tt.phase, nil)
		if err != nil || changed != tt.changed || h.s.PlanStatus(tt.plan) != tt.status {
			t.Errorf("%s %s %s: changed %v err %v status %s; want %v %s", tt.cmd, tt.plan, tt.phase, changed, err, h.s.PlanStatus(tt.plan), tt.changed, tt.status)
		}
	}
	if _, err := cmd("nope", CmdStart, "", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown plan: %v", err)
	}
	if _, err := cmd("deploy", CmdInterrupt, "nope", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown phase: %v", err)
	}
	if _, err := cmd("deploy", "explode", "", nil); !errors.Is(err, ErrBadCommand) {
		t.Errorf("unknown command: %v", err)
	}
	h.skip()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	accept := h.master.Expect(t, tACCEPT)[0]
	exec := launchGroup(accept).Executor.ExecutorID.Value
	tis := launched(accept)
	h.master.Send(t, sdktest.Status(tis[0].TaskID.Value, "a1", mesos.TASK_RUNNING))
	h.eventually("deploy complete", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })
	// Start with parameters: they reach the task's environment.
	if _, err := cmd("custom", CmdStart, "", map[string]string{"GREET": "hi"}); err != nil {
		t.Fatal(err)
	}
	h.tick(time.Second)
	h.skip()
	// The next task's resources were reserved with the pod's first launch.
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1", sdktest.Executors(exec), sdktest.ReservedBy(accept))))
	tis = launched(h.master.Expect(t, tACCEPT)[0])
	found := false
	for _, v := range tis[0].Command.Environment.Variables {
		found = found || v.Name == "GREET" && v.GetValue() == "hi"
	}
	if tis[0].Name != "p-0-once" || !found {
		t.Errorf("%s launched; plan parameters in its environment: %v", tis[0].Name, found)
	}
	// Interrupting a COMPLETE plan changes nothing (208).
	if changed, err := cmd("deploy", CmdInterrupt, "", nil); err != nil || changed || h.s.PlanStatus(plan.Deploy) != plan.Complete {
		t.Errorf("interrupting a COMPLETE plan: %v %v %s", changed, err, h.s.PlanStatus(plan.Deploy))
	}
	pr, _ := h.store.Plans()
	var progress plan.Progress
	if err := json.Unmarshal(pr["custom"], &progress); err != nil || progress.Parameters["GREET"] != "hi" {
		t.Errorf("stored custom progress %s", pr["custom"])
	}
	if _, err := h.s.PlanView("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("PlanView: %v", err)
	}
	if h.s.PlanStatus("nope") != "" {
		t.Error("PlanStatus of an unknown plan")
	}
}

const withSecrets = `name: svc
pods:
  web:
    count: 2
    secrets:
      pw: {secret: db-password, env-key: DB_PASSWORD}
    tasks:
      server:
        goal: RUNNING
        cmd: "./server --password=hunter2"
        cpus: 0.5
        memory: 64
        env: {API_TOKEN: tok-123, PLAIN: visible, URL: "http://user:pass@db:5432/x"}
        ports:
          https: {port: 0, advertise: true, vip: {prefix: web, port: 443}}
          admin: {port: 0}
        configs:
          conf: {template: t.mustache, dest: conf}
        health-check: {cmd: "./check", interval: 5, grace-period: 5, max-consecutive-failures: 3, delay: 0, timeout: 5}
        readiness-check: {cmd: "./ready", interval: 5, delay: 0, timeout: 5}
        transport-encryption: [{name: server, type: TLS}]
plans:
  deploy:
    phases:
      web: {pod: web, strategy: parallel}
`

// TestPodViews: pod status and info (every secret masked), endpoints,
// templates; TLS keys come from the pool, generated ahead of need.
func TestPodViews(t *testing.T) {
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "db-password"), []byte("s3cr3t-db\n"), 0o600)
	h := newHarness(t, withSecrets, nil, func(c *Config) { c.SecretsDir = secrets; c.TLSKeyType = pki.ECDSAP256 })
	if n := h.s.keysNeeded(); n != 2 {
		t.Errorf("keys needed %d, want 2", n)
	}
	h.start()
	h.eventually("two keys ready ahead of need", func() bool { return h.s.keys.Ready() == 2 })
	if pods, all := h.s.Pods(), h.s.PodStatuses(); len(pods) != 0 || len(all) != 0 {
		t.Errorf("pods %v %+v before any launch", pods, all)
	}
	h.subscribe("fw-1")
	h.master.Expect(t, tRECONCILE, tREVIVE)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	tis := launched(h.master.Expect(t, tACCEPT)[0])
	if _, onDemand := h.s.keys.Stats(); onDemand != 0 {
		t.Errorf("%d keys generated on the spot", onDemand)
	}
	for _, ti := range tis {
		h.master.Send(t, sdktest.Status(ti.TaskID.Value, "a1", mesos.TASK_RUNNING, sdktest.Ready()))
	}
	h.eventually("deploy COMPLETE", func() bool { return h.s.PlanStatus(plan.Deploy) == plan.Complete })

	if pods := h.s.Pods(); !slices.Equal(pods, []string{"web-0", "web-1"}) {
		t.Errorf("pods %v", pods)
	}
	ps, err := h.s.PodStatus("web-1")
	if err != nil || ps.Name != "web-1" || len(ps.Tasks) != 1 || ps.Tasks[0].Status != "RUNNING" || ps.Tasks[0].Name != "web-1-server" {
		t.Errorf("pod status %+v %v", ps, err)
	}
	for _, bad := range []string{"web-2", "web-01", "nope-0", "web"} {
		if _, err := h.s.PodStatus(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("PodStatus(%s): %v", bad, err)
		}
		if _, err := h.s.PodInfo(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("PodInfo(%s): %v", bad, err)
		}
	}
	info, err := h.s.PodInfo("web-0")
	if err != nil || len(info) != 1 {
		t.Fatalf("pod info %v %v", info, err)
	}
	raw := string(info[0].Info)
	for _, leak := range []string{"s3cr3t-db", "tok-123", "BEGIN", "hunter2", "user:pass"} {
		if strings.Contains(raw, leak) {
			t.Errorf("pod info shows %q", leak)
		}
	}
	if !strings.Contains(raw, "visible") || !strings.Contains(raw, "********") || len(info[0].Status) == 0 {
		t.Errorf("pod info %s", raw)
	}
	if eps := h.s.Endpoints(); !slices.Equal(eps, []string{"https"}) {
		t.Errorf("endpoints %v", eps)
	}
	ep, err := h.s.Endpoint("https")
	if err != nil || len(ep.DNS) != 2 || ep.VIP != "web.svc.l4lb.thisdcos.directory:443" || !strings.HasPrefix(ep.Address[0], "h1:") ||
		!strings.HasPrefix(ep.DNS[0], "web-0-server.svc.autoip.dcos.thisdcos.directory:") {
		t.Errorf("endpoint %+v %v", ep, err)
	}
	if _, err := h.s.Endpoint("admin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unadvertised port: %v", err)
	}
	cfg := h.s.cfg.Loaded.ConfigID
	if txt, ok := h.s.Template(cfg, "web", "server", "conf"); !ok || txt != "{{TASK_NAME}}" {
		t.Errorf("template %q %v", txt, ok)
	}
	for _, args := range [][4]string{{"old", "web", "server", "conf"}, {cfg, "nope", "server", "conf"}, {cfg, "web", "nope", "conf"}, {cfg, "web", "server", "nope"}} {
		if _, ok := h.s.Template(args[0], args[1], args[2], args[3]); ok {
			t.Errorf("Template%v found", args)
		}
	}
	if h.s.FrameworkName() != "svc" || h.s.Metrics() == nil {
		t.Error("accessors")
	}
	// The CA was created once and stored.
	if crt, _ := h.store.Property("ca.crt"); len(crt) == 0 {
		t.Error("the service CA is not in the store")
	}
}

// TestNewChecksConfig: required fields, the executor mode, a given CA, a
// stored CA, a broken stored CA.
func TestNewChecksConfig(t *testing.T) {
	loaded := parseSpec(t, withSecrets)
	st := openStore(t, t.TempDir())
	defer st.Close()
	if _, err := New(Config{}); err == nil {
		t.Error("an empty Config")
	}
	if _, err := New(Config{Loaded: loaded, Store: st, Caller: sdktest.NewMaster(), Executor: "docker"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("executor: %v", err)
	}
	ca, _ := pki.NewCA(pki.CARequest{CommonName: "given", KeyType: pki.ECDSAP256})
	if _, err := New(Config{Loaded: loaded, Store: st, Caller: sdktest.NewMaster(), CA: ca, Executor: podinfo.ExecutorTaskkit}); err != nil {
		t.Errorf("a given CA: %v", err)
	}
	if crt, _ := st.Property("ca.crt"); crt != nil {
		t.Error("a given CA was stored")
	}
	s1, err := New(Config{Loaded: loaded, Store: st, MasterURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	crt, _ := st.Property("ca.crt")
	if _, err := New(Config{Loaded: loaded, Store: st, Caller: sdktest.NewMaster()}); err != nil {
		t.Errorf("the stored CA: %v", err)
	}
	if again, _ := st.Property("ca.crt"); string(again) != string(crt) {
		t.Error("the stored CA was replaced")
	}
	st.SetProperties(map[string][]byte{"ca.key": []byte("junk")})
	if _, err := New(Config{Loaded: loaded, Store: st, Caller: sdktest.NewMaster()}); err == nil || !strings.Contains(err.Error(), "the stored CA") {
		t.Errorf("a broken stored CA: %v", err)
	}
	if s1.cfg.Role != "svc-role" || s1.cfg.TLSKeyType != pki.ECDSAP256 || s1.cfg.FailoverTimeout != 14*24*time.Hour {
		t.Errorf("defaults %+v", s1.cfg)
	}
}

// TestFailureEvents: an executor ending normally is not a warning; the
// FAILURE, RESCIND and HEARTBEAT events change nothing.
func TestFailureEvents(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	h.master.Send(t, sdktest.Failure("a1", "e1", 0), sdktest.Failure("a1", "e2", 9), sdktest.Failure("a1", "", 0), sdktest.Rescind("o1"), sdktest.Heartbeat())
	h.eventually("rescind counted", func() bool { return h.s.Metrics().Counter("offers.rescinded") == 1 })
	if code, _ := h.s.Health(); code != HealthDeployingPending {
		t.Errorf("health %d", code)
	}
}

// TestLaunchWaitsForKeys: a TLS pod whose key is not ready yet is not
// launched (the loop does not generate keys); its step says so; once the
// pool has the key, the next offer launches it.
func TestLaunchWaitsForKeys(t *testing.T) {
	release := make(chan struct{})
	gen := func(kt pki.KeyType) (crypto.Signer, error) {
		<-release
		return pki.GenerateKey(kt)
	}
	h := newHarness(t, `name: svc
pods:
  p:
    count: 1
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64, transport-encryption: [{name: t, type: TLS}]}
`, nil, func(c *Config) { c.Keys = podinfo.NewKeyPoolWith(pki.ECDSAP256, gen) })
	defer close(release)
	h.ready()
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	h.master.Expect(t, tDECLINE)
	if msg := h.stepMessage(plan.Deploy, "p-0:[t]"); msg != "waiting for 1 TLS key(s) being generated (0 ready, --tls-key-type ecdsa-p256)" {
		t.Errorf("message %q", msg)
	}
	release <- struct{}{}
	h.eventually("the key", func() bool { return h.s.keys.Ready() == 1 })
	h.tick(time.Second)
	h.master.Expect(t, tREVIVE)
	h.master.Send(t, sdktest.Offers(sdktest.Offer("o2", "a1", "h1")))
	h.master.Expect(t, tACCEPT)
	if _, onDemand := h.s.keys.Stats(); onDemand != 0 {
		t.Errorf("%d keys generated on the loop", onDemand)
	}
}
