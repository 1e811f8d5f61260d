package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
)

const svc = `name: svc
pods:
  web:
    count: {{COUNT}}
    {{#DECOMMISSION}}allow-decommission: true{{/DECOMMISSION}}
    tasks:
      server:
        cmd: "echo $GREETING && sleep 1000"
        cpus: 0.1
        memory: 32
        env:
          GREETING: "{{GREETING}}"
          DB_PASSWORD: "{{DB_PASSWORD}}"
          DB_URL: "postgres://app:{{DB_PASSWORD}}@db:5432/app"
          RATIO: 0.5
          ENABLED: true
        configs:
          app:
            template: app.conf
            dest: app.conf
`

// load renders svc with env (templates from a temporary directory).
func load(t *testing.T, env ...string) *Configuration {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.conf"), []byte("greeting={{GREETING}}\n"), 0o644)
	env = append([]string{"COUNT=3", "GREETING=hello", "DB_PASSWORD=s3cr3t-pw"}, env...)
	l, err := spec.Parse([]byte(svc), spec.Options{Env: env, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return FromLoaded(l, env, "alice", "svc-role", "")
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestUpdate walks the configuration updater through a service's life:
// first start, the same again, a change, refused changes (the target
// stays, the errors name the validator), and a change allowed again.
func TestUpdate(t *testing.T) {
	st := openStore(t)
	first := load(t)
	r, err := Update(st, first, false)
	if err != nil || !r.Changed || r.Previous != nil || r.Target != first || len(r.Errors) > 0 {
		t.Fatalf("first start: %+v %v", r, err)
	}
	if id, _, _ := st.Target(); id != first.ID {
		t.Fatalf("stored target %s, want %s", id, first.ID)
	}

	r, err = Update(st, load(t), false)
	if err != nil || r.Changed || r.Previous == nil || r.Target.ID != first.ID {
		t.Fatalf("same configuration: %+v %v", r, err)
	}

	changed := load(t, "GREETING=bonjour")
	r, err = Update(st, changed, false)
	if err != nil || !r.Changed || r.Target != changed || r.Previous.ID != first.ID || changed.ID == first.ID {
		t.Fatalf("changed: %+v %v", r, err)
	}
	if tpl, _ := r.Previous.Template("web", "server", "app"); tpl != "greeting={{GREETING}}\n" {
		t.Errorf("previous template %q", tpl)
	}

	for _, tc := range []struct {
		name     string
		c        *Configuration
		deployed bool
		want     string
	}{
		{"count shrinks", load(t, "GREETING=bonjour", "COUNT=2"), true, "pods.web.count: 2: pod web cannot shrink from 3 instances without allow-decommission: true (line 4) [PodSpecsCannotShrink]"},
		{"user", withReg(load(t, "GREETING=bonjour"), "bob", "svc-role", ""), true, `scheduler.user: "bob": the service's user cannot change from "alice" (scheduler.user, else --user): revert it to "alice" [UserCannotChange]`},
		{"region", withReg(load(t, "GREETING=bonjour"), "alice", "svc-role", "eu"), true, `region (SERVICE_REGION): "eu": the service's region cannot change from "" [RegionCannotChange]`},
		{"role before a deployment completed", withReg(load(t, "GREETING=bonjour"), "alice", "other-role", ""), false, `role (--role): "other-role": the service's role cannot change from "svc-role" before a deployment has completed: finish the deployment with role "svc-role" first [ServiceRoleCannotChangeOnIncompleteDeployment]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Update(st, tc.c, tc.deployed)
			if err != nil || r.Changed || r.Target.ID != changed.ID || strings.Join(r.Errors, "\n") != tc.want {
				t.Fatalf("got %+v %v\nerrors %q\nwant %q", r, err, r.Errors, tc.want)
			}
			if id, _, _ := st.Target(); id != changed.ID {
				t.Errorf("target moved to %s", id)
			}
		})
	}

	// The role may change once deployed (it is recorded: same ID, new role).
	r, err = Update(st, withReg(load(t, "GREETING=bonjour"), "alice", "other-role", ""), true)
	if err != nil || !r.Changed || len(r.Errors) > 0 {
		t.Fatalf("role after a deployment: %+v %v", r, err)
	}
	shrunk := load(t, "GREETING=bonjour", "COUNT=2", "DECOMMISSION=true")
	r, err = Update(st, withReg(shrunk, "alice", "other-role", ""), true)
	if err != nil || !r.Changed || len(r.Errors) > 0 {
		t.Fatalf("shrink with allow-decommission: %+v %v", r, err)
	}
	cs, _ := st.Configurations()
	if len(cs) != 3 {
		t.Errorf("%d configurations stored, want 3 (nothing deletes them but the scheduler)", len(cs))
	}
}

// svcVolume is a pod whose task has a volume of {{SIZE}} MB.
const svcVolume = `name: svc
pods:
  db:
    count: 1
    tasks:
      node:
        cmd: "sleep 1000"
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: {{SIZE}}}
`

// TestVolumesChangeWithTheRole: TaskVolumesCannotChange refuses a changed
// volume only while the role stays the same, as the SDK's
// DefaultConfigValidators.getRoleValidators applies it; with a new role
// the volume may change once a deployment has completed, and before that
// only ServiceRoleCannotChangeOnIncompleteDeployment refuses it.
func TestVolumesChangeWithTheRole(t *testing.T) {
	loadVolume := func(size, role string) *Configuration {
		t.Helper()
		env := []string{"SIZE=" + size}
		l, err := spec.Parse([]byte(svcVolume), spec.Options{Env: env, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return FromLoaded(l, env, "alice", role, "")
	}
	const volumes = "pods.db.tasks.node.volumes: the task's volumes cannot change (volumes must be equal) (line 6) [TaskVolumesCannotChange]"
	const role = `role (--role): "new-role": the service's role cannot change from "svc-role" before a deployment has completed: finish the deployment with role "svc-role" first [ServiceRoleCannotChangeOnIncompleteDeployment]`
	for _, tc := range []struct {
		name     string
		size     string
		role     string
		deployed bool
		want     string // the errors; "" when the candidate becomes the target
	}{
		{"same role, volume changed", "200", "svc-role", true, volumes},
		{"same role, volume changed, not deployed", "200", "svc-role", false, volumes},
		{"new role, volume changed", "200", "new-role", true, ""},
		{"new role, volume changed, not deployed", "200", "new-role", false, role},
		{"new role, same volume", "100", "new-role", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			if _, err := Update(st, loadVolume("100", "svc-role"), false); err != nil {
				t.Fatal(err)
			}
			c := loadVolume(tc.size, tc.role)
			r, err := Update(st, c, tc.deployed)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(r.Errors, "\n"); got != tc.want {
				t.Errorf("errors %q\nwant %q", got, tc.want)
			}
			if taken := r.Target == c; taken != (tc.want == "") {
				t.Errorf("candidate taken: %v, want %v", taken, tc.want == "")
			}
		})
	}
}

func withReg(c *Configuration, user, role, region string) *Configuration {
	c.User, c.Role, c.Region = user, role, region
	return c
}

// TestUpdateUnreadableTarget: a target that cannot be read back is
// replaced (the caller logs PreviousErr); nothing is validated against it.
func TestUpdateUnreadableTarget(t *testing.T) {
	st := openStore(t)
	if err := st.SetTarget("0123456789abcdef0123456789abcdef", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	c := load(t)
	r, err := Update(st, c, false)
	if err != nil || !r.Changed || r.Previous != nil || r.PreviousErr == nil || r.Target != c {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestRoundTrip: a stored configuration reads back with its ID, templates,
// TASKCFG_* variables and registration; TASKCFG_* variables make the ID.
func TestRoundTrip(t *testing.T) {
	c := load(t, "TASKCFG_ALL_LEVEL=debug", "TASKCFG_WEB_API_TOKEN=tok-123", "OTHER=x")
	plain := load(t)
	if c.ID == plain.ID || len(c.ID) != 32 || !ValidID(c.ID) || ValidID("nope") {
		t.Errorf("IDs %s %s", c.ID, plain.ID)
	}
	if strings.Join(c.TaskCfg, " ") != "TASKCFG_ALL_LEVEL=debug TASKCFG_WEB_API_TOKEN=tok-123" {
		t.Errorf("taskcfg %q", c.TaskCfg)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != c.ID || back.User != "alice" || back.Role != "svc-role" || string(back.Rendered) != string(c.Rendered) || strings.Join(back.TaskCfg, " ") != strings.Join(c.TaskCfg, " ") {
		t.Errorf("read back %+v", back)
	}
	if tpl, ok := back.Template("web", "server", "app"); !ok || tpl != "greeting={{GREETING}}\n" {
		t.Errorf("template %q %v", tpl, ok)
	}
	if _, ok := back.Template("web", "server", "nope"); ok {
		t.Error("a template that does not exist")
	}
	if _, err := Unmarshal([]byte(`{"id":"x","svc.yml":"pods: [1"}`)); err == nil {
		t.Error("a corrupt configuration reads back")
	}
}

// TestView: the API's view keeps svc.yml's order and types and shows no
// secret, in the spec or in TASKCFG_* variables.
func TestView(t *testing.T) {
	c := load(t, "TASKCFG_WEB_API_TOKEN=tok-123", "TASKCFG_ALL_LEVEL=debug")
	b, err := c.View()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cr3t-pw") || strings.Contains(string(b), "tok-123") {
		t.Fatalf("a secret shows: %s", b)
	}
	var v struct {
		ID   string
		Spec struct {
			Name string
			Pods map[string]struct {
				Count int
				Tasks map[string]struct {
					Env map[string]any
				}
			}
		}
		Templates map[string]string
		TaskCfg   map[string]string
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	env := v.Spec.Pods["web"].Tasks["server"].Env
	if v.ID != c.ID || v.Spec.Name != "svc" || v.Spec.Pods["web"].Count != 3 || env["GREETING"] != "hello" || env["RATIO"] != 0.5 || env["ENABLED"] != true ||
		env["DB_PASSWORD"] != "********" || !strings.Contains(env["DB_URL"].(string), "app:********@db") {
		t.Errorf("view %s", b)
	}
	if v.TaskCfg["TASKCFG_WEB_API_TOKEN"] != "********" || v.TaskCfg["TASKCFG_ALL_LEVEL"] != "debug" || v.Templates["web/server/app"] == "" {
		t.Errorf("view %s", b)
	}
	if i, j := strings.Index(string(b), `"name"`), strings.Index(string(b), `"pods"`); i > j {
		t.Errorf("order lost: %s", b)
	}
}

func TestUnused(t *testing.T) {
	got := Unused([]string{"c", "a", "t", "b"}, "t", map[string]bool{"b": true})
	if strings.Join(got, " ") != "a c" {
		t.Errorf("%q", got)
	}
}
