package cliapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/exitcode"
)

// demo is a small binary in the shell: a root flag, a command with flags of
// each kind, a command with subcommands.
type demo struct {
	sh   *Shell
	seen map[string]any
}

func runDemo(t *testing.T, environ []string, args ...string) (code int, d *demo, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	d = &demo{seen: map[string]any{}}
	d.sh = New("demo", append([]string{"demo"}, args...), environ, strings.NewReader(""), &out, &errb)
	app := &cli.App{
		Name:  "demo",
		Usage: "a demo",
		// The root's own flags: a command reads only the variables of its
		// own flags, never these (up has a --count of its own).
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", EnvVars: []string{"DEMO_VERBOSE"}},
			&cli.IntFlag{Name: "count", EnvVars: []string{"DEMO_COUNT"}},
			&cli.DurationFlag{Name: "root-wait", EnvVars: []string{"DEMO_ROOT_WAIT"}},
		},
		Commands: []*cli.Command{{
			Name:      "up",
			UsageText: "demo up [--count N] [--wait D]",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "count", Value: 1, Usage: "how many", EnvVars: []string{"DEMO_COUNT", "DEMO_OLD_COUNT"}},
				&cli.DurationFlag{Name: "wait", Value: time.Second, EnvVars: []string{"DEMO_WAIT"}},
				&cli.StringFlag{Name: "name", Aliases: []string{"n"}, EnvVars: []string{"DEMO_NAME", "DEMO_OLD_NAME"}},
				&cli.StringSliceFlag{Name: "tag", EnvVars: []string{"DEMO_TAGS"}},
				&cli.BoolFlag{Name: "dry-run", EnvVars: []string{"DEMO_DRY_RUN"}},
				&cli.UintFlag{Name: "port", EnvVars: []string{"DEMO_PORT"}},
				&cli.Float64Flag{Name: "cpus", EnvVars: []string{"DEMO_CPUS"}},
				&cli.Float64SliceFlag{Name: "disk", EnvVars: []string{"DEMO_DISKS"}},
				&cli.TimestampFlag{Name: "at", Layout: "2006-01-02", EnvVars: []string{"DEMO_AT"}},
				&cli.IntFlag{Name: "api-token", EnvVars: []string{"DEMO_API_TOKEN"}},
				&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"DEMO_LOG_FORMAT"}},
				&cli.BoolFlag{Name: "verbose", EnvVars: []string{"DEMO_VERBOSE"}},
			},
			Action: func(c *cli.Context) error {
				if err := NoArgs(c); err != nil {
					return err
				}
				log, err := d.sh.Logger(c)
				if err != nil {
					return err
				}
				d.seen["count"], d.seen["wait"], d.seen["name"], d.seen["tag"] = c.Int("count"), c.Duration("wait"), c.String("name"), c.StringSlice("tag")
				d.seen["count-source"] = d.sh.Source("count")
				d.seen["name-source"] = d.sh.Source("name")
				if c.Int("count") < 0 {
					return exitcode.Wrap(3, fmt.Errorf("%s: must not be negative", d.sh.Source("count")))
				}
				if c.Duration("wait") <= 0 { // a value that parses but is refused
					return exitcode.Wrap(4, BadValue(fmt.Errorf("%s: must be positive", d.sh.Source("wait"))))
				}
				if c.String("name") == "both" && c.Bool("dry-run") {
					return errors.Join(errors.New("--name both: cannot be a dry run"), BadValue(errors.New("--dry-run: not with --name both")))
				}
				if c.Int("count") == 7 {
					return Exit(7)
				}
				log.Info("up", "name", c.String("name"))
				return nil
			},
		}, {
			Name: "pkg",
			Subcommands: []*cli.Command{{Name: "render", Action: func(*cli.Context) error { return nil },
				Flags: []cli.Flag{&cli.StringFlag{Name: "out"}, &cli.StringFlag{Name: "name"}}}},
		}},
	}
	code = d.sh.Run(context.Background(), app)
	return code, d, out.String(), errb.String()
}

