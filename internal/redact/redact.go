// Package redact is taskkit's one definition of what is secret. Every printer
// (env dumps, template diffs, logs, API responses) asks a Redactor which
// environment keys are secret and masks their values wherever they appear.
//
// A name is judged by its words, whatever separates them: '.', '-', '_',
// case changes (camelCase) — so jwt.private.key, JWT_PRIVATE_KEY,
// jwt-private-key and jwtPrivateKey are the same name — and by one rule for
// environment keys, URL query parameters, JSON and YAML keys, Java
// properties and command-line options. A name is secret when its words
// match DefaultKeyPattern — the DC/OS SDK bootstrap's rule (SDKKeyPattern:
// credential, password, secret, token, anywhere in the name) widened to
// passwd and passphrase; private, API and access keys; signing, encryption,
// HMAC and SSH keys; a key of TLS or SSL (TLS_<NAME>_KEY, SSL_KEY, the PEM
// keys tlsprov reads); a name ending in pwd, pass, sig or signature
// (DB_PASS, X-Goog-Signature, Azure's sig) or in authorization or cookie
// (HTTP headers of credentials, HTTP_AUTHORIZATION) — unless it names a
// path (its last word is file, path or dir, see PathKeyPattern:
// SCHEDULER_LITE_SECRET_FILE holds where a secret is, which a user must see
// to fix it) or is a well-known variable holding a path whose name does not
// say so (GOOGLE_APPLICATION_CREDENTIALS, MESOS_CREDENTIAL, see
// pathNames), or is the shell's PWD or OLDPWD; or when it matches the extra
// pattern a user passes (bootstrap's -redact-keys, for example), which has
// no exception. A bare key is not secret: PRIMARY_KEY_COLUMN, cache.key and
// PUBLIC_KEY are shown. A Redactor built from an environment also knows the
// secret values themselves — those of secret keys and the credentials
// inside other values (below) — so it can mask them inside arbitrary text
// such as a diff line: the raw value, its HTML-escaped form (what mustache's
// {{x}} prints), and each line of a multi-line value like a PEM key —
// provided the value can be masked in free text without harm: at least
// MinLearnLen bytes and not a common word or number (true, no, 8080; see
// Learnable). Masking every "o" of a message for MY_TOKEN=o both mangles the
// message and tells the secret; such a value is still masked as the value
// of its own key (Value, Env, and MY_TOKEN=o inside a text), only not
// elsewhere.
//
// String and Value also mask credentials carried inside a value, whatever
// variable it came from, keeping the rest readable:
//
//   - the password of a URL's userinfo (RFC 3986 §3.2.1):
//     scheme://user:********@host, percent-encoded too, as a URL is in
//     another's query (?redirect_uri=https%3A%2F%2Fuser%3A********%40host).
//     The userinfo ends at the last '@' before the host, so the user may
//     be an e-mail address
//     (smtps://alerts@example.com:********@smtp.example.com) and the
//     password may hold '@', ':' and the sub-delims (! $ & ' ( ) * + , ; =);
//     the first ':' starts the password. A single quote ends a URL only
//     when one opened it ('postgres://...');
//   - the password of a DSN without a scheme: user:********@proxy:3128
//     (a proxy as curl -x and HTTPS_PROXY take it: a host and port must
//     follow, except in the value of a variable whose name ends in proxy,
//     HTTPS_PROXY=user:********@proxy), go-sql-driver/mysql's user:********@tcp(db:3306)/app and
//     user:********@/app, and Oracle's jdbc:oracle:thin:user/********@db;
//   - the body of a PEM private key (-----BEGIN ... PRIVATE KEY-----: PKCS#1,
//     PKCS#8, encrypted, EC, OpenSSH, PGP), between its armor lines, which
//     stay; certificates and public keys are shown;
//   - parameters whose name is secret by the same rule, with their value
//     after '=' or ':': URL queries (?user=app&password=********, the
//     signatures and tokens of pre-signed URLs: X-Amz-Signature,
//     X-Amz-Security-Token, X-Goog-Signature, Azure's sig, access_token,
//     api_key), JDBC (;password=********), libpq key=value strings
//     (password=******** host=db, quoted values too), ODBC (Pwd=******** or
//     Pwd={********}), JSON ("token": "********"), YAML with a quoted value
//     (token: "********"), Java system properties
//     (-Dssl.keyStorePassword=********, -Djwt.private.key=********), Ruby's
//     and Perl's hashes (:password => "********");
//   - command-line options whose name is secret, with the value joined by '='
//     or given as the next word: --password=********, --db-password ********;
//   - the credentials of an HTTP Authorization or Proxy-Authorization
//     header after its scheme (Authorization: Bearer ********, Basic,
//     Digest, token and the other schemes of authSchemes; a header's
//     single word holding more than letters, a raw API key, whole), in a
//     logged request, curl's -H '...' and HTTP_AUTHORIZATION=;
//   - the value of a Cookie or Set-Cookie header (cookie is a secret last
//     word: session ids are credentials), to the end of its line;
//   - the lines of a YAML block scalar under a secret key (password: |,
//     then its indented lines);
//   - the text of an XML element whose name is secret
//     (<password>********</password>, Maven's settings.xml).
//
// A parameter's value ends at whitespace, '&', ';' or a quote (inside a
// quoted or braced value, at its closing quote or brace, not at an escaped
// one: \" and \' inside quotes, a doubled single quote, }} inside braces),
// so a password holding one of those unquoted leaks what follows it.
// Inside a structure the value is masked whatever its kind, and nothing of
// the structure (see structure.go): a value in brackets (a JSON or YAML
// array or object, nested or pretty-printed: "token": [********],
// "token": {********}) to its matching closer; a value without quotes
// (a number, true, null, a word) without the ',' and the closers of the
// brackets open around it on its line ({"token": ********},
// {user=app, password=********}, Config(password=********),
// map[password:********]) — a JSON value after a quoted name ends before
// any ',', '}' or ']' — and, in a YAML flow collection or a printed map
// whose entries are separated by ", " ({password: ********, user: app},
// Java's {password=********, user=app}), with the blanks inside it, to the
// ',' or closer that ends it. A URL password
// holding an unescaped '/', '?' or '#' (RFC 3986 wants them escaped) is
// masked to the next '@', unless what precedes the '/' is a port
// (http://u:1234/x@h is read as host u, port 1234). A URL password may
// hold '"', '<', '>' and '`' unescaped too (postgres://app:p<w>d@db), and
// blanks when the URL starts the text or follows '=' (a variable's
// value); it leaks whole when it holds a blank in prose, the quote or
// bracket the URL was opened by, or digits then one of these (read as a
// port). A scheme-less user:password@host without a port
// (mailto:ops@example.com, 10:30@home) is not a DSN. "NAME: text" with a
// blank after the colon and an unquoted name and text is prose, not a
// parameter — the shape of taskkit's own errors ("--keystore-password:
// empty", "token: required", "Authorization: denied") — so an unquoted
// YAML block value of words (password: x) is not masked, unless it is one
// word alone on its line holding more than letters (password: hunter2,
// X-API-Key: abc123, a Kubernetes Secret's data: see oneWordValue), a
// block scalar or the entry of a flow collection ({password: x}). So is
// a quoted name followed by words of letters (see proseWords) — Go's
// `%q: reason` errors (exec: "token-refresher": executable file not
// found, parsing "password": invalid syntax) — while a JSON value after a
// quoted name ({"token": 12345}, "token": "x") and a value inside a YAML
// flow mapping ({"token": abc}) are masked. Of the passwords passed
// without a name, curl's (-u user:********, in a text naming curl), a
// MySQL client's (-p********, in a text naming mysql or mariadb) and
// SQL's (PASSWORD '********', IDENTIFIED BY '********') are masked
// (positional.go); others (sshpass -p SECRET, a JSON array of arguments)
// are not recognised. A token used as a URL's user is masked when its
// prefix says it is one (https://********@github.com for GitHub's ghp_,
// github_pat_ and the like, GitLab's glpat-; see tokenPrefixes), not
// otherwise (https://TOKEN@host reads as a user name).
// svc.yml's secrets.<id>.secret and secrets.<id>.env-key fields hold a
// secret's name in the store and its variable's name, not its value, so
// they are not masked.
package redact

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces every secret value in output.
const Mask = "********"

