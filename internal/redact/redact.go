// Package redact is taskkit's one definition of what is secret. Every printer
// (env dumps, template diffs, logs, API responses) asks a Redactor which
// environment keys are secret and masks their values wherever they appear.
//
// A key is secret when it matches DefaultKeyPattern — the DC/OS SDK bootstrap's
// rule (SDKKeyPattern) widened to private keys, API and access keys, and the
// TLS_<NAME>_KEY variables tlsprov reads — unless it names a path (ends in
// _FILE, _PATH or _DIR, see PathKeyPattern: SCHEDULER_LITE_SECRET_FILE holds
// where a secret is, which a user must see to fix it), or when it matches the
// extra pattern a user passes (bootstrap's -redact-keys, for example), which
// has no exception. A Redactor built from an environment also knows the
// secret values themselves, so it can mask them inside arbitrary text such as
// a diff line: the raw value, its HTML-escaped form (what mustache's {{x}}
// prints), and each line of a multi-line value like a PEM key — provided the
// value can be masked in free text without harm: at least MinLearnLen bytes
// and not a common word or number (true, no, 8080; see Learnable). Masking
// every "o" of a message for MY_TOKEN=o both mangles the message and tells
// the secret; such a value is still masked as the value of its own key
// (Value, Env, and MY_TOKEN=o inside a text), only not elsewhere.
//
// String and Value also mask credentials carried inside a value, whatever
// variable it came from, keeping the rest readable:
//
//   - the password of a URL's userinfo: scheme://user:********@host, and
//     of a DSN without a scheme in go-sql-driver/mysql's form:
//     user:********@tcp(db:3306)/app;
//   - parameters whose name is secret by the same rule (or is pwd, pass,
//     sig or signature), with their value after '=' or ':': URL queries
//     (?user=app&password=********), JDBC (;password=********), libpq
//     key=value strings (password=******** host=db, quoted values too), ODBC
//     (Pwd=********; or Pwd={********}), JSON ("token": "********"), YAML
//     with a quoted value (token: "********"),
//     Java system properties (-Dssl.keyStorePassword=********);
//   - command-line options whose name is secret, with the value joined by '='
//     or given as the next word: --password=********, --db-password ********.
//
// A value ends at whitespace, '&', ';' or a quote (inside a quoted or braced
// value, at its closing quote or brace), so a password holding one of those
// unquoted leaks what follows it. "NAME: text" with a blank after the colon
// and an unquoted name and text is prose, not a parameter — the shape of
// taskkit's own errors ("--keystore-password: empty") — so an unquoted YAML
// value (password: x) is not masked. A password passed without a name
// (mysql -pSECRET, curl -u user:SECRET) is not recognised, nor is an HTTP
// header's credential (Authorization: Bearer SECRET). A dotted parameter
// name (a field path such as pods.p.secrets.s.file, a Java property) is
// judged by its last part, and svc.yml's secrets.<id>.secret field holds a
// secret's name in the store, not its value, so neither is masked.
package redact