func TestShell(t *testing.T) {
	t.Setenv("DEMO_COUNT", "99") // the process environment is never read
	for _, tc := range []struct {
		name       string
		environ    []string
		args       []string
		code       int
		seen       map[string]any
		stdout     []string
		stderr     []string
		notStderr  []string
		stderrLine int // number of lines on stderr; 0: not checked
	}{
		{name: "defaults, process env ignored", args: []string{"up"}, seen: map[string]any{"count": 1, "count-source": "--count"}},
		{name: "from environ", environ: []string{"DEMO_COUNT=4", "DEMO_WAIT= 2s ", "DEMO_OLD_NAME=x", "DEMO_TAGS=a,b"}, args: []string{"up"},
			seen: map[string]any{"count": 4, "wait": 2 * time.Second, "name": "x", "count-source": "DEMO_COUNT"}},
		{name: "source: the alias as typed", args: []string{"up", "-n", "x", "-count", "2"}, seen: map[string]any{"name": "x", "name-source": "-n", "count-source": "-count"}},
		{name: "source: the name as typed", args: []string{"up", "--name=x"}, seen: map[string]any{"name": "x", "name-source": "--name"}},
		{name: "source: the variable", environ: []string{"DEMO_OLD_NAME=x"}, args: []string{"up"}, seen: map[string]any{"name": "x", "name-source": "DEMO_OLD_NAME"}},
		{name: "command line wins", environ: []string{"DEMO_COUNT=4"}, args: []string{"up", "--count", "5"}, seen: map[string]any{"count": 5, "count-source": "--count"}},
		{name: "empty variable leaves the default", environ: []string{"DEMO_COUNT="}, args: []string{"up"}, seen: map[string]any{"count": 1}},
		{name: "error names the variable", environ: []string{"DEMO_COUNT=-1"}, args: []string{"up"}, code: 3, stderr: []string{"demo: DEMO_COUNT: must not be negative\n"}},
		{name: "error names the flag", args: []string{"up", "--count=-1"}, code: 3, stderr: []string{"demo: --count: must not be negative\n"}},
		{name: "bad variable values, all named", environ: []string{"DEMO_COUNT=many", "DEMO_WAIT=soon"}, args: []string{"up"}, code: 2,
			stderr:    []string{`invalid value "many" for DEMO_COUNT (--count): want an integer`, `invalid value "soon" for DEMO_WAIT (--wait): want a duration`, "usage: demo up"},
			notStderr: []string{"parse error"}},
		{name: "bad flag: short usage", args: []string{"up", "--cuont", "3"}, code: 2, stderrLine: 3,
			stderr: []string{"demo up: unknown flag --cuont: did you mean --count?\nusage: demo up [--count N] [--wait D]\nRun 'demo up --help' for more.\n"}},
		{name: "bad flag spelt with one dash: the suggestion too", args: []string{"up", "-wiat", "3"}, code: 2,
			stderr: []string{"demo up: unknown flag -wiat: did you mean -wait?\n"}},
		{name: "the root's variables are not a command's", environ: []string{"DEMO_ROOT_WAIT=soon", "DEMO_COUNT=many"}, args: []string{"pkg", "render"}, stderrLine: -1},
		{name: "the root's variables are not a command's help", environ: []string{"DEMO_ROOT_WAIT=soon"}, args: []string{"help", "up"}, stdout: []string{"NAME:\n   demo up\n"}, stderrLine: -1},
		{name: "a command's own variable, not the root's, is read", environ: []string{"DEMO_ROOT_WAIT=soon", "DEMO_COUNT=4"}, args: []string{"up"},
			seen: map[string]any{"count": 4, "count-source": "DEMO_COUNT"}},
		{name: "the root's variables are the root's", environ: []string{"DEMO_ROOT_WAIT=soon"}, code: 2,
			stderr: []string{`demo: invalid value "soon" for DEMO_ROOT_WAIT (--root-wait): want a duration`}},
		{name: "bad root flag", args: []string{"--nope"}, code: 2, stderr: []string{"demo: unknown flag --nope\nusage: demo COMMAND [flags]\n"}},
		// A command's flag written before the command's name says whose it is.
		{name: "a command's flag before its name", args: []string{"--tag", "x", "up"}, code: 2,
			stderr: []string{"demo: unknown flag --tag (a flag of \"demo up\": write it after up)\nusage: demo COMMAND [flags]\n"}},
		{name: "a subcommand's flag before its group", args: []string{"--out", "x", "pkg", "render"}, code: 2,
			stderr: []string{`demo: unknown flag --out (a flag of "demo pkg render": write it after render)`}},
		{name: "a subcommand's flag before its name", args: []string{"pkg", "-out", "x", "render"}, code: 2,
			stderr: []string{`demo pkg: unknown flag -out (a flag of "demo pkg render": write it after render)`}},
		{name: "a flag of two commands", args: []string{"--name", "x", "up"}, code: 2,
			stderr: []string{`demo: unknown flag --name (a flag of "demo up" and "demo pkg render": write it after the command's name)`}},
		{name: "no command", code: 2, stderr: []string{"demo: no command given (want up, pkg)"}},
		{name: "unknown command", args: []string{"down"}, code: 2, stderr: []string{`demo: unknown command "down" (want up, pkg)`}},
		{name: "misspelt command", args: []string{"upp"}, code: 2, stderr: []string{`demo: unknown command "upp": did you mean up? (want up, pkg)`}},
		{name: "misspelt subcommand", args: []string{"pkg", "rendr"}, code: 2, stderr: []string{`demo pkg: unknown command "rendr": did you mean render? (want render)`}},
		{name: "no subcommand", args: []string{"pkg"}, code: 2, stderr: []string{"demo pkg: no command given (want render)"}},
		{name: "stray argument", args: []string{"up", "x"}, code: 2, stderr: []string{`demo up: unexpected argument "x"`, "usage: demo up"}},
		{name: "help word", args: []string{"help"}, stdout: []string{"demo - a demo", "COMMANDS:"}, stderrLine: -1},
		{name: "help word names a command", args: []string{"--verbose", "help", "up"}, stdout: []string{"NAME:\n   demo up\n", "how many"}, stderrLine: -1},
		{name: "help word names a subcommand", args: []string{"help", "pkg", "render"}, stdout: []string{"NAME:\n   demo pkg render\n"}, stderrLine: -1},
		{name: "help word in a group", args: []string{"pkg", "help"}, stdout: []string{"NAME:\n   demo pkg\n", "COMMANDS:\n   render"}, stderrLine: -1},
		{name: "help word, unknown command", args: []string{"help", "down"}, code: 2, stderr: []string{`demo: unknown command "down" (want up, pkg)`}},
		{name: "help word, unknown subcommand", args: []string{"help", "pkg", "down"}, code: 2, stderr: []string{`demo pkg: unknown command "down" (want render)`}},
		// --help with arguments is the help of the command it is given to
		// (not urfave/cli's "No help topic for 'x'", nor another
		// command's), and so is the help word naming a command, then
		// an argument.
		{name: "help word, then an argument", args: []string{"help", "up", "x"}, stdout: []string{"NAME:\n   demo up\n", "how many"}, stderrLine: -1},
		{name: "help word, subcommand, then an argument", args: []string{"help", "pkg", "render", "x"}, stdout: []string{"NAME:\n   demo pkg render\n"}, stderrLine: -1},
		{name: "help flag, then an argument", args: []string{"up", "--help", "x"}, stdout: []string{"NAME:\n   demo up\n"}, stderrLine: -1},
		{name: "help flag, then a command's name", args: []string{"up", "--help", "pkg"}, stdout: []string{"NAME:\n   demo up\n"}, stderrLine: -1},
		{name: "help flag, then an unknown subcommand", args: []string{"pkg", "--help", "down"}, code: 2, stderr: []string{`demo pkg: unknown command "down" (want render)`}},
		{name: "help flag, then an unknown command", args: []string{"--help", "down"}, code: 2, stderr: []string{`demo: unknown command "down" (want up, pkg)`}},
		{name: "help word where arguments are none", args: []string{"up", "help"}, code: 2, stderr: []string{`demo up: unexpected argument "help": for help, run 'demo up --help'`}},
		{name: "help", args: []string{"up", "--help"}, stdout: []string{"--count N", "how many [$DEMO_COUNT, $DEMO_OLD_COUNT] (default: 1)", "[$DEMO_NAME, $DEMO_OLD_NAME]"}},
		{name: "version", args: []string{"--version"}, stdout: []string{"demo dev (rev "}},
		// A command without a UsageText of its own: --help shows the line
		// its usage errors print, not urfave/cli's "[command options]".
		{name: "help of a command without a usage text", args: []string{"pkg", "render", "--help"}, stdout: []string{"USAGE:\n   demo pkg render [flags]\n"}, stderrLine: -1},
		{name: "help of a group without a usage text", args: []string{"pkg", "--help"}, stdout: []string{"USAGE:\n   demo pkg COMMAND [flags]\n"}, stderrLine: -1},
		{name: "usage error of a command without a usage text", args: []string{"pkg", "render", "--nope"}, code: 2,
			stderr: []string{"demo pkg render: unknown flag --nope\nusage: demo pkg render [flags]\n"}},
		{name: "silent exit", args: []string{"up", "--count", "7"}, code: 7, stderrLine: -1},
		{name: "secrets masked in logs and errors", environ: []string{"DB_PASSWORD=hunter2-pw", "DEMO_LOG_FORMAT=json"}, args: []string{"up", "--name", "is hunter2-pw"},
			stderr: []string{`"name":"is ********"`}, notStderr: []string{"hunter2"}},
		{name: "secrets masked in the last error", environ: []string{"DB_PASSWORD=hunter2-pw"}, args: []string{"up", "--count", "hunter2-pw"}, code: 2,
			stderr: []string{`invalid value "********"`}, notStderr: []string{"hunter2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, d, stdout, stderr := runDemo(t, tc.environ, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for k, v := range tc.seen {
				if fmt.Sprint(d.seen[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, d.seen[k], v)
				}
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, w := range tc.notStderr {
				if strings.Contains(stderr, w) {
					t.Errorf("stderr has %q:\n%s", w, stderr)
				}
			}
			switch n := strings.Count(stderr, "\n"); {
			case tc.stderrLine > 0 && n != tc.stderrLine, tc.stderrLine < 0 && n != 0:
				t.Errorf("%d lines on stderr:\n%s", n, stderr)
			}
		})
	}
}

