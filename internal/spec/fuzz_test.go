package spec

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// fuzzBudget is what parsing one svc.yml of up to 1 MiB may cost: YAML
// nodes take about 30 times the text's size, the decoded spec and its
// problem list a few times more.
var fuzzBudget = fuzzcheck.Budget{Alloc: 256 * fuzzcheck.MiB}

// fuzzEnv is the environment fuzzed svc.yml files render with (the
// example's variables), unless the input brings its own.
var fuzzEnv = []string{"ARTIFACTS_URL=http://sched/v1/artifacts", "HELLO_COUNT=2", "HELLO_GREETING=Hi", "FRAMEWORK_NAME=svc"}

// FuzzParse feeds svc.yml texts (mustache, then YAML) and environments
// (entries separated by newlines) to Parse, templates read from
// testdata/verdicts. The corpus starts from every verdict case and the
// example service. Properties:
//   - an error is Problems, or a rendering or YAML error — never a panic;
//   - an accepted spec re-encoded as YAML (the golden files' form) parses
//     to the same encoding: decoding and the defaults are a fixed point;
//   - what the scheduler builds from an accepted spec reads back in the
//     task: every config becomes its own CONFIG_TEMPLATE_ variable whose
//     value parses to config-templates/<name> (one file in that directory)
//     and the config's destination, and every transport-encryption name
//     its own TLS_<NAME>_KEY that tlsprov finds;
//   - at most fuzzBudget per input.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/verdicts/*.yml")
	seeds = append(seeds, "../../examples/hello-world/svc.yml", "testdata/hello-world.golden")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
	}
	f.Add([]byte(minimalSpec), "A=1")
	f.Add([]byte("name: {{NAME}}\n{{#ON}}pods: {}\n{{/ON}}"), "NAME=x\nON=false")
	f.Fuzz(func(t *testing.T, text []byte, env string) {
		if len(text) > 64<<10 {
			fuzzBudget.Check(t, "Parse", func() { checkParse(t, text, env) })
			return
		}
		checkParse(t, text, env)
	})
}

const minimalSpec = `name: svc
pods:
  app:
    count: 1
    tasks:
      server:
        goal: RUNNING
        cmd: ./server
        cpus: 0.1
        memory: 32
`

func checkParse(t *testing.T, text []byte, env string) {
	opts := Options{Env: fuzzEnv, Dir: "testdata/verdicts"}
	if env != "" {
		opts.Env = strings.Split(env, "\n")
	}
	l, err := Parse(text, opts)
	if err != nil {
		var ps Problems
		if !errors.As(err, &ps) && !strings.HasPrefix(err.Error(), "rendering") && !strings.HasPrefix(err.Error(), "decoding YAML") {
			t.Fatalf("error is neither problems nor a rendering or YAML error: %v", err)
		}
		return
	}

	enc, err := yaml.Marshal(l.Spec)
	if err != nil {
		t.Fatalf("encoding an accepted spec: %v", err)
	}
	// The encoding is rendered again: only texts without mustache tags
	// can come back unchanged.
	if !bytes.Contains(enc, []byte("{{")) {
		l2, err := Parse(enc, opts)
		if err != nil {
			t.Fatalf("the accepted spec, encoded, is refused: %v\n%s", err, enc)
		}
		enc2, _ := yaml.Marshal(l2.Spec)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point:\n%s\n---\n%s", enc, enc2)
		}
	}

	for _, p := range l.Spec.Pods.Values {
		for _, tk := range p.Tasks.Values {
			checkTaskEnv(t, p.Name+"."+tk.Name, tk)
		}
	}
}

// checkTaskEnv checks that the configs and TLS names of one task survive
// the trip through the task's environment.
func checkTaskEnv(t *testing.T, where string, tk *TaskSpec) {
	var e taskenv.Env
	for _, c := range tk.Configs.Values {
		e.SetConfigTemplate(c.Name, c.Dest)
	}
	for _, te := range tk.TransportEncryption {
		e.SetTLS(te.Name, "k", "c", "a")
	}
	environ := e.Environ()
	names, vals := taskenv.ConfigTemplateVars(environ)
	if len(names) != tk.Configs.Len() {
		t.Fatalf("%s: %d configs give %d CONFIG_TEMPLATE_ variables %q", where, tk.Configs.Len(), len(names), names)
	}
	for _, c := range tk.Configs.Values {
		p := taskenv.ConfigTemplatePath(c.Name)
		if path.Dir(p) != taskenv.ConfigTemplateDir || path.Base(p) != c.Name {
			t.Fatalf("%s: config %q is fetched to %q, not a file of %s", where, c.Name, p, taskenv.ConfigTemplateDir)
		}
		src, dest, err := taskenv.ParseConfigTemplate(vals[taskenv.ConfigTemplateVar(c.Name)])
		if err != nil || src != p || dest != strings.TrimSpace(c.Dest) {
			t.Fatalf("%s: config %q to %q reads back as %q, %q, %v", where, c.Name, c.Dest, src, dest, err)
		}
	}
	var teNames []string
	for _, te := range tk.TransportEncryption {
		if !slices.Contains(teNames, te.Name) {
			teNames = append(teNames, te.Name)
		}
	}
	if got, err := taskenv.TLSSecrets(environ); len(got) != len(teNames) {
		t.Fatalf("%s: transport-encryption names %q give TLS secrets %+v (%v)", where, teNames, got, err)
	}
}

