package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

const minimal = `name: svc
pods:
  hello:
    count: 1
    tasks:
      server:
        cmd: sleep 1000
        cpus: 0.1
        memory: 32
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every substring must appear
	}{
		{"unknown task field", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        bogus: 1", 1),
			[]string{"pods.hello.tasks.server.bogus: unknown field (line 9)"}},
		{"unsupported volumes", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        volumes: {}", 1),
			[]string{"pods.hello.tasks.server.volumes: not supported by scheduler-lite (volumes)"}},
		{"unsupported pod image", strings.Replace(minimal, "count: 1", "count: 1\n    image: x", 1),
			[]string{"pods.hello.image: not supported"}},
		{"unknown top level", minimal + "extra: 1\n", []string{"extra: unknown field"}},
		{"several at once", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        a: 1\n        rlimits: {}", 1),
			[]string{"pods.hello.tasks.server.a", "pods.hello.tasks.server.rlimits"}},
		{"unknown port field", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        ports:\n          http:\n            port: 0\n            ranges: []", 1),
			[]string{"pods.hello.tasks.server.ports.http.ranges: not supported"}},
		{"duplicate key", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        cpus: 0.2", 1),
			[]string{"already defined"}},
		{"bad types", strings.Replace(strings.Replace(minimal, "cpus: 0.1", "cpus: lots", 1), "count: 1", "count: [1]", 1),
			[]string{"pods.hello.tasks.server.cpus: \"lots\" is not a number (line 8)", "pods.hello.count: want a int"}},
		{"validation collected", `name: a__b
pods:
  hello:
    count: -1
    tasks:
      server:
        goal: SOMETIMES
        memory: 0
`, []string{"name: \"a__b\" must not contain", "pods.hello.count", "pods.hello.tasks.server.goal", "pods.hello.tasks.server.cmd: required",
			"pods.hello.tasks.server.cpus: must be positive", "pods.hello.tasks.server.memory: must be positive"}},
		{"no pods", "name: x\n", []string{"pods: at least one pod"}},
		{"bad placement", strings.Replace(minimal, "count: 1", "count: 1\n    placement: hostname:SOMETIMES", 1), []string{"pods.hello.placement", "unknown operator"}},
		{"missing template", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        configs:\n          c:\n            template: nope.mustache\n            dest: c.conf", 1),
			[]string{"pods.hello.tasks.server.configs.c.template", "no such file"}},
		{"plan with unknown pod and task", minimal + `plans:
  deploy:
    strategy: sideways
    phases:
      p:
        pod: nope
      q:
        pod: hello
        strategy: parallel-canary
        steps:
          - 0: [[server, ghost]]
          - 5: [[server]]
`, []string{"plans.deploy.strategy", "plans.deploy.phases.p.pod: \"nope\"", "\"ghost\" is not a task", "instance 5 is beyond"}},
		{"transport encryption", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        transport-encryption:\n          - name: s\n            type: PGP", 1),
			[]string{"transport-encryption[0].type"}},
		{"resource set and own resources", strings.Replace(minimal, "count: 1", "count: 1\n    resource-sets:\n      rs:\n        cpus: 1\n        memory: 10", 1) + "        resource-set: rs\n",
			[]string{"either a resource set or its own"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), Options{Dir: t.TempDir()})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	text := "a: {{A}}\n{{#ON}}b: on\n{{/ON}}{{^ON}}b: off\n{{/ON}}c: {{ON}}\nd: {{NOPE}}\n"
	tests := []struct {
		env     []string
		want    string
		missing []string
	}{
		{[]string{"A=1", "ON=true"}, "a: 1\nb: on\nc: true\nd: \n", []string{"NOPE"}},
		{[]string{"A=1", "ON=FALSE"}, "a: 1\nb: off\nc: FALSE\nd: \n", []string{"NOPE"}},
		{[]string{"ON=", "NOPE=x"}, "a: \nb: off\nc: \nd: x\n", []string{"A"}},
	}
	for i, tc := range tests {
		got, missing, err := Render(text, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want || strings.Join(missing, ",") != strings.Join(tc.missing, ",") {
			t.Errorf("%d: got %q %v, want %q %v", i, got, missing, tc.want, tc.missing)
		}
	}
	_, err := Parse([]byte("name: {{NAME}}\n"+strings.SplitN(minimal, "\n", 2)[1]), Options{Strict: true})
	if !errors.Is(err, ErrMissingVariables) || !strings.Contains(err.Error(), "NAME") {
		t.Fatalf("strict: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	l, err := Parse([]byte(strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        health-check:\n          cmd: true\n          interval: 3", 1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	task := l.Spec.Pod("hello").Tasks.Values[0]
	if task.Goal != GoalRunning || !task.IsEssential() || task.Name != "server" {
		t.Errorf("task defaults: %+v", task)
	}
	hc := task.HealthCheck
	if hc.Interval != 3 || hc.Delay != 15 || hc.Timeout != 20 || hc.GracePeriod != 10 || hc.MaxConsecutiveFailures != 3 {
		t.Errorf("health-check defaults: %+v", hc)
	}
}

func TestPlacement(t *testing.T) {
	tests := []struct {
		in   string
		want []Constraint
		err  bool
	}{
		{"hostname:UNIQUE", []Constraint{{Field: "hostname", Op: "UNIQUE"}}, false},
		{"hostname:MAX_PER:2", []Constraint{{Field: "hostname", Op: "MAX_PER", Value: "2", N: 2}}, false},
		{`[["@zone","GROUP_BY","3"],["@region","IS","r1"]]`, []Constraint{{Field: "@zone", Op: "GROUP_BY", Value: "3", N: 3}, {Field: "@region", Op: "IS", Value: "r1"}}, false},
		{"@zone:GROUP_BY", []Constraint{{Field: "@zone", Op: "GROUP_BY"}}, false},
		{"hostname:MAX_PER:x", nil, true},
		{"hostname", nil, true},
		{"a:LIKE:(", nil, true},
	}
	for _, tc := range tests {
		got, err := ParsePlacement(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.in, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %+v", tc.in, got)
			continue
		}
		for i := range got {
			got[i].Regexp = nil
			if got[i] != tc.want[i] {
				t.Errorf("%s: got %+v want %+v", tc.in, got[i], tc.want[i])
			}
		}
	}
}

// TestGolden decodes the example services and compares the result, re-encoded
// as YAML with defaults filled in, with testdata/*.golden.
func TestGolden(t *testing.T) {
	cases := map[string]string{"hello-world": "../../examples/hello-world/svc.yml"}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			l, err := Load(path, Options{Env: []string{"ARTIFACTS_URL=http://sched/v1/artifacts", "HELLO_COUNT=2", "HELLO_GREETING=Hi"}, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range l.Spec.Pods.Values {
				for _, tk := range p.Tasks.Values {
					for _, c := range tk.Configs.Values {
						c.Content = "" // kept in the example, not here
					}
				}
			}
			got, err := yaml.Marshal(l.Spec)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("decoded spec differs from %s (go test -update):\n%s", golden, got)
			}
		})
	}
}
