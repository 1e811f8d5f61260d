package schedulerlite

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/store"
)

// TestFlagErrorsNameTheSource checks that a bad value of any scheduler-lite
// flag is a usage error (exit 2) naming the flag or the environment
// variable that gave it, whichever the user used, given before anything is
// started or written: the working directory stays empty and the local
// cluster never starts.
func TestFlagErrorsNameTheSource(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc.yml")
	if err := os.WriteFile(svc, []byte("name: flags\npods:\n  p:\n    count: 1\n    tasks:\n      t: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	base := []string{"SCHEDULER_LITE_ARTIFACTS_DIR=" + t.TempDir(), "SCHEDULER_LITE_API_LISTEN=127.0.0.1:0"}
	for _, tc := range []struct {
		flag, env, value string
		want             string // the error's start after "scheduler-lite: ", %[1]s the source
	}{
		{"backoff-initial", "SCHEDULER_LITE_BACKOFF_INITIAL", "0s", "%s: 0s, want a positive duration"},
		{"backoff-max", "SCHEDULER_LITE_BACKOFF_MAX", "500ms", "%s: 500ms is shorter than --backoff-initial (1s)"},
		{"tls-key-type", "SCHEDULER_LITE_TLS_KEY_TYPE", "dsa", "%s: "},
		{"local-ports", "SCHEDULER_LITE_LOCAL_PORTS", "nope", `%s: invalid port range "nope"`},
		{"local-disk-mount", "SCHEDULER_LITE_LOCAL_DISK_MOUNTS", "-5", "%s: disk 0: size -5 MB is not a positive number"},
		{"local-reserved", "SCHEDULER_LITE_LOCAL_RESERVED", "cpus:2", `%s: `},
		{"local-attribute", "SCHEDULER_LITE_LOCAL_ATTRIBUTES", "rack", `%s: "rack" is not NAME=VALUE`},
		{"local-agents", "SCHEDULER_LITE_LOCAL_AGENTS", "300", "%s: 300 is out of range 1..250"},
		{"local-agents", "SCHEDULER_LITE_LOCAL_AGENTS", "0", "%s: 0 is out of range 1..250"},
		{"local-agents", "SCHEDULER_LITE_LOCAL_AGENTS", "-2", "%s: -2 is out of range 1..250"},
		{"master", "MESOS_MASTER", "ftp://x", `%s: "ftp://x": want local, or the leading master's URL`},
		{"master", "MESOS_MASTER", "nonsense", `%s: "nonsense": want local, or the leading master's URL`},
		{"master", "MESOS_MASTER", "http://", `%s: "http://": want local`},
		{"master", "MESOS_MASTER", "http://m:99999", `%s: "http://m:99999": want local`},
		{"failover-timeout", "SCHEDULER_LITE_FAILOVER_TIMEOUT", "-5s", "%s: -5s, want a duration of 0 or more"},
		{"agent-lost-timeout", "SCHEDULER_LITE_AGENT_LOST_TIMEOUT", "-1m", "%s: -1m0s, want a duration of 0 or more"},
		{"zk-session-timeout", "SCHEDULER_LITE_ZK_SESSION_TIMEOUT", "0s", "%s: 0s, want a positive duration"},
		{"deploy-timeout", "SCHEDULER_LITE_DEPLOY_TIMEOUT", "-1s", "%s: -1s, want a positive duration"},
		{"state", "SCHEDULER_LITE_STATE", "bogus:x", `%s: "bogus:x": want file:PATH or zk://`},
		{"state", "SCHEDULER_LITE_STATE", "state.db", `%s: "state.db": want file:PATH or zk://`},
		{"state", "SCHEDULER_LITE_STATE", "file:", `%s: "file:": file: without a path`},
		{"state", "SCHEDULER_LITE_STATE", "file:" + dir, `%s: "file:` + dir + `": ` + dir + " is a directory"},
		{"state", "SCHEDULER_LITE_STATE", "zk://zk", `%s: "zk://zk": ZooKeeper server "zk": want host:port`},
		{"secrets-dir", "SCHEDULER_LITE_SECRETS_DIR", "/nonexistent", "%s: stat "}, // the value masked: the variable's name says SECRET
		{"secrets-dir", "SCHEDULER_LITE_SECRETS_DIR", file, "%s: "},
		{"artifacts-dir", "SCHEDULER_LITE_ARTIFACTS_DIR", "/nonexistent", "%s: stat /nonexistent: no such file or directory"},
		{"ca-cert", "SCHEDULER_LITE_CA_CERT", file, "--ca-key: required with %s"},
		{"ca-key", "SCHEDULER_LITE_CA_KEY", file, "--ca-cert: required with %s"},
		{"secret-file", "SCHEDULER_LITE_SECRET_FILE", "/nonexistent", "%s: open "},
		{"api-token-file", "SCHEDULER_LITE_API_TOKEN_FILE", "/nonexistent", "%s: open "},
		{"executor", "SCHEDULER_LITE_EXECUTOR", "docker", `%s: "docker": want default or taskkit`},
		{"webui-url", "SCHEDULER_LITE_WEBUI_URL", "ui.example", `%s: "ui.example": want an absolute http(s) URL`},
		{"api-listen", "SCHEDULER_LITE_API_LISTEN", "nonsense", `%s: "nonsense": want [host]:port`},
		{"api-listen", "SCHEDULER_LITE_API_LISTEN", ":http", `%s: ":http": port "http": want 0..65535`},
		{"api-hostname", "SCHEDULER_LITE_API_HOSTNAME", "http://h:1", `%s: "http://h:1": want a host name or an IP address`},
		{"role", "FRAMEWORK_ROLE", "-x", `%s: "-x": component "-x" starts with '-'`},
		{"role", "FRAMEWORK_ROLE", "a//b", `%s: "a//b": a role must not start or end with '/'`},
		{"role", "FRAMEWORK_ROLE", "a b", `%s: "a b": component "a b" holds whitespace`},
		{"log-format", "SCHEDULER_LITE_LOG_FORMAT", "xml", "%s: "},
	} {
		for _, viaEnv := range []bool{false, true} {
			args, env, source := []string{"scheduler-lite", "--" + tc.flag, tc.value, svc}, base, "--"+tc.flag
			if viaEnv {
				args, env, source = []string{"scheduler-lite", svc}, append(slices.Clone(base), tc.env+"="+tc.value), tc.env
			}
			var out, errb strings.Builder
			// A value taken would run the scheduler: the deadline ends it.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			code := Run(ctx, args, env, nil, &out, &errb)
			cancel()
			// The error, then the usage line and the pointer to --help,
			// as for a value that does not parse.
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			want := "scheduler-lite: " + fmt.Sprintf(tc.want, source)
			at := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) })
			if code != ExitUsage || at < 0 || at+1 >= len(lines) || !strings.HasPrefix(lines[at+1], "usage: scheduler-lite ") ||
				lines[len(lines)-1] != "Run 'scheduler-lite --help' for more." {
				t.Errorf("%s=%s: exit %d (want %d), not the error %q and the usage line:\n%s", source, tc.value, code, ExitUsage, want, errb.String())
			}
			if ents, _ := os.ReadDir(cwd); len(ents) > 0 {
				t.Errorf("%s=%s: %s written in the working directory", source, tc.value, ents[0].Name())
				os.RemoveAll(filepath.Join(cwd, ents[0].Name()))
			}
		}
	}
}

