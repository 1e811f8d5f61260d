// Package redact is taskkit's one definition of what is secret. Every printer
// (env dumps, template diffs, logs, API responses) asks a Redactor which
// environment keys are secret and masks their values wherever they appear.
//
// A key is secret when it matches DefaultKeyPattern — the DC/OS SDK bootstrap's
// rule (SDKKeyPattern) widened to private keys, API and access keys, and the
// TLS_<NAME>_KEY variables tlsprov reads — or the extra pattern a user passes
// (bootstrap's -redact-keys, for example). A Redactor built from an
// environment also knows the secret values themselves, so it can mask them
// inside arbitrary text such as a diff line: the raw value, its HTML-escaped
// form (what mustache's {{x}} prints), and each line of a multi-line value
// like a PEM key. String also masks the password of any URL
// (scheme://user:password@host), whatever variable it came from.
package redact

import (
	"fmt"
	"html"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every secret value in output.
const Mask = "********"

// SDKKeyPattern matches the environment keys the DC/OS SDK treats as secret.
const SDKKeyPattern = `(?i)(DCOS_SERVICE_ACCOUNT_CREDENTIAL|credential|password|secret|token)`

// DefaultKeyPattern is SDKKeyPattern plus private keys, API and access keys,
// passwd, and TLS_<NAME>_KEY (a PEM private key handed to tlsprov).
const DefaultKeyPattern = `(?i)(DCOS_SERVICE_ACCOUNT_CREDENTIAL|credential|password|passwd|secret|token|private_?key|api_?key|access_?key|^TLS_.+_KEY$)`

// urlPassword matches the password of a URL's userinfo: from the first ':'
// after the user to the last '@' of the token, so a password holding '@' or
// '/' is masked whole (at worst a little of what follows is masked too).
var urlPassword = regexp.MustCompile(`(://[^/\s:@"'<>]*:)[^\s"'<>]*@`)

var defaultKeys = regexp.MustCompile(DefaultKeyPattern)

// minLineLen is the shortest line of a multi-line secret that is masked on its
// own; shorter lines ("-----", "") would mask unrelated text without hiding
// anything of value.
const minLineLen = 8

// Redactor decides which keys are secret and masks secret values in text.
// The zero value is not useful; use New.
type Redactor struct {
	keys     []*regexp.Regexp
	values   []string // secret values and long lines of them, longest first
	replacer *strings.Replacer
}

// New returns a Redactor using DefaultKeyPattern plus extra, a regular
// expression for more secret keys ("" for none). flagName names where extra
// came from, for the error when it does not compile.
func New(extra, flagName string) (*Redactor, error) {
	r := &Redactor{keys: []*regexp.Regexp{defaultKeys}}
	if extra != "" {
		re, err := regexp.Compile(extra)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid regular expression: %w", flagName, err)
		}
		r.keys = append(r.keys, re)
	}
	r.rebuild()
	return r, nil
}

// Default returns a Redactor with only DefaultKeyPattern.
func Default() *Redactor {
	r, _ := New("", "")
	return r
}

// IsSecretKey reports whether the value of key must never be shown.
func (r *Redactor) IsSecretKey(key string) bool {
	for _, re := range r.keys {
		if re.MatchString(key) {
			return true
		}
	}
	return false
}

// LearnEnv records the values of every secret key in env (KEY=VALUE entries),
// so String masks them wherever they appear. It returns r for chaining.
func (r *Redactor) LearnEnv(env []string) *Redactor {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && r.IsSecretKey(k) {
			r.addValue(v)
		}
	}
	r.rebuild()
	return r
}

// LearnValue records one secret value to mask in String.
func (r *Redactor) LearnValue(v string) *Redactor {
	r.addValue(v)
	r.rebuild()
	return r
}

func (r *Redactor) addValue(v string) {
	if strings.TrimSpace(v) == "" {
		return
	}
	r.values = append(r.values, v)
	if esc := html.EscapeString(v); esc != v {
		r.values = append(r.values, esc) // as {{x}} renders it
	}
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range strings.FieldsFunc(v, func(c rune) bool { return c == '\n' || c == '\r' }) {
			// PEM armor lines ("-----BEGIN ...") are public and common.
			if line = strings.TrimSpace(line); len(line) >= minLineLen && !strings.HasPrefix(line, "-----") {
				r.values = append(r.values, line)
			}
		}
	}
}

func (r *Redactor) rebuild() {
	// Longest first, so a value that contains another is masked whole.
	sort.SliceStable(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
	uniq := r.values[:0]
	for i, v := range r.values {
		if i == 0 || v != r.values[i-1] {
			uniq = append(uniq, v)
		}
	}
	r.values = uniq
	pairs := make([]string, 0, 2*len(r.values))
	for _, v := range r.values {
		pairs = append(pairs, v, Mask)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// String returns s with every learned secret value, and the password of
// every URL, replaced by Mask.
func (r *Redactor) String(s string) string {
	if len(r.values) > 0 {
		s = r.replacer.Replace(s)
	}
	return URLPasswords(s)
}

// URLPasswords masks the password of every scheme://user:password@ in s.
func URLPasswords(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPassword.ReplaceAllString(s, "${1}"+Mask+"@")
}

// Value returns value, or Mask when key is secret.
func (r *Redactor) Value(key, value string) string {
	if r.IsSecretKey(key) {
		return Mask
	}
	return value
}

// Env returns env (KEY=VALUE entries) sorted by key, with the values of secret
// keys replaced by Mask.
func (r *Redactor) Env(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, k+"="+r.Value(k, v))
	}
	sort.Strings(out)
	return out
}