// SDKKeyPattern matches the environment keys the DC/OS SDK treats as secret.
const SDKKeyPattern = `(?i)(DCOS_SERVICE_ACCOUNT_CREDENTIAL|credential|password|secret|token)`

// DefaultKeyPattern is the rule for secret names. It is matched against a
// name's words, lowercased and joined by '_' ("jwt.private.key",
// "JWT_PRIVATE_KEY", "jwt-private-key" and "jwtPrivateKey" are all
// "jwt_private_key"; see words), and against the same words joined by
// nothing ("dbPassWord" is "dbpassword"): SDKKeyPattern's words and
// passwd and passphrase anywhere, even inside a word ("SSLPASSWORD"); a
// private, API or access key ("private_key", "apikey", "aws_access_key_id",
// "awsaccesskeyid"; not "api_keyspace")
// and a signing, encryption, HMAC or SSH key; a name ending in pwd, pass,
// sig or signature ("db_pass", "x_goog_signature"); a key of TLS or SSL
// ("tls_server_key", "ssl_key", the PEM keys tlsprov reads); and a name
// ending in authorization or cookie, HTTP headers of credentials (RFC
// 9110 §11.6.2, RFC 6265: "proxy_authorization", CGI's
// "http_authorization", "set_cookie"; not "authorization_endpoint",
// "cookie_domain"). A bare "key"
// ("primary_key_column", "cache_key", "public_key") is not secret.
const DefaultKeyPattern = `(credential|password|passwd|passphrase|secret|token|(private|api|access)_?keys?(_|$|id)|(^|_)(signing|encryption|hmac|ssh)_keys?(_|$)|(^|_)(pwd|pass|sig|signature)$|(^|_)(tls|ssl)_(.+_)?key$|(^|_)authorization$|(^|_)cookies?$)`

