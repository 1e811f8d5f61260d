package servicecli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
)

// TestFlagWithoutValue: a flag that takes a value, given as the last word
// with nothing after it, is a usage error naming the flag as typed (exit
// 2, with the command's usage line), for every operator command and every
// name of each such flag, with and without arguments before it; never a
// value read from elsewhere ("plan show deploy --name" once looked up a
// scheduler named "--" and exited 3).
func TestFlagWithoutValue(t *testing.T) {
	environ := []string{"XDG_RUNTIME_DIR=" + t.TempDir()}
	checked := 0
	for _, newGroup := range groups {
		g := build(newGroup)
		type command struct {
			words []string
			flags []cli.Flag
		}
		cmds := []command{{[]string{g.name}, g.flags}}
		if g.action == nil {
			cmds = nil
			for _, s := range g.subs {
				cmds = append(cmds, command{[]string{g.name, s.Name}, s.Flags})
			}
		}
		for _, cmd := range cmds {
			for _, f := range cmd.flags {
				if _, isBool := f.(*cli.BoolFlag); isBool {
					continue
				}
				for _, n := range f.Names() {
					typed := "--" + n
					if len(n) == 1 {
						typed = "-" + n
					}
					for _, before := range [][]string{nil, {"ARG"}, {"ARG", "--json"}} {
						args := append(append(append([]string{}, cmd.words...), before...), typed)
						code, stderr := runCommand(t, environ, args...)
						want := "scheduler-lite " + strings.Join(cmd.words, " ") + ": missing value for " + typed + "\nusage: scheduler-lite " + strings.Join(cmd.words, " ")
						if code != ExitUsage || !strings.HasPrefix(stderr, want) {
							t.Errorf("scheduler-lite %s: exit %d, stderr %q; want exit %d, stderr starting %q", strings.Join(args, " "), code, stderr, ExitUsage, want)
						}
						checked++
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("checked %d command lines: the commands' flags were not found", checked)
	}
}

// runCommand runs "scheduler-lite args..." in process, the operator
// commands registered as scheduler-lite registers them, and returns the exit
// code and stderr.
func runCommand(t *testing.T, environ []string, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	sh := cliapp.New("scheduler-lite", append([]string{"scheduler-lite"}, args...), environ, strings.NewReader(""), &stdout, &stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return sh.Run(ctx, &cli.App{Name: "scheduler-lite", Commands: Commands(environ)}), stderr.String()
}

// TestGroupFlagsWithoutCommand: a command group (plan, pod, config,
// state, debug) given flags of its commands but no command — after its
// name or before it (HoistFlags) — says the command is missing, as the
// group alone does, never that the flag is unknown (repro 04:
// "scheduler-lite plan --url U" said "unknown flag --url"). A flag no
// command of the group has is still unknown; help flags and the help word
// still show help.
func TestGroupFlagsWithoutCommand(t *testing.T) {
	environ := []string{"XDG_RUNTIME_DIR=" + t.TempDir()}
	checked := 0
	for _, newGroup := range groups {
		g := build(newGroup)
		if g.action != nil {
			continue
		}
		want := "scheduler-lite " + g.name + ": no command given (want "
		for _, s := range g.subs {
			for _, f := range s.Flags {
				typed := []string{"--" + f.Names()[0]}
				if _, isBool := f.(*cli.BoolFlag); !isBool {
					typed = append(typed, "V")
				}
				for _, args := range [][]string{
					append([]string{g.name}, typed...),
					HoistFlags(append(append([]string{"sl"}, typed...), g.name), nil)[1:],
					append(append([]string{g.name}, typed...), "--json"),
				} {
					if code, stderr := runCommand(t, environ, args...); code != ExitUsage || !strings.HasPrefix(stderr, want) {
						t.Errorf("scheduler-lite %s: exit %d, stderr %q; want exit %d, stderr starting %q", strings.Join(args, " "), code, stderr, ExitUsage, want)
					}
					checked++
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("checked %d command lines: the groups' flags were not found", checked)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // its start; "" for none
	}{
		{[]string{"plan", "--url", "U", "--bogus"}, ExitUsage, "scheduler-lite plan: unknown flag --bogus\n"},
		{[]string{"plan", "--url", "U", "--help"}, ExitOK, ""},
		{[]string{"plan", "--url", "U", "help"}, ExitOK, ""},
		{[]string{"plan", "help", "show"}, ExitOK, ""},
		{[]string{"plan", "help", "show", "deploy", "--json"}, ExitOK, ""},
		{[]string{"plan", "help", "explode"}, ExitUsage, `scheduler-lite plan: unknown command "explode"`},
		{[]string{"help", "plan", "show", "deploy"}, ExitOK, ""},
		{[]string{"plan", "show", "deploy", "--help"}, ExitOK, ""},
		{[]string{"plan", "start", "--help", "show"}, ExitOK, ""},
	} {
		if code, stderr := runCommand(t, environ, tc.args...); code != tc.code || !strings.HasPrefix(stderr, tc.stderr) || tc.stderr == "" && stderr != "" {
			t.Errorf("scheduler-lite %s: exit %d, stderr %q; want exit %d, stderr starting %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.stderr)
		}
	}
}