// TestParseBudget parses 1 MiB texts of several shapes within fuzzBudget:
// the example repeated (duplicate keys all over), one long mustache
// section, and a document whose aliases expand (a "billion laughs").
func TestParseBudget(t *testing.T) {
	example, err := os.ReadFile("../../examples/hello-world/svc.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{
		"example repeated":  fuzzcheck.Sized(example, fuzzcheck.MiB),
		"mustache sections": fuzzcheck.Sized([]byte("{{#A}}{{^B}}x{{/B}}{{/A}}"), fuzzcheck.MiB),
		"aliases":           aliasBomb(fuzzcheck.MiB),
	} {
		t.Run(name, func(t *testing.T) {
			c := fuzzBudget.Check(t, name, func() { checkParse(t, text, "A=1") })
			t.Logf("%s: %v", name, c)
		})
	}
}

// aliasBomb is a svc.yml of about n bytes whose pods are all one anchored
// pod, whose tasks are all one anchored task with a large env: decoding it
// naively visits pods × tasks × env entries.
func aliasBomb(n int) []byte {
	var b bytes.Buffer
	b.WriteString("name: svc\nx-env: &env\n")
	for i := 0; b.Len() < n/3; i++ {
		b.WriteString("  K" + strconv.Itoa(i) + ": v\n")
	}
	b.WriteString("x-task: &task\n  goal: RUNNING\n  cmd: ./s\n  cpus: 0.1\n  memory: 32\n  env: *env\n")
	b.WriteString("x-pod: &pod\n  count: 1\n  tasks:\n")
	for i := 0; b.Len() < 2*n/3; i++ {
		b.WriteString("    t" + strconv.Itoa(i) + ": *task\n")
	}
	b.WriteString("pods:\n")
	for i := 0; b.Len() < n; i++ {
		b.WriteString("  p" + strconv.Itoa(i) + ": *pod\n")
	}
	return b.Bytes()
}

// TestAliasesBounded is the regression test of the fault TestParseBudget
// found: aliases were followed without limit, so a document of about
// 100 KB whose pods all alias one pod whose tasks all alias one task
// kept the decoder busy for minutes (1 MiB: past the 10-minute test
// timeout). Now the expansion stops with one problem.
func TestAliasesBounded(t *testing.T) {
	text := aliasBomb(100 << 10)
	var err error
	c := fuzzcheck.Budget{Alloc: 64 * fuzzcheck.MiB}.Check(t, "Parse", func() { _, err = Parse(text, Options{Dir: t.TempDir()}) })
	var ps Problems
	if !errors.As(err, &ps) || !strings.Contains(err.Error(), "aliases expand the document") {
		t.Fatalf("Parse: %v", err)
	}
	t.Logf("%v", c)

	// Aliases that expand a little are fine.
	ok := "name: svc\npods:\n  app:\n    count: 1\n    tasks:\n      a: &task\n        goal: RUNNING\n        cmd: ./a\n        cpus: 0.1\n        memory: 32\n      b: *task\n"
	_, err = Parse([]byte(ok), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("a document with a few aliases: %v", err)
	}
}

// TestTemplatesReadBounded: a config template that is not a regular file
// (a device that never ends, a FIFO no one writes) is a problem, found
// without reading it; a regular file is read no further than the limit.
func TestTemplatesReadBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 3*maxTemplateBytes), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ template, want string }{
		{"/dev/zero", "must be a relative path inside the package directory"},
		{"fifo", "is not a regular file"},
		{"big", "is larger than 1 MiB"},
	} {
		text := minimalSpec + "        configs:\n          c:\n            template: " + tt.template + "\n            dest: c.conf\n"
		var err error
		fuzzcheck.Budget{Alloc: 2*maxTemplateBytes + fuzzcheck.MiB}.Check(t, tt.template, func() { _, err = Parse([]byte(text), Options{Dir: dir}) })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("template %s: %v, want %q", tt.template, err, tt.want)
		}
	}
}
