package cliapp_test

// A black-box check that the six binaries share the shell: each is built,
// then run for --version, --help, -h, "help" and "help COMMAND", each
// command's --help (--log-format where it logs, none where it does not), an
// unknown flag (--bogus), another flag error of one of its commands, a bad
// value from an environment variable, a value refused after parsing, a
// stray argument, no arguments, and a failure whose error (logged as a
// JSON record) carries a secret of its environment.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binaries = []string{"bootstrap", "healthd", "tlsprov", "executor", "testenv", "scheduler-lite"}

// secret is the value of a secret variable (TASKKIT_TEST_PASSWORD) in
// every run's environment; it must never be printed.
const secret = "hunter2-secret-42"

func buildAll(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, b := range binaries {
		args = append(args, "../../"+b)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

type run struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, bin string, env []string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TASKKIT_TEST_PASSWORD=" + secret}, env...)
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return run{code, out.String(), errb.String()}
}

func TestEveryBinaryHasTheShell(t *testing.T) {
	if testing.Short() {
		t.Skip("builds all six binaries; skipped with -short")
	}
	dir := buildAll(t)
	// Each usage error: its first line on stderr, then the usage lines and
	// the pointer to --help, nothing on stdout, nothing done.
	type usage struct {
		env  []string
		args []string
		line string
		code int
	}
	for _, tc := range []struct {
		name     string
		help     string   // in --help
		helpWord bool     // "NAME help" is NAME --help (the binary has commands)
		topic    []string // a command: "NAME help CMD..." is "NAME CMD... --help"
		// the commands that log, whose --help lists --log-format and its
		// variable logVar, and those that log nothing (they print their
		// result), whose --help has no --log-format: as README says
		logs, quiet [][]string
		logVar      string
		usageCode   int // of --bogus
		// more usage errors: another flag error, a bad value from an
		// environment variable, a value that parses but is refused
		// (cliapp.BadValue), a stray argument, no arguments at all
		// (skipped when line is empty: the binary runs)
		flag, env, refused, stray, none usage
		// a run that fails after the logger exists (not a usage error,
		// which is text), with the secret in the failing value
		failEnv  []string
		failArgs []string
		failCode int
	}{
		{name: "bootstrap", help: "$BOOTSTRAP_RESOLVE_TIMEOUT", usageCode: 2, logs: [][]string{nil}, logVar: "BOOTSTRAP_LOG_FORMAT",
			flag:    usage{args: []string{"-resolve-timeout", "soon"}, line: `bootstrap: invalid value "soon" for -resolve-timeout: want a duration such as 90s, 1m30s or 2h`, code: 2},
			env:     usage{env: []string{"BOOTSTRAP_TEMPLATE_MAX_BYTES=1MB"}, line: `bootstrap: invalid value "1MB" for BOOTSTRAP_TEMPLATE_MAX_BYTES (-template-max-bytes): want an integer`, code: 2},
			refused: usage{env: []string{"BOOTSTRAP_RESOLVE_TIMEOUT=-1s"}, line: "bootstrap: BOOTSTRAP_RESOLVE_TIMEOUT: must not be negative, got -1s", code: 2},
			// a word without "--" is not a command to exec (it was: exit 6)
			stray:   usage{args: []string{"-print-env=false", "extra", "-x"}, line: `bootstrap: unexpected argument "extra": put the command to exec after --`, code: 2},
			failEnv: []string{"BOOTSTRAP_LOG_FORMAT=json"}, failArgs: []string{"-print-env=false", "-resolve=false", "-template=false", "--", "/nonexistent/" + secret}, failCode: 6},
		{name: "healthd", help: "$HEALTHD_GRACE_PERIOD", helpWord: true, topic: []string{"check"}, usageCode: 125,
			logs: [][]string{nil}, quiet: [][]string{{"check"}}, logVar: "HEALTHD_LOG_FORMAT",
			flag:    usage{args: []string{"check", "--bogus"}, line: "healthd check: unknown flag --bogus", code: 2},
			env:     usage{env: []string{"HEALTHD_EXIT_ON_FAILURE=sometimes"}, line: `healthd: invalid value "sometimes" for HEALTHD_EXIT_ON_FAILURE (--exit-on-failure): want true or false`, code: 125},
			refused: usage{env: []string{"HEALTHD_INTERVAL=0"}, args: []string{"--", "true"}, line: "healthd: HEALTHD_INTERVAL: must be positive", code: 125},
			none:    usage{line: "healthd: nothing to do: give a check (--cmd, --http, --tcp, --readiness-*) or a command after --", code: 125},
			stray:   usage{args: []string{"--cmd", "true", "sleep", "1"}, line: `healthd: unexpected argument "sleep": put the command to supervise after --`, code: 125},
			failEnv: []string{"HEALTHD_LOG_FORMAT=json"}, failArgs: []string{"--cmd", "true", "--status-file", "/dev/null/" + secret}, failCode: 125},
		{name: "tlsprov", help: "materialize", helpWord: true, topic: []string{"materialize"}, usageCode: 2,
			logs: [][]string{{"materialize"}, {"ca"}, {"issue"}, {"inspect"}}, quiet: [][]string{nil}, logVar: "TLSPROV_LOG_FORMAT",
			flag:    usage{args: []string{"materialize", "-n"}, line: "tlsprov materialize: missing value for -n", code: 2},
			env:     usage{env: []string{"TLSPROV_ALLOW_EXPIRED=yes"}, args: []string{"materialize", "--name", "x"}, line: `tlsprov materialize: invalid value "yes" for TLSPROV_ALLOW_EXPIRED (--allow-expired): want true or false`, code: 2},
			refused: usage{args: []string{"ca", "--dir", "ca", "--key-type", "dsa"}, line: `tlsprov ca: --key-type: unknown key type "dsa" (want one of rsa-2048, rsa-3072, ecdsa-p256, ed25519)`, code: 2},
			stray:   usage{args: []string{"ca", "--dir", "ca", "--force", "yes"}, line: `tlsprov ca: unexpected argument "yes": --force, a true/false flag, takes its value only after "="`, code: 2},
			none:    usage{line: "tlsprov: no command given (want materialize, ca, issue, inspect)", code: 2},
			failEnv: []string{"TLSPROV_LOG_FORMAT=json"}, failArgs: []string{"materialize", "--name", "x", "--key", "file:/nonexistent/" + secret}, failCode: 3},
		{name: "executor", help: "$EXECUTOR_LOG_FORMAT", usageCode: 2, logs: [][]string{nil}, logVar: "EXECUTOR_LOG_FORMAT",
			flag:    usage{args: []string{"--verbose=maybe"}, line: `executor: invalid value "maybe" for --verbose: want true or false`, code: 2},
			env:     usage{env: []string{"EXECUTOR_VERBOSE=maybe"}, line: `executor: invalid value "maybe" for EXECUTOR_VERBOSE (--verbose): want true or false`, code: 2},
			refused: usage{env: []string{"EXECUTOR_REGISTRATION_TIMEOUT=0s"}, line: "executor: EXECUTOR_REGISTRATION_TIMEOUT: must be positive, got 0s", code: 2},
			stray:   usage{args: []string{"extra"}, line: `executor: unexpected argument "extra"`, code: 2},
			failEnv: []string{"EXECUTOR_LOG_FORMAT=json", "MESOS_FRAMEWORK_ID=fw", "MESOS_EXECUTOR_ID=ex", "MESOS_DIRECTORY=/tmp", "MESOS_SANDBOX=/tmp",
				"MESOS_AGENT_ENDPOINT=" + secret, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs", "MESOS_CHECKPOINT=0"}, failCode: 2},
		{name: "testenv", help: "up", helpWord: true, topic: []string{"up"}, usageCode: 2,
			logs: [][]string{{"up"}}, quiet: [][]string{nil}, logVar: "TESTENV_LOG_FORMAT",
			flag:     usage{args: []string{"up", "--bogus"}, line: "testenv up: unknown flag --bogus", code: 2},
			env:      usage{env: []string{"TESTENV_AGENTS=x"}, args: []string{"up"}, line: `testenv up: invalid value "x" for TESTENV_AGENTS (--agents): want an integer`, code: 2},
			refused:  usage{args: []string{"up", "--mem", "0"}, line: "testenv up: --mem: 0 is not a positive number", code: 2},
			stray:    usage{args: []string{"up", "--agents", "2", "extra"}, line: `testenv up: unexpected argument "extra"`, code: 2},
			none:     usage{line: "testenv: no command given (want up)", code: 2},
			failEnv:  []string{"TESTENV_LOG_FORMAT=json", "TESTENV_AGENT_IP=127.77.8.1"},
			failArgs: []string{"up", "--listen", "127.0.0.1:0", "--agent-port", "0", "--env-file", "", "--work-dir", "/dev/null/" + secret}, failCode: 1},
		{name: "scheduler-lite", help: "$MESOS_MASTER", helpWord: true, topic: []string{"plan", "list"}, usageCode: 2,
			logs: [][]string{nil, {"uninstall"}}, quiet: [][]string{{"validate"}, {"package", "render"}, {"plan", "list"}, {"health"}}, logVar: "SCHEDULER_LITE_LOG_FORMAT",
			flag: usage{args: []string{"plan", "show", "deploy", "--bogus"}, line: "scheduler-lite plan show: unknown flag --bogus", code: 2},
			// a variable of the scheduler's --strict and of validate's: validate's error, with its usage
			env:     usage{env: []string{"SCHEDULER_LITE_STRICT=maybe"}, args: []string{"validate", "svc.yml"}, line: `scheduler-lite validate: invalid value "maybe" for SCHEDULER_LITE_STRICT (--strict): want true or false`, code: 2},
			refused: usage{env: []string{"SCHEDULER_LITE_LOCAL_AGENTS=0"}, args: []string{"svc.yml"}, line: "scheduler-lite: SCHEDULER_LITE_LOCAL_AGENTS: 0 is out of range 1..250", code: 2},
			stray:   usage{args: []string{"a.yml", "b.yml"}, line: `scheduler-lite: unexpected argument "b.yml": want one svc.yml`, code: 2},
			none:    usage{line: "scheduler-lite: want one argument: the svc.yml", code: 2},
			failEnv: []string{"SCHEDULER_LITE_LOG_FORMAT=json"}, failArgs: []string{"--master", "http://127.0.0.1:1", filepath.Join("no", secret, "svc.yml")}, failCode: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, tc.name)
			r := runBinary(t, bin, nil, "--version")
			if r.code != 0 || !strings.HasPrefix(r.stdout, tc.name+" dev (rev ") || strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("--version: exit %d, %q", r.code, r.stdout)
			}
			help := runBinary(t, bin, nil, "--help")
			if help.code != 0 || !strings.Contains(help.stdout, tc.help) || !strings.Contains(help.stdout, "USAGE:") {
				t.Errorf("--help: exit %d, lacks %q:\n%s", help.code, tc.help, help.stdout)
			}
			if r = runBinary(t, bin, nil, "-h"); r != help {
				t.Errorf("-h: exit %d, not what --help gives:\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = runBinary(t, bin, nil, "help")
			if tc.helpWord && r != help {
				t.Errorf("help: exit %d, not what --help gives:\n%s%s", r.code, r.stdout, r.stderr)
			}
			if want := tc.name + `: unexpected argument "help": for help, run '` + tc.name + " --help'\nusage: "; !tc.helpWord &&
				(r.code != tc.usageCode || !strings.HasPrefix(r.stderr, want) || r.stdout != "") {
				t.Errorf("help: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stderr from: %s", r.code, tc.usageCode, r.stdout, r.stderr, want)
			}
			if tc.helpWord {
				want := runBinary(t, bin, nil, append(slices.Clone(tc.topic), "--help")...)
				r = runBinary(t, bin, nil, append([]string{"help"}, tc.topic...)...)
				if want.code != 0 || !strings.Contains(want.stdout, "USAGE:") || r != want {
					t.Errorf("help %v: exit %d, not what %v --help gives (exit %d):\n%s%s", tc.topic, r.code, tc.topic, want.code, r.stdout, r.stderr)
				}
				r = runBinary(t, bin, nil, "help", "nosuch")
				if r.code != tc.usageCode || !strings.HasPrefix(r.stderr, tc.name+`: unknown command "nosuch" (want `) || r.stdout != "" {
					t.Errorf("help nosuch: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tc.usageCode, r.stdout, r.stderr)
				}
			}
			if odd := oddPlaceholders(help.stdout); len(odd) > 0 {
				t.Errorf("--help: flags whose value placeholder is not one word (a `quoted` phrase in the usage becomes the placeholder): %q", odd)
			}
			for _, cmd := range append(slices.Clone(tc.logs), tc.quiet...) {
				if odd := oddPlaceholders(runBinary(t, bin, nil, append(slices.Clone(cmd), "--help")...).stdout); len(odd) > 0 {
					t.Errorf("%v --help: flags whose value placeholder is not one word: %q", cmd, odd)
				}
			}
			// Every command's help, found through the COMMANDS each help
			// lists: a command's shows OPTIONS and no version, also when
			// it runs as an App of its own ("healthd check" showed GLOBAL
			// OPTIONS, VERSION and --version); no flag's value is "value"
			// (testenv up's 25 were).
			for cmd, page := range helpPages(t, bin) {
				if odd := valuePlaceholders(page); len(odd) > 0 {
					t.Errorf("%q --help: flags whose value shows as \"value\" (name it with backticks in the usage): %q", cmd, odd)
				}
				if cmd != "" && (strings.Contains(page, "GLOBAL OPTIONS:") || strings.Contains(page, "\nVERSION:") || strings.Contains(page, "--version")) {
					t.Errorf("%q --help: not a command's help (OPTIONS, no version):\n%s", cmd, page)
				}
			}
			for _, cmd := range tc.logs {
				r = runBinary(t, bin, nil, append(slices.Clone(cmd), "--help")...)
				if r.code != 0 || !regexp.MustCompile(`(?m)^\s+--log-format .*\[\$`+tc.logVar+`\]`).MatchString(r.stdout) {
					t.Errorf("%v --help: exit %d, no --log-format read from $%s:\n%s", cmd, r.code, tc.logVar, r.stdout)
				}
			}
			for _, cmd := range tc.quiet {
				if r = runBinary(t, bin, nil, append(slices.Clone(cmd), "--help")...); r.code != 0 || strings.Contains(r.stdout, "--log-format") {
					t.Errorf("%v --help: exit %d, a --log-format where nothing logs (README says so):\n%s", cmd, r.code, r.stdout)
				}
			}
			r = runBinary(t, bin, nil, "--bogus")
			if r.code != tc.usageCode || !strings.HasPrefix(r.stderr, tc.name+": unknown flag --bogus\nusage: "+tc.name) ||
				!strings.Contains(r.stderr, "Run '"+tc.name+" --help' for more.") || strings.Count(r.stderr, "\n") > 6 || r.stdout != "" {
				t.Errorf("--bogus: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tc.usageCode, r.stdout, r.stderr)
			}
			for _, u := range []usage{tc.flag, tc.env, tc.refused, tc.stray, tc.none} {
				if u.line == "" {
					continue
				}
				r = runBinary(t, bin, u.env, u.args...)
				if r.code != u.code || !strings.HasPrefix(r.stderr, u.line+"\nusage: ") || !strings.HasSuffix(r.stderr, " --help' for more.\n") || r.stdout != "" {
					t.Errorf("%v %v: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant first line: %s", u.env, u.args, r.code, u.code, r.stdout, r.stderr, u.line)
				}
			}
			r = runBinary(t, bin, tc.failEnv, tc.failArgs...)
			all := r.stdout + r.stderr
			if r.code != tc.failCode || strings.Contains(all, "hunter2") || !strings.Contains(r.stderr, `"level":"ERROR"`) || !strings.Contains(r.stderr, "********") {
				t.Errorf("failure with a secret: exit %d (want %d), not a masked JSON error record:\n%s", r.code, tc.failCode, all)
			}
		})
	}
}

// optionFlags returns the flags column of help's lines under OPTIONS:
// ("--master URL, -m URL").
func optionFlags(help string) []string {
	var out []string
	options := false
	for _, line := range strings.Split(help, "\n") {
		if strings.HasSuffix(line, "OPTIONS:") {
			options = true
			continue
		}
		flags, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
		if options && strings.HasPrefix(flags, "-") {
			out = append(out, flags)
		}
	}
	return out
}

// oddPlaceholders returns the flag lines of help (those under OPTIONS:)
// that show a flag's value as more than one word, as "--master testenv up"
// did: urfave/cli takes the first `quoted` phrase of a flag's usage for
// its placeholder, so a usage quoting a command shows it as the value.
func oddPlaceholders(help string) []string {
	var odd []string
	for _, flags := range optionFlags(help) {
		for _, f := range strings.Split(flags, ", ") {
			f, _, _ = strings.Cut(f, " [ ") // "--wait URL [ --wait URL ]": repeatable
			if len(strings.Fields(f)) > 2 {
				odd = append(odd, f)
			}
		}
	}
	return odd
}

// helpPages returns the --help of bin and of every command under it, found
// through the COMMANDS section of each help, keyed by the command's words
// ("" for bin itself).
func helpPages(t *testing.T, bin string) map[string]string {
	t.Helper()
	pages := map[string]string{}
	var walk func(cmd []string)
	walk = func(cmd []string) {
		r := runBinary(t, bin, nil, append(slices.Clone(cmd), "--help")...)
		if r.code != 0 {
			t.Errorf("%v --help: exit %d:\n%s", cmd, r.code, r.stderr)
			return
		}
		pages[strings.Join(cmd, " ")] = r.stdout
		commands := false
		for _, line := range strings.Split(r.stdout, "\n") {
			switch {
			case line == "COMMANDS:":
				commands = true
			case commands && strings.HasPrefix(line, "   "):
				name := strings.TrimSuffix(strings.Fields(line)[0], ",")
				if name != "help" {
					walk(append(slices.Clone(cmd), name))
				}
			default:
				commands = false
			}
		}
	}
	walk(nil)
	return pages
}

// valuePlaceholders returns the flags of help (those under OPTIONS:) shown
// with urfave/cli's "value" for their value: a flag whose usage names no
// `placeholder`.
func valuePlaceholders(help string) []string {
	var odd []string
	for _, flags := range optionFlags(help) {
		if slices.Contains(strings.Fields(flags), "value") {
			odd = append(odd, flags)
		}
	}
	return odd
}
