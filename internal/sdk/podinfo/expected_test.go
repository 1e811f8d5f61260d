package podinfo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/spec"
)

// launchOf builds a launch of pod web's instance 1 of svc (templates from
// templates, pod name "web") with b, as a deploy would.
func launchOf(t *testing.T, b *Builder, yaml string, paused map[string]bool) (*spec.PodSpec, map[string]*mesos.TaskInfo) {
	t.Helper()
	pod := podOf(t, yaml, "x={{X}}")
	r := &evaluate.Requirement{Pod: pod, Index: 1, Tasks: pod.TaskNames(), Paused: paused}
	l, err := b.Build(recommend(t, pod, r), "fw-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*mesos.TaskInfo{}
	for _, ti := range l.TaskInfos {
		out[ti.Name] = ti
	}
	return pod, out
}

// podOf parses yaml (app.mustache holding template) and returns pod web.
func podOf(t *testing.T, yaml, template string) *spec.PodSpec {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.mustache"), []byte(template), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := spec.Parse([]byte(yaml), spec.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return l.Spec.Pod("web")
}

// TestExpectedAndDiff launches a pod instance, then compares it with what
// configurations built from changed specs would launch in its place: an
// unchanged spec on another configuration ID, a moved API and new artifact
// versions differ in nothing that matters; each change of one part is
// named by Diff, one case per part of a TaskInfo.
func TestExpectedAndDiff(t *testing.T) {
	old := newBuilder(t, nil)
	_, running := launchOf(t, old, svcYAML, nil)
	templates := map[string]string{"cfg1": "x={{X}}", "cfg2": "x={{X}}"}
	resolve := func(cfg, pod, task, name string) (string, bool) {
		if pod != "web" || task != "server" || name != "app" {
			return "", false
		}
		c, ok := templates[cfg]
		return c, ok
	}
	tests := []struct {
		name     string
		yaml     string
		template string
		mutate   func(*Config)
		paused   map[string]bool
		edit     func(ti *mesos.TaskInfo) // on the expected server TaskInfo
		want     []string                 // parts of web-1-server that differ
		wantSide []string
	}{
		{name: "the same spec, another configuration, API, artifacts, key type", mutate: func(c *Config) {
			c.ConfigID, c.APIHostname, c.APIPort = "cfg2", "api2.example", 9090
			c.ArtifactDigests = map[string]string{"bootstrap": "d2"}
		}},
		{name: "command", yaml: strings.Replace(svcYAML, `cmd: "./server"`, `cmd: "./server --v2"`, 1), want: []string{PartCommand}},
		{name: "environment (svc.yml)", yaml: strings.Replace(svcYAML, "B: b}", "B: c}", 1), want: []string{PartEnvironment}},
		{name: "environment (TASKCFG_*)", mutate: func(c *Config) { c.Env = []string{"TASKCFG_ALL_LEVEL=info", "TASKCFG_WEB_GREETING=hello"} },
			want: []string{PartEnvironment}, wantSide: []string{PartEnvironment}},
		{name: "environment (a secret's value)", mutate: func(c *Config) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "db-password"), []byte("hunter3\n"), 0o600)
			c.Secrets = DirSecrets(dir)
		}, want: []string{PartEnvironment}, wantSide: []string{PartEnvironment}},
		{name: "tls", yaml: strings.Replace(svcYAML, "[{name: server, type: TLS}]", "[{name: server, type: TLS}, {name: admin, type: KEYSTORE}]", 1), want: []string{PartTLS}},
		{name: "tls names (a VIP's prefix)", yaml: strings.Replace(svcYAML, "vip: {prefix: web, port: 443}", "vip: {prefix: www, port: 443}", 1), want: []string{PartTLS, PartDiscovery}},
		{name: "resources", yaml: strings.Replace(svcYAML, "cpus: 0.5", "cpus: 1", 1), want: []string{PartResources}},
		{name: "resources (a fixed port)", yaml: strings.Replace(svcYAML, "https: {port: 0,", "https: {port: 31005,", 1), want: []string{PartEnvironment, PartResources, PartDiscovery}},
		{name: "uris", yaml: strings.Replace(svcYAML, "app.tar.gz", "app-2.tar.gz", 1), want: []string{PartURIs}, wantSide: []string{PartURIs}},
		{name: "configs (a template's content)", template: "x={{X}}!", mutate: func(c *Config) { c.ConfigID = "cfg3" }, want: []string{PartConfigs}},
		{name: "configs (a new one)", yaml: strings.Replace(svcYAML, "app: {template: app.mustache, dest: conf/app.conf}", "app: {template: app.mustache, dest: conf/app.conf}\n          more: {template: app.mustache, dest: conf/more.conf}", 1),
			want: []string{PartEnvironment, PartConfigs}},
		{name: "health-check", yaml: strings.Replace(svcYAML, "interval: 5,", "interval: 6,", 1), want: []string{PartHealthCheck}},
		{name: "readiness-check", yaml: strings.Replace(svcYAML, `cmd: "./ready"`, `cmd: "./ready --deep"`, 1), want: []string{PartReadinessCheck}},
		{name: "kill-policy", yaml: strings.Replace(svcYAML, "kill-grace-period: 5", "kill-grace-period: 15", 1), want: []string{PartKillPolicy}},
		{name: "kill-policy (one added)", yaml: strings.Replace(svcYAML, "essential: false", "essential: false\n        kill-grace-period: 10", 1), wantSide: []string{PartKillPolicy}},
		{name: "labels", yaml: strings.Replace(svcYAML, "essential: false", "essential: true", 1), wantSide: []string{PartLabels}},
		{name: "discovery", yaml: strings.Replace(svcYAML, "visibility: CLUSTER", "visibility: EXTERNAL", 1), wantSide: []string{PartDiscovery}},
		{name: "executor", mutate: func(c *Config) { c.Executor = ExecutorTaskkit }, want: []string{PartExecutor}, wantSide: []string{PartExecutor}},
		{name: "container", edit: func(ti *mesos.TaskInfo) { ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()} }, want: []string{PartContainer}},
		{name: "limits", edit: func(ti *mesos.TaskInfo) { ti.Limits = map[string]mesos.Value_Scalar{"cpus": {Value: 2}} }, want: []string{PartLimits}},
		{name: "other", edit: func(ti *mesos.TaskInfo) { ti.MaxCompletionTime = &mesos.DurationInfo{Nanoseconds: 1} }, want: []string{PartOther}},
		{name: "paused", paused: map[string]bool{"server": true}, want: []string{PartCommand, PartHealthCheck, PartReadinessCheck, PartLabels}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml, tpl := svcYAML, "x={{X}}"
			if tc.yaml != "" {
				yaml = tc.yaml
			}
			if tc.template != "" {
				tpl = tc.template
				templates["cfg3"] = tpl
			}
			pod := podOf(t, yaml, tpl)
			b := newBuilder(t, tc.mutate)
			want, err := b.Expected(&evaluate.Requirement{Pod: pod, Index: 1, Tasks: pod.TaskNames(), Paused: tc.paused}, running, "fw-1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(want["web-1-server"])
			}
			if got := Diff(running["web-1-server"], want["web-1-server"], resolve); !slices.Equal(got, tc.want) {
				t.Errorf("server: %v, want %v", got, tc.want)
			}
			if got := Diff(running["web-1-side"], want["web-1-side"], resolve); !slices.Equal(got, tc.wantSide) {
				t.Errorf("side: %v, want %v", got, tc.wantSide)
			}
		})
	}
}