// lazyRegexp compiles expr on its first use, once per process: every taskkit
// binary links this package, and most of its expressions are needed by few
// runs (compiled at init they cost ~1.5 ms of every process start).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var defaultKeys = lazyRegexp(DefaultKeyPattern)

// PathKeyPattern matches the names DefaultKeyPattern would call secret that
// hold a path instead (the convention of Docker's POSTGRES_PASSWORD_FILE),
// matched against the name's words like DefaultKeyPattern (so
// "tlsPrivateKeyPath" too): their values are shown. The SDK's bootstrap has
// no such exception; it only prints the environment, where a path hidden is
// merely unhelpful, while taskkit masks values in every error, where it
// hides what to fix.
const PathKeyPattern = `_(file|path|dir)$`

var pathKeys = lazyRegexp(PathKeyPattern)

// pathNames are the words (see words) of the well-known names that hold a
// credential file's path, not a credential, though their last word is not
// file, path or dir — each documented so by its owner, so that the value
// is shown as PathKeyPattern's are:
//
//   - GOOGLE_APPLICATION_CREDENTIALS, "the path to the JSON file that
//     contains your credentials" (Google Cloud's ADC documentation; a
//     service account key's contents are never its value), and gcloud's
//     CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE;
//   - the Mesos flags that take a path, as the MESOS_<FLAG> variables
//     Mesos reads them from (src/master/flags.cpp, src/slave/flags.cpp):
//     the agent's --credential, --http_credentials and --jwt_secret_key
//     (formerly --executor_secret_key), "Path to a ... file containing",
//     and the master's --credentials.
//
// A name its owner lets hold a credential or its path stays secret:
// GOOGLE_CREDENTIALS (Terraform's provider takes a key's contents or its
// path), DCOS_SERVICE_ACCOUNT_CREDENTIAL (the SDK's service account
// secret), MESOS_EXECUTOR_AUTHENTICATION_TOKEN (a token). The other
// well-known path variables need no entry: their names end in FILE or
// PATH (AWS_SHARED_CREDENTIALS_FILE, AWS_WEB_IDENTITY_TOKEN_FILE, Docker's
// *_PASSWORD_FILE, LIBPROCESS_SSL_KEY_FILE) or are not secret names
// (KUBECONFIG, SSL_CERT_FILE, AWS_CONFIG_FILE, PGPASSFILE, VAULT_CACERT).
var pathNames = map[string]bool{
	"google_application_credentials":         true,
	"cloudsdk_auth_credential_file_override": true,
	"mesos_credential":                       true,
	"mesos_credentials":                      true,
	"mesos_http_credentials":                 true,
	"mesos_jwt_secret_key":                   true,
	"mesos_executor_secret_key":              true,
}