import (
	"fmt"
	"html"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret value in output.
const Mask = "********"

// SDKKeyPattern matches the environment keys the DC/OS SDK treats as secret.
const SDKKeyPattern = `(?i)(DCOS_SERVICE_ACCOUNT_CREDENTIAL|credential|password|secret|token)`

// DefaultKeyPattern is SDKKeyPattern plus private keys, API and access keys,
// passwd, and TLS_<NAME>_KEY (a PEM private key handed to tlsprov).
const DefaultKeyPattern = `(?i)(DCOS_SERVICE_ACCOUNT_CREDENTIAL|credential|password|passwd|secret|token|private_?key|api_?key|access_?key|^TLS_.+_KEY$)`

// lazyRegexp compiles expr on its first use, once per process: every taskkit
// binary links this package, and most of its expressions are needed by few
// runs (compiled at init they cost ~1.5 ms of every process start).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// urlPassword matches the password of a URL's userinfo: from the first ':'
// after the user to the last '@' of the token, so a password holding '@' or
// '/' is masked whole (at worst a little of what follows is masked too).
var urlPassword = lazyRegexp(`(://[^/\s:@"'<>]*:)[^\s"'<>]*@`)

// dsnPassword matches the password of a DSN in go-sql-driver/mysql's form,
// user:password@net(addr)/dbname or user:password@/dbname: userinfo with no
// scheme, recognised by what follows its last '@'.
var dsnPassword = lazyRegexp(`(^|[\s=;,"'(])([^\s:@/"'=;,()]+:)[^\s"']*@([a-z0-9]*\(|/)`)

var defaultKeys = lazyRegexp(DefaultKeyPattern)

// PathKeyPattern matches the keys DefaultKeyPattern would call secret that
// hold a path instead (the convention of Docker's POSTGRES_PASSWORD_FILE):
// their values are shown. The SDK's bootstrap has no such exception; it
// only prints the environment, where a path hidden is merely unhelpful,
// while taskkit masks values in every error, where it hides what to fix.
const PathKeyPattern = `(?i)[_.-](FILE|PATH|DIR)$`

var pathKeys = lazyRegexp(PathKeyPattern)

// specSecretName matches svc.yml's secrets.<id>.secret field path (as
// spec's errors name it): its value is the secret's name in the store.
var specSecretName = lazyRegexp(`(?i)(^|\.)secrets\.[^.]+\.secret$`)

// MinLearnLen is the shortest secret value, in bytes, masked wherever it
// appears in free text (Learnable).
const MinLearnLen = 6

// commonValue matches values too common to mask in free text: booleans and
// such words, and numbers of fewer than 16 digits (ports, counts,
// timeouts).
var commonValue = lazyRegexp(`(?i)^(true|false|yes|no|on|off|enabled?|disabled?|null|none)$|^[-+]?[0-9]{1,15}(\.[0-9]*)?$`)

// Learnable reports whether a secret value is masked wherever it appears in
// free text: at least MinLearnLen bytes once trimmed of blanks and not a
// common word or number. Other values of secret keys are masked only as
// the value of their key.
func Learnable(v string) bool {
	v = strings.TrimSpace(v)
	return len(v) >= MinLearnLen && !commonValue().MatchString(v)
}

// paramNames are parameter names that are secret inside values although
// they are too short or too generic to be secret as environment keys: ODBC's
// Pwd, "pass", and the signature of a pre-signed URL (Azure's sig, AWS's
// X-Amz-Signature).
var paramNames = lazyRegexp(`(?i)^(pwd|pass|sig|signature|x-amz-signature)$`)

// minLineLen is the shortest line of a multi-line secret that is masked on its
// own; shorter lines ("-----", "") would mask unrelated text without hiding
// anything of value.
const minLineLen = 8

// Redactor decides which keys are secret and masks secret values in text.
// The zero value is not useful; use New.
type Redactor struct {
	keys     []*regexp.Regexp
	verdicts sync.Map // parameter name -> bool: isSecretParam's answers
	nVerdict atomic.Int32
	values   []string // secret values and long lines of them, longest first
	replacer *strings.Replacer
}

// New returns a Redactor using DefaultKeyPattern plus extra, a regular
// expression for more secret keys ("" for none). flagName names where extra
// came from, for the error when it does not compile.
func New(extra, flagName string) (*Redactor, error) {
	r := &Redactor{keys: []*regexp.Regexp{defaultKeys()}}
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

// IsSecretKey reports whether the value of key must never be shown: it
// matches DefaultKeyPattern and not PathKeyPattern, or it matches the extra
// pattern.
func (r *Redactor) IsSecretKey(key string) bool {
	for i, re := range r.keys {
		if re.MatchString(key) && (i > 0 || !pathKeys().MatchString(key)) {
			return true
		}
	}
	return false
}

// LearnEnv records the values of every secret key in env (KEY=VALUE entries),
// so String masks them wherever they appear (those that are Learnable). It
// returns r for chaining.
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

// LearnValue records one secret value to mask in String, when it is
// Learnable.
func (r *Redactor) LearnValue(v string) *Redactor {
	r.addValue(v)
	r.rebuild()
	return r
}

func (r *Redactor) addValue(v string) {
	if !Learnable(v) {
		return
	}
	r.values = append(r.values, v)
	if esc := html.EscapeString(v); esc != v {
		r.values = append(r.values, esc) // as {{x}} renders it
	}
	if strings.ContainsAny(v, "\r\n") {
		for _, line := range strings.FieldsFunc(v, func(c rune) bool { return c == '\n' || c == '\r' }) {
			// PEM armor lines ("-----BEGIN ...") are public and common.
			if line = strings.TrimSpace(line); len(line) >= minLineLen && Learnable(line) && !strings.HasPrefix(line, "-----") {
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

// String returns s with every learned secret value, the password of every
// URL and the value of every secret parameter replaced by Mask (see the
// package documentation).
func (r *Redactor) String(s string) string {
	if len(r.values) > 0 {
		s = r.replacer.Replace(s)
	}
	return r.params(URLPasswords(s))
}

// isSecretParam reports whether a parameter called name inside a value
// carries a secret.
func (r *Redactor) isSecretParam(name string) bool {
	if v, ok := r.verdicts.Load(name); ok {
		return v.(bool)
	}
	last := name[strings.LastIndexByte(name, '.')+1:] // a field path or property by its last part
	secret := !specSecretName().MatchString(name) &&
		(r.IsSecretKey(last) || r.IsSecretKey(strings.ReplaceAll(last, "-", "_")) || paramNames().MatchString(last))
	if r.nVerdict.Add(1) <= maxCachedParams {
		r.verdicts.Store(name, secret)
	}
	return secret
}

// maxCachedParams bounds how many parameter names a Redactor remembers the
// verdict of.
const maxCachedParams = 4096

// params masks the value of every secret parameter in s: a name that
// starts at a boundary, optionally after one or two dashes (a command-line
// option) and inside quotes (JSON), then '=' or ':' with blanks around it,
// or blanks alone after dashes (an option's value as the next word). It is a
// hand-rolled scanner rather than a regular expression because it runs over
// every diff line and log record.
func (r *Redactor) params(s string) string {
	var b strings.Builder
	done := 0
	for pos := 0; pos < len(s); {
		m, ok := matchParam(s, pos)
		if !ok {
			pos++
			continue
		}
		name := s[m.nameStart:m.nameEnd]
		// "NAME: problem", the shape of taskkit's errors and of prose
		// ("--keystore-password: empty"), is not a parameter; a quoted name
		// (JSON) or a quoted value is.
		prose := !m.quoted && m.colon && m.blankAfter && m.value < len(s) && s[m.value] != '"' && s[m.value] != '\''
		if (m.spaced && !m.dashes) || prose || !r.isSecretParam(name) {
			// Not a secret: go on after the name, so that a value such as
			// "url=password=x" is looked at too.
			pos = m.nameEnd
			continue
		}
		vs, ve := valueSpan(s, m.value)
		if ve == vs || (m.spaced && s[vs] == '-') { // empty, or the next option
			pos = m.value
			continue
		}
		b.WriteString(s[done:vs])
		b.WriteString(Mask)
		done, pos = ve, ve
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// paramMatch is a parameter name found by matchParam.
type paramMatch struct {
	nameStart, nameEnd int
	value              int  // where the value starts
	dashes             bool // the name follows - or --
	quoted             bool // the name is in quotes
	colon              bool // the separator is ':'
	blankAfter         bool // blanks follow the separator
	spaced             bool // blanks alone separate the value
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// matchParam matches a parameter starting exactly at pos, which must be at
// a boundary (the start, or after a character that cannot be in a name).
func matchParam(s string, pos int) (paramMatch, bool) {
	var m paramMatch
	if pos > 0 && isNameChar(s[pos-1]) {
		return m, false
	}
	i := pos
	for n := 0; n < 2 && i < len(s) && s[i] == '-'; n++ {
		i++
		m.dashes = true
	}
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
		m.quoted = true
	}
	if i >= len(s) || !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] == '_') {
		return m, false
	}
	m.nameStart = i
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	m.nameEnd = i
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
		m.quoted = true
	}
	blanks := i
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '=' || s[i] == ':') {
		m.colon = s[i] == ':'
		i++
		after := i
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		m.blankAfter = i > after
		m.value = i
		return m, true
	}
	if i > blanks && i <= len(s) { // blanks alone
		m.spaced = true
		m.value = i
		return m, true
	}
	return m, false
}

// valueSpan returns where the value starting at i begins and ends: inside
// its quotes or braces when it has them, else up to whitespace, '&', ';' or
// a quote.
func valueSpan(s string, i int) (int, int) {
	if i >= len(s) {
		return i, i
	}
	switch open := s[i]; open {
	case '"', '\'', '{':
		closer := open
		if open == '{' {
			closer = '}'
		}
		for j := i + 1; j < len(s); j++ {
			switch {
			case s[j] == '\\' && open == '"' && j+1 < len(s):
				j++ // an escaped character, the quote included
			case s[j] == closer && open == '{' && j+1 < len(s) && s[j+1] == '}':
				j++ // ODBC's "}}" is a literal brace
			case s[j] == closer:
				return i + 1, j
			}
		}
		return i + 1, len(s) // unterminated: mask to the end
	}
	j := i
	for j < len(s) && !strings.ContainsRune(" \t\r\n&;\"'", rune(s[j])) {
		j++
	}
	return i, j
}

// Credentials masks the credentials carried inside s by DefaultKeyPattern:
// URL passwords and secret parameters (see the package documentation). It
// is for text that no Redactor has seen the environment of, such as a URI
// in a fetch error.
func Credentials(s string) string { return defaultRedactor().params(URLPasswords(s)) }

var defaultRedactor = sync.OnceValue(Default)

// URLPasswords masks the password of every scheme://user:password@ in s,
// and of every user:password@net(addr)/ DSN (go-sql-driver/mysql's form).
func URLPasswords(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	if strings.Contains(s, "://") {
		s = urlPassword().ReplaceAllString(s, "${1}"+Mask+"@")
	}
	return dsnPassword().ReplaceAllString(s, "${1}${2}"+Mask+"@${3}")
}

// Value returns value with its URL passwords and secret parameters masked,
// or Mask when key is secret.
func (r *Redactor) Value(key, value string) string {
	if r.IsSecretKey(key) {
		return Mask
	}
	return r.params(URLPasswords(value))
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
