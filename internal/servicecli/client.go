package servicecli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/taskkit/taskkit/internal/exitcode"
)

// client talks to one scheduler's API.
type client struct {
	// base is the API's base URL with no trailing slash; it may carry a
	// path prefix (DC/OS Admin Router's /service/<name>). With --name it is
	// nil until the first call finds the registration (resolve).
	base *url.URL
	// name is --name; tokenFile the token's file ("" for none yet).
	name, tokenFile string
	// token is the bearer token, "" for none. It goes into the
	// Authorization header only, and the shell masks it in every message.
	token string
	http  *http.Client
	r     *run
}

// answer is the API's answer to one call.
type answer struct {
	Method, Path string
	Code         int
	Body         []byte
}

// newClient checks --url or --name, --request-timeout and
// --api-token-file. A --name is looked up at the first call, so that plan
// show --wait can wait for a scheduler still starting.
func newClient(r *run) (*client, error) {
	c := r.c
	rawURL, name := c.String(flagURL), c.String(flagName)
	cl := &client{name: name, tokenFile: c.String(flagTokenFile), r: r}
	switch {
	case rawURL != "" && name != "":
		return nil, r.usagef("%s and %s: give one", r.source(flagURL), r.source(flagName))
	case rawURL == "" && name == "":
		return nil, r.usagef("which scheduler? give --%s (or %s) or --%s of a local instance (or %s)", flagURL, envURL, flagName, envName)
	case rawURL != "":
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, r.usagef("%s %q: want http://host:port or https://host:port[/prefix]", r.source(flagURL), rawURL)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawQuery, u.Fragment = "", ""
		cl.base = u
	}
	timeout := c.Duration(flagRequestTimeout)
	if timeout <= 0 {
		return nil, r.usagef("%s must be positive", r.source(flagRequestTimeout))
	}
	cl.http = &http.Client{Timeout: timeout}
	if cl.tokenFile != "" {
		if err := cl.readToken(r.source(flagTokenFile)); err != nil {
			return nil, r.usagef("%w", err)
		}
	}
	return cl, nil
}

// resolve finds --name's registration: its URL, and its token file unless
// one was given. No running instance of that name is an *unreachableError
// (exit 3); two are a usage error.
func (cl *client) resolve() error {
	e, err := lookup(cl.name)
	switch {
	case errors.Is(err, errNotRegistered):
		return &unreachableError{where: "--" + flagName + " " + cl.name, err: fmt.Errorf("%w; start it, or give --%s", err, flagURL)}
	case err != nil:
		return cl.r.usagef("%s %s: %w", cl.r.source(flagName), cl.name, err)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		return fmt.Errorf("--%s %s: the registration's URL: %w", flagName, cl.name, err)
	}
	if cl.tokenFile == "" && e.TokenFile != "" {
		cl.tokenFile = e.TokenFile
		if err := cl.readToken("the token file of " + cl.name + "'s registration"); err != nil {
			return err
		}
	}
	cl.base = u
	return nil
}

// readToken reads the token file as the scheduler does (trailing newlines
// dropped) and has the shell mask the token. Errors name the file, never
// the content; what names the setting it came from.
func (cl *client) readToken(what string) error {
	b, err := os.ReadFile(cl.tokenFile)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tok := strings.TrimRight(string(b), "\r\n")
	switch {
	case tok == "":
		return fmt.Errorf("%s: %s: empty", what, cl.tokenFile)
	case strings.IndexFunc(tok, unicode.IsControl) >= 0:
		return fmt.Errorf("%s: %s: the token holds a control character (a newline inside?)", what, cl.tokenFile)
	}
	cl.token = tok
	if cl.r.sh != nil {
		cl.r.sh.Secrets().LearnValue(tok)
	}
	return nil
}

// where names the scheduler in messages: its URL without user
// information.
func (cl *client) where() string { return cl.base.Redacted() }

// call sends one request. A scheduler that cannot be reached is an
// *unreachableError (exit 3); any answer, whatever its status, is returned.
func (cl *client) call(ctx context.Context, method, path string, query url.Values, body any) (*answer, error) {
	if cl.base == nil {
		if err := cl.resolve(); err != nil {
			return nil, err
		}
	}
	u := *cl.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		return nil, &unreachableError{where: cl.where(), call: method + " " + path, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &unreachableError{where: cl.where(), call: method + " " + path, err: fmt.Errorf("reading the answer: %w", err)}
	}
	return &answer{Method: method, Path: path, Code: resp.StatusCode, Body: b}, nil
}

// get is call for GET, failing with an *apiError on any status but ok ones
// (200 when none given).
func (cl *client) get(ctx context.Context, path string, query url.Values, ok ...int) (*answer, error) {
	a, err := cl.call(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, err
	}
	return a, a.check(ok...)
}

// check returns an *apiError unless the status is one of ok (200 when none
// given).
func (a *answer) check(ok ...int) error {
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	for _, c := range ok {
		if a.Code == c {
			return nil
		}
	}
	return &apiError{a: a}
}

// decode unmarshals the answer's JSON into v.
func (a *answer) decode(v any) error {
	if err := json.Unmarshal(a.Body, v); err != nil {
		return exitcode.Wrap(ExitAPI, fmt.Errorf("%s %s: the answer (%d) is not the JSON expected: %w", a.Method, a.Path, a.Code, err))
	}
	return nil
}

// unreachableError is a call that got no answer (exit 3).
type unreachableError struct {
	where, call string
	err         error
}

func (e *unreachableError) Error() string {
	if e.call == "" {
		return fmt.Sprintf("cannot reach the scheduler: %s: %v", e.where, e.err)
	}
	return fmt.Sprintf("cannot reach the scheduler at %s (%s): %v", e.where, e.call, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// apiError is an answer with an unexpected status (exit 1). Its message is
// the API's {"message": ...}, else the start of the body.
type apiError struct{ a *answer }

func (e *apiError) Error() string {
	msg := apiMessage(e.a.Body)
	status := fmt.Sprintf("%d %s", e.a.Code, http.StatusText(e.a.Code))
	if msg == "" {
		return fmt.Sprintf("%s %s: %s", e.a.Method, e.a.Path, status)
	}
	return fmt.Sprintf("%s %s: %s: %s", e.a.Method, e.a.Path, status, msg)
}

// apiMessage is the message of an error answer: the "message" field of a
// JSON object, else the body's first line, at most 300 bytes.
func apiMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(body))
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// withExitCode gives an unreachable scheduler's error its exit code (3);
// other errors carry theirs already (API errors: the shell's failure code,
// 1).
func withExitCode(err error) error {
	var ue *unreachableError
	if errors.As(err, &ue) {
		return exitcode.Wrap(ExitUnreachable, err)
	}
	return err
}

// pollInterval is how often plan show --wait asks for the plan.
const pollInterval = 500 * time.Millisecond
