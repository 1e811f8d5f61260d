package render

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// EnvPrefix starts every environment variable that names a template.
const EnvPrefix = "CONFIG_TEMPLATE_"

// Template is one template to render: Source is rendered into Dest.
type Template struct {
	// Origin names where the template was declared, for error messages:
	// the environment variable ("CONFIG_TEMPLATE_NGINX") or the flag
	// ("-config #2").
	Origin string
	// Source and Dest are absolute paths.
	Source, Dest string
}

func (t Template) String() string {
	return fmt.Sprintf("%s (%s -> %s)", t.Origin, t.Source, t.Dest)
}

// ParseSpec splits "<src>,<dest>" at its first comma; both parts are trimmed
// and must be non-empty, so src cannot contain a comma but dest can.
func ParseSpec(spec string) (src, dest string, err error) {
	src, dest, ok := strings.Cut(spec, ",")
	src, dest = strings.TrimSpace(src), strings.TrimSpace(dest)
	switch {
	case !ok:
		return "", "", errors.New(`want "<src>,<dest>", found no comma`)
	case src == "":
		return "", "", errors.New(`want "<src>,<dest>", source is empty`)
	case dest == "":
		return "", "", errors.New(`want "<src>,<dest>", destination is empty`)
	}
	return src, dest, nil
}

// Resolve makes p absolute against sandbox (the task's $MESOS_SANDBOX, or the
// working directory when that is unset).
func Resolve(p, sandbox string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(sandbox, p)
}

// Collect returns the templates declared by CONFIG_TEMPLATE_* entries of env
// (sorted by variable name) followed by the -config flag values, in order.
// Relative paths resolve against sandbox. Every malformed declaration is
// reported, each naming its variable or flag.
func Collect(env []string, configs []string, sandbox string) ([]Template, error) {
	var out []Template
	var errs *multierror.Error
	var keys []string
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, EnvPrefix) {
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
			}
			vals[k] = v
		}
	}
	sort.Strings(keys)
	add := func(origin, spec string) {
		src, dest, err := ParseSpec(spec)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %w", origin, err))
			return
		}
		out = append(out, Template{Origin: origin, Source: Resolve(src, sandbox), Dest: Resolve(dest, sandbox)})
	}
	for _, k := range keys {
		add(k, vals[k])
	}
	for i, c := range configs {
		add(fmt.Sprintf("-config #%d (%q)", i+1, c), c)
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, err
	}
	return out, nil
}
