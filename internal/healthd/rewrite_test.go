//go:build linux

package healthd

import (
	"syscall"
	"testing"

	"github.com/taskkit/taskkit/internal/supervise"
)

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
		{name: "not forwarded", values: []string{"CHLD:TERM"}, err: `"CHLD:TERM": healthd does not forward SIGCHLD, it forwards TERM INT HUP QUIT USR1 USR2 WINCH`},
		{name: "0 as the source", values: []string{"0:TERM"}, err: `"0:TERM": healthd does not forward signal 0, it forwards TERM INT HUP QUIT USR1 USR2 WINCH`},
		{name: "twice, however spelt", values: []string{"TERM:QUIT", "SIGTERM:QUIT"}, err: `"SIGTERM:QUIT": SIGTERM is rewritten twice ("TERM:QUIT" already)`},
		{name: "every problem at once", values: []string{"x", "TERM:nope"}, err: `"x" is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop it); "TERM:nope": unknown signal "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRewrites(tt.values)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
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
