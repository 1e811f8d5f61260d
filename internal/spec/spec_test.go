package spec

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestProblems checks how problems are reported: every one at once with its
// path and the line of the offending node, duplicates naming both lines.
func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // the problems, in order
	}{
		{"unknown task field", strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        bogus: 1", 1),
			[]string{"pods.hello.tasks.server.bogus: unknown field (line 9)"}},
		{"misspelt fields: the field meant is named", strings.Replace(strings.Replace(minimal, "cpus: 0.1", "cpu: 0.1\n        readiness_check: {cmd: ./ready}", 1), "count: 1", "count: 1\n    placment: hostname:UNIQUE", 1),
			[]string{
				"pods.hello.placment: unknown field: did you mean placement? (the SDK ignores unknown pod fields; scheduler-lite rejects them) (line 5)",
				"pods.hello.tasks.server.cpu: unknown field: did you mean cpus? (line 9)",
				"pods.hello.tasks.server.readiness_check: unknown field: did you mean readiness-check? (line 10)",
			}},
		{"bad value deep in the file", minimal + `plans:
  deploy:
    phases:
      p:
        pod: hello
        strategy: serial
        steps:
          - 0: [[server, {x: y}]]
`, []string{"plans.deploy.phases.p.steps[0].0[0][1]: want a string, got a mapping (line 17)"}},
		{"duplicate at the top", minimal + "name: again\n", []string{"name: defined twice: first at line 1 (line 10)"}},
		// Two entries whose secrets would be the same TLS_<NAME>_* variables.
		{"transport-encryption names meeting in their variables", minimal + "        transport-encryption:\n          - {name: web-1, type: TLS}\n          - {name: node, type: TLS}\n          - {name: WEB_1, type: KEYSTORE}\n",
			[]string{`pods.hello.tasks.server.transport-encryption[2].name: "WEB_1": its variables (TLS_WEB_1_KEY, ...) are those of transport-encryption[0] too; give the task names that differ in more than case, '.', '-' and '_' (line 13)`}},
		{"duplicate pod", minimal + "  hello:\n    count: 2\n", []string{"pods.hello: defined twice: first at line 3 (line 10)"}},
		{"duplicate in a list item", minimal + "plans:\n  p:\n    phases:\n      a:\n        pod: hello\n        steps:\n          - 0: [[server]]\n            0: [[server]]\n",
			[]string{"plans.p.phases.a.steps[0].0: defined twice: first at line 16 (line 17)"}},
		{"several rounds at once", `name: a__b
pods:
  hello:
    count: lots
    tasks:
      server:
        goal: SOMETIMES
        cpus: 1
        cpus: 2
        gpus: 1
plans: {deploy: {phases: {p: {pod: nope}}}}
`, []string{
			"name: \"a__b\": a service name may not contain double underscores (line 1)",
			"pods.hello.count: want a whole number, got \"lots\" (line 4)",
			"pods.hello.tasks.server.cmd: required (line 6)",
			"pods.hello.tasks.server.goal: unsupported goal \"SOMETIMES\": want RUNNING, FINISH or ONCE (line 7)",
			"pods.hello.tasks.server.cpus: defined twice: first at line 8 (line 9)",
			"pods.hello.tasks.server.gpus: not supported by scheduler-lite (GPUs) (line 10)",
			"plans.deploy.phases.p.pod: \"nope\" is not a pod of this service (line 11)",
		}},
		{"a consequence is not reported twice", strings.Replace(minimal, "memory: 32\n", "", 1) + "",
			nil},
		{"wrong type without its consequence", strings.Replace(strings.Replace(minimal, "memory: 32\n", "", 1), "cpus: 0.1", "cpus: lots", 1),
			[]string{"pods.hello.tasks.server.cpus: want a number, got \"lots\" (line 8)"}},
		{"null pod", "name: x\npods:\n  hello:\n", []string{"pods.hello.count: required (line 3)", "pods.hello.tasks: at least one task is required (line 3)"}},
		{"replacement-failure-policy negative, unknown, one setting in both forms", minimal + "replacement-failure-policy:\n  permanent-failure-timeout-mins: -1\n  min-replace-delay-mins: soon\n  permanent-failure-timeout-secs: 30\n  min-replace-delay-hours: 1\n",
			[]string{
				"replacement-failure-policy.permanent-failure-timeout-mins: give permanent-failure-timeout-secs or permanent-failure-timeout-mins, not both (line 11)",
				"replacement-failure-policy.permanent-failure-timeout-mins: -1: may not be negative (line 11)",
				"replacement-failure-policy.min-replace-delay-mins: want a whole number, got \"soon\" (line 12)",
				"replacement-failure-policy.min-replace-delay-hours: unknown field (line 14)",
			}},
		{"replacement-failure-policy beyond the SDK's Integer seconds", minimal + "replacement-failure-policy:\n  permanent-failure-timeout-secs: 2147483648\n  min-replace-delay-mins: 35791395\n",
			[]string{
				"replacement-failure-policy.permanent-failure-timeout-secs: 2147483648: at most 2147483647 (2147483647 seconds, the SDK's Integer) (line 11)",
				"replacement-failure-policy.min-replace-delay-mins: 35791395: at most 35791394 (2147483647 seconds, the SDK's Integer) (line 12)",
			}},
		{"alias", strings.Replace(minimal, "cpus: 0.1", "cpus: &c 0.1\n        memory: *c", 1) + "",
			[]string{"pods.hello.tasks.server.memory: defined twice: first at line 9 (line 10)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), Options{Dir: t.TempDir()})
			var got []string
			if err != nil {
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("not a list of problems: %v", err)
				}
				for _, p := range ps {
					got = append(got, p.Error())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestTemplateLines: problems name the line of svc.yml as written, though
// rendering removed lines (comments, sections, unset sections) and added
// some (a multi-line value) before it (issue 16: "a bad value on line 11
// is reported at line 2").
func TestTemplateLines(t *testing.T) {
	text := `{{! a header comment
   over two lines }}
{{#NOPE}}
name: never
{{/NOPE}}
name: svc
{{#YES}}
pods:
{{/YES}}
  hello:
    count: 1
    tasks:
      server:
        cmd: |
          {{CMD}}
        cpus: lots
        memory: 32
`
	env := []string{"YES=true", "CMD=echo one\n          echo two\n          echo three"}
	_, err := Parse([]byte(text), Options{Env: env})
	if err == nil || err.Error() != "pods.hello.tasks.server.cpus: want a number, got \"lots\" (line 16)" {
		t.Errorf("value: %v", err)
	}
	_, err = Parse([]byte(strings.Replace(text, "memory: 32", "memory: 32\n      : x", 1)), Options{Env: env})
	if err == nil || err.Error() != "decoding YAML: line 18: did not find expected key" {
		t.Errorf("syntax: %v", err)
	}
	_, err = Parse([]byte(strings.Replace(text, "{{CMD}}", "{{CMD}}\n        cpus: 2", 1)), Options{Env: env})
	if err == nil || !strings.Contains(err.Error(), "pods.hello.tasks.server.cpus: defined twice: first at line 16 (line 17)") {
		t.Errorf("duplicate after a multi-line value: %v", err)
	}
}

// TestSyntaxErrorLines: a YAML syntax error names the offending line, not
// where its enclosing block began, as yaml.v3 does.
func TestSyntaxErrorLines(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"a key missing deep in a mapping", minimal + "      : x\n", "decoding YAML: line 10: did not find expected key"},
		{"a tab for indentation", strings.Replace(minimal, "        memory: 32", "\tmemory: 32", 1), "decoding YAML: line 9: found a tab character that violates indentation"},
		{"a tab starting a key", strings.Replace(minimal, "    count: 1", "\tcount: 1", 1), "decoding YAML: line 4: found character that cannot start any token (a tab: YAML indents with spaces only)"},
		{"a bad list item", minimal + "plans:\n  deploy:\n    phases:\n      p:\n        steps:\n          - 0: [[a]]\n         - 1: [[b]]\n", "decoding YAML: line 16: did not find expected key"},
		{"an unclosed quote: where it opens", strings.Replace(minimal, "cmd: sleep 1000", `cmd: "sleep 1000`, 1), "decoding YAML: line 7: found unexpected end of stream"},
	} {
		_, err := Parse([]byte(tc.yaml), Options{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
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
	text := strings.Replace(minimal, "cpus: 0.1", `goal: once
        cpus: "0.1"
        essential: "false"
        readiness-check:
          cmd: ./ready
          interval: 3
          timeout: 4
        ports:
          http:
            port: 0
            vip:
              port: 80`, 1) + `plans:
  deploy:
    phases:
      p:
        pod: hello
        strategy: canary
`
	l, err := Parse([]byte(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	task := l.Spec.Pod("hello").Tasks.Values[0]
	if task.Goal != GoalOnce || task.IsEssential() || task.Name != "server" || task.CPUs != 0.1 {
		t.Errorf("task: %+v", task)
	}
	if rc := task.ReadinessCheck; rc.Delay != 0 || rc.Interval != 3 || rc.Timeout != 4 {
		t.Errorf("readiness-check: %+v", rc)
	}
	if vip := task.Ports.Values[0].VIP; vip.Prefix != "http" {
		t.Errorf("vip prefix %q, want the port's name", vip.Prefix)
	}
	pl, _ := l.Spec.Plans.Get("deploy")
	if pl.Strategy != StrategySerial || pl.Phases.Values[0].Strategy != StrategySerialCanary {
		t.Errorf("strategies: plan %s, phase %s", pl.Strategy, pl.Phases.Values[0].Strategy)
	}
	l, err = Parse([]byte(strings.Replace(minimal, "cpus: 0.1", "cpus: 0.1\n        goal: \"\"", 1)), Options{})
	if err != nil || l.Spec.Pod("hello").Tasks.Values[0].Goal != GoalRunning {
		t.Errorf("goal default: %v", err)
	}
}

// TestReplacementFailurePolicy: absent, no policy (the SDK's
// NeverFailureMonitor); given, each setting in seconds or in minutes, and a
// setting left out takes the SDK builder's default.
func TestReplacementFailurePolicy(t *testing.T) {
	tests := []struct {
		name             string
		yaml             string
		timeout, between time.Duration
		none             bool
	}{
		{"absent", "", 0, 0, true},
		{"null", "replacement-failure-policy:\n", 0, 0, true},
		{"empty", "replacement-failure-policy: {}\n", 20 * time.Minute, 10 * time.Minute, false},
		{"timeout only", "replacement-failure-policy: {permanent-failure-timeout-mins: 5}\n", 5 * time.Minute, 10 * time.Minute, false},
		{"both, zero", "replacement-failure-policy: {permanent-failure-timeout-mins: 0, min-replace-delay-mins: \"0\"}\n", 0, 0, false},
		// The SDK's form since 0.58 (2020).
		{"seconds", "replacement-failure-policy: {permanent-failure-timeout-secs: 120, min-replace-delay-secs: 240}\n", 120 * time.Second, 240 * time.Second, false},
		{"timeout in seconds only", "replacement-failure-policy: {permanent-failure-timeout-secs: 90}\n", 90 * time.Second, 10 * time.Minute, false},
		{"one in each form", "replacement-failure-policy: {permanent-failure-timeout-mins: 2, min-replace-delay-secs: 0}\n", 2 * time.Minute, 0, false},
		{"the SDK's Integer seconds at most", "replacement-failure-policy: {permanent-failure-timeout-secs: 2147483647, min-replace-delay-mins: 35791394}\n", 2147483647 * time.Second, 35791394 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(minimal+tc.yaml), Options{})
			if err != nil {
				t.Fatal(err)
			}
			rp := l.Spec.ReplacementFailurePolicy
			if (rp == nil) != tc.none {
				t.Fatalf("policy %+v", rp)
			}
			if rp != nil && (rp.PermanentFailureTimeout() != tc.timeout || rp.MinReplaceDelay() != tc.between) {
				t.Errorf("timeout %v, delay %v; want %v, %v", rp.PermanentFailureTimeout(), rp.MinReplaceDelay(), tc.timeout, tc.between)
			}
		})
	}
}

// TestStepTasks follows PlanGenerator: an instance's own entry, else
// default (an empty default: no step), else without custom steps one step
// with every task.
func TestStepTasks(t *testing.T) {
	pod := &PodSpec{Name: "p", Count: 3, Tasks: Ordered[*TaskSpec]{Keys: []string{"a", "b"}}}
	ph := &PhaseSpec{Steps: []map[string][][]string{{"0": {{"a"}, {"b"}}}, {"default": {}}}}
	for i, want := range []string{"[[a] [b]]", "[]", "[]"} {
		if got := fmt.Sprint(ph.StepTasks(pod, i)); got != want {
			t.Errorf("instance %d: %s, want %s", i, got, want)
		}
	}
	if got := fmt.Sprint((&PhaseSpec{}).StepTasks(pod, 1)); got != "[[a b]]" {
		t.Errorf("no custom steps: %s", got)
	}
}

// TestCheckAgainstTarget runs the validators with a previous target: a name
// too long for DNS fails a new service, and only warns on a running one.
func TestCheckAgainstTarget(t *testing.T) {
	long := strings.Replace(minimal, "name: svc", "name: "+strings.Repeat("a", 64), 1)
	s, probs, err := decodeSpec([]byte(long), nil)
	if err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	errs, warnings := Check(nil, s).split()
	if len(errs) != 1 || len(warnings) != 0 || errs[0].Rule != "ServiceNameCannotBreakDNS" || errs[0].Line != 1 {
		t.Errorf("new service: %v / %v", errs, warnings)
	}
	errs, warnings = Check(s, s).split()
	if len(errs) != 0 || len(warnings) != 1 {
		t.Errorf("running service: %v / %v", errs, warnings)
	}
}

// TestDocsListEveryValidator: docs/svc-yaml.md names every validator.
func TestDocsListEveryValidator(t *testing.T) {
	b, err := os.ReadFile("../../docs/svc-yaml.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range validators {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("docs/svc-yaml.md does not list validator `%s`", v.Name)
		}
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
		{`["hostname", "max_per", 2]`, []Constraint{{Field: "hostname", Op: "MAX_PER", Value: "2", N: 2}}, false},
		{`rack:LIKE:a\,b , hostname:UNIQUE`, []Constraint{{Field: "rack", Op: "LIKE", Value: "a,b"}, {Field: "hostname", Op: "UNIQUE"}}, false},
		{"[]", nil, false},
		{"", nil, false},
		{"hostname:MAX_PER:x", nil, true},
		{"hostname:MAX_PER:0", nil, true},
		{"hostname", nil, true},
		{"a:LIKE:(", nil, true},
		{"a:LIKE", nil, true},
		{`[["a", "IS"], 3]`, nil, true},
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

// TestConfigPathsStayInside: a config's template must lie in the package
// directory and its dest in the sandbox; each bad one is named by its
// YAML field.
func TestConfigPathsStayInside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "good.mustache"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const field = "pods.app.tasks.server.configs.a."
	for _, tt := range []struct{ template, dest, field string }{
		{"good.mustache", "/tmp/evil", "dest"},
		{"good.mustache", "../../../../tmp/evil", "dest"},
		{"good.mustache", "conf/../../evil", "dest"},
		{"../../etc/passwd", "a.conf", "template"},
		{"/etc/hostname", "a.conf", "template"},
	} {
		text := minimalSpec + "        configs:\n          a:\n            template: " + tt.template + "\n            dest: " + tt.dest + "\n"
		_, err := Parse([]byte(text), Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), field+tt.field+": ") || !strings.Contains(err.Error(), "must be a relative path") {
			t.Errorf("template %s dest %s: %v, want an error naming %s", tt.template, tt.dest, err, field+tt.field)
		}
	}
	text := minimalSpec + "        configs:\n          a:\n            template: good.mustache\n            dest: conf/a.conf\n"
	if _, err := Parse([]byte(text), Options{Dir: dir}); err != nil {
		t.Errorf("good paths: %v", err)
	}
}

// TestStrictReportsEverything: under Strict a missing variable is reported
// together with the template problems of the same file.
func TestStrictReportsEverything(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	text := minimalSpec + "        env: {X: \"{{NOPE}}\"}\n        configs:\n          a:\n            template: empty\n            dest: a\n          b:\n            template: missing\n            dest: b\n"
	_, err := Parse([]byte(text), Options{Dir: dir, Strict: true})
	if !errors.Is(err, ErrMissingVariables) {
		t.Fatalf("want ErrMissingVariables, got %v", err)
	}
	for _, want := range []string{"NOPE", "configs.a.template", "is empty", "configs.b.template"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestConfigIDIdentityEnv: IdentityEnv's values stand in for Env's in the
// configuration's ID alone: two renderings that differ only there have one
// ID (the rendered text keeps the real value); any other difference, or
// none given, makes another.
func TestConfigIDIdentityEnv(t *testing.T) {
	text := []byte("name: x\npods:\n  p:\n    count: 1\n    uris: [\"{{ARTIFACTS_URL}}/a.tgz\"]\n    tasks:\n      t: {cmd: \"echo {{GREETING}}\", cpus: 0.1, memory: 32}\n")
	parse := func(url, greeting string, identity ...string) *Loaded {
		t.Helper()
		l, err := Parse(text, Options{Env: []string{"ARTIFACTS_URL=" + url, "GREETING=" + greeting}, IdentityEnv: identity})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	stable := "ARTIFACTS_URL=$ARTIFACTS_URL"
	a, b := parse("http://h:1/v1/artifacts/bin", "hi", stable), parse("http://h:2/v1/artifacts/bin", "hi", stable)
	if a.ConfigID != b.ConfigID {
		t.Errorf("moved address: IDs %s and %s, want one", a.ConfigID, b.ConfigID)
	}
	if !strings.Contains(string(b.Rendered), "http://h:2/v1/artifacts/bin/a.tgz") {
		t.Errorf("rendered text lacks the real URL:\n%s", b.Rendered)
	}
	if c := parse("http://h:2/v1/artifacts/bin", "hello", stable); c.ConfigID == a.ConfigID {
		t.Errorf("another greeting kept ID %s", c.ConfigID)
	}
	if d, e := parse("http://h:1/v1/artifacts/bin", "hi"), parse("http://h:2/v1/artifacts/bin", "hi"); d.ConfigID == e.ConfigID {
		t.Errorf("without IdentityEnv, a moved address kept ID %s", d.ConfigID)
	}
}
