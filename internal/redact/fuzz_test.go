package redact

import (
	"context"
	"html"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
)

// learned returns the values r masks for a secret: the value, its
// HTML-escaped form and its long lines (see addValue).
func learned(secret string) []string {
	r := Default().LearnValue(secret)
	return slices.Clone(r.values)
}

// FuzzString teaches a Redactor one secret value (as the value of a
// secret variable) and masks a fuzzed text with it. Properties:
//   - no value the secret was learned as (itself, HTML-escaped, each long
//     line) appears in the output, wherever it was in the text — unless it
//     holds a '*', which the mask itself is made of; a secret that is not
//     Learnable (shorter than MinLearnLen, a common word or number) is
//     learned as nothing, and the text is masked as with no secret;
//   - masking is idempotent: masking the output again changes nothing
//     (for a secret without '*');
//   - Value of a secret key is the mask; Env masks every secret key's
//     value and keeps one entry per input entry, sorted.
func FuzzString(f *testing.F) {
	for _, s := range []struct{ text, secret string }{
		{"password is hunter2.", "hunter2"},
		{"long hunter2-and-more", "hunter2-and-more"},
		{"escaped p&amp;ss&lt;w&gt;&#34;9x", "p&ss<w>\"9x"},
		{"+ MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAbCdEfGhIjKlMnOp\n-----END PRIVATE KEY-----\n"},
		{"url=postgres://app:pw123@db:5432/x", "pw123"},
		{"Uid=sa;PWD={p;a}}ss};Server=db", "p;a}ss"},
		{"java -Djavax.net.ssl.keyStorePassword=changeit -jar app.jar", "changeit"},
		{`{"user":"app","password":"p\"w","port":5432}`, `p"w`},
		{"aab", "ab"},
	} {
		f.Add(s.text, s.secret)
	}
	f.Fuzz(func(t *testing.T, text, secret string) {
		checkString(t, text, secret)
	})
}

func checkString(t *testing.T, text, secret string) {
	r := Default().LearnEnv([]string{"APP_PASSWORD=" + secret, "PLAIN=" + secret})
	out := r.String(text)
	values := learned(secret)
	if !Learnable(secret) {
		if len(values) != 0 || out != Default().String(text) {
			t.Fatalf("secret %q is not Learnable but String(%q) = %q", secret, text, out)
		}
	}
	if strings.TrimSpace(secret) != "" {
		for _, v := range values {
			if !strings.Contains(v, "*") && strings.Contains(out, v) {
				t.Fatalf("String(%q) with secret %q = %q: holds %q", text, secret, out, v)
			}
		}
	}
	if again := r.String(out); again != out && !strings.Contains(secret, "*") {
		t.Fatalf("masking is not idempotent: %q, then %q", out, again)
	}
	if got := r.Value("APP_PASSWORD", text); got != Mask {
		t.Fatalf("Value of a secret key = %q", got)
	}
	env := []string{"APP_PASSWORD=" + secret, "PLAIN=" + text, text}
	got := r.Env(env)
	if len(got) != len(env) || !slices.IsSorted(got) || !slices.Contains(got, "APP_PASSWORD="+Mask) {
		t.Fatalf("Env(%q) = %q", env, got)
	}
	for _, kv := range got {
		if k, v, _ := strings.Cut(kv, "="); r.IsSecretKey(k) && v != Mask {
			t.Fatalf("Env(%q): %s shown as %q", env, k, v)
		}
	}
}

// urlUserPart, urlPassPart and urlHostPart are the URL parts
// FuzzCredentials builds URLs from: what the package documentation says a
// user, a password and a host may hold for the password to be masked (a
// user may be an e-mail address, a password may hold a quote or '/'; a
// password of digits then '/', '?' or '#' reads as a port, and one holding
// "://" as another URL).
var (
	urlUserPart   = regexp.MustCompile("^[^/?#\\s:\"<>`]*$")
	urlPassPart   = regexp.MustCompile("^[^\\s\"<>`@*]+$")
	urlPassAsPort = regexp.MustCompile(`^[0-9]*[/?#]|://`)
	urlHostPart   = regexp.MustCompile("^[^\\s\"<>`]*$")
	urlScheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
)

