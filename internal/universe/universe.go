// Package universe renders and checks a DC/OS Universe package (the
// universe/ directory of a service) the way Cosmos installs it, so a package
// can be tested without a cluster:
//
//	package.json            name, version, maintainer, notes ... (checked for presence)
//	config.json             the options' JSON schema; every property has a default
//	resource.json           assets.uris: every URI the app fetches; {{artifact-dir}}
//	                        and {{package-version}} are filled in at build time
//	marathon.json.mustache  the scheduler's Marathon app
//
// Render merges config.json's defaults with the user's options, validates the
// result against the schema, renders marathon.json.mustache with the options
// plus "resource" (resource.json, as Cosmos does), and validates the app:
// valid JSON, the Marathon fields an app needs, every URI resolved, a health
// check. Load also checks the package itself: every variable the template
// prints is defined, and every one printed outside a conditional section is
// declared required (DC/OS service requirement 18).
//
// Values are HTML-escaped when printed with {{x}}, as the mustache spec (and
// Cosmos's mustache.java) do; {{{x}}} prints raw.
package universe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cbroglie/mustache"
	"github.com/hashicorp/go-multierror"
)

// The package's files.
const (
	PackageFile  = "package.json"
	ConfigFile   = "config.json"
	ResourceFile = "resource.json"
	MarathonFile = "marathon.json.mustache"
)

// Package is a loaded, checked Universe package.
type Package struct {
	// Dir is the package directory.
	Dir string
	// Name and Version come from package.json.
	Name, Version string
	// Meta is package.json.
	Meta map[string]any
	// Config is config.json.
	Config *Schema
	// Resource is resource.json with the build-time placeholders filled in.
	Resource map[string]any
	// URIs are resource.json's assets.uris.
	URIs map[string]string

	tmpl *mustache.Template
}

// DefaultArtifactDir is where a release's zips are published: make dist's
// dist/<binary>.zip uploaded as the assets of the GitHub release
// v<package version>.
const DefaultArtifactDir = "https://github.com/taskkit/taskkit/releases/download/v{{package-version}}"

// LoadOptions are the build-time values Load fills into resource.json.
type LoadOptions struct {
	// ArtifactDir replaces {{artifact-dir}}: the base URL the binaries'
	// zips (make dist's dist/<binary>.zip) are served from. It may itself
	// hold {{package-version}}. Empty means DefaultArtifactDir.
	ArtifactDir string
}

// Load reads and checks the package in dir. Every problem is reported, each
// naming its file and field.
func Load(dir string, o LoadOptions) (*Package, error) {
	p := &Package{Dir: dir}
	var errs *multierror.Error
	add := func(err error) {
		if err != nil {
			errs = multierror.Append(errs, err)
		}
	}

	// package.json
	if err := readJSON(filepath.Join(dir, PackageFile), &p.Meta); err != nil {
		return nil, err
	}
	for _, f := range []string{"packagingVersion", "name", "version", "maintainer", "description", "preInstallNotes", "postInstallNotes", "postUninstallNotes"} {
		if s, _ := p.Meta[f].(string); strings.TrimSpace(s) == "" {
			add(fmt.Errorf("%s: %s: missing or empty", PackageFile, f))
		}
	}
	if _, ok := p.Meta["framework"].(bool); !ok {
		add(fmt.Errorf("%s: framework: want true or false", PackageFile))
	}
	if tags, _ := p.Meta["tags"].([]any); len(tags) == 0 {
		add(fmt.Errorf("%s: tags: want a non-empty list", PackageFile))
	}
	p.Name, _ = p.Meta["name"].(string)
	p.Version, _ = p.Meta["version"].(string)

	// config.json
	if err := readJSON(filepath.Join(dir, ConfigFile), &p.Config); err != nil {
		return nil, err
	}
	if p.Config.Type != "object" {
		return nil, fmt.Errorf("%s: the root must be {\"type\": \"object\", ...}", ConfigFile)
	}
	add(p.Config.check(""))
	if svc := p.Config.Properties["service"]; svc == nil || svc.Properties["name"] == nil {
		add(fmt.Errorf("%s: service.name: missing (the framework name, DC/OS service requirement 07)", ConfigFile))
	} else if d, _ := svc.Properties["name"].Default.(string); d != p.Name {
		add(fmt.Errorf("%s: service.name: default %q differs from %s name %q", ConfigFile, d, PackageFile, p.Name))
	}

	// resource.json
	raw, err := os.ReadFile(filepath.Join(dir, ResourceFile))
	if err != nil {
		return nil, err
	}
	filled := fillBuildVars(string(raw), o.ArtifactDir, p.Version)
	if err := decodeJSON(ResourceFile, []byte(filled), &p.Resource); err != nil {
		return nil, err
	}
	p.URIs = map[string]string{}
	assets, _ := p.Resource["assets"].(map[string]any)
	uris, _ := assets["uris"].(map[string]any)
	if len(uris) == 0 {
		add(fmt.Errorf("%s: assets.uris: missing or empty", ResourceFile))
	}
	for k, v := range uris {
		s, ok := v.(string)
		if !ok {
			add(fmt.Errorf("%s: assets.uris.%s: want a string", ResourceFile, k))
			continue
		}
		if err := checkURI(s); err != nil {
			add(fmt.Errorf("%s: assets.uris.%s: %w", ResourceFile, k, err))
		}
		p.URIs[k] = s
	}

	// marathon.json.mustache
	tb, err := os.ReadFile(filepath.Join(dir, MarathonFile))
	if err != nil {
		return nil, err
	}
	if p.tmpl, err = mustache.ParseString(string(tb)); err != nil {
		return nil, fmt.Errorf("%s: %w", MarathonFile, err)
	}
	if errs.ErrorOrNil() == nil {
		add(p.checkTemplate())
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, err
	}
	return p, nil
}