// TestFlagErrors: what urfave/cli's flag parsing refuses (Go's flag
// package's errors and urfave/cli's own) is said in plain words naming the
// flag as typed, with the command's usage line, and exits with the usage
// code.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		line  string // the first line of stderr
		usage string // the rest; demo up's usage if empty
	}{
		{"unknown flag", []string{"up", "--bogus"}, "demo up: unknown flag --bogus", ""},
		{"unknown flag, one dash", []string{"up", "-bogus"}, "demo up: unknown flag -bogus", ""},
		{"unknown short flag", []string{"up", "-b"}, "demo up: unknown flag -b", ""},
		{"unknown flag with a value", []string{"up", "--bogus=1"}, "demo up: unknown flag --bogus", ""},
		{"unknown root flag", []string{"--bogus", "up"}, "demo: unknown flag --bogus", "usage: demo COMMAND [flags]\nRun 'demo --help' for more.\n"},
		{"unknown in a subcommand", []string{"pkg", "render", "--bogus"}, "demo pkg render: unknown flag --bogus",
			"usage: demo pkg render [flags]\nRun 'demo pkg render --help' for more.\n"},
		{"a root flag given to the command as typed there", []string{"--root-wait", "1s", "up", "-root-wait"}, "demo up: unknown flag -root-wait", ""},
		{"missing value", []string{"up", "--count"}, "demo up: missing value for --count", ""},
		{"missing value of a short alias", []string{"up", "-n"}, "demo up: missing value for -n", ""},
		{"missing value of a secret flag, not masked", []string{"up", "--api-token"}, "demo up: missing value for --api-token", ""},
		{"a word after a true/false flag", []string{"up", "--dry-run", "maybe"}, `demo up: unexpected argument "maybe": --dry-run, a true/false flag, takes its value only after "="`, ""},
		{"a word after a true/false flag with its value", []string{"up", "--dry-run=true", "maybe"}, `demo up: unexpected argument "maybe"`, ""},
		{"not an integer", []string{"up", "--count", "many"}, `demo up: invalid value "many" for --count: want an integer`, ""},
		{"not an integer, one dash and =", []string{"up", "-count=many"}, `demo up: invalid value "many" for -count: want an integer`, ""},
		{"the bad one of a repeated flag", []string{"up", "--count", "3", "-count", "x"}, `demo up: invalid value "x" for -count: want an integer`, ""},
		{"out of range", []string{"up", "--count", "99999999999999999999"}, `demo up: invalid value "99999999999999999999" for --count: out of range`, ""},
		{"negative unsigned", []string{"up", "--port=-1"}, `demo up: invalid value "-1" for --port: want a non-negative integer`, ""},
		{"not a number", []string{"up", "--cpus", "lots"}, `demo up: invalid value "lots" for --cpus: want a number`, ""},
		{"not numbers", []string{"up", "--disk", "1,big"}, `demo up: invalid value "1,big" for --disk: want numbers separated by commas`, ""},
		{"not a duration", []string{"up", "--wait", "soon"}, `demo up: invalid value "soon" for --wait: want a duration such as 90s, 1m30s or 2h`, ""},
		{"not a boolean", []string{"up", "--dry-run=maybe"}, `demo up: invalid value "maybe" for --dry-run: want true or false`, ""},
		{"help flag value", []string{"up", "-h=maybe"}, `demo up: invalid value "maybe" for -h: want true or false`, ""},
		{"a flag parsing its own way keeps its reason", []string{"up", "--at", "soon"},
			`demo up: invalid value "soon" for --at: parsing time "soon" as "2006-01-02": cannot parse "soon" as "2006"`, ""},
		{"value with quotes and colons", []string{"up", `--count=a: "b" for flag -c: d`}, `demo up: invalid value "a: \"b\" for flag -c: d" for --count: want an integer`, ""},
		{"two names of one flag", []string{"up", "-n", "a", "--name", "b"}, "demo up: -n and --name are the same flag: give one", ""},
		{"two names of one flag, long first", []string{"up", "--name=a", "-n=b"}, "demo up: --name and -n are the same flag: give one", ""},
		{"malformed flag", []string{"up", "---x"}, `demo up: malformed flag "---x"`, ""},
		// values that parse but are refused (BadValue): the same shape
		{"refused value", []string{"up", "--wait", "0s"}, "demo up: --wait: must be positive", ""},
		{"refused value among other errors", []string{"up", "--name", "both", "--dry-run"}, "demo up: 2 errors: --name both: cannot be a dry run; --dry-run: not with --name both", ""},
		{"refused log format", []string{"up", "--log-format", "xml"}, `demo up: --log-format: unknown log format "xml" (want text or json)`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkUsageError(t, nil, tc.args, tc.line, tc.usage)
		})
	}
	// The same from the environment: the variable and the flag it sets are
	// named, a secret variable's value is not echoed.
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
		line    string
	}{
		{"not an integer", []string{"DEMO_COUNT=many"}, []string{"up"}, `demo up: invalid value "many" for DEMO_COUNT (--count): want an integer`},
		{"out of range", []string{"DEMO_COUNT=99999999999999999999"}, []string{"up"}, `demo up: invalid value "99999999999999999999" for DEMO_COUNT (--count): out of range`},
		{"not a boolean", []string{"DEMO_DRY_RUN=maybe"}, []string{"up"}, `demo up: invalid value "maybe" for DEMO_DRY_RUN (--dry-run): want true or false`},
		{"not a duration, spaces trimmed", []string{"DEMO_WAIT= soon "}, []string{"up"}, `demo up: invalid value "soon" for DEMO_WAIT (--wait): want a duration such as 90s, 1m30s or 2h`},
		{"not numbers", []string{"DEMO_DISKS=1,big"}, []string{"up"}, `demo up: invalid value "1,big" for DEMO_DISKS (--disk): want numbers separated by commas`},
		{"second variable of a flag", []string{"DEMO_OLD_COUNT=x"}, []string{"up"}, `demo up: invalid value "x" for DEMO_OLD_COUNT (--count): want an integer`},
		{"a root flag, the root running", []string{"DEMO_VERBOSE=yes please"}, nil, `demo: invalid value "yes please" for DEMO_VERBOSE (--verbose): want true or false`},
		{"a root flag the command has too", []string{"DEMO_COUNT=x"}, []string{"up"}, `demo up: invalid value "x" for DEMO_COUNT (--count): want an integer`},
		{"a root flag a command has, the root running", []string{"DEMO_COUNT=x"}, nil, `demo: invalid value "x" for DEMO_COUNT (--count): want an integer`},
		{"a secret variable", []string{"DEMO_API_TOKEN=hunter2-tok"}, []string{"up"}, `demo up: invalid value for DEMO_API_TOKEN (--api-token): want an integer`},
		{"a flag's own reason", []string{"DEMO_AT=soon"}, []string{"up"}, `demo up: invalid value "soon" for DEMO_AT (--at): parsing time "soon" as "2006-01-02": cannot parse "soon" as "2006"`},
		{"refused value", []string{"DEMO_WAIT=-1s"}, []string{"up"}, "demo up: DEMO_WAIT: must be positive"},
		{"refused log format", []string{"DEMO_LOG_FORMAT=xml"}, []string{"up"}, `demo up: DEMO_LOG_FORMAT: unknown log format "xml" (want text or json)`},
	} {
		t.Run("env "+tc.name, func(t *testing.T) {
			usage := ""
			if !strings.HasPrefix(tc.line, "demo up:") {
				usage = "usage: demo COMMAND [flags]\nRun 'demo --help' for more.\n"
			}
			stderr := checkUsageError(t, tc.environ, tc.args, tc.line, usage)
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("the secret is echoed:\n%s", stderr)
			}
		})
	}
}

