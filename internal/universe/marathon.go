package universe

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// appIDSegment is one segment of a Marathon app id (Marathon's PathId rule).
var appIDSegment = regexp.MustCompile(`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$`)

// portName is Marathon's rule for port names.
var portName = regexp.MustCompile(`^[a-z0-9-]+$`)

// healthProtocols are the protocols of Marathon health checks.
var healthProtocols = []string{"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"}

// ValidateApp checks a Marathon app definition for what Marathon would
// reject and what a DC/OS service needs: an id, a command, positive cpus and
// mem, string env values (or {"secret": name} referring to a declared
// secret), fetchable absolute URIs with nothing left unrendered, named ports,
// and at least one health check whose port exists. Every problem is
// reported, each naming its field.
func ValidateApp(app map[string]any) error {
	var errs *multierror.Error
	at := func(field, format string, a ...any) {
		errs = multierror.Append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	str := func(field string) (string, bool) {
		s, ok := app[field].(string)
		return s, ok
	}

	if id, ok := str("id"); !ok || id == "" {
		at("id", "missing")
	} else {
		for _, seg := range strings.Split(strings.TrimPrefix(id, "/"), "/") {
			if !appIDSegment.MatchString(seg) {
				at("id", "%q: each segment must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", id)
				break
			}
		}
	}
	cmd, hasCmd := str("cmd")
	_, hasArgs := app["args"]
	_, hasContainer := app["container"].(map[string]any)
	if (!hasCmd || strings.TrimSpace(cmd) == "") && !hasArgs && !hasContainer {
		at("cmd", "missing (an app needs cmd, args or a container)")
	}
	for _, f := range []string{"cpus", "mem"} {
		if n, ok := number(app[f]); !ok || n <= 0 {
			at(f, "want a number above 0, got %v", app[f])
		}
	}
	if v, present := app["instances"]; present {
		if n, ok := number(v); !ok || n < 0 || n != float64(int64(n)) {
			at("instances", "want an integer ≥ 0, got %v", v)
		}
	}

	secrets, _ := app["secrets"].(map[string]any)
	for name, s := range secrets {
		m, _ := s.(map[string]any)
		if src, _ := m["source"].(string); src == "" {
			at("secrets."+name+".source", "missing")
		}
	}
	if env, present := app["env"]; present {
		m, ok := env.(map[string]any)
		if !ok {
			at("env", "want an object")
		}
		for _, k := range sortedKeys(m) {
			switch v := m[k].(type) {
			case string:
			case map[string]any:
				ref, _ := v["secret"].(string)
				if _, ok := secrets[ref]; !ok || len(v) != 1 {
					at("env."+k, `want a string or {"secret": <a name under secrets>}`)
				}
			default:
				at("env."+k, "want a string, got %s", jsonType(v))
			}
		}
	}
	if labels, present := app["labels"]; present {
		m, ok := labels.(map[string]any)
		if !ok {
			at("labels", "want an object")
		}
		for _, k := range sortedKeys(m) {
			if _, ok := m[k].(string); !ok {
				at("labels."+k, "want a string, got %s", jsonType(m[k]))
			}
		}
	}

	// URIs: "uris" (strings) and "fetch" ({"uri": ...}).
	var nuris int
	if uris, present := app["uris"]; present {
		list, ok := uris.([]any)
		if !ok {
			at("uris", "want a list")
		}
		for i, u := range list {
			s, _ := u.(string)
			if err := checkURI(s); err != nil {
				at(fmt.Sprintf("uris[%d]", i), "%v", err)
			}
			nuris++
		}
	}
	if fetch, present := app["fetch"]; present {
		list, ok := fetch.([]any)
		if !ok {
			at("fetch", "want a list")
		}
		for i, f := range list {
			m, _ := f.(map[string]any)
			s, _ := m["uri"].(string)
			if err := checkURI(s); err != nil {
				at(fmt.Sprintf("fetch[%d].uri", i), "%v", err)
			}
			nuris++
		}
	}
	if nuris == 0 && !hasContainer {
		at("fetch", "no URI: the scheduler's binary must be fetched (or run from a container image)")
	}

	// Ports and health checks.
	ports, _ := app["portDefinitions"].([]any)
	names := map[string]bool{}
	for i, p := range ports {
		m, _ := p.(map[string]any)
		if n, ok := number(m["port"]); !ok || n < 0 || n > 65535 {
			at(fmt.Sprintf("portDefinitions[%d].port", i), "want 0 (any) to 65535, got %v", m["port"])
		}
		if name, _ := m["name"].(string); name != "" {
			if !portName.MatchString(name) {
				at(fmt.Sprintf("portDefinitions[%d].name", i), "%q: lowercase letters, digits and '-' only", name)
			}
			names[name] = true
		}
	}
	checks, _ := app["healthChecks"].([]any)
	if len(checks) == 0 {
		at("healthChecks", "none: a DC/OS service's scheduler must have a Marathon health check (requirement 12)")
	}
	for i, c := range checks {
		field := fmt.Sprintf("healthChecks[%d]", i)
		m, _ := c.(map[string]any)
		proto, _ := m["protocol"].(string)
		if proto == "" {
			proto = "HTTP"
		}
		if !slices.Contains(healthProtocols, proto) {
			at(field+".protocol", "%q: want one of %s", proto, strings.Join(healthProtocols, ", "))
			continue
		}
		if proto == "COMMAND" {
			if cm, _ := m["command"].(map[string]any); cm == nil || cm["value"] == nil {
				at(field+".command", "missing")
			}
			continue
		}
		if strings.Contains(proto, "HTTP") {
			if path, _ := m["path"].(string); !strings.HasPrefix(path, "/") {
				at(field+".path", "want an absolute path, got %v", m["path"])
			}
		}
		switch {
		case m["portIndex"] != nil:
			if n, ok := number(m["portIndex"]); !ok || n < 0 || int(n) >= len(ports) {
				at(field+".portIndex", "%v: the app has %d port definitions", m["portIndex"], len(ports))
			}
		case m["portName"] != nil:
			if n, _ := m["portName"].(string); !names[n] {
				at(field+".portName", "%v: no port definition of that name", m["portName"])
			}
		case m["port"] == nil && len(ports) == 0:
			at(field, "no port: set portIndex and define the port in portDefinitions")
		}
		for _, f := range []string{"gracePeriodSeconds", "intervalSeconds", "timeoutSeconds", "maxConsecutiveFailures", "delaySeconds"} {
			if v, present := m[f]; present {
				if n, ok := number(v); !ok || n < 0 {
					at(field+"."+f, "want a number ≥ 0, got %v", v)
				}
			}
		}
	}

	// Nothing may be left unrendered anywhere.
	walkStrings(app, "", func(field, s string) {
		if strings.Contains(s, "{{") || strings.Contains(s, "}}") {
			at(field, "unrendered mustache in %q", s)
		}
	})
	return errs.ErrorOrNil()
}

// checkURI accepts an absolute URI the Mesos fetcher can fetch.
func checkURI(s string) error {
	if s == "" {
		return errors.New("empty URI")
	}
	if strings.Contains(s, "{{") {
		return fmt.Errorf("%q is unresolved (a build-time placeholder such as {{artifact-dir}} left in; pass --artifact-dir)", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "http", "https", "ftp", "ftps", "hdfs", "s3", "s3a", "s3n":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", s)
		}
	case "file":
		if u.Path == "" {
			return fmt.Errorf("%q has no path", s)
		}
	default:
		return fmt.Errorf("%q: want an absolute http(s), ftp(s), hdfs, s3 or file URI", s)
	}
	return nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// walkStrings calls fn for every string in v, with its field path.
func walkStrings(v any, path string, fn func(field, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkStrings(x[k], join(path, k), fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}