// fillBuildVars fills the placeholders a package build replaces in
// resource.json.
func fillBuildVars(s, artifactDir, version string) string {
	if artifactDir == "" {
		artifactDir = DefaultArtifactDir
	}
	s = strings.ReplaceAll(s, "{{artifact-dir}}", strings.TrimSuffix(artifactDir, "/"))
	return strings.ReplaceAll(s, "{{package-version}}", version)
}

// checkTemplate checks that every name the template uses is defined by
// config.json or resource.json, and that every name printed outside a
// section is required in config.json.
func (p *Package) checkTemplate() error {
	var errs *multierror.Error
	ctx := p.context(p.Config.defaults())
	var walk func(tags []mustache.Tag, conditional bool)
	walk = func(tags []mustache.Tag, conditional bool) {
		for _, t := range tags {
			name := t.Name()
			if t.Type() == mustache.Partial {
				errs = multierror.Append(errs, fmt.Errorf("%s: {{>%s}}: partials are not supported", MarathonFile, name))
				continue
			}
			if _, ok := lookup(ctx, name); !ok {
				errs = multierror.Append(errs, fmt.Errorf("%s: {{%s}}: not defined in %s or %s", MarathonFile, name, ConfigFile, ResourceFile))
			} else if t.Type() == mustache.Variable && !conditional && !strings.HasPrefix(name, "resource.") {
				if err := p.requiredPath(name); err != nil {
					errs = multierror.Append(errs, fmt.Errorf("%s: {{%s}} is printed unconditionally but %w", MarathonFile, name, err))
				}
			}
			if t.Type() == mustache.Section || t.Type() == mustache.InvertedSection {
				walk(t.Tags(), true)
			}
		}
	}
	walk(p.tmpl.Tags(), false)
	return errs.ErrorOrNil()
}

// requiredPath reports the first element of a dotted option path that its
// parent object does not list as required.
func (p *Package) requiredPath(name string) error {
	s := p.Config
	path := ""
	for _, k := range strings.Split(name, ".") {
		if s == nil || !slices.Contains(s.Required, k) {
			return fmt.Errorf("%s does not list %q as required", orRootIn(path), k)
		}
		s = s.Properties[k]
		path = join(path, k)
	}
	return nil
}

func orRootIn(path string) string {
	if path == "" {
		return ConfigFile
	}
	return ConfigFile + " " + path
}

// Options merges the user's options (a JSON object; nil means none) with
// config.json's defaults and validates the result against config.json.
func (p *Package) Options(user map[string]any) (map[string]any, error) {
	var errs *multierror.Error
	if user != nil {
		if err := p.Config.validateIn("", user, true); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	merged, _ := merge(p.Config.defaults(), user).(map[string]any)
	if errs == nil {
		if err := p.Config.validate("", merged); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, fmt.Errorf("options do not fit %s: %w", ConfigFile, err)
	}
	return merged, nil
}

// Render renders marathon.json from the user's options (nil: none) and
// validates it; it returns the app as indented JSON.
func (p *Package) Render(user map[string]any) ([]byte, error) {
	opts, err := p.Options(user)
	if err != nil {
		return nil, err
	}
	out, err := p.tmpl.Render(p.context(opts))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MarathonFile, err)
	}
	var app map[string]any
	if err := decodeJSON("rendered "+MarathonFile, []byte(out), &app); err != nil {
		return nil, err
	}
	if err := ValidateApp(app); err != nil {
		return nil, fmt.Errorf("rendered %s: %w", MarathonFile, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(app); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// context is what Cosmos renders the template with: the options plus
// "resource".
func (p *Package) context(opts any) map[string]any {
	ctx := map[string]any{}
	if m, ok := opts.(map[string]any); ok {
		for k, v := range m {
			ctx[k] = v
		}
	}
	ctx["resource"] = p.Resource
	return ctx
}

// lookup resolves a dotted mustache name in nested maps.
func lookup(ctx map[string]any, name string) (any, bool) {
	var cur any = ctx
	for _, k := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// ReadOptions reads an options file: a JSON object.
func ReadOptions(path string) (map[string]any, error) {
	var m map[string]any
	if err := readJSON(path, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%s: want a JSON object", path)
	}
	return m, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return decodeJSON(path, b, v)
}

// decodeJSON decodes one JSON value, numbers as json.Number; a syntax error
// names the line.
func decodeJSON(name string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON value")
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n")) + 1
			return fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
