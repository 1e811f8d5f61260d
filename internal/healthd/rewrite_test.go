//go:build linux

package healthd

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/taskkit/taskkit/internal/supervise"
)

// everyBut ends the error for a signal healthd does not forward.
const everyBut = "it forwards every signal from 1 to 31 but KILL PIPE CHLD STOP TSTP TTIN TTOU URG XCPU XFSZ PROF SYS"

// failed checks err against want, the error a table row expects ("" for
// none), and reports whether the row failed as it should.
func failed(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

func TestParseRewrites(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string         // Rewrites.String()
		stop   syscall.Signal // StopSignal()
		err    string
	}{
		{name: "none", values: nil, want: "", stop: 0},
		{name: "empty value", values: []string{" , "}, want: "", stop: 0},
		{name: "names", values: []string{"TERM:QUIT"}, want: "TERM:QUIT", stop: syscall.SIGQUIT},
		{name: "SIG prefix, any case", values: []string{"sigterm:SigWinch"}, want: "TERM:WINCH", stop: syscall.SIGWINCH},
		{name: "numbers, as dumb-init", values: []string{"15:3"}, want: "TERM:QUIT", stop: syscall.SIGQUIT},
		{name: "drop TERM: no stop signal", values: []string{"TERM:0"}, want: "TERM:0", stop: supervise.NoStopSignal},
		{name: "TERM untouched: SIGTERM", values: []string{"HUP:0", "USR1:TERM"}, want: "HUP:0,USR1:TERM", stop: 0},
		{name: "commas and blanks", values: []string{"HUP:USR2, INT:0\tQUIT:TERM"}, want: "HUP:USR2,INT:0,QUIT:TERM", stop: 0},
		{name: "to KILL is allowed", values: []string{"TERM:KILL"}, want: "TERM:KILL", stop: syscall.SIGKILL},
		{name: "identity is allowed", values: []string{"TERM:TERM"}, want: "TERM:TERM", stop: syscall.SIGTERM},
		{name: "not S:R", values: []string{"TERM"}, err: `"TERM" is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop it)`},
		{name: "empty side", values: []string{":QUIT"}, err: `":QUIT" is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop it)`},
		{name: "unknown name", values: []string{"TERM:QUITE"}, err: `"TERM:QUITE": unknown signal "QUITE": did you mean QUIT?`},
		{name: "number out of range", values: []string{"TERM:-1"}, err: `"TERM:-1": unknown signal "-1": numbers go from 0 (none) to 31`},
		{name: "KILL as the source", values: []string{"9:0"}, err: `"9:0": SIGKILL cannot be caught, so healthd never receives it to rewrite`},
		// Every signal healthd can catch, not only the 7 it forwarded
		// at first: the JVM's QUIT dropped or as it is, PWR, ABRT, CONT.
		{name: "QUIT dropped", values: []string{"QUIT:0"}, want: "QUIT:0", stop: 0},
		{name: "QUIT as it is", values: []string{"QUIT:QUIT"}, want: "QUIT:QUIT", stop: 0},
		{name: "the other catchable signals", values: []string{"PWR:TERM,ABRT:QUIT,CONT:0,ALRM:USR1,SEGV:SEGV,1:2"},
			want: "HUP:INT,ABRT:QUIT,SEGV:SEGV,ALRM:USR1,CONT:0,PWR:TERM", stop: 0},
		{name: "not forwarded: healthd's own", values: []string{"CHLD:TERM"}, err: `"CHLD:TERM": healthd does not forward SIGCHLD (it tells healthd its own children ended); ` + everyBut},
		{name: "not forwarded: job control", values: []string{"TSTP:STOP"}, err: `"TSTP:STOP": healthd does not forward SIGTSTP (it is job control of healthd's own terminal); ` + everyBut},
		{name: "not forwarded: the runtime's", values: []string{"URG:0"}, err: `"URG:0": healthd does not forward SIGURG (the Go runtime preempts healthd's goroutines with it); ` + everyBut},
		{name: "0 as the source", values: []string{"0:TERM"}, err: `"0:TERM": healthd does not forward signal 0 (it is no signal); ` + everyBut},
		{name: "twice, however spelt", values: []string{"TERM:QUIT", "SIGTERM:QUIT"}, err: `"SIGTERM:QUIT": SIGTERM is rewritten twice ("TERM:QUIT" already)`},
		{name: "every problem at once", values: []string{"x", "TERM:nope"}, err: `"x" is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop it); "TERM:nope": unknown signal "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRewrites(tt.values)
			if failed(t, err, tt.err) {
				return
			}
			if got := r.String(); got != tt.want {
				t.Errorf("rewrites %q, want %q", got, tt.want)
			}
			if got := r.StopSignal(); got != tt.stop {
				t.Errorf("stop signal %v, want %v", got, tt.stop)
			}
		})
	}
}

func TestRewritesSend(t *testing.T) {
	r := Rewrites{syscall.SIGTERM: syscall.SIGQUIT, syscall.SIGHUP: 0}
	for _, tt := range []struct {
		in   syscall.Signal
		want syscall.Signal
		ok   bool
	}{
		{syscall.SIGTERM, syscall.SIGQUIT, true},
		{syscall.SIGHUP, 0, false},
		{syscall.SIGUSR1, syscall.SIGUSR1, true},
	} {
		if got, ok := r.Send(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("Send(%v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := Rewrites(nil).Send(syscall.SIGTERM); got != syscall.SIGTERM || !ok {
		t.Errorf("nil Rewrites: Send(TERM) = %v, %v", got, ok)
	}
}

func TestParseShutdownSignals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values []string
		want   []syscall.Signal
		err    string
	}{
		{name: "none: the default", values: nil, want: nil},
		{name: "TERM and INT: QUIT is a JVM's thread dump", values: []string{"TERM,INT"}, want: []syscall.Signal{syscall.SIGTERM, syscall.SIGINT}},
		{name: "names, numbers, blanks, repeated flag", values: []string{"sigterm 2", "PWR"}, want: []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGPWR}},
		{name: "not forwarded", values: []string{"TERM,CHLD"}, err: `"CHLD": healthd does not forward SIGCHLD (it tells healthd its own children ended); ` + everyBut},
		{name: "KILL", values: []string{"KILL"}, err: `"KILL": healthd does not forward SIGKILL (it cannot be caught); ` + everyBut},
		{name: "twice, however spelt", values: []string{"TERM,15"}, err: `"15": SIGTERM is given twice`},
		{name: "every problem at once", values: []string{"TRM,0"}, err: `unknown signal "TRM": did you mean TERM?; "0": healthd does not forward signal 0 (it is no signal); ` + everyBut},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseShutdownSignals(tt.values)
			if failed(t, err, tt.err) {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestForwardedSignals: healthd forwards every signal from 1 to 31 but
// those of NotForwarded, and --help lists both sets as they are.
func TestForwardedSignals(t *testing.T) {
	var fwd, not []string
	for s := syscall.Signal(1); s <= maxSignal; s++ {
		_, no := NotForwarded[s]
		if slices.Contains(Forwarded, os.Signal(s)) == no {
			t.Errorf("SIG%s: forwarded %v, in NotForwarded %v", SignalName(s), !no, no)
		}
		if no {
			not = append(not, SignalName(s))
		} else {
			fwd = append(fwd, SignalName(s))
		}
	}
	if len(fwd) != 19 || !slices.Contains(fwd, "QUIT") || !slices.Contains(fwd, "PWR") || slices.Contains(fwd, "CHLD") {
		t.Errorf("forwarded: %v", fwd)
	}
	help := strings.Join(strings.Fields(description), " ")
	if want := "as dumb-init does: " + strings.Join(fwd, " ") + ";"; !strings.Contains(help, want) {
		t.Errorf("--help does not list the forwarded signals as %q", want)
	}
	for _, n := range not {
		if !strings.Contains(help, " "+n+" ") {
			t.Errorf("--help does not say %s is not forwarded", n)
		}
	}
}
