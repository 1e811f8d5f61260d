package universe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchedulerEnv renders an SDK-style package that Load refuses: a
// property without a default, tuple items, a build-time placeholder, a
// value holding quotes printed raw, a section on a false default.
func TestSchedulerEnv(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		PackageFile: `{"name": "pkg", "version": "1.2.3"}`,
		ConfigFile: `{"type": "object", "properties": {
			"service": {"type": "object", "properties": {
				"name": {"type": "string", "default": "pkg"},
				"secret": {"type": "string"},
				"tls": {"type": "boolean", "default": false},
				"ports": {"type": "array", "items": [{"type": "integer"}], "default": [1]}}},
			"node": {"type": "object", "properties": {
				"placement": {"type": "string", "default": "[[\"hostname\", \"UNIQUE\"]]"},
				"count": {"type": "integer", "default": 3}}}}}`,
		ResourceFile: `{"assets": {"uris": {"jre": "{{jre-url}}", "zip": "{{artifact-dir}}/x.zip"}}}`,
		MarathonFile: `{"id": "{{service.name}}", "env": {
			"NAME": "{{service.name}}",
			"VERSION": "{{package-version}}",
			"PLACEMENT": "{{{node.placement}}}",
			"COUNT": "{{node.count}}",
			"SECRET": "{{service.secret}}",
			{{#service.tls}}"TLS": "on",{{/service.tls}}
			"JRE": "{{resource.assets.uris.jre}}",
			"ZIP": "{{resource.assets.uris.zip}}",
			"REF": {"secret": "s"}}}`,
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(dir, LoadOptions{}); err == nil {
		t.Fatal("Load accepts the package: the test no longer shows what SchedulerEnv is for")
	}
	env, err := SchedulerEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"COUNT=3", "JRE=https://jre-url.invalid", "NAME=pkg", `PLACEMENT=[["hostname", "UNIQUE"]]`,
		"SECRET=", "VERSION=1.2.3", "ZIP=https://artifact-dir.invalid/x.zip",
	}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("env:\n%s\nwant:\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
}