// checkUsageError runs the demo and checks it ends in a usage error: exit
// DefaultUsageCode, nothing on stdout, line then usage (demo up's if empty)
// on stderr, which it returns.
func checkUsageError(t *testing.T, environ, args []string, line, usage string) string {
	t.Helper()
	code, _, stdout, stderr := runDemo(t, environ, args...)
	if usage == "" {
		usage = "usage: demo up [--count N] [--wait D]\nRun 'demo up --help' for more.\n"
	}
	if want := line + "\n" + usage; code != DefaultUsageCode || stderr != want || stdout != "" {
		t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, DefaultUsageCode, stdout, stderr, want)
	}
	return stderr
}

func TestSignalContext(t *testing.T) {
	ctx, stop := SignalContext(context.Background(), syscall.SIGUSR1)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not canceled by SIGUSR1")
	}
	sig := Interrupted(ctx)
	if sig == nil || sig.ExitCode() != 128+int(syscall.SIGUSR1) || sig.Error() != "interrupted by SIGUSR1" {
		t.Fatalf("Interrupted = %v", sig)
	}
	if !errors.Is(context.Cause(ctx), context.Canceled) {
		t.Error("the cause is not context.Canceled")
	}
	ctx2, stop2 := SignalContext(context.Background(), syscall.SIGUSR1)
	stop2()
	if ctx2.Err() == nil || Interrupted(ctx2) != nil {
		t.Errorf("after stop: err %v, signal %v", ctx2.Err(), Interrupted(ctx2))
	}
}