// TestStateHeldByAnother: a second scheduler-lite on a file state store in
// use says the store is held by another process, which file, and which
// setting named it.
func TestStateHeldByAnother(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc.yml")
	if err := os.WriteFile(svc, []byte("name: held\npods:\n  p:\n    count: 1\n    tasks:\n      t: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "state.db")
	st, err := store.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	env := []string{"SCHEDULER_LITE_ARTIFACTS_DIR=" + t.TempDir(), "SCHEDULER_LITE_API_LISTEN=127.0.0.1:0", "SCHEDULER_LITE_STATE=file:" + db}
	var out, errb strings.Builder
	code := Run(context.Background(), []string{"scheduler-lite", "--master", "http://127.0.0.1:1", svc}, env, nil, &out, &errb)
	want := "scheduler-lite: SCHEDULER_LITE_STATE: state store " + db + " is held by another process, another scheduler-lite"
	if code != ExitUsage || !strings.Contains(errb.String(), want) {
		t.Errorf("exit %d (want %d), stderr lacks %q:\n%s", code, ExitUsage, want, errb.String())
	}
}

// TestSpecEnv: svc.yml is rendered with the scheduler's ARTIFACTS_URL
// unless the environment sets one; only the scheduler's own is kept out of
// the configuration's identity.
func TestSpecEnv(t *testing.T) {
	for _, tt := range []struct {
		name           string
		env            []string
		wantIdentity   bool
		wantRenderLast string
	}{
		{"the scheduler's", []string{"A=1"}, true, "A=1"},
		{"the environment's", []string{"ARTIFACTS_URL=http://files.example/x"}, false, "ARTIFACTS_URL=http://files.example/x"},
		{"the environment's, empty", []string{"ARTIFACTS_URL="}, false, "ARTIFACTS_URL="},
	} {
		render, identity := specEnv("http://sched:1/v1/artifacts/bin", tt.env)
		if render[0] != "ARTIFACTS_URL=http://sched:1/v1/artifacts/bin" || render[len(render)-1] != tt.wantRenderLast {
			t.Errorf("%s: render env %q", tt.name, render)
		}
		if got := len(identity) > 0; got != tt.wantIdentity {
			t.Errorf("%s: identity %q, want one: %v", tt.name, identity, tt.wantIdentity)
		}
	}
}

// TestRootVariablesAreTheScheduler's: the variables of the scheduler's own
// flags (set for the scheduler process, e.g. in the environment of a task
// an operator command runs in) neither change nor break another command
// (an operator command against a real loopback server, validate, package
// render, the help word), whose errors never name them; the scheduler
// still refuses them. A variable a command has a flag for too
// (SCHEDULER_LITE_STRICT: validate's; SCHEDULER_LITE_API_TOKEN_FILE: the
// operator commands') is that command's, and left out here.
func TestRootVariablesAreTheSchedulers(t *testing.T) {
	shared := map[string]bool{"SCHEDULER_LITE_STRICT": true, "SCHEDULER_LITE_API_TOKEN_FILE": true}
	var env, names []string
	for _, f := range Flags() {
		for _, v := range f.(interface{ GetEnvVars() []string }).GetEnvVars() {
			if !shared[v] {
				env, names = append(env, v+"=not-a-value"), append(names, v)
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/plans" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `["deploy","recovery"]`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"plan", "list", "--url", srv.URL}, 0, "deploy\nrecovery\n"},
		{[]string{"--url", srv.URL, "plan", "list"}, 0, "deploy\nrecovery\n"},
		{[]string{"validate", "../../examples/hello-world/svc.yml"}, 0, "valid"},
		{[]string{"package", "render", "--package-dir", "../../universe"}, 0, `"id": "hello-world"`},
		{[]string{"help", "plan"}, 0, "scheduler-lite plan list"},
		{[]string{"help", "validate", "svc.yml"}, 0, "scheduler-lite validate - check a svc.yml"},
		{[]string{"help"}, 0, "$SCHEDULER_LITE_LOCAL_AGENTS"},
		{[]string{"svc.yml"}, ExitUsage, ""},
	} {
		var out, errb strings.Builder
		code := Run(context.Background(), append([]string{"scheduler-lite"}, tc.args...), env, nil, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) {
			t.Errorf("%v: exit %d (want %d), stdout lacks %q:\n%s\nstderr:\n%s", tc.args, code, tc.code, tc.stdout, out.String(), errb.String())
		}
		if tc.code == ExitUsage {
			// The scheduler's own: every bad one named, with its flag.
			for _, want := range []string{`invalid value "not-a-value" for SCHEDULER_LITE_LOCAL_AGENTS (--local-agents): want an integer`,
				`invalid value "not-a-value" for SCHEDULER_LITE_VERBOSE (--verbose): want true or false`} {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("%v: stderr lacks %q:\n%s", tc.args, want, errb.String())
				}
			}
			continue
		}
		for _, n := range names {
			if strings.Contains(errb.String(), n) {
				t.Errorf("%v: stderr names %s, a variable of the scheduler's:\n%s", tc.args, n, errb.String())
				break
			}
		}
	}
}

// TestOperatorFlagsFirst: an operator command's flags written before its
// name ("scheduler-lite --url URL plan list", as kubectl and the DC/OS CLI
// take them) reach the command, against a real loopback API checking the
// token; the scheduler's flags written there are the command's usage error,
// never applied to it nor ignored; so for validate, package render and
// uninstall; a command line that is the scheduler's stays the scheduler's.
func TestOperatorFlagsFirst(t *testing.T) {
	const token = "tok-operator-first"
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/plans":
			io.WriteString(w, `["deploy","recovery"]`)
		case "/v1/endpoints":
			io.WriteString(w, `["web"]`)
		case "/v1/debug/reservations":
			io.WriteString(w, `[]`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	env := []string{"XDG_RUNTIME_DIR=" + dir}
	strict := filepath.Join(dir, "strict.yml")
	if err := os.WriteFile(strict, []byte("name: strict\npods:\n  p:\n    count: 1\n    tasks:\n      t: {goal: RUNNING, cmd: echo {{NOT_SET_ANYWHERE}}, cpus: 0.1, memory: 32}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string // stdout's whole text; the start of stderr
	}{
		{[]string{"--url", srv.URL, "--api-token-file", tokenFile, "plan", "list"}, 0, "deploy\nrecovery\n", ""},
		{[]string{"--url=" + srv.URL, "--json", "--api-token-file=" + tokenFile, "endpoints"}, 0, "[\n  \"web\"\n]\n", ""},
		{[]string{"--url", srv.URL, "plans", "--api-token-file", tokenFile, "list"}, 0, "deploy\nrecovery\n", ""},
		// After the group's name, before the command's, as after it.
		{[]string{"plan", "--url", srv.URL, "--api-token-file", tokenFile, "list"}, 0, "deploy\nrecovery\n", ""},
		{[]string{"--url", srv.URL, "plan", "--api-token-file=" + tokenFile, "list"}, 0, "deploy\nrecovery\n", ""},
		{[]string{"debug", "--url", srv.URL, "--api-token-file", tokenFile, "reservations"}, 0, "no reservations\n", ""},
		{[]string{"plan", "--master", srv.URL, "list"}, ExitUsage, "", "scheduler-lite plan: unknown flag --master\nusage: scheduler-lite plan "}, // not "unknown command" for its value
		{[]string{"--request-timeout", "5s", "--url", srv.URL, "plan", "list"}, ExitRuntime, "", "scheduler-lite: GET /v1/plans: 401"},
		{[]string{"--api-token-file", filepath.Join(dir, "none"), "--url", srv.URL, "plan", "list"}, ExitUsage, "", "scheduler-lite plan list: --api-token-file: open "},
		{[]string{"--master", srv.URL, "plan", "list"}, ExitUsage, "", "scheduler-lite plan list: unknown flag --master\nusage: scheduler-lite plan list"},
		{[]string{"--verbose", "--url", srv.URL, "health"}, ExitUsage, "", "scheduler-lite health: unknown flag --verbose\nusage: scheduler-lite health"},
		{[]string{"--url", srv.URL, "svc.yml"}, ExitUsage, "", "scheduler-lite: unknown flag --url\nusage: scheduler-lite [flags] SVC.yml"},
		{[]string{"--master", "plan", "list"}, ExitUsage, "", `scheduler-lite: --master: "plan": want local`},
		// Before validate, package render and uninstall too: the flag is
		// the command's, applied (validate's --strict, uninstall's
		// --master) or its usage error, never ignored.
		{[]string{"--strict", "validate", strict}, ExitUsage, "", "scheduler-lite: " + strict + ": rendering: missing variables: NOT_SET_ANYWHERE"},
		{[]string{"--local-agents", "3", "validate", strict}, ExitUsage, "", "scheduler-lite validate: unknown flag --local-agents\nusage: scheduler-lite validate"},
		{[]string{"--master", "local", "--state", "file:x", "uninstall", strict}, ExitUsage, "", "scheduler-lite uninstall: --master: local: want the leading master's URL"},
		{[]string{"--verbose", "package", "render"}, ExitUsage, "", "scheduler-lite package render: unknown flag --verbose\n"},
		// Flags but no command: the group says what is missing (repro 04).
		{[]string{"--url", srv.URL, "plan"}, ExitUsage, "", "scheduler-lite plan: no command given (want list, show,"},
		{[]string{"--json", "--url", srv.URL, "state"}, ExitUsage, "", "scheduler-lite state: no command given (want framework-id, properties, property, refresh-cache)"},
		{[]string{"plna", "list"}, ExitUsage, "", "scheduler-lite: unknown command \"plna\": did you mean plan? (no file of that name: the scheduler's one argument is a svc.yml)\nusage: scheduler-lite [flags] SVC.yml"},
		{[]string{"helth"}, ExitUsage, "", `scheduler-lite: unknown command "helth": did you mean health?`},
	} {
		var out, errb strings.Builder
		code := Run(context.Background(), append([]string{"scheduler-lite"}, tc.args...), env, nil, &out, &errb)
		if code != tc.code || out.String() != tc.stdout || !strings.HasPrefix(errb.String(), tc.stderr) || strings.Contains(out.String()+errb.String(), token) {
			t.Errorf("%q: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\nwant stdout %q, stderr from %q", tc.args, code, tc.code, out.String(), errb.String(), tc.stdout, tc.stderr)
		}
	}
}

// TestUninstallMaster: uninstall takes a master URL only, and its --help
// says so: no default of local (a local cluster, its tasks and its state
// end with the scheduler that started it), and --state has no sandbox
// default either. Each refusal is a usage error naming the flag or the
// variable, with the usage line, before anything is contacted.
func TestUninstallMaster(t *testing.T) {
	var out, errb strings.Builder
	if code := Run(context.Background(), []string{"scheduler-lite", "uninstall", "--help"}, nil, nil, &out, &errb); code != 0 {
		t.Fatalf("uninstall --help: exit %d\n%s", code, errb.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		for _, flag := range []string{"--master", "--state"} {
			if strings.HasPrefix(strings.TrimSpace(line), flag+" ") && (strings.Contains(line, "(default:") || strings.Contains(line, "or local") || !strings.Contains(line, "(required")) {
				t.Errorf("uninstall --help: %s offers a default or local, or does not say it is required:\n%s", flag, line)
			}
		}
	}
	svc := "../../examples/hello-world/svc.yml"
	for _, tc := range []struct {
		env  []string
		args []string
		line string // the first line of stderr
	}{
		{nil, []string{svc}, "scheduler-lite uninstall: --master is required: the leading master's URL http(s)://host:port"},
		{nil, []string{"--master", "local", "--state", "file:x", svc}, "scheduler-lite uninstall: --master: local: want the leading master's URL http(s)://host:port (a local cluster, its tasks and its state end with the scheduler that started it)"},
		{[]string{"MESOS_MASTER=local"}, []string{"--state", "file:x", svc}, "scheduler-lite uninstall: MESOS_MASTER: local: want the leading master's URL"},
		{[]string{"MESOS_MASTER=leader.mesos:5050"}, []string{"--state", "file:x", svc}, `scheduler-lite uninstall: MESOS_MASTER: "leader.mesos:5050": want the leading master's URL http(s)://host:port: `},
		{nil, []string{"--master", "http://127.0.0.1:1", svc}, "scheduler-lite uninstall: --state is required: the service's state store (file:PATH or zk://...)"},
		{nil, []string{"--master", "http://127.0.0.1:1", "--state", "file:x"}, "scheduler-lite uninstall: the service's name is needed: give --framework-name NAME (FRAMEWORK_NAME) or the svc.yml"},
	} {
		var out, errb strings.Builder
		code := Run(context.Background(), append([]string{"scheduler-lite", "uninstall"}, tc.args...), tc.env, nil, &out, &errb)
		lines := strings.Split(errb.String(), "\n")
		if code != ExitUsage || !strings.HasPrefix(lines[0], tc.line) || len(lines) < 3 ||
			lines[1] != "usage: scheduler-lite uninstall --master URL --state SPEC [--framework-name NAME | SVC.yml] [flags]" || out.Len() > 0 {
			t.Errorf("%v %v: exit %d (want %d), want %q and the usage line:\n%s%s", tc.env, tc.args, code, ExitUsage, tc.line, out.String(), errb.String())
		}
	}
}

// TestValidateIDAgainstTestenv: against a testenv up whose env file is
// loaded, the scheduler adds TASKCFG_ALL_BOOTSTRAP_RESOLVERS (its DNS) to
// the TASKCFG_* variables, which are part of the configuration's ID; so
// validate prints that ID too, the one the scheduler logs, which is the ID
// of the same svc.yml with that variable set by hand. A newcomer's validate
// printed one ID and the scheduler's "new target configuration" another.
func TestValidateIDAgainstTestenv(t *testing.T) {
	svc := "../../examples/hello-world/svc.yml"
	validate := func(env ...string) string {
		var out, errb strings.Builder
		if code := Run(context.Background(), []string{"scheduler-lite", "validate", svc}, env, nil, &out, &errb); code != 0 {
			t.Fatalf("validate %v: exit %d\n%s", env, code, errb.String())
		}
		return out.String()
	}
	id := regexp.MustCompile(`[0-9a-f]{32}`)
	plain := validate()
	byHand := id.FindString(validate("TASKCFG_ALL_BOOTSTRAP_RESOLVERS=127.0.0.1:5353"))
	want := plain[:len(plain)-2] + "; " + byHand + " against the testenv of this environment, whose DNS scheduler-lite hands its tasks as TASKCFG_ALL_BOOTSTRAP_RESOLVERS=127.0.0.1:5353)\n"
	if byHand == id.FindString(plain) {
		t.Fatalf("TASKCFG_ALL_BOOTSTRAP_RESOLVERS left the ID as it was: %s", plain)
	}
	for _, env := range [][]string{
		{"TESTENV_DNS_ADDR=127.0.0.1:5353", "TESTENV_MASTER_ADDR=127.0.0.1:5050"},
		{"TESTENV_DNS_ADDR=127.0.0.1:5353"}, // an env file without the master's address: the scheduler adds it whatever its master
	} {
		if got := validate(env...); got != want {
			t.Errorf("%v:\n%s\nwant:\n%s", env, got, want)
		}
	}
	// Resolvers set by hand: the scheduler adds nothing, so one ID.
	if got := validate("TESTENV_DNS_ADDR=127.0.0.1:5353", "TESTENV_MASTER_ADDR=127.0.0.1:5050", "TASKCFG_ALL_BOOTSTRAP_RESOLVERS=127.0.0.1:5353"); len(id.FindAllString(got, -1)) != 1 {
		t.Errorf("with TASKCFG_ALL_BOOTSTRAP_RESOLVERS set: one ID expected:\n%s", got)
	}
}

// TestCheckArgs: CheckArgs refuses what Run refuses of a scheduler command
// line, with Run's usage error, and otherwise returns 0 having done
// nothing: svc.yml is not read, the state store not opened, no command run.
func TestCheckArgs(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state", "state.db")
	for _, tc := range []struct {
		name    string
		env     []string
		args    []string
		code    int
		stderr  string
		nothing bool // nothing at all on stderr
	}{
		{name: "fine, svc.yml not read", args: []string{"--local-agents", "2", "--state", "file:" + state, filepath.Join(dir, "no", "svc.yml")}, nothing: true},
		{name: "misspelt flag", args: []string{"--local-agent", "5", "svc.yml"}, code: ExitUsage,
			stderr: "scheduler-lite: unknown flag --local-agent: did you mean --local-agents?\nusage: scheduler-lite [flags] SVC.yml\n"},
		{name: "refused value", args: []string{"--local-agents", "0", "svc.yml"}, code: ExitUsage, stderr: "scheduler-lite: --local-agents: 0 is out of range 1..250\n"},
		{name: "bad variable", env: []string{"SCHEDULER_LITE_DEPLOY_TIMEOUT=soon"}, args: []string{"svc.yml"}, code: ExitUsage,
			stderr: `invalid value "soon" for SCHEDULER_LITE_DEPLOY_TIMEOUT (--deploy-timeout)`},
		{name: "two svc.yml", args: []string{"a.yml", "b.yml"}, code: ExitUsage, stderr: `unexpected argument "b.yml": want one svc.yml`},
		{name: "help: Run's to print", args: []string{"--help", "svc.yml"}, nothing: true},
		{name: "a command's name is not run", args: []string{"--master", "http://127.0.0.1:1", "--state", "file:" + state, "uninstall"}, nothing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errb strings.Builder
			code := CheckArgs(append([]string{"scheduler-lite"}, tc.args...), tc.env, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.stderr) || tc.nothing && errb.Len() > 0 {
				t.Errorf("exit %d (want %d), stderr (want %q):\n%s", code, tc.code, tc.stderr, errb.String())
			}
			if _, err := os.Stat(filepath.Dir(state)); !os.IsNotExist(err) {
				t.Errorf("the state store's directory was made: %v", err)
			}
		})
	}
}
