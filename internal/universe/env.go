package universe

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/cbroglie/mustache"
)

// SchedulerEnv is the environment a package's scheduler gets when the
// package is installed with its defaults: marathon.json.mustache rendered
// from config.json's defaults plus "resource" (resource.json), as Cosmos
// renders it (strings JSON-escaped), and the rendered app's "env" (KEY=VALUE, sorted; secrets by
// reference are left out). Unlike Load it checks nothing, so that any SDK
// package renders (dcos-commons' frameworks have properties without a
// default, which then render empty, and tuple "items" in their schemas).
// {{package-name}} and {{package-version}} come from package.json; a
// placeholder its build fills in resource.json ({{artifact-dir}},
// {{jre-url}}, ...) becomes https://<name>.invalid.
func SchedulerEnv(dir string) ([]string, error) {
	var meta map[string]any
	if err := readJSON(filepath.Join(dir, PackageFile), &meta); err != nil {
		return nil, err
	}
	var schema map[string]any
	if err := readJSON(filepath.Join(dir, ConfigFile), &schema); err != nil {
		return nil, err
	}
	ctx, _ := schemaDefaults(schema).(map[string]any)
	if ctx == nil {
		ctx = map[string]any{}
	}
	raw, err := os.ReadFile(filepath.Join(dir, ResourceFile))
	if err != nil {
		return nil, err
	}
	raw = buildVar.ReplaceAll(raw, []byte("https://$1.invalid"))
	var resource map[string]any
	if err := decodeJSON(ResourceFile, raw, &resource); err != nil {
		return nil, err
	}
	ctx["resource"] = resource
	for _, k := range []string{"name", "version"} {
		if v, ok := meta[k].(string); ok {
			ctx["package-"+k] = v
		}
	}
	tb, err := os.ReadFile(filepath.Join(dir, MarathonFile))
	if err != nil {
		return nil, err
	}
	// Strings go in JSON-escaped and unescaped otherwise, so that a value
	// holding quotes (placement: [["hostname", "UNIQUE"]]) stays one JSON
	// string, as the SDK's packages expect of Cosmos.
	out, err := mustache.RenderRaw(string(tb), true, jsonEscaped(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MarathonFile, err)
	}
	var app struct {
		Env map[string]any `json:"env"`
	}
	if err := decodeJSON("rendered "+MarathonFile, []byte(out), &app); err != nil {
		return nil, err
	}
	var env []string
	for k, v := range app.Env {
		switch v := v.(type) {
		case string:
			env = append(env, k+"="+v)
		case json.Number:
			env = append(env, k+"="+v.String())
		case bool:
			env = append(env, fmt.Sprintf("%s=%t", k, v))
		}
	}
	sort.Strings(env)
	return env, nil
}

// buildVar is a placeholder a package build fills in resource.json.
var buildVar = regexp.MustCompile(`\{\{([a-z0-9-]+)\}\}`)

// jsonEscaped copies v with every string JSON-escaped (without its quotes).
func jsonEscaped(v any) any {
	switch v := v.(type) {
	case string:
		b, _ := json.Marshal(v)
		return string(b[1 : len(b)-1])
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jsonEscaped(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = jsonEscaped(x)
		}
		return s
	}
	return v
}

// schemaDefaults is the value a JSON schema's defaults give: an object's
// properties' defaults (those that have one), else the default.
func schemaDefaults(schema map[string]any) any {
	props, ok := schema["properties"].(map[string]any)
	if !ok {
		return schema["default"]
	}
	m := map[string]any{}
	for k, p := range props {
		if ps, ok := p.(map[string]any); ok {
			if v := schemaDefaults(ps); v != nil {
				m[k] = v
			}
		}
	}
	return m
}
