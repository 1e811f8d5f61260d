package cliapp_test

// A black-box check that the six binaries share the shell: each is built,
// then run for --version, --help, an unknown flag (--bogus), another flag
// error of one of its commands, and a failure whose error (logged as a JSON
// record) carries a secret of its environment.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	for _, tc := range []struct {
		name      string
		help      string // in --help
		usageCode int    // of --bogus
		// another flag error, its first line on stderr and its exit code
		flagArgs []string
		flagLine string
		flagCode int
		// a run that fails after the logger exists, with the secret in
		// the failing value
		env  []string
		args []string
		code int
	}{
		{"bootstrap", "$BOOTSTRAP_RESOLVE_TIMEOUT", 2,
			[]string{"-resolve-timeout", "soon"}, `bootstrap: invalid value "soon" for -resolve-timeout: want a duration such as 90s, 1m30s or 2h`, 2,
			[]string{"BOOTSTRAP_LOG_FORMAT=json"}, []string{"-print-env=false", "-write-mode", secret}, 2},
		{"healthd", "$HEALTHD_GRACE_PERIOD", 125,
			[]string{"check", "--bogus"}, "healthd check: unknown flag --bogus", 2,
			[]string{"HEALTHD_LOG_FORMAT=json"}, []string{"--http", "ftp://u:" + secret + "@h/"}, 125},
		{"tlsprov", "materialize", 2,
			[]string{"materialize", "-n"}, "tlsprov materialize: -n needs a value", 2,
			[]string{"TLSPROV_LOG_FORMAT=json"}, []string{"materialize", "--name", "x", "--formats", secret}, 2},
		{"executor", "$EXECUTOR_LOG_FORMAT", 2,
			[]string{"--verbose=maybe"}, `executor: invalid value "maybe" for --verbose: want true or false`, 2,
			[]string{"EXECUTOR_LOG_FORMAT=json", "MESOS_FRAMEWORK_ID=fw", "MESOS_EXECUTOR_ID=ex", "MESOS_DIRECTORY=/tmp", "MESOS_SANDBOX=/tmp",
				"MESOS_AGENT_ENDPOINT=" + secret, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs", "MESOS_CHECKPOINT=0"}, nil, 2},
		{"testenv", "up", 2,
			[]string{"up", "--bogus"}, "testenv up: unknown flag --bogus", 2,
			[]string{"TESTENV_LOG_FORMAT=json", "TESTENV_AGENT_IP=127.77.8.1"},
			[]string{"up", "--listen", "127.0.0.1:0", "--agent-port", "0", "--env-file", "", "--dns-forward", secret}, 2},
		{"scheduler-lite", "$MESOS_MASTER", 2,
			[]string{"plan", "show", "deploy", "--bogus"}, "scheduler-lite plan show: unknown flag --bogus", 2,
			[]string{"SCHEDULER_LITE_LOG_FORMAT=json"}, []string{"--master", "http://127.0.0.1:1", filepath.Join("no", secret, "svc.yml")}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := filepath.Join(dir, tc.name)
			r := runBinary(t, bin, nil, "--version")
			if r.code != 0 || !strings.HasPrefix(r.stdout, tc.name+" dev (rev ") || strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("--version: exit %d, %q", r.code, r.stdout)
			}
			r = runBinary(t, bin, nil, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, tc.help) || !strings.Contains(r.stdout, "USAGE:") {
				t.Errorf("--help: exit %d, lacks %q:\n%s", r.code, tc.help, r.stdout)
			}
			r = runBinary(t, bin, nil, "--bogus")
			if r.code != tc.usageCode || !strings.HasPrefix(r.stderr, tc.name+": unknown flag --bogus\nusage: "+tc.name) ||
				!strings.Contains(r.stderr, "Run '"+tc.name+" --help' for more.") || strings.Count(r.stderr, "\n") > 6 || r.stdout != "" {
				t.Errorf("--bogus: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tc.usageCode, r.stdout, r.stderr)
			}
			r = runBinary(t, bin, nil, tc.flagArgs...)
			if r.code != tc.flagCode || !strings.HasPrefix(r.stderr, tc.flagLine+"\nusage: ") || r.stdout != "" {
				t.Errorf("%v: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant first line: %s", tc.flagArgs, r.code, tc.flagCode, r.stdout, r.stderr, tc.flagLine)
			}
			r = runBinary(t, bin, tc.env, tc.args...)
			all := r.stdout + r.stderr
			if r.code != tc.code || strings.Contains(all, "hunter2") || !strings.Contains(r.stderr, `"level":"ERROR"`) || !strings.Contains(r.stderr, "********") {
				t.Errorf("failure with a secret: exit %d (want %d), not a masked JSON error record:\n%s", r.code, tc.code, all)
			}
		})
	}
}