// FuzzCredentials puts a URL with a password between fuzzed texts and
// masks it with Credentials, as the fetcher does for a URI in an error.
// Property: the password does not survive (when the URL parts are of
// the documented shapes and the password appears nowhere else).
func FuzzCredentials(f *testing.F) {
	f.Add("fetching", "https", "u", "pw", "h/x?token=t0k&v=1", "failed")
	f.Add("url=", "postgres", "app", "p@ss", "db:5432/x", "")
	f.Add("", "http", "", "p/ss", "host/x", "and http://h:80/")
	f.Add(`{"a":"`, "http", "u", "pw", "h/", `","b":"x@y"}`)
	f.Add("password=", "jdbc:mysql", "root", "My2", "db:3306/app?user=app&password=My2", ";")
	f.Add("SMTP_URL=", "smtps", "alerts@example.com", "It's/2", "smtp.example.com:465", "")
	f.Fuzz(func(t *testing.T, before, scheme, user, password, host, after string) {
		if !urlScheme.MatchString(scheme) || !urlUserPart.MatchString(user) || !urlPassPart.MatchString(password) || urlPassAsPort.MatchString(password) || !urlHostPart.MatchString(host) {
			return
		}
		// The text without the password must not hold it (nor ':' or '@'
		// around it, or the mask's '*' — found by fuzzing: a password ":").
		rest := before + " " + scheme + "://" + user + ":@" + host + " " + after
		if strings.Contains(rest, password) || strings.Contains(password, "*") {
			return
		}
		text := before + " " + scheme + "://" + user + ":" + password + "@" + host + " " + after
		out := Credentials(text)
		if strings.Contains(out, password) {
			t.Fatalf("Credentials(%q) = %q: the password %q survives", text, out, password)
		}
		// Nothing is asserted of what else is masked: the redactor masks on
		// the safe side, and fuzzing found three shapes where it masks more
		// than the password, each right by its rules ("pass= URL" whole; a
		// host "(" or "token=" making the URL or what follows a value).
	})
}

// captured is a slog.Handler that keeps the message and every value a
// record carries, unformatted, so a test sees exactly what the next
// handler would get.
type captured struct {
	strs  *[]string
	attrs []slog.Attr
}

func (c captured) Enabled(context.Context, slog.Level) bool { return true }

func (c captured) Handle(_ context.Context, r slog.Record) error {
	*c.strs = append(*c.strs, r.Message)
	var add func(a slog.Attr)
	add = func(a slog.Attr) {
		// Values only: keys are the code's words ("attr" holds a secret
		// "a" — found by fuzzing), not what it logs.
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, g := range v.Group() {
				add(g)
			}
			return
		}
		if list, ok := v.Any().([]string); ok {
			// Each element: formatted, "[x 0]" would join them into
			// text no part holds (a secret " 0" — found by fuzzing).
			*c.strs = append(*c.strs, list...)
			return
		}
		*c.strs = append(*c.strs, v.String())
	}
	for _, a := range c.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	return nil
}

func (c captured) WithAttrs(as []slog.Attr) slog.Handler {
	return captured{strs: c.strs, attrs: append(slices.Clone(c.attrs), as...)}
}

func (c captured) WithGroup(name string) slog.Handler { return c }

// stringer prints a fixed text, as a value logged by its String method.
type stringer string

func (s stringer) String() string { return string(s) }

