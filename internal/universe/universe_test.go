package universe

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/render")

// pkgDir is the example service's package.
const pkgDir = "../../universe"

const artifactDir = "https://downloads.example.com/taskkit/{{package-version}}"

// golden is one testdata/render file: a description, then the options
// (empty: none) and the expected marathon.json, in "-- name --" sections.
type golden struct {
	head, options, want string
}

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok1 := strings.Cut(string(b), "-- options.json --\n")
	opts, want, ok2 := strings.Cut(rest, "-- marathon.json --\n")
	if !ok1 || !ok2 {
		t.Fatalf("%s: want a description, then -- options.json -- and -- marathon.json -- sections", path)
	}
	return golden{head, opts, want}
}

// TestRenderGolden renders the example package with each testdata/render
// file's options and compares the app with the file's; -update rewrites them.
func TestRenderGolden(t *testing.T) {
	pkg, err := Load(pkgDir, LoadOptions{ArtifactDir: artifactDir})
	if err != nil {
		t.Fatalf("the example package: %v", err)
	}
	files, _ := filepath.Glob("testdata/render/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			g := readGolden(t, f)
			var opts map[string]any
			if strings.TrimSpace(g.options) != "" {
				if err := decodeJSON(f, []byte(g.options), &opts); err != nil {
					t.Fatal(err)
				}
			}
			got, err := pkg.Render(opts)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if *update {
				out := g.head + "-- options.json --\n" + g.options + "-- marathon.json --\n" + string(got)
				if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if string(got) != g.want {
				t.Errorf("marathon.json differs from %s (go test -run TestRenderGolden -update to accept):\n%s", f, got)
			}
		})
	}
}

