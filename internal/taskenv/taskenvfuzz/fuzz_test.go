package taskenvfuzz

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// FuzzParseConfigTemplate feeds CONFIG_TEMPLATE_ values to the parser
// bootstrap and render use. Properties: a value either parses into a
// trimmed, non-empty source without a comma and a trimmed, non-empty
// destination, or fails; what parses formats back to a value that parses
// to the same pair (FormatConfigTemplate → ParseConfigTemplate).
func FuzzParseConfigTemplate(f *testing.F) {
	for _, s := range []string{
		"config-templates/a,conf/a.conf", " a , b,c ", "a", ",b", "a, ", "", ",", "a,b,c",
		"\x00,\xff", "config-templates/x, /etc/x.conf ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		checkParseConfigTemplate(t, value)
	})
}

func checkParseConfigTemplate(t *testing.T, value string) {
	src, dest, err := taskenv.ParseConfigTemplate(value)
	if err != nil {
		if src != "" || dest != "" {
			t.Fatalf("taskenv.ParseConfigTemplate(%q) = %q, %q with error %v", value, src, dest, err)
		}
		return
	}
	if src == "" || dest == "" || strings.Contains(src, ",") || src != strings.TrimSpace(src) || dest != strings.TrimSpace(dest) {
		t.Fatalf("taskenv.ParseConfigTemplate(%q) = %q, %q", value, src, dest)
	}
	src2, dest2, err := taskenv.ParseConfigTemplate(taskenv.FormatConfigTemplate(src, dest))
	if err != nil || src2 != src || dest2 != dest {
		t.Fatalf("round trip of %q: %q, %q, %v; want %q, %q", value, src2, dest2, err, src, dest)
	}
}

// FuzzEnv builds a task environment the way the scheduler does, from
// fuzzed names and a fuzzed scheduler environment (entries separated by
// newlines), and reads it back with the in-task parsers. Properties:
//   - a config template declared with SetConfigTemplate is found by
//     ConfigTemplateVars under taskenv.ConfigTemplateVar(name) and parses back to
//     config-templates/<name> and its destination — for a name without a
//     comma: the value's format cannot carry one, so svc.yml refuses such
//     names (internal/spec, FuzzParse checks every name it accepts);
//   - a TLS secret set with SetTLS is found by TLSSecrets, read from the
//     variables set, which are TLSVar of the name found — unless a variable
//     of the environment is the same secret, which the error names;
//   - Lookup over Environ() agrees with Get for every variable, and every
//     name appears once;
//   - EnvName keeps one character per character of its input, uses only
//     A-Z, 0-9 and "_", and is idempotent.
func FuzzEnv(f *testing.F) {
	f.Add("TASKCFG_ALL_A=1\nTASKCFG_WEB_B=2\nOTHER=3", "web", "app-conf", "conf/app.conf", "node-tls")
	f.Add("TASKCFG_ALL_X=1\nTASKCFG_ALL_X=2\n=\nNOEQUALS", "Web.Pod", "server.xml", " /etc/a,b ", "my-node.1")
	f.Add("CONFIG_TEMPLATE_A=a,b\nTLS__KEY=x\nTLS_A_KEY=k", "ümlaut", "a", "b", "ümlaut")
	f.Fuzz(func(t *testing.T, environ, pod, config, dest, tlsName string) {
		checkEnv(t, strings.Split(environ, "\n"), pod, config, dest, tlsName)
	})
}

func checkEnv(t *testing.T, environ []string, pod, config, dest, tlsName string) {
	for _, s := range []string{pod, config, tlsName} {
		n := taskenv.EnvName(s)
		if len(n) != utf8.RuneCountInString(s) || taskenv.EnvName(n) != n || strings.Trim(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
			t.Fatalf("taskenv.EnvName(%q) = %q", s, n)
		}
	}

	var e taskenv.Env
	e.SetTaskCfg(environ, pod)
	declared := strings.TrimSpace(dest) != "" && !strings.Contains(config, ",")
	if declared {
		e.SetConfigTemplate(config, dest)
	}
	e.SetTLS(tlsName, "key", "cert", "ca")
	env := e.Environ()

	seen := map[string]bool{}
	lookup := taskenv.Lookup(env)
	for _, v := range e.Vars() {
		if seen[v.Name] {
			t.Fatalf("%q set twice in %q", v.Name, env)
		}
		seen[v.Name] = true
		if got, _ := e.Get(v.Name); got != v.Value || (!strings.Contains(v.Name, "=") && lookup(v.Name) != v.Value) {
			t.Fatalf("%q: Get %q, Lookup %q, want %q", v.Name, got, lookup(v.Name), v.Value)
		}
	}

	if declared {
		names, vals := taskenv.ConfigTemplateVars(env)
		k := taskenv.ConfigTemplateVar(config)
		if !slices.Contains(names, k) {
			t.Fatalf("config %q: %s not among %q", config, k, names)
		}
		src, d, err := taskenv.ParseConfigTemplate(vals[k])
		wantSrc := strings.TrimSpace(taskenv.ConfigTemplatePath(config))
		if err != nil || src != wantSrc || d != strings.TrimSpace(dest) {
			t.Fatalf("config %q to %q: %s=%q parses to %q, %q, %v; want %q, %q", config, dest, k, vals[k], src, d, err, wantSrc, strings.TrimSpace(dest))
		}
	}

	if taskenv.EnvName(tlsName) != "" {
		secrets, err := taskenv.TLSSecrets(env)
		want := taskenv.TLSVar(tlsName, taskenv.TLSKey)
		found := slices.ContainsFunc(secrets, func(s taskenv.TLSSecret) bool {
			return s.Key == want && s.Cert == taskenv.TLSVar(tlsName, taskenv.TLSCert) && taskenv.TLSVar(s.Name, taskenv.TLSKey) == want
		})
		// Else a variable of environ is the same secret: the error says so.
		if !found && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Fatalf("TLS name %q: %s not found by TLSSecrets: %+v, %v", tlsName, want, secrets, err)
		}
	}
}

// TestEnvBudget feeds 1 MiB inputs to both parsers: each must stay within
// 16 MiB allocated (a few copies of the input).
func TestEnvBudget(t *testing.T) {
	b := fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}
	big := string(fuzzcheck.Sized([]byte("config-templates/a,"), fuzzcheck.MiB))
	b.Check(t, "ParseConfigTemplate of 1 MiB", func() { checkParseConfigTemplate(t, big) })
	environ := strings.Split(string(fuzzcheck.Sized([]byte("TASKCFG_ALL_K=v\nTASKCFG_WEB_X=y\n"), fuzzcheck.MiB)), "\n")
	b.Check(t, "task environment of 1 MiB", func() { checkEnv(t, environ, "web", "c", "d", "n") })
}
