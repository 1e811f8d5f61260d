// Package probe runs one health or readiness check: a shell command, an HTTP
// GET or a TCP connect. It knows nothing about schedules or thresholds; that
// is package health. Its HTTP prober (net/http, with an explicit HTTPPolicy)
// is the one HTTP check of taskkit: healthd, the executor's checks and
// bootstrap's waits all use it.
//
// A Prober's answer is a Result:
//
//   - Healthy: the command exited 0, the HTTP status was 200–399, the TCP
//     connection was accepted;
//   - Unhealthy: anything else the target did — a non-zero exit, a 5xx, a
//     refused connection — and a timeout (the check's context ended first);
//   - Error: the check could not run at all (no /bin/sh, no fork), which
//     says nothing about the target.
//
// Probers must return promptly once their context is done; the command prober
// then SIGKILLs the check's whole process group, grandchildren included.
// Every Result carries a one-line reason and the first MaxOutput bytes of
// output (command stdout+stderr, HTTP body; see HTTPPolicy.BodyLimit).
package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unicode/utf8"
)

// MaxOutput is how much of a check's output a Result keeps.
const MaxOutput = 4096

// Status is the outcome of one check.
type Status int

// The outcomes of a check. The zero value is Unhealthy, never Healthy.
const (
	Unhealthy Status = iota
	Healthy
	Error
)

// String returns "healthy", "unhealthy" or "error".
func (s Status) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is what one check found.
type Result struct {
	// Status is the outcome.
	Status Status
	// Reason is a one-line explanation: "exit status 1", "HTTP 503 Service
	// Unavailable", "timed out", "dial tcp 127.0.0.1:80: connection refused".
	Reason string
	// Output is the first MaxOutput bytes of the check's output, as valid
	// UTF-8, unmasked: show it only through Masked, which masks before it
	// cuts.
	Output string
	// Truncated says the output was longer than MaxOutput bytes.
	Truncated bool
	// ExitCode is a command check's exit code, 128+signal if it was killed
	// by a signal, and -1 for other checks or when the command did not end
	// on its own.
	ExitCode int
	// StatusCode is an HTTP check's final status code; 0 for other checks or
	// when no response arrived.
	StatusCode int
	// Signal is the signal that ended a command check that did not exit
	// (ExitCode is then 128+Signal); 0 otherwise.
	Signal syscall.Signal

	// keep is the output's limit (0: Output is final: not from a capture, or masked);
	// ahead is the output up to OutputMargin bytes past it, for Masked, and
	// aheadCut says the output ran past that too.
	keep     int
	ahead    string
	aheadCut bool
}

// Prober runs one check. It must return soon after ctx is done, reporting a
// done context as Unhealthy (see TimedOut) unless the check had already
// finished.
type Prober interface {
	Probe(ctx context.Context) Result
}

// Func adapts a function to Prober.
type Func func(ctx context.Context) Result

// Probe calls f.
func (f Func) Probe(ctx context.Context) Result { return f(ctx) }

// TimedOut is the Result for a check whose context ended before it did: a
// timeout counts as a failure.
func TimedOut(ctx context.Context) Result {
	reason := "timed out"
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		reason = "stopped: " + cause.Error()
	}
	return Result{Status: Unhealthy, Reason: reason, ExitCode: -1}
}

// OutputMargin is how far past its limit a capture reads ahead: masking
// (Result.Masked) sees that much more of the check's output, so a
// credential that straddles the cut is masked from the context that makes
// it one (a URL password's '@', a learned secret's tail) before the cut.
const OutputMargin = 1024

// capture keeps the first limit (0: MaxOutput) bytes written to it, plus
// OutputMargin bytes of read-ahead, and discards (but counts) the rest, so
// a chatty check never blocks on a full pipe and a long body is still read
// to its end.
type capture struct {
	limit int
	buf   []byte
	n     int64
}

func (c *capture) max() int {
	if c.limit <= 0 {
		return MaxOutput
	}
	return c.limit
}

func (c *capture) Write(p []byte) (int, error) {
	if room := c.max() + OutputMargin - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	c.n += int64(len(p))
	return len(p), nil
}

// result sets res's Output and Truncated (the first limit bytes, as valid
// UTF-8, and whether the output was longer) and keeps the read-ahead for
// Result.Masked.
func (c *capture) result(res *Result) {
	limit := c.max()
	res.keep = limit
	res.ahead = validUTF8(c.buf, c.n > int64(len(c.buf)))
	res.aheadCut = c.n > int64(len(c.buf))
	res.Output, res.Truncated = cutOutput(res.ahead, limit)
	res.Truncated = res.Truncated || c.n > int64(limit)
}

// validUTF8 returns b as valid UTF-8; when b was cut it first drops half a
// character at its end.
func validUTF8(b []byte, cut bool) string {
	if cut {
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// cutOutput returns the first limit bytes of s, cut at a character's
// start, and whether anything was cut.
func cutOutput(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit], true
}

// isTokenStop reports whether c ends a token a credential can be part of:
// whitespace, a double quote, angle brackets or a backquote (the token
// stops of internal/redact's URL and DSN rules).
func isTokenStop(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '<', '>', '`':
		return true
	}
	return false
}

// Masked returns r with its Reason and Output passed through mask (e.g. a
// redact.Redactor's String), the output masked before it is cut to its
// limit: mask sees OutputMargin bytes past the cut, so a credential
// straddling it is masked whole. When the output ran past the read-ahead
// too, the token cut there (after the last token stop) is dropped before
// masking's result is cut, since masking saw only its head. Truncated stays
// true when the output was longer than its limit.
func (r Result) Masked(mask func(string) string) Result {
	r.Reason = mask(r.Reason)
	text := r.ahead
	if r.keep == 0 { // not from a capture: Output is all there is
		text = r.Output
	}
	if r.aheadCut {
		i := len(text)
		for i > 0 && !isTokenStop(text[i-1]) {
			i--
		}
		text = text[:i]
	}
	text = mask(text)
	var cut bool
	if r.keep > 0 {
		text, cut = cutOutput(text, r.keep)
	}
	r.Output, r.Truncated = text, r.Truncated || cut
	r.ahead, r.aheadCut, r.keep = "", false, 0 // masked: a second Masked masks Output as it is
	return r
}