// TestDiffNoKillPolicy: a task stored without a kill policy (launched
// before the builder always wrote one) is up to date with a grace of 0 s,
// what its svc.yml says; not with any other.
func TestDiffNoKillPolicy(t *testing.T) {
	_, running := launchOf(t, newBuilder(t, nil), svcYAML, nil)
	none := func(string, string, string, string) (string, bool) { return "", false }
	want := running["web-1-side"]
	if want.GetKillPolicy().GetGracePeriod() == nil {
		t.Fatalf("side launched with kill policy %v, want grace 0", want.KillPolicy)
	}
	old := *want
	old.KillPolicy = nil
	if got := Diff(&old, want, none); len(got) != 0 {
		t.Errorf("no kill policy against grace 0: %v, want none", got)
	}
	if got := Diff(&old, running["web-1-server"], none); !slices.Contains(got, PartKillPolicy) {
		t.Errorf("no kill policy against grace 5 s: %v, want %s among them", got, PartKillPolicy)
	}
}

// TestExpectedKeepsPlacement: what Expected builds runs where the stored
// task runs, with its dynamic ports; a task launched paused compares equal
// to a paused build, and its label says so.
func TestExpectedKeepsPlacement(t *testing.T) {
	b := newBuilder(t, nil)
	pod, running := launchOf(t, b, svcYAML, map[string]bool{"server": true})
	server := running["web-1-server"]
	if label(server, LabelGoalOverride) != GoalOverridePaused || server.HealthCheck != nil || server.Check != nil || server.GetCommand().GetValue() != DefaultPauseCommand {
		t.Fatalf("paused launch %v", server)
	}
	if label(server, LabelTaskType) != "web" || label(server, LabelTaskIndex) != "1" {
		t.Errorf("labels %v", server.Labels)
	}
	want, err := b.Expected(&evaluate.Requirement{Pod: pod, Index: 1, Tasks: pod.TaskNames(), Paused: map[string]bool{"server": true}}, running, "fw-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := want["web-1-server"]
	if w.AgentID.Value != "agent-1" || env(w)["PORT_HTTPS"] != "31000" || env(w)["ZONE"] != "eu-1a" {
		t.Errorf("expected %v", w)
	}
	none := func(string, string, string, string) (string, bool) { return "", false }
	if d := Diff(server, w, none); len(d) != 0 {
		t.Errorf("paused vs paused: %v", d)
	}
	if _, err := b.Expected(&evaluate.Requirement{Pod: pod, Index: 1, Tasks: pod.TaskNames()}, nil, "fw-1", nil); err == nil {
		t.Error("nothing to compare with")
	}
}
