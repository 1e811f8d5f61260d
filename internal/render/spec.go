package render

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/go-multierror"

	"github.com/taskkit/taskkit/internal/safefile"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// EnvPrefix starts every environment variable that names a template.
const EnvPrefix = taskenv.ConfigTemplatePrefix

// Template is one template to render: Source is rendered into Dest.
type Template struct {
	// Origin names where the template was declared, for error messages:
	// the environment variable ("CONFIG_TEMPLATE_NGINX") or the flag
	// ("-config #2").
	Origin string
	// Source and Dest are absolute paths.
	Source, Dest string
	// Within is the directory Dest must stay in, symbolic links followed,
	// when it is written too (the sandbox, for CONFIG_TEMPLATE_*); "" for
	// a -config, which may name any path.
	Within string
}

func (t Template) String() string {
	return fmt.Sprintf("%s (%s -> %s)", t.Origin, t.Source, t.Dest)
}

// ParseSpec splits "<src>,<dest>" at its first comma; both parts are trimmed
// and must be non-empty, so src cannot contain a comma but dest can (the
// format of taskenv.ParseConfigTemplate).
func ParseSpec(spec string) (src, dest string, err error) {
	return taskenv.ParseConfigTemplate(spec)
}

// Resolve makes p absolute against sandbox (the task's $MESOS_SANDBOX, or the
// working directory when that is unset).
func Resolve(p, sandbox string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(sandbox, p)
}

// insideThroughLinks reports an error when the file a write to dest
// changes (safefile.Target: symbolic links followed, as the write follows
// them) lies outside sandbox (its links resolved too).
func insideThroughLinks(dest, sandbox string) error {
	_, err := safefile.TargetWithin(dest, sandbox)
	if oe, ok := err.(*safefile.OutsideError); ok {
		return fmt.Errorf("a symbolic link leads it to %s, outside the sandbox %s", oe.Target, sandbox)
	}
	return err
}

// Collect returns the templates declared by CONFIG_TEMPLATE_* entries of env
// (sorted by variable name) followed by the -config flag values, in order.
// Relative paths resolve against sandbox. A CONFIG_TEMPLATE_ destination
// (the scheduler's, relative to the sandbox in the SDK's ConfigFileSpec)
// must lie inside sandbox, symbolic links followed: "/tmp/evil", "../x" or
// a link in the sandbox to /etc is refused; a -config flag,
// given by whoever runs bootstrap, may name any path. Every malformed
// declaration is reported, each naming its variable or flag.
func Collect(env []string, configs []string, sandbox string) ([]Template, error) {
	var out []Template
	var errs *multierror.Error
	keys, vals := taskenv.ConfigTemplateVars(env)
	add := func(origin, spec string, confined bool) {
		src, dest, err := ParseSpec(spec)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %w", origin, err))
			return
		}
		t := Template{Origin: origin, Source: Resolve(src, sandbox), Dest: Resolve(dest, sandbox)}
		if rel, err := filepath.Rel(Resolve(".", sandbox), t.Dest); confined && (err != nil || !filepath.IsLocal(rel)) {
			errs = multierror.Append(errs, fmt.Errorf("%s: destination %q is outside the sandbox %s", origin, dest, Resolve(".", sandbox)))
			return
		}
		if confined {
			if err := insideThroughLinks(t.Dest, Resolve(".", sandbox)); err != nil {
				errs = multierror.Append(errs, fmt.Errorf("%s: destination %q: %w", origin, dest, err))
				return
			}
			// Judged again when written: bootstrap writes after its waits.
			t.Within = Resolve(".", sandbox)
		}
		out = append(out, t)
	}
	for _, k := range keys {
		add(k, vals[k], true)
	}
	for i, c := range configs {
		add(fmt.Sprintf("-config #%d (%q)", i+1, c), c, false)
	}
	// One file, one template: the second of two templates writing one file
	// (by its path, or through a symbolic link) silently replaced the first
	// one's output, while both were logged as written (consul-template#314,
	// #1273 asked the same; each overwrites).
	writer := map[string]string{}
	for _, t := range out {
		target, err := safefile.Target(t.Dest)
		if err != nil {
			target = t.Dest
		}
		if first, ok := writer[target]; ok {
			errs = multierror.Append(errs, fmt.Errorf("%s: destination %s is the file %s writes too: two templates cannot write one file", t.Origin, t.Dest, first))
			continue
		}
		writer[target] = t.Origin
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, err
	}
	return out, nil
}
