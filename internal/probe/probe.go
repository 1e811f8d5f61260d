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
	// UTF-8.
	Output string
	// Truncated says Output was cut at MaxOutput bytes.
	Truncated bool
	// ExitCode is a command check's exit code, 128+signal if it was killed
	// by a signal, and -1 for other checks or when the command did not end
	// on its own.
	ExitCode int
	// StatusCode is an HTTP check's final status code; 0 for other checks or
	// when no response arrived.
	StatusCode int
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

// capture keeps the first limit (0: MaxOutput) bytes written to it and
// discards (but counts) the rest, so a chatty check never blocks on a full
// pipe and a long body is still read to its end.
type capture struct {
	limit int
	buf   []byte
	n     int64
}

func (c *capture) Write(p []byte) (int, error) {
	limit := c.limit
	if limit <= 0 {
		limit = MaxOutput
	}
	if room := limit - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	c.n += int64(len(p))
	return len(p), nil
}

// output returns the kept bytes as valid UTF-8 and whether any were dropped.
func (c *capture) output() (string, bool) {
	b := c.buf
	truncated := c.n > int64(len(b))
	if truncated {
		// Do not leave half a character at the cut.
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	out := strings.ToValidUTF8(string(b), "\uFFFD")
	// A replacement character is 3 bytes where the invalid byte was 1: cut
	// what grew past the limit, at a character's start.
	limit := c.limit
	if limit <= 0 {
		limit = MaxOutput
	}
	if len(out) > limit {
		for limit > 0 && !utf8.RuneStart(out[limit]) {
			limit--
		}
		out, truncated = out[:limit], true
	}
	return out, truncated
}
