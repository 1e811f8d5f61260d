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
