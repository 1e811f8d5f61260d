package servicecli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/devbuild"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// bin is a directory with scheduler-lite and the toolkit binaries, built
// once for the package's tests.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if _, err := exec.LookPath("go"); err != nil {
			fmt.Println("skipping: no go command to build scheduler-lite")
			return 0
		}
		dir, err := os.MkdirTemp("", "servicecli-test-")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer os.RemoveAll(dir)
		root, err := devbuild.SourceRoot()
		if err != nil {
			fmt.Println(err)
			return 1
		}
		pkgs := slices.Concat(devbuild.Toolkit, []string{"./scheduler-lite"})
		if err := devbuild.Build(context.Background(), devbuild.Options{Root: root, Dir: dir, Packages: pkgs}); err != nil {
			fmt.Println(err)
			return 1
		}
		bin = dir
		return m.Run()
	}()
	os.Exit(code)
}

// token is the API token of the test's scheduler; no output may show it.
const token = "tok-3f9a7c1e-never-printed"

// env is what the commands run with: nothing from the caller's
// environment (no SCHEDULER_LITE_* of a developer's shell), a runtime
// directory of the test's own, and extra.
type env struct {
	runtimeDir string
	extra      []string
}

func newEnv(t *testing.T) *env {
	d := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return &env{runtimeDir: d}
}

func (e *env) environ(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "XDG_RUNTIME_DIR=" + e.runtimeDir}, append(e.extra, extra...)...)
}

// result is one command's outcome.
type result struct {
	stdout, stderr string
	code           int
}

// envEntry is an environment entry leading run's arguments.
var envEntry = regexp.MustCompile(`^[A-Z_]+=`)

// run runs "scheduler-lite args..." (leading KEY=VAL arguments are
// environment entries) and fails the test if the token shows anywhere in
// its output.
func (e *env) run(t *testing.T, args ...string) result {
	t.Helper()
	var extra []string
	for len(args) > 0 && envEntry.MatchString(args[0]) {
		extra, args = append(extra, args[0]), args[1:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "scheduler-lite"), args...)
	cmd.Env = e.environ(extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("scheduler-lite %v: %v", args, err)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Errorf("scheduler-lite %v shows the token:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
	}
	return r
}

// want runs a command and checks its exit code.
func (e *env) want(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := e.run(t, args...)
	if r.code != code {
		t.Errorf("scheduler-lite %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// normalizers replace what differs from run to run in the text outputs.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<UUID>"},
	{regexp.MustCompile(`\b[0-9a-f]{32}\b`), "<CONFIGURATION_ID>"},
	{regexp.MustCompile(`\b127\.\d+\.\d+\.\d+\b`), "<IP>"},
	{regexp.MustCompile(`(:|ports |PORT=)\d{4,5}\b`), "${1}<PORT>"}, // ports are above 1023
}

func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// golden compares got (normalized) with testdata/golden/name.txt; -update
// rewrites the file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = normalize(got)
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// sameJSON checks that got is the JSON the API answers at url.
func sameJSON(t *testing.T, got, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a, b any
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, got)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("--json output differs from GET %s:\n%s\n%s", url, ja, jb)
	}
}

// scheduler is a scheduler-lite process on a local testenv.
type scheduler struct {
	api, sandboxes string
	cmd            *exec.Cmd
	done           chan struct{}
	log            *bytes.Buffer
}