// shellKeys are the shell's own variables DefaultKeyPattern would call
// secret: PWD and OLDPWD hold directories (pwd is secret as ODBC's password
// parameter, inside values).
var shellKeys = map[string]bool{"PWD": true, "OLDPWD": true}

// specSecretName matches svc.yml's secrets.<id>.secret and
// secrets.<id>.env-key field paths (as spec's errors name them): their
// values are a secret's name in the store and the variable it goes in.
var specSecretName = lazyRegexp(`(?i)(^|\.)secrets\.[^.]+\.(secret|env-key)$`)

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

// minLineLen is the shortest line of a multi-line secret that is masked on its
// own; shorter lines ("-----", "") would mask unrelated text without hiding
// anything of value.
const minLineLen = 8

// Redactor decides which keys are secret and masks secret values in text.
// The zero value is not useful; use New.
type Redactor struct {
	extra    *regexp.Regexp // the user's pattern, nil for none
	verdicts sync.Map       // parameter name -> bool: isSecretParam's answers
	nVerdict atomic.Int32
	values   []string // secret values and long lines of them, longest first
	replacer *strings.Replacer
}

// New returns a Redactor using DefaultKeyPattern plus extra, a regular
// expression for more secret keys ("" for none), matched against the key as
// written and against its last dotted part. flagName names where extra came from, for the error when it does
// not compile.
func New(extra, flagName string) (*Redactor, error) {
	r := &Redactor{}
	if extra != "" {
		re, err := regexp.Compile(extra)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid regular expression: %w", flagName, err)
		}
		r.extra = re
	}
	r.rebuild()
	return r, nil
}

// Default returns a Redactor with only DefaultKeyPattern.
func Default() *Redactor {
	r, _ := New("", "")
	return r
}

