//go:build linux

package healthd

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/spelling"
	"github.com/taskkit/taskkit/internal/supervise"
)

// Rewrites maps a signal healthd receives to the one it sends the command's
// process group instead (--rewrite S:R, dumb-init's --rewrite); a value of 0
// drops the signal: nothing is sent. Only signals in Forwarded are keys:
// every one a process can catch but those of NotForwarded.
// A nil Rewrites forwards every signal as it is.
//
// The rewritten SIGTERM is also the stop signal of the stops healthd makes
// itself — at the health check's threshold, to the rest of the group when
// the command exits, to a latecomer (supervise.Spec.StopSignal) — as
// dumb-init rewrites the SIGTERM it sends the group when its child exits.
type Rewrites map[syscall.Signal]syscall.Signal

// Send returns the signal the group gets for s, and false when s is dropped.
func (r Rewrites) Send(s syscall.Signal) (syscall.Signal, bool) {
	if to, ok := r[s]; ok {
		return to, to != 0
	}
	return s, true
}

// StopSignal returns supervise.Spec.StopSignal for these rewrites: SIGTERM
// rewritten, supervise.NoStopSignal when SIGTERM is dropped, 0 (SIGTERM)
// when it is not rewritten.
func (r Rewrites) StopSignal() syscall.Signal {
	to, ok := r[syscall.SIGTERM]
	switch {
	case !ok:
		return 0
	case to == 0:
		return supervise.NoStopSignal
	}
	return to
}

// String lists the rewrites as --rewrite takes them, sorted by the signal
// received: "HUP:0,TERM:QUIT"; "" for none.
func (r Rewrites) String() string {
	from := make([]syscall.Signal, 0, len(r))
	for s := range r {
		from = append(from, s)
	}
	slices.Sort(from)
	parts := make([]string, len(from))
	for i, s := range from {
		parts[i] = SignalName(s) + ":" + SignalName(r[s])
	}
	return strings.Join(parts, ",")
}

// SignalName returns s as --rewrite writes it: "TERM", "0" for no signal.
func SignalName(s syscall.Signal) string {
	if s == 0 {
		return "0"
	}
	if n := unix.SignalName(s); n != "" {
		return strings.TrimPrefix(n, "SIG")
	}
	return strconv.Itoa(int(s))
}

// maxSignal is the highest signal number --rewrite takes: the classic
// signals, as dumb-init (MAXSIG 31); real-time signals are not named.
const maxSignal = 31

// ParseSignal parses a signal given by name, with or without SIG, in any
// case ("TERM", "SIGQUIT", "winch"), or by number (0-31); "0" is no
// signal.
func ParseSignal(v string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 || n > maxSignal {
			return 0, fmt.Errorf("unknown signal %q: numbers go from 0 (none) to %d", v, maxSignal)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(v)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if s := unix.SignalNum(name); s != 0 && int(s) <= maxSignal {
		return s, nil
	}
	names := make([]string, 0, maxSignal)
	for s := syscall.Signal(1); s <= maxSignal; s++ {
		names = append(names, SignalName(s))
	}
	if near, ok := spelling.Nearest(strings.TrimPrefix(name, "SIG"), names); ok {
		return 0, fmt.Errorf("unknown signal %q: did you mean %s?", v, near)
	}
	return 0, fmt.Errorf("unknown signal %q", v)
}

// listItems splits flag values holding lists separated by commas or
// white space.
func listItems(values []string) []string {
	var items []string
	for _, v := range values {
		items = append(items, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })...)
	}
	return items
}

// ParseRewrites parses --rewrite values: each holds one or more S:R
// separated by commas or white space, S a signal healthd forwards (by name
// or number, see ParseSignal), R any signal or 0 to drop S. Every problem is
// reported at once: a value that is not S:R, an unknown signal, a signal
// that cannot be caught (KILL, STOP) or that healthd does not forward as S,
// and S rewritten twice. The errors do not name the flag; the caller does.
func ParseRewrites(values []string) (Rewrites, error) {
	specs := listItems(values)
	if len(specs) == 0 {
		return nil, nil
	}
	r := Rewrites{}
	given := map[syscall.Signal]string{} // the spec that rewrote each signal
	var errs []string
	for _, spec := range specs {
		fromS, toS, ok := strings.Cut(spec, ":")
		if !ok || fromS == "" || toS == "" {
			errs = append(errs, fmt.Sprintf("%q is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop it)", spec))
			continue
		}
		from, err := ParseSignal(fromS)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%q: %v", spec, err))
			continue
		}
		to, err := ParseSignal(toS)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%q: %v", spec, err))
			continue
		}
		switch {
		case from == syscall.SIGKILL || from == syscall.SIGSTOP:
			errs = append(errs, fmt.Sprintf("%q: SIG%s cannot be caught, so healthd never receives it to rewrite", spec, SignalName(from)))
			continue
		case !slices.Contains(Forwarded, os.Signal(from)):
			errs = append(errs, fmt.Sprintf("%q: %s", spec, notForwardedError(from)))
			continue
		}
		if prev, dup := given[from]; dup {
			errs = append(errs, fmt.Sprintf("%q: SIG%s is rewritten twice (%q already)", spec, SignalName(from), prev))
			continue
		}
		given[from], r[from] = spec, to
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return r, nil
}

// ParseShutdownSignals parses --shutdown-signals values: signals healthd
// forwards (by name or number, see ParseSignal), separated by commas or
// white space, each once. Every problem is reported at once. No values
// give nil (DefaultShutdownSignals). The errors do not name the flag; the
// caller does.
func ParseShutdownSignals(values []string) ([]syscall.Signal, error) {
	items := listItems(values)
	if len(items) == 0 {
		return nil, nil
	}
	var out []syscall.Signal
	var errs []string
	for _, v := range items {
		s, err := ParseSignal(v)
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case !slices.Contains(Forwarded, os.Signal(s)):
			errs = append(errs, fmt.Sprintf("%q: %s", v, notForwardedError(s)))
		case slices.Contains(out, s):
			errs = append(errs, fmt.Sprintf("%q: SIG%s is given twice", v, SignalName(s)))
		default:
			out = append(out, s)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// notForwardedError says why healthd does not forward s, which is not one
// of Forwarded, and which signals it does not forward.
func notForwardedError(s syscall.Signal) string {
	why := "it is no signal"
	if r, ok := NotForwarded[s]; ok {
		why = r
	}
	return fmt.Sprintf("healthd does not forward %s (%s); it forwards every signal from 1 to %d but %s", signalLabel(s), why, maxSignal, notForwardedNames())
}

// signalLabel names s in an error: "SIGPIPE", "signal 0".
func signalLabel(s syscall.Signal) string {
	if s == 0 {
		return "signal 0"
	}
	return "SIG" + SignalName(s)
}

// notForwardedNames lists NotForwarded as --rewrite writes them, by number.
func notForwardedNames() string {
	var names []string
	for s := syscall.Signal(1); s <= maxSignal; s++ {
		if _, ok := NotForwarded[s]; ok {
			names = append(names, SignalName(s))
		}
	}
	return strings.Join(names, " ")
}