// FuzzHandler logs a fuzzed text through Handler, in every place a record
// can carry it, after the Shared redactor learned a secret. Property: no
// learned value of the secret (without '*') reaches the next handler.
func FuzzHandler(f *testing.F) {
	f.Add("connecting with hunter2", "hunter2")
	f.Add("dsn=postgres://app:pw@db/x", "pw")
	f.Add("p&amp;ss", "p&ss")
	f.Fuzz(func(t *testing.T, text, secret string) {
		if strings.TrimSpace(secret) == "" {
			return
		}
		var strs []string
		s := NewShared(nil)
		s.LearnEnv([]string{"DB_TOKEN=" + secret})
		log := slog.New(Handler(captured{strs: &strs}, s)).With("with", text).WithGroup("g")
		log.Info(text, "attr", text, "list", []string{"x", text}, "err", errString(text), "stringer", stringer(text),
			slog.Group("group", "inner", text))
		for _, v := range learned(secret) {
			if strings.Contains(v, "*") {
				continue
			}
			for _, got := range strs {
				if strings.Contains(got, v) {
					t.Fatalf("logging %q with secret %q: the next handler got %q", text, secret, got)
				}
			}
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }

// TestStringBudget masks 1 MiB texts with one String call within 64 MiB
// allocated (each parameter found costs its match's index slice, so
// dense parameters cost most) and DefaultTime: parameters everywhere, an
// unterminated quote, URLs, the learned value all over, short words,
// escapes.
func TestStringBudget(t *testing.T) {
	b := fuzzcheck.Budget{Alloc: 64 * fuzzcheck.MiB}
	r := Default().LearnEnv([]string{"APP_PASSWORD=s3cr3t-value"})
	for name, text := range map[string]string{
		"parameters":  string(fuzzcheck.Sized([]byte("password=abc token: 'x' --pass y "), fuzzcheck.MiB)),
		"unquoted":    "password=\"" + string(fuzzcheck.Sized([]byte("a"), fuzzcheck.MiB)),
		"urls":        string(fuzzcheck.Sized([]byte("http://u:p@h/?sig=1&x=2 "), fuzzcheck.MiB)),
		"learned":     string(fuzzcheck.Sized([]byte("s3cr3t-value "), fuzzcheck.MiB)),
		"dsns":        string(fuzzcheck.Sized([]byte("app:p@tcp(h)/x a:b@c "), fuzzcheck.MiB)),
		"words":       string(fuzzcheck.Sized([]byte("a "), fuzzcheck.MiB)),
		"html":        html.EscapeString(string(fuzzcheck.Sized([]byte("<&>\""), fuzzcheck.MiB))),
		"pem, no END": string(fuzzcheck.Sized([]byte("-----BEGIN PRIVATE KEY-----x "), fuzzcheck.MiB)),
		"pem blocks":  string(fuzzcheck.Sized([]byte("-----BEGIN EC PRIVATE KEY-----\nMIGH\n-----END EC PRIVATE KEY-----\n"), fuzzcheck.MiB)),
		"userinfo":    string(fuzzcheck.Sized([]byte("a:b@c:1@http://u:p/q@h@"), fuzzcheck.MiB)),
		"xml":         string(fuzzcheck.Sized([]byte("<password>x</password><a<b "), fuzzcheck.MiB)) + ">",
		"encoded":     string(fuzzcheck.Sized([]byte("https%3A%2F%2Fu%3Ap%40h%3A%2F%2F%40"), fuzzcheck.MiB)),
		"brackets":    string(fuzzcheck.Sized([]byte(`{"token": [{"a": 1, `), fuzzcheck.MiB)),
		"structures":  string(fuzzcheck.Sized([]byte("{password: a b, token=1} map[secret:x] "), fuzzcheck.MiB)),
		"headers":     string(fuzzcheck.Sized([]byte("Authorization: Bearer x\npassword: |\n  y\nCookie: z\n"), fuzzcheck.MiB)),
		"prose":       string(fuzzcheck.Sized([]byte("Authorization: denied, token: bad, password: x "), fuzzcheck.MiB)),
		"curl":        "curl " + string(fuzzcheck.Sized([]byte("-u a:b -uc:d --user=e:f -U '"), fuzzcheck.MiB)),
		"mysql":       "mysql " + string(fuzzcheck.Sized([]byte("-pX -p -P1 -p'"), fuzzcheck.MiB)),
		"sql":         string(fuzzcheck.Sized([]byte("PASSWORD 'x' IDENTIFIED BY y x_password BY 'z' BY "), fuzzcheck.MiB)),
	} {
		var out string
		c := b.Check(t, name, func() { out = r.String(text) })
		if strings.Contains(out, "s3cr3t-value") {
			t.Errorf("%s: the secret survives", name)
		}
		t.Logf("%s: %v", name, c)
	}
}
