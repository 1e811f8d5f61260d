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

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/exitcode"
)

// client talks to one scheduler's API.
type client struct {
	// base is the API's base URL without a trailing slash; it may carry a
	// path prefix (DC/OS Admin Router's /service/<name>).
	base *url.URL
	// token is the bearer token, "" for none. It goes into the
	// Authorization header only, never into a message.
	token string
	http  *http.Client
}

// answer is the API's answer to one call.
type answer struct {
	Method, Path string
	Code         int
	Body         []byte
}

// newClient resolves the scheduler from --url or --name and reads the
// token from --api-token-file (else, with --name, from the file the
// scheduler registered). Errors are usage errors (exit 2), except a --name
// with no running instance (exit 3: nothing to reach).
func newClient(c *cli.Context) (*client, error) {
	rawURL, name := c.String(flagURL), c.String(flagName)
	tokenFile := c.String(flagTokenFile)
	switch {
	case rawURL != "" && name != "":
		return nil, usage(fmt.Errorf("--%s and --%s: give one", flagURL, flagName))
	case rawURL == "" && name == "":
		return nil, usage(fmt.Errorf("which scheduler? give --%s (or %s) or --%s of a local instance (or %s)", flagURL, envURL, flagName, envName))
	case name != "":
		e, err := lookup(name)
		switch {
		case errors.Is(err, errNotRegistered):
			return nil, exitcode.Wrap(ExitUnreachable, fmt.Errorf("--%s %s: %w; start it, or give --%s", flagName, name, err, flagURL))
		case err != nil:
			return nil, usage(fmt.Errorf("--%s %s: %w", flagName, name, err))
		}
		rawURL = e.URL
		if tokenFile == "" {
			tokenFile = e.TokenFile
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usage(fmt.Errorf("--%s %q: want http://host:port or https://host:port[/prefix]", flagURL, rawURL))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	timeout := c.Duration(flagRequestTimeout)
	if timeout <= 0 {
		return nil, usage(fmt.Errorf("--%s must be positive", flagRequestTimeout))
	}
	cl := &client{base: u, http: &http.Client{Timeout: timeout}}
	if tokenFile != "" {
		if cl.token, err = readToken(tokenFile); err != nil {
			return nil, usage(fmt.Errorf("--%s: %w", flagTokenFile, err))
		}
	}
	return cl, nil
}

// readToken reads a token file as the scheduler does (trailing newlines
// dropped). Its errors name the file, never the content.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimRight(string(b), "\r\n")
	if tok == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	if strings.IndexFunc(tok, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%s: the token holds a control character (a newline inside?)", path)
	}
	return tok, nil
}

// where names the scheduler in messages: its URL without user
// information.
func (cl *client) where() string { return cl.base.Redacted() }

// call sends one request. A scheduler that cannot be reached is an
// *unreachableError (exit 3); any answer, whatever its status, is returned.
func (cl *client) call(ctx context.Context, method, path string, query url.Values, body any) (*answer, error) {
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

// exitCodeOf maps the commands' errors to exit codes.
func exitCodeOf(err error) int {
	var ue *unreachableError
	var ae *apiError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUnreachable
	case errors.As(err, &ae):
		return ExitAPI
	}
	return exitcode.Code(err, ExitAPI)
}

// pollInterval is how often plan show --wait asks for the plan.
const pollInterval = 500 * time.Millisecond