// TestRenderedApp checks the default app for what the DC/OS requirements
// ask of it, beyond the golden comparison.
func TestRenderedApp(t *testing.T) {
	pkg, err := Load(pkgDir, LoadOptions{ArtifactDir: "http://10.0.0.1:8000/dist"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pkg.Render(nil)
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		ID           string
		Env          map[string]string
		Fetch        []struct{ URI string }
		Labels       map[string]string
		HealthChecks []struct {
			Protocol, Path         string
			PortIndex              int
			MaxConsecutiveFailures int
		}
		PortDefinitions []struct{ Name string }
	}
	if err := json.Unmarshal(out, &app); err != nil {
		t.Fatal(err)
	}
	if app.ID != "hello-world" || app.Env["FRAMEWORK_NAME"] != "hello-world" || app.Labels["DCOS_SERVICE_NAME"] != "hello-world" {
		t.Errorf("the framework name is not the app id, FRAMEWORK_NAME and DCOS_SERVICE_NAME: %s", out)
	}
	if got := app.Env["SCHEDULER_LITE_STATE"]; got != "zk://master.mesos:2181/dcos-service-hello-world" {
		t.Errorf("the state must default to ZooKeeper under the framework name, got %q", got)
	}
	if _, ok := app.Env["FRAMEWORK_PRINCIPAL"]; ok {
		t.Errorf("a default install must not authenticate: %v", app.Env)
	}
	var fetched []string
	for _, f := range app.Fetch {
		if !strings.HasPrefix(f.URI, "http://10.0.0.1:8000/dist/") {
			t.Errorf("URI %s not from --artifact-dir", f.URI)
		}
		fetched = append(fetched, filepath.Base(f.URI))
	}
	for _, bin := range []string{"scheduler-lite", "bootstrap", "healthd", "tlsprov", "executor"} {
		if !strings.Contains(strings.Join(fetched, " "), bin+".zip") {
			t.Errorf("%s.zip (make dist's name) is not fetched: %v", bin, fetched)
		}
	}
	if len(app.HealthChecks) != 1 || app.HealthChecks[0].Path != "/v1/health" || app.HealthChecks[0].Protocol != "MESOS_HTTP" || app.HealthChecks[0].MaxConsecutiveFailures != 0 {
		t.Errorf("health check %+v", app.HealthChecks)
	}
	if len(app.PortDefinitions) != 1 || app.PortDefinitions[0].Name != "api" {
		t.Errorf("the API port must be named api (Marathon sets PORT_API): %+v", app.PortDefinitions)
	}
}

// TestOptionErrors renders with bad options: every problem is reported,
// each naming the option.
func TestOptionErrors(t *testing.T) {
	pkg, err := Load(pkgDir, LoadOptions{ArtifactDir: artifactDir})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, options string
		want          []string
	}{
		{"wrong type", `{"hello": {"count": "three"}}`, []string{"hello.count: want integer, got string"}},
		{"fraction for an integer", `{"hello": {"count": 1.5}}`, []string{"hello.count: want integer, got number"}},
		{"unknown top-level property", `{"helo": {}}`, []string{`(root): unknown property "helo"`}},
		{"unknown nested property", `{"service": {"nme": "x"}}`, []string{`service: unknown property "nme"`}},
		{"enum", `{"service": {"executor": "docker"}}`, []string{"service.executor: docker is not one of [default taskkit]"}},
		{"minimum", `{"hello": {"count": -1}, "service": {"mem": 8}}`, []string{"hello.count: -1 is below the minimum 0", "service.mem: 8 is below the minimum 64"}},
		{"pattern", `{"service": {"name": "Hello_World"}}`, []string{`service.name: "Hello_World" does not match`}},
		{"bad duration", `{"service": {"failover_timeout": "two weeks"}}`, []string{"service.failover_timeout"}},
		{"object expected", `{"service": "hello"}`, []string{"service: want object, got string"}},
		{"several at once", `{"hello": {"count": "x", "greeting": 3}}`, []string{"hello.count", "hello.greeting"}},
		{"empty greeting", `{"hello": {"greeting": ""}}`, []string{`hello.greeting: "" is shorter than 1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts map[string]any
			if err := decodeJSON("options", []byte(tc.options), &opts); err != nil {
				t.Fatal(err)
			}
			_, err := pkg.Render(opts)
			if err == nil {
				t.Fatal("rendered")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestRenderInvalidJSON: a value that breaks the JSON (a backslash is not
// HTML-escaped) is caught with the line of the rendered file.
func TestRenderInvalidJSON(t *testing.T) {
	pkg, err := Load(pkgDir, LoadOptions{ArtifactDir: artifactDir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pkg.Render(map[string]any{"hello": map[string]any{"greeting": `back\slash`}})
	if err == nil || !strings.Contains(err.Error(), "rendered marathon.json.mustache: line ") {
		t.Errorf("got %v", err)
	}
}

// copyPkg copies the example package into a temp dir and applies edits
// (file name → function of its content).
func copyPkg(t *testing.T, edits map[string]func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{PackageFile, ConfigFile, ResourceFile, MarathonFile} {
		b, err := os.ReadFile(filepath.Join(pkgDir, f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if e := edits[f]; e != nil {
			s = e(s)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("no " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

// TestPackageErrors breaks the package in one way each and checks that
// Load (or Render) names the file and the field.
func TestPackageErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		edits       map[string]func(string) string
		artifactDir string
		want        []string
	}{
		{"a property without a default", map[string]func(string) string{
			ConfigFile: replace(`"default": "Hello",`, ``),
		}, "", []string{"config.json: hello.greeting: no default"}},
		{"a default of the wrong type", map[string]func(string) string{
			ConfigFile: replace(`"default": 2,`, `"default": "two",`),
		}, "", []string{"config.json: hello.count: the default does not fit"}},
		{"required names no property", map[string]func(string) string{
			ConfigFile: replace(`"required": ["count", "greeting"]`, `"required": ["count", "greeting", "colour"]`),
		}, "", []string{`config.json: hello: required "colour" is not a property`}},
		{"the template prints an undefined option", map[string]func(string) string{
			MarathonFile: replace(`"{{hello.greeting}}"`, `"{{hello.colour}}"`),
		}, "", []string{"marathon.json.mustache: {{hello.colour}}: not defined in config.json or resource.json"}},
		{"the template prints an optional option unconditionally", map[string]func(string) string{
			ConfigFile: replace(`"required": ["count", "greeting"]`, `"required": ["count"]`),
		}, "", []string{`{{hello.greeting}} is printed unconditionally but config.json hello does not list "greeting" as required`}},
		{"the template names an undefined resource", map[string]func(string) string{
			MarathonFile: replace(`{{resource.assets.uris.executor-zip}}`, `{{resource.assets.uris.executor-tgz}}`),
		}, "", []string{"{{resource.assets.uris.executor-tgz}}: not defined"}},
		{"an unresolved build placeholder", map[string]func(string) string{
			ResourceFile: replace(`{{artifact-dir}}/executor.zip`, `{{executor-url}}`),
		}, "", []string{`resource.json: assets.uris.executor-zip: "{{executor-url}}" is unresolved`}},
		{"a relative artifact dir", nil, "dist", []string{`resource.json: assets.uris.bootstrap-zip: "dist/bootstrap.zip": want an absolute`}},
		{"package.json lacks notes", map[string]func(string) string{
			PackageFile: replace(`"postUninstallNotes"`, `"postUninstallNote"`),
		}, "", []string{"package.json: postUninstallNotes: missing or empty"}},
		{"framework name differs from the package name", map[string]func(string) string{
			ConfigFile: replace(`"default": "hello-world",`, `"default": "hello",`),
		}, "", []string{`config.json: service.name: default "hello" differs from package.json name "hello-world"`}},
		{"config.json is not JSON", map[string]func(string) string{
			ConfigFile: replace(`"type": "object",`, `"type": "object"`),
		}, "", []string{"config.json: line 3:"}},
		{"no health check", map[string]func(string) string{
			MarathonFile: replace(`"healthChecks"`, `"healthChecksOff"`),
		}, "", []string{"healthChecks: none"}},
		{"health check on a port the app lacks", map[string]func(string) string{
			MarathonFile: replace(`"portIndex": 0,`, `"portIndex": 1,`),
		}, "", []string{"healthChecks[0].portIndex: 1: the app has 1 port definitions"}},
		{"a trailing comma in the template", map[string]func(string) string{
			MarathonFile: replace(`"instances": 1,`, `"instances": 1,,`),
		}, "", []string{"rendered marathon.json.mustache: line 5:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyPkg(t, tc.edits)
			ad := tc.artifactDir
			if ad == "" {
				ad = artifactDir
			}
			pkg, err := Load(dir, LoadOptions{ArtifactDir: ad})
			if err == nil {
				_, err = pkg.Render(nil)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestValidateApp checks Marathon app validation on hand-written apps.
func TestValidateApp(t *testing.T) {
	const ok = `{"id": "/prod/hello-world", "cmd": "./x", "cpus": 0.5, "mem": 128, "instances": 1,
		"fetch": [{"uri": "https://example.com/x.zip"}], "portDefinitions": [{"port": 0, "name": "api"}],
		"healthChecks": [{"protocol": "MESOS_HTTP", "path": "/v1/health", "portIndex": 0}]}`
	for _, tc := range []struct {
		name  string
		patch string // merged over ok
		want  string // "" means valid
	}{
		{"valid", `{}`, ""},
		{"valid with a secret env", `{"secrets": {"s": {"source": "a/b"}}, "env": {"TOKEN": {"secret": "s"}}}`, ""},
		{"valid health check by port name", `{"healthChecks": [{"protocol": "HTTP", "path": "/", "portName": "api"}]}`, ""},
		{"bad id", `{"id": "Hello_World"}`, "id: \"Hello_World\""},
		{"no id", `{"id": ""}`, "id: missing"},
		{"no cmd", `{"cmd": " "}`, "cmd: missing"},
		{"zero cpus", `{"cpus": 0}`, "cpus: want a number above 0"},
		{"mem a string", `{"mem": "128"}`, "mem: want a number above 0"},
		{"negative instances", `{"instances": -1}`, "instances: want an integer"},
		{"env number", `{"env": {"N": 3}}`, "env.N: want a string, got integer"},
		{"env unknown secret", `{"env": {"T": {"secret": "nope"}}}`, "env.T: want a string or"},
		{"secret without source", `{"secrets": {"s": {}}}`, "secrets.s.source: missing"},
		{"relative URI", `{"fetch": [{"uri": "x.zip"}]}`, `fetch[0].uri: "x.zip": want an absolute`},
		{"unrendered URI", `{"uris": ["{{x}}/y"]}`, `uris[0]: "{{x}}/y" is unresolved`},
		{"no URI", `{"fetch": []}`, "fetch: no URI"},
		{"unrendered label", `{"labels": {"A": "{{b}}"}}`, "labels.A: unrendered mustache"},
		{"label not a string", `{"labels": {"A": true}}`, "labels.A: want a string, got boolean"},
		{"bad port name", `{"portDefinitions": [{"port": 0, "name": "API"}]}`, `portDefinitions[0].name: "API"`},
		{"port out of range", `{"portDefinitions": [{"port": 70000, "name": "api"}]}`, "portDefinitions[0].port"},
		{"unknown protocol", `{"healthChecks": [{"protocol": "GRPC", "portIndex": 0}]}`, `healthChecks[0].protocol: "GRPC"`},
		{"relative path", `{"healthChecks": [{"protocol": "HTTP", "path": "v1/health", "portIndex": 0}]}`, "healthChecks[0].path"},
		{"command check without command", `{"healthChecks": [{"protocol": "COMMAND"}]}`, "healthChecks[0].command: missing"},
		{"unknown port name", `{"healthChecks": [{"protocol": "TCP", "portName": "web"}]}`, "healthChecks[0].portName"},
		{"negative interval", `{"healthChecks": [{"protocol": "TCP", "portIndex": 0, "intervalSeconds": -1}]}`, "healthChecks[0].intervalSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var app, patch map[string]any
			if err := decodeJSON("ok", []byte(ok), &app); err != nil {
				t.Fatal(err)
			}
			if err := decodeJSON("patch", []byte(tc.patch), &patch); err != nil {
				t.Fatal(err)
			}
			for k, v := range patch {
				app[k] = v
			}
			err := ValidateApp(app)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// TestDefaultsMerge: options override defaults key by key, objects merge.
func TestDefaultsMerge(t *testing.T) {
	pkg, err := Load(pkgDir, LoadOptions{ArtifactDir: artifactDir})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := pkg.Options(map[string]any{"hello": map[string]any{"count": json.Number("4")}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(opts)
	for _, want := range []string{`"count":4`, `"greeting":"Hello"`, `"name":"hello-world"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("merged options lack %s: %s", want, b)
		}
	}
}