// startScheduler runs scheduler-lite on testdata/svc.yml with 2 local
// agents and the API token; GATE_FILE holds the deploy until the test
// creates it. It is stopped (SIGTERM, then SIGKILL of its group after
// 30 s) when the test ends.
func startScheduler(t *testing.T, e *env, gate, tokenFile string) *scheduler {
	t.Helper()
	spec, _ := filepath.Abs(filepath.Join("testdata", "svc.yml"))
	cmd := exec.Command(filepath.Join(bin, "scheduler-lite"), "--master", "local", "--local-agents", "2",
		"--artifacts-dir", bin, "--api-token-file", tokenFile, "--backoff-max", "2s", spec)
	cmd.Env = e.environ("GATE_FILE="+gate, "WEB_PASSWORD=hunter2-never-shown")
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s := &scheduler{cmd: cmd, done: make(chan struct{}), log: new(bytes.Buffer)}
	cmd.Stderr = s.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() { // owned by s: ends when the process closes its stdout
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), "=")
			switch k {
			case "SCHEDULER_API":
				s.api = v
			case "TESTENV_SANDBOX_ROOT":
				s.sandboxes = v
				close(ready)
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("scheduler-lite exited:\n%s", s.log)
	case <-time.After(2 * time.Minute):
		t.Fatalf("scheduler-lite did not start within 2m:\n%s", s.log)
	}
	return s
}

// stop ends the scheduler: SIGTERM, then SIGKILL of its group after 30 s.
func (s *scheduler) stop(t *testing.T) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Errorf("scheduler-lite did not stop within 30s of SIGTERM")
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// planView is the part of GET /v1/plans/{plan} the test looks at.
type planView struct {
	Status string
	Phases []struct {
		Name, Status string
		Steps        []struct{ Name, Status, Message string }
	}
}

// poll runs cond every 200 ms until it holds, failing after d.
func poll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// taskOf returns the ID and state of a pod instance's first task, through
// the command's --json output.
func taskOf(t *testing.T, e *env, url, pod string) (string, string) {
	t.Helper()
	r := e.want(t, 0, "pod", "status", pod, "--json", "--url", url)
	var st struct {
		Tasks []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Tasks) == 0 {
		return "", ""
	}
	return st.Tasks[0].ID, st.Tasks[0].Status
}