// words returns name's words, lowercased and joined by '_': a word ends at
// any character other than a letter or digit, and where a lowercase letter
// or digit meets an uppercase one ("jwtPrivateKey") or an uppercase run
// meets a capitalised word ("APIKey" is "api_key").
func words(name string) string {
	b := make([]byte, 0, len(name)+4)
	for i := 0; i < len(name); i++ {
		c := name[i]
		lower, upper, digit := c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
		if !lower && !upper && !digit {
			if len(b) > 0 && b[len(b)-1] != '_' {
				b = append(b, '_')
			}
			continue
		}
		if upper && i > 0 && len(b) > 0 && b[len(b)-1] != '_' {
			p := name[i-1]
			pLowerOrDigit := p >= 'a' && p <= 'z' || p >= '0' && p <= '9'
			nextLower := i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z'
			if pLowerOrDigit || (p >= 'A' && p <= 'Z' && nextLower) {
				b = append(b, '_')
			}
		}
		if upper {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if len(b) > 0 && b[len(b)-1] == '_' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// secretName reports whether name is secret by DefaultKeyPattern and not a
// path by PathKeyPattern. It remembers the verdicts of up to
// maxCachedNames names (environment keys and parameter names recur in
// every log line and environment a process masks).
func secretName(name string) bool {
	if v, ok := nameVerdicts.Load(name); ok {
		return v.(bool)
	}
	secret := judgeName(name)
	if nNameVerdicts.Add(1) <= maxCachedNames {
		nameVerdicts.Store(name, secret)
	}
	return secret
}

var (
	nameVerdicts  sync.Map // name -> bool: judgeName's answers
	nNameVerdicts atomic.Int32
)

// maxCachedNames bounds how many names secretName remembers the verdict
// of.
const maxCachedNames = 4096

func judgeName(name string) bool {
	w := words(name)
	if pathKeys().MatchString(w) || pathNames[w] {
		return false
	}
	return defaultKeys().MatchString(w) || defaultKeys().MatchString(strings.ReplaceAll(w, "_", ""))
}

// IsSecretKey reports whether the value of key must never be shown: its
// words match DefaultKeyPattern and not PathKeyPattern, and it is not the
// shell's PWD or OLDPWD; or the extra pattern matches it or its last
// dotted part, with no exception.
func (r *Redactor) IsSecretKey(key string) bool {
	return r.extraMatch(key) || !shellKeys[key] && secretName(key)
}

// extraMatch reports whether the extra pattern matches name as written or
// its last dotted part (app.session for ^session$, as a -D property).
func (r *Redactor) extraMatch(name string) bool {
	return r.extra != nil && (r.extra.MatchString(name) || r.extra.MatchString(name[strings.LastIndexByte(name, '.')+1:]))
}

// LearnEnv records the values of every secret key in env (KEY=VALUE
// entries), and every credential Value masks inside the other values (a URL
// password, a secret parameter, a PEM private key), so String masks them
// wherever they appear (those that are Learnable). It returns r for
// chaining.
func (r *Redactor) LearnEnv(env []string) *Redactor {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if r.IsSecretKey(k) {
			r.addValue(v)
			continue
		}
		for _, sp := range r.valueSpans(k, v, nil) {
			r.addValue(v[sp.start:sp.end])
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
	// Longest first, so a value that contains another is masked whole;
	// equal lengths by value, so that a value learned again (a testenv
	// agent learns each launch's) lands next to itself and is kept once.
	sort.Slice(r.values, func(i, j int) bool {
		a, b := r.values[i], r.values[j]
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return a < b
	})
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

// String returns s with every learned secret value and every credential
// inside it (URL passwords, PEM private keys, the values of secret
// parameters) replaced by Mask (see the package documentation).
func (r *Redactor) String(s string) string {
	if len(r.values) > 0 {
		s = r.replacer.Replace(s)
	}
	return r.mask(s)
}

// mask replaces the credentials inside s by Mask.
func (r *Redactor) mask(s string) string {
	var buf [8]span
	return maskSpans(s, r.credentials(s, buf[:0]))
}

// span is a part of a text, s[start:end], holding a secret.
type span struct{ start, end int }

// credentials appends to dst the spans of s holding credentials: URL
// and DSN passwords (percent-encoded ones too), PEM private-key bodies,
// secret XML elements' text, the passwords curl, MySQL clients and SQL
// take without a name, and secret parameters' values.
// They may overlap and are in no order.
func (r *Redactor) credentials(s string, dst []span) []span {
	dst = userinfoSpans(s, dst)
	dst = encodedUserinfoSpans(s, dst)
	dst = pemSpans(s, dst)
	dst = r.xmlSpans(s, dst)
	dst = curlUserSpans(s, dst)
	dst = mysqlPasswordSpans(s, dst)
	return r.paramSpans(s, dst)
}

// maskSpans returns s with each of spans replaced by Mask, overlapping or
// adjacent spans as one.
func maskSpans(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(len(s))
	done := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		if start < done {
			start = done
		}
		b.WriteString(s[done:start])
		b.WriteString(Mask)
		done = end
	}
	b.WriteString(s[done:])
	return b.String()
}

// isSecretParam reports whether a parameter called name inside a value
// carries a secret: by the words of its name, as an environment key is
// (so "X-Goog-Signature", "jwt.private.key" and "app.apiKey" are), or by
// the extra pattern, as a key is. svc.yml's secrets.<id>.secret and
// .env-key field paths name a secret; they do not hold it.
func (r *Redactor) isSecretParam(name string) bool {
	if v, ok := r.verdicts.Load(name); ok {
		return v.(bool)
	}
	secret := !specSecretName().MatchString(name) && (secretName(name) || r.extraMatch(name))
	if r.nVerdict.Add(1) <= maxCachedParams {
		r.verdicts.Store(name, secret)
	}
	return secret
}

// isJavaProperty reports whether the parameter m called name is a Java
// system property (-Dname=value) whose name is secret.
func (r *Redactor) isJavaProperty(m paramMatch, name string) bool {
	return m.oneDash && len(name) > 1 && name[0] == 'D' && r.isSecretParam(name[1:])
}

// maxCachedParams bounds how many parameter names a Redactor remembers the
// verdict of.
const maxCachedParams = 4096

// paramSpans appends to dst the value of every secret parameter in s: a
// name that starts at a boundary, optionally after one or two dashes (a
// command-line option) and inside quotes (JSON), then '=' or ':' with
// blanks around it, or blanks alone after dashes (an option's value as the
// next word). It is a hand-rolled scanner rather than a regular expression
// because it runs over every diff line and log record.
func (r *Redactor) paramSpans(s string, dst []span) []span {
	var br brackets
	for pos := 0; pos < len(s); {
		m, ok := matchParam(s, pos)
		if !ok {
			pos++
			continue
		}
		name := s[m.nameStart:m.nameEnd]
		if m.spaced && !m.dashes {
			if vs, ve, ok := sqlPasswordSpan(s, m, name); ok {
				dst = append(dst, span{vs, ve})
				pos = ve
				continue
			}
		}
		if (m.spaced && !m.dashes) || !r.isSecretParam(name) && !r.isJavaProperty(m, name) {
			// Not a secret: go on after the name, so that a value such as
			// "url=password=x" is looked at too.
			pos = m.nameEnd
			continue
		}
		nameOpen := m.nameStart // the name's opening quote, when quoted
		if m.quoted {
			nameOpen--
		}
		if m.colon && nameOpen >= 3 && s[nameOpen-3:nameOpen] == "://" {
			// A URL's user (https://x-access-token:pw@host): its
			// password is userinfoSpans', the host is shown.
			pos = m.nameEnd
			continue
		}
		br.to(s, nameOpen)
		if !m.spaced && m.value < len(s) {
			if vs, ve, ok := r.headerValue(s, m, name, nameOpen); ok {
				dst = append(dst, span{vs, ve})
				pos = ve
				continue
			}
		}
		// "NAME: problem", the shape of taskkit's errors and of prose
		// ("--keystore-password: empty"), is not a parameter; a quoted
		// value is. A quoted name (JSON) is one too, unless words follow
		// it: Go's `%q: reason` errors (`exec: "token-refresher":
		// executable file not found`, `parsing "password": invalid
		// syntax`), which no JSON value looks like. An entry of a flow
		// collection ({password: x, user: y}) is never prose.
		open := br.open()
		n := len(open)
		flow := n > 0 && open[n-1] != '(' && !m.dashes && entryStart(s, nameOpen)
		prose := m.colon && m.blankAfter && m.value < len(s) && s[m.value] != '"' && s[m.value] != '\'' &&
			(!m.quoted || proseWords(s, m.value)) && !flow && (m.quoted || !oneWordValue(s, m.value))
		if prose {
			pos = m.nameEnd
			continue
		}
		vs, ve := valueSpan(s, m.value, m.colon)
		if vs == m.value && ve > vs { // unquoted, unbracketed
			ve = trimStructure(s, vs, ve, open, m.quoted && m.colon)
			if n > 0 && !m.dashes && (!m.colon || m.blankAfter) {
				ve = max(ve, flowValueEnd(s, vs, open[n-1]))
			}
		}
		if ve == vs || (m.spaced && s[vs] == '-') { // empty, or the next option
			pos = m.value
			continue
		}
		dst = append(dst, span{vs, ve})
		pos = ve
	}
	return dst
}

// headerValue returns the credential in the value of the secret parameter
// m when the value is one that the prose rule would leave alone though it
// is unambiguous, or one that would end too soon at a blank: a YAML block
// scalar (password: |, then indented lines), an HTTP Authorization
// header's credentials after its scheme (Authorization: Bearer x,
// HTTP_AUTHORIZATION=Bearer x) or a Cookie or Set-Cookie header's value.
func (r *Redactor) headerValue(s string, m paramMatch, name string, nameOpen int) (int, int, bool) {
	switch c := s[m.value]; {
	case (c == '|' || c == '>') && m.colon:
		return blockScalarSpan(s, m.value, nameOpen)
	case c == '"' || c == '\'' || c == '[' || c == '{':
		return 0, 0, false
	}
	var quote byte
	if m.quoted {
		quote = s[nameOpen]
	}
	switch {
	case isAuthHeader(name):
		return authCredentialSpan(s, m.value, quote, !m.colon)
	case m.colon && isCookieHeader(name):
		return m.value, headerEnd(s, m.value, quote), true
	}
	return 0, 0, false
}

// proseWords reports whether the text at i, an unquoted value after a
// quoted name and ": ", reads as words rather than a JSON value or a
// value inside a YAML flow collection: a word of letters (a hyphen or
// apostrophe between two letters; a colon may end it, as "exec:" chains
// Go's errors) that the end of the text or line, or blanks and more text,
// follow — not ',', '}' or ']'. A JSON value is never such a word
// (12345, true, [...], {...}), and {"token": abc} and {"token": abc, "x":
// 1} are values of a YAML flow mapping; `"token": invalid syntax` and
// `field "token": required` are Go's `%q: reason` errors. A YAML block
// value after a quoted name ("token": abc) reads as prose as it does after
// an unquoted one (token: abc).
func proseWords(s string, i int) bool {
	j := i
	for j < len(s) && (isLetter(s[j]) || j > i && (s[j] == '-' || s[j] == '\'') && j+1 < len(s) && isLetter(s[j+1])) {
		j++
	}
	if j == i {
		return false
	}
	if j < len(s) && s[j] == ':' {
		j++
	}
	wordEnd := j
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	switch {
	case j == len(s) || s[j] == '\r' || s[j] == '\n':
		return true
	case j == wordEnd: // the word goes on with a digit, a dot, a quote, ...
		return false
	}
	return !strings.ContainsRune(",}]", rune(s[j]))
}

// oneWordValue reports whether the text at i, an unquoted value after an
// unquoted name and ": ", is one word alone to the end of its line (or
// to a YAML comment, " # ...") that holds a letter or digit and something
// other than letters — hunter2, c2VjcmV0, abc123def456, 12345 — as a
// YAML value, an HTTP header's (X-API-Key: ...) or a Kubernetes Secret's
// data are, and as a problem in prose ("token: required", "unexpected
// token: }", "(token: invalid)", closing punctuation aside) is not.
func oneWordValue(s string, i int) bool {
	j := i
	for j < len(s) && !isSpace(s[j]) {
		j++
	}
	end := j
	for end > i && strings.IndexByte(")]}.,;:!?", s[end-1]) >= 0 {
		end-- // punctuation closing the prose around it: "(token: invalid)"
	}
	alnum, other := false, false
	for k := i; k < end; k++ {
		switch c := s[k]; {
		case isLetter(c):
			alnum = true
		case c >= '0' && c <= '9':
			alnum, other = true, true
		default:
			other = true
		}
	}
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	return alnum && other && (j == len(s) || s[j] == '\r' || s[j] == '\n' || j > end && s[j] == '#') // a YAML comment may follow
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// paramMatch is a parameter name found by matchParam.
type paramMatch struct {
	nameStart, nameEnd int
	value              int  // where the value starts
	dashes             bool // the name follows - or --
	oneDash            bool // the name follows exactly one -
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
	m.oneDash = i == pos+1
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
		// A closing quote with no opening one right before the name ends
		// a longer quoted text whose tail the name is: not a quoted name,
		// so that the prose rule reads Go's `exec: "./token-refresher":
		// no such file` and `"/etc/passwd": permission denied` as a file
		// and its error, while a quoted value still makes it a parameter
		// ("secret/db/password": "x", a Vault path as a JSON key).
		i++
	}
	blanks := i
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '=' || s[i] == ':') {
		m.colon = s[i] == ':'
		i++
		if !m.colon && i < len(s) && s[i] == '>' {
			i++ // Ruby's and Perl's "password => 'x'"
		}
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
// a quote. A quoted value holds its quote escaped: \" (JSON), \' (libpq
// conninfo, PostgreSQL docs 34.1.1) and a doubled quote (a YAML single-quoted scalar,
// YAML 1.2 §7.3.2; SQL); a braced one holds }} (ODBC). After a colon (JSON,
// YAML) a value in braces, and anywhere one in square brackets, is an
// object or array: it ends at its matching closer (see nestedValueEnd).
func valueSpan(s string, i int, colon bool) (int, int) {
	if i >= len(s) {
		return i, i
	}
	if s[i] == '[' || s[i] == '{' && colon {
		return i + 1, nestedValueEnd(s, i)
	}
	switch open := s[i]; open {
	case '"', '\'', '{':
		closer := open
		if open == '{' {
			closer = '}'
		}
		for j := i + 1; j < len(s); j++ {
			switch {
			case s[j] == '\\' && open != '{' && j+1 < len(s):
				j++ // an escaped character, the quote included (JSON's \", libpq's \')
			case s[j] == '\'' && open == '\'' && j+1 < len(s) && s[j+1] == '\'' && (j > i+1 || j+2 < len(s) && s[j+2] == '\''):
				j++ // YAML's and SQL's '' is one quote ('' alone is the empty value)
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
// URL and DSN passwords, PEM private keys and secret parameters (see the
// package documentation). It is for text that no Redactor has seen the
// environment of, such as a URI in a fetch error.
func Credentials(s string) string { return defaultRedactor().mask(s) }

var defaultRedactor = sync.OnceValue(Default)

// URLPasswords masks the password of every URL's userinfo in s, raw or
// percent-encoded, and of every DSN in the forms the package
// documentation lists.
func URLPasswords(s string) string {
	var buf [8]span
	return maskSpans(s, encodedUserinfoSpans(s, userinfoSpans(s, buf[:0])))
}

// Value returns value with the credentials inside it masked, or Mask when
// key is secret.
func (r *Redactor) Value(key, value string) string {
	if r.IsSecretKey(key) {
		return Mask
	}
	var buf [8]span
	return maskSpans(value, r.valueSpans(key, value, buf[:0]))
}

// valueSpans appends to dst the credentials inside the value of key (not a
// secret key): those of any text, and the password of a proxy's URL
// without a scheme and port (HTTPS_PROXY=user:pw@proxy, as curl and Go's
// http.ProxyFromEnvironment read it).
func (r *Redactor) valueSpans(key, value string, dst []span) []span {
	dst = r.credentials(value, dst)
	if strings.HasSuffix(strings.ToLower(key), "proxy") && !strings.Contains(value, "://") && !strings.ContainsAny(value, " \t\r\n") {
		dst = urlPasswordSpan(value, 0, len(value), dst)
	}
	return dst
}

// Env returns env (KEY=VALUE entries) sorted by key, with the values of secret
// keys replaced by Mask and the credentials inside the others masked.
func (r *Redactor) Env(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, k+"="+r.Value(k, v))
	}
	sort.Strings(out)
	return out
}