// closedURL is an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestCommands runs every command against one scheduler-lite on testenv:
// text (golden files) and --json outputs, every exit code, the token never
// shown, --name through the scheduler's registration, and a plan start
// parameter reaching the task's environment.
func TestCommands(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	badToken := filepath.Join(dir, "bad-token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	os.WriteFile(badToken, []byte("not-the-token\n"), 0o600)
	gate := filepath.Join(dir, "gate")

	// A script may wait for a scheduler it is still starting: --name is
	// looked up until it is registered.
	earlyCtx, cancelEarly := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelEarly()
	early := exec.CommandContext(earlyCtx, filepath.Join(bin, "scheduler-lite"), "plan", "show", "deploy", "--name", "cli-test", "--wait", "IN_PROGRESS", "--timeout", "2m")
	early.Env = e.environ()
	var earlyOut, earlyErr bytes.Buffer
	early.Stdout, early.Stderr = &earlyOut, &earlyErr
	if err := early.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // it looks for the registration before there is one
	s := startScheduler(t, e, gate, tokenFile)
	if err := early.Wait(); err != nil || !strings.HasPrefix(earlyOut.String(), "deploy (serial strategy) (IN_PROGRESS)") {
		t.Errorf("plan show --wait started before the scheduler: %v\nstdout: %s\nstderr: %s", err, earlyOut.String(), earlyErr.String())
	}
	u := s.api
	url := []string{"--url", u}

	// The deploy runs up to the gate: web COMPLETE, gate-0 STARTED (its
	// readiness check fails until the gate file exists, and the step's
	// message says so once the check has run).
	poll(t, "the deploy held at the gate", 90*time.Second, func() bool {
		r := e.run(t, "plan", "show", "deploy", "--json", "--url", u)
		var p planView
		json.Unmarshal([]byte(r.stdout), &p)
		return len(p.Phases) == 2 && p.Phases[0].Status == "COMPLETE" && p.Phases[1].Steps[0].Status == "STARTED" &&
			strings.HasSuffix(p.Phases[1].Steps[0].Message, "(last: exit 1)")
	})

	t.Run("read commands: text and json", func(t *testing.T) {
		for _, c := range []struct {
			golden string
			args   []string
			path   string // the API answer --json must print
		}{
			{"plan-list", []string{"plan", "list"}, "/v1/plans"},
			{"plan-show-held", []string{"plan", "show", "deploy"}, "/v1/plans/deploy"},
			{"pod-list", []string{"pod", "list"}, "/v1/pod"},
			{"pod-status", []string{"pod", "status"}, "/v1/pod/status"},
			{"pod-status-web-0", []string{"pod", "status", "web-0"}, "/v1/pod/web-0/status"},
			{"pod-info-web-0", []string{"pod", "info", "web-0"}, "/v1/pod/web-0/info"},
			{"endpoints", []string{"endpoints"}, "/v1/endpoints"},
			{"endpoints-http", []string{"endpoints", "http"}, "/v1/endpoints/http"},
			{"state-framework-id", []string{"state", "framework-id"}, "/v1/state/frameworkId"},
		} {
			t.Run(c.golden, func(t *testing.T) {
				r := e.want(t, 0, append(c.args, url...)...)
				golden(t, c.golden, r.stdout)
				if r.stderr != "" {
					t.Errorf("stderr: %s", r.stderr)
				}
				r = e.want(t, 0, append(c.args, append(url, "--json")...)...)
				sameJSON(t, r.stdout, u+c.path)
			})
		}
	})

	t.Run("pod info masks secrets", func(t *testing.T) {
		for _, j := range []string{"--json=false", "--json"} {
			r := e.want(t, 0, "pod", "info", "web-0", "--url", u, j)
			if strings.Contains(r.stdout, "hunter2") || !strings.Contains(r.stdout, "********") {
				t.Errorf("pod info %s shows the password or masks nothing:\n%s", j, r.stdout)
			}
		}
	})

	t.Run("flags before or after the arguments, and from the environment", func(t *testing.T) {
		want := e.want(t, 0, "plan", "show", "deploy", "--url", u).stdout
		for _, args := range [][]string{
			{"plan", "--url", u, "show", "deploy"},
			{"plan", "show", "--url", u, "deploy"},
			{"plan", "show", "--url=" + u, "--", "deploy"},
			{"SCHEDULER_LITE_URL=" + u, "plan", "show", "deploy"},
		} {
			if got := e.want(t, 0, args...).stdout; got != want {
				t.Errorf("%v printed\n%s\nwant\n%s", args, got, want)
			}
		}
		r := e.want(t, 0, "SCHEDULER_LITE_URL="+u, "SCHEDULER_LITE_JSON=true", "plan", "list")
		sameJSON(t, r.stdout, u+"/v1/plans")
		// Every group takes its commands' flags after the group's name,
		// before the command's: as given after the command.
		for _, c := range []struct{ first, after []string }{
			{[]string{"plan", "--url", u, "list"}, []string{"plan", "list", "--url", u}},
			{[]string{"plan", "--json", "--url=" + u, "show", "deploy"}, []string{"plan", "show", "deploy", "--json", "--url", u}},
			{[]string{"pod", "--url", u, "status", "web-0"}, []string{"pod", "status", "web-0", "--url", u}},
			{[]string{"pod", "--url", u, "list"}, []string{"pod", "list", "--url", u}},
			{[]string{"endpoints", "--url", u, "http"}, []string{"endpoints", "http", "--url", u}},
			{[]string{"config", "--url", u, "target-id"}, []string{"config", "target-id", "--url", u}},
			{[]string{"config", "--json", "--url", u, "list"}, []string{"config", "list", "--url", u, "--json"}},
			{[]string{"state", "--url", u, "framework-id"}, []string{"state", "framework-id", "--url", u}},
			{[]string{"state", "--url", u, "properties"}, []string{"state", "properties", "--url", u}},
			{[]string{"debug", "--url", u, "--json", "reservations"}, []string{"debug", "reservations", "--url", u, "--json"}},
			{[]string{"health", "--url", u}, []string{"health", "--url", u}},
		} {
			if got, want := e.want(t, 0, c.first...).stdout, e.want(t, 0, c.after...).stdout; got != want {
				t.Errorf("%v printed\n%s\nwant, as %v,\n%s", c.first, got, c.after, want)
			}
		}
	})

	t.Run("debug reservations", func(t *testing.T) {
		r := e.want(t, 0, "debug", "reservations", "--url", u)
		for _, want := range []string{"\nweb-0 on ", "\nweb-1 on ", ", role ", "  executor/cpus  "} {
			if !strings.Contains("\n"+r.stdout, want) {
				t.Errorf("debug reservations lacks %q:\n%s", want, r.stdout)
			}
		}
		sameJSON(t, e.want(t, 0, "debug", "reservations", "--json", "--url", u).stdout, u+"/v1/debug/reservations")
	})

	t.Run("wait timeout: exit 4 with the last plan", func(t *testing.T) {
		r := e.want(t, 4, "plan", "show", "deploy", "--wait", "complete", "--timeout", "1s", "--url", u)
		golden(t, "plan-show-held", r.stdout)
		if !strings.Contains(r.stderr, "did not reach COMPLETE within 1s (last status IN_PROGRESS)") ||
			!strings.Contains(r.stderr, "scheduler-lite: waiting for plan deploy to be COMPLETE: IN_PROGRESS, ") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})

	t.Run("a command needs the token: 401 is exit 1 with the API's message", func(t *testing.T) {
		for _, extra := range [][]string{nil, {"--api-token-file", badToken}} {
			r := e.want(t, 1, append([]string{"plan", "interrupt", "deploy", "--url", u}, extra...)...)
			if !strings.Contains(r.stderr, "401 Unauthorized: this call needs an API token") || r.stdout != "" {
				t.Errorf("%v: stdout %q stderr %q", extra, r.stdout, r.stderr)
			}
		}
	})

	tok := []string{"--url", u, "--api-token-file", tokenFile}
	t.Run("interrupt, no-op, health, continue, wait for COMPLETE", func(t *testing.T) {
		golden(t, "plan-interrupt-phase", e.want(t, 0, append([]string{"plan", "interrupt", "deploy", "--phase", "gate"}, tok...)...).stdout)
		golden(t, "plan-continue-phase", e.want(t, 0, append([]string{"plan", "resume", "deploy", "--phase", "gate"}, tok...)...).stdout)
		golden(t, "plan-interrupt", e.want(t, 0, append([]string{"plan", "interrupt", "deploy"}, tok...)...).stdout)
		golden(t, "plan-interrupt-again", e.want(t, 0, append([]string{"plan", "pause", "deploy"}, tok...)...).stdout)
		r := e.want(t, 0, "SCHEDULER_LITE_API_TOKEN_FILE="+tokenFile, "plan", "interrupt", "deploy", "--json", "--url", u)
		if !strings.Contains(r.stdout, `"message"`) {
			t.Errorf("interrupt --json: %s", r.stdout)
		}
		golden(t, "health-waiting", e.want(t, 0, "health", "--url", u).stdout)
		sameJSON(t, e.want(t, 0, "health", "--url", u, "--json").stdout, u+"/v1/health?verbose=true")
		golden(t, "plan-show-waiting", e.want(t, 4, "plan", "show", "deploy", "--wait", "COMPLETE", "--timeout", "1s", "--url", u).stdout)

		golden(t, "plan-continue", e.want(t, 0, append([]string{"plan", "continue", "deploy"}, tok...)...).stdout)
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r = e.want(t, 0, "plan", "show", "deploy", "--wait", "COMPLETE", "--timeout", "90s", "--url", u)
		golden(t, "plan-show-complete", r.stdout)
		golden(t, "health-running", e.want(t, 0, "health", "--url", u).stdout)
	})

	t.Run("phase commands on a complete phase: nothing changed", func(t *testing.T) {
		golden(t, "plan-interrupt-complete-phase", e.want(t, 0, append([]string{"plan", "interrupt", "deploy", "--phase", "web"}, tok...)...).stdout)
		golden(t, "plan-continue-complete-phase", e.want(t, 0, append([]string{"plan", "resume", "deploy", "--phase", "web"}, tok...)...).stdout)
		r := e.want(t, 1, append([]string{"plan", "interrupt", "deploy", "--phase", "nope"}, tok...)...)
		if !strings.Contains(r.stderr, "404 Not Found") || !strings.Contains(r.stderr, `"nope"`) {
			t.Errorf("stderr: %s", r.stderr)
		}
	})

	t.Run("plan start -p reaches the task's environment", func(t *testing.T) {
		r := e.want(t, 0, append([]string{"plan", "start", "job", "-p", "GREETING=bonjour", "-p", "EQUATION=a=b"}, tok...)...)
		golden(t, "plan-start", r.stdout)
		e.want(t, 0, "plan", "show", "job", "--wait", "COMPLETE", "--timeout", "90s", "--url", u)
		all, _ := filepath.Glob(filepath.Join(s.sandboxes, "slaves/*/frameworks/*/executors/*/runs/*/tasks/*job-0-run*/env.txt"))
		var envs []string
		for _, p := range all {
			if !strings.Contains(p, "/runs/latest/") {
				envs = append(envs, p)
			}
		}
		if len(envs) != 1 {
			t.Fatalf("env.txt of job-0-run: %v", envs)
		}
		b, _ := os.ReadFile(envs[0])
		for _, want := range []string{"\nGREETING=bonjour\n", "\nEQUATION=a=b\n"} {
			if !strings.Contains("\n"+string(b), want) {
				t.Errorf("the task's environment lacks %q:\n%s", strings.TrimSpace(want), b)
			}
		}
		golden(t, "plan-force-restart", e.want(t, 0, append([]string{"plan", "force-restart", "job"}, tok...)...).stdout)
		e.want(t, 0, "plan", "show", "job", "--wait", "COMPLETE", "--timeout", "90s", "--url", u)
		golden(t, "plan-stop", e.want(t, 0, append([]string{"plan", "stop", "job"}, tok...)...).stdout)
		r = e.want(t, 0, append([]string{"plan", "start", "job", "--json"}, tok...)...)
		if !strings.Contains(r.stdout, `"message"`) {
			t.Errorf("start --json: %s", r.stdout)
		}
	})

	t.Run("pod restart and replace", func(t *testing.T) {
		for _, cmd := range []string{"restart", "replace"} {
			id, _ := taskOf(t, e, u, "web-1")
			golden(t, "pod-"+cmd, e.want(t, 0, append([]string{"pod", cmd, "web-1"}, tok...)...).stdout)
			poll(t, "a new web-1 task RUNNING", 90*time.Second, func() bool {
				nid, st := taskOf(t, e, u, "web-1")
				return nid != id && st == "RUNNING"
			})
		}
		r := e.want(t, 1, append([]string{"pod", "restart", "nope-0"}, tok...)...)
		if !strings.Contains(r.stderr, "404 Not Found") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})

	t.Run("debug offers says why a step does not launch", func(t *testing.T) {
		e.want(t, 0, append([]string{"plan", "start", "big"}, tok...)...)
		var r result
		poll(t, "an evaluation of big-0", 30*time.Second, func() bool {
			r = e.want(t, 0, "debug", "offers", "--url", u)
			return strings.Contains(r.stdout, "big-0 (big-0:[huge]): fail")
		})
		for _, want := range []string{"waiting to launch:\n  big: big-0:[huge] (PENDING)", "  - FAIL(resources): ", "1000"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("debug offers lacks %q:\n%s", want, r.stdout)
			}
		}
		var d struct{ Waiting, Outcomes []any }
		if err := json.Unmarshal([]byte(e.want(t, 0, "debug", "offers", "--json", "--url", u).stdout), &d); err != nil || len(d.Waiting) == 0 || len(d.Outcomes) == 0 {
			t.Errorf("debug offers --json: %v %+v", err, d)
		}
		golden(t, "plan-stop-big", e.want(t, 0, append([]string{"plan", "stop", "big"}, tok...)...).stdout)
	})

	t.Run("--name finds the registered scheduler and its token", func(t *testing.T) {
		r := e.want(t, 0, "plan", "list", "--name", "cli-test")
		golden(t, "plan-list", r.stdout)
		// No --api-token-file: the registration names the scheduler's.
		e.want(t, 0, "plan", "interrupt", "deploy", "--phase", "web", "--name", "cli-test")
		e.want(t, 0, "SCHEDULER_LITE_NAME=cli-test", "plan", "continue", "deploy", "--phase", "web")
		e.want(t, 3, "plan", "show", "deploy", "--name", "not-running", "--wait", "COMPLETE", "--timeout", "1s")
		r = e.want(t, 3, "plan", "list", "--name", "not-running")
		if !strings.Contains(r.stderr, "no running scheduler-lite registered under this name") || !strings.Contains(r.stderr, "cli-test") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})

	t.Run("configurations", func(t *testing.T) {
		r := e.want(t, 0, "config", "target-id", "--url", u)
		golden(t, "config-target-id", r.stdout)
		id := strings.TrimSpace(r.stdout)
		golden(t, "config-list", e.want(t, 0, "config", "list", "--url", u).stdout)
		target := e.want(t, 0, "config", "target", "--url", u).stdout
		sameJSON(t, target, u+"/v1/configurations/target")
		if show := e.want(t, 0, "config", "show", id, "--url", u).stdout; show != target {
			t.Errorf("config show %s differs from config target:\n%s\n%s", id, show, target)
		}
		var c struct {
			ID   string
			Spec struct{ Name string }
		}
		if err := json.Unmarshal([]byte(target), &c); err != nil || c.ID != id || c.Spec.Name != "cli-test" {
			t.Errorf("config target: %v %+v", err, c)
		}
		if strings.Contains(target, "hunter2") {
			t.Error("config target shows WEB_PASSWORD")
		}
		r = e.want(t, 1, "config", "show", "not-an-id", "--url", u)
		if !strings.Contains(r.stderr, "400 Bad Request") {
			t.Errorf("config show not-an-id: %s", r.stderr)
		}
		r = e.want(t, 1, "config", "show", strings.Repeat("0", 32), "--url", u)
		if !strings.Contains(r.stderr, "404 Not Found") {
			t.Errorf("config show of an unknown ID: %s", r.stderr)
		}
	})

	t.Run("pod pause and resume", func(t *testing.T) {
		id, _ := taskOf(t, e, u, "web-0")
		golden(t, "pod-pause", e.want(t, 0, append([]string{"pod", "pause", "web-0", "--task", "server"}, tok...)...).stdout)
		poll(t, "web-0 PAUSED", 90*time.Second, func() bool {
			nid, st := taskOf(t, e, u, "web-0")
			return nid != id && st == "PAUSED"
		})
		golden(t, "pod-status-web-0-paused", e.want(t, 0, "pod", "status", "web-0", "--url", u).stdout)
		r := e.want(t, 1, append([]string{"pod", "pause", "web-0", "--task", "nope"}, tok...)...)
		if !strings.Contains(r.stderr, "404 Not Found") {
			t.Errorf("pausing an unknown task: %s", r.stderr)
		}
		paused, _ := taskOf(t, e, u, "web-0")
		golden(t, "pod-resume", e.want(t, 0, append([]string{"pod", "resume", "web-0"}, tok...)...).stdout)
		poll(t, "web-0 RUNNING again", 90*time.Second, func() bool {
			nid, st := taskOf(t, e, u, "web-0")
			return nid != paused && st == "RUNNING"
		})
	})

	t.Run("plan force-complete", func(t *testing.T) {
		golden(t, "plan-force-complete-208", e.want(t, 0, append([]string{"plan", "force-complete", "deploy", "--phase", "web", "--step", "web-0:[server]"}, tok...)...).stdout)
		r := e.want(t, 1, append([]string{"plan", "force-complete", "deploy", "--phase", "web", "--step", "nope"}, tok...)...)
		if !strings.Contains(r.stderr, "404 Not Found") {
			t.Errorf("an unknown step: %s", r.stderr)
		}
	})

	t.Run("usage: exit 2", func(t *testing.T) {
		empty := filepath.Join(dir, "empty")
		os.WriteFile(empty, nil, 0o600)
		for _, c := range []struct {
			args []string
			msg  string
		}{
			{[]string{"plan", "list"}, "give --url (or SCHEDULER_LITE_URL) or --name"},
			{[]string{"SCHEDULER_LITE_URL=ftp://x", "plan", "list"}, `SCHEDULER_LITE_URL "ftp://x": want http://`},
			{[]string{"plan", "list", "--url", u, "--name", "cli-test"}, "give one"},
			{[]string{"plan", "list", "--url", "localhost:1"}, `--url "localhost:1": want http://`},
			{[]string{"plan"}, "no command given (want list, show"},
			{[]string{"plan", "explode", "--url", u}, `unknown command "explode"`},
			{[]string{"plan", "show", "--url", u}, "want PLAN, got 0 argument(s)"},
			{[]string{"plan", "show", "a", "b", "--url", u}, `unexpected argument "b": want PLAN`},
			{[]string{"plan", "show", "deploy", "--bogus", "--url", u}, "scheduler-lite plan show: unknown flag --bogus\nusage: scheduler-lite plan show PLAN"},
			{[]string{"plan", "show", "deploy", "--wait", "DONE", "--url", u}, `--wait "DONE": want one of ERROR, WAITING`},
			{[]string{"plan", "show", "deploy", "--timeout", "1s", "--url", u}, "--timeout: only with --wait"},
			{[]string{"plan", "start", "job", "-p", "NOVALUE", "--url", u}, `-p "NOVALUE": want KEY=VAL`},
			{[]string{"plan", "force-complete", "deploy", "--phase", "web", "--url", u}, "--phase and --step"},
			{[]string{"plan", "force-restart", "deploy", "--step", "s", "--url", u}, "--step: give its --phase too"},
			{[]string{"plan", "interrupt", "deploy", "--url", u, "--api-token-file", filepath.Join(dir, "missing")}, "--api-token-file: open"},
			{[]string{"plan", "interrupt", "deploy", "--url", u, "--api-token-file", empty}, "--api-token-file: " + empty + ": empty"},
			{[]string{"health", "extra", "--url", u}, `unexpected argument "extra"`},
			{[]string{"pod", "status", "a", "b", "--url", u}, `unexpected argument "b": want [POD]`},
		} {
			r := e.want(t, 2, c.args...)
			if !strings.Contains(r.stderr, c.msg) {
				t.Errorf("%v: stderr %q lacks %q", c.args, r.stderr, c.msg)
			}
		}
	})

	t.Run("unreachable: exit 3 naming the URL", func(t *testing.T) {
		down := closedURL(t)
		for _, args := range [][]string{
			{"plan", "list"}, {"plan", "interrupt", "deploy", "--api-token-file", tokenFile}, {"health"},
			{"plan", "show", "deploy", "--wait", "COMPLETE", "--timeout", "1s"},
		} {
			r := e.want(t, 3, append(args, "--url", down)...)
			if !strings.Contains(r.stderr, "cannot reach the scheduler at "+down) {
				t.Errorf("%v: stderr %s", args, r.stderr)
			}
		}
	})

	t.Run("help", func(t *testing.T) {
		for _, args := range [][]string{{"plan", "--help"}, {"plan", "show", "--help"}, {"pod", "info", "-h"}, {"health", "--help"}, {"debug", "reservations", "--help"}} {
			r := e.want(t, 0, args...)
			if !strings.Contains(r.stdout, "USAGE") {
				t.Errorf("%v: %s", args, r.stdout)
			}
		}
	})

	// The registration goes with the scheduler.
	s.stop(t)
	if left, _ := filepath.Glob(filepath.Join(e.runtimeDir, "taskkit", "scheduler-lite", "*")); len(left) != 0 {
		t.Errorf("registration left after the scheduler stopped: %v", left)
	}
	e.want(t, 3, "plan", "list", "--name", "cli-test")
}
