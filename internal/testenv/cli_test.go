package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEnvFileFirst: an env file that cannot be written fails "testenv up"
// with exit 1 and an error naming the flag or variable that chose it,
// nothing on stdout and nothing left behind: not the work dir it would
// have made, nor a pid file in one that exists. Most are found before
// the cluster starts; one only when it is written, after Start, which
// then stops the cluster and removes the work dir it made.
func TestEnvFileFirst(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	aDir := filepath.Join(root, "dir")
	if err := os.Mkdir(aDir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(root, "work") // with testenv.env a directory
	if err := os.MkdirAll(filepath.Join(work, envFileName), 0o755); err != nil {
		t.Fatal(err)
	}
	newWork := filepath.Join(root, "new-work") // made by up, then removed
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string // the error's start
	}{
		{"under a file", nil, []string{"--work-dir", newWork, "--env-file", filepath.Join(file, "x.env")},
			"testenv: --env-file: " + filepath.Join(file, "x.env") + ": creating directory: " + file + " is not a directory"},
		{"under a file, by variable", []string{"TESTENV_ENV_FILE=" + filepath.Join(file, "x.env"), "TESTENV_WORK_DIR=" + newWork}, nil,
			"testenv: TESTENV_ENV_FILE: " + filepath.Join(file, "x.env") + ": creating directory: "},
		{"a directory", nil, []string{"--env-file", aDir},
			"testenv: --env-file: " + aDir + ": destination is not a regular file"},
		{"the default in the work dir", nil, []string{"--work-dir", work},
			"testenv: --work-dir: env file: " + filepath.Join(work, envFileName) + ": destination is not a regular file"},
		{"under the pid file, found after Start", nil, []string{"--work-dir", newWork, "--env-file", filepath.Join(newWork, WorkDirLock, "x.env")},
			"testenv: --env-file: " + filepath.Join(newWork, WorkDirLock, "x.env") + ": mkdir " + filepath.Join(newWork, WorkDirLock) + ": not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, root)
			code, out, errOut := runUp(t, tc.env, tc.args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != ExitRuntime || out != "" || !strings.HasPrefix(lines[len(lines)-1], tc.want) {
				t.Errorf("exit %d (want %d), stdout %q (want none), the error does not start with %q:\n%s", code, ExitRuntime, out, tc.want, errOut)
			}
			after := snapshot(t, root)
			delete(before, ".") // root's mtime: new-work made and removed
			delete(after, ".")
			if !maps.Equal(before, after) {
				t.Errorf("left behind: %q, was %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
		})
	}
}

// TestSettingsCheckedBeforeStart: a zero size (Config's "the default",
// but not a size a user can mean) and a malformed address are usage
// errors (exit 2) naming the flag or variable, with the usage line as for
// a value that does not parse, found before anything is
// claimed or started: no cluster logs, nothing on stdout, no env file. An
// empty variable is its flag's default, as for every binary (cliapp).
func TestSettingsCheckedBeforeStart(t *testing.T) {
	for _, tc := range []struct {
		args, env []string
		want      string // the error's start
	}{
		{[]string{"--mem", "0"}, nil, "testenv up: --mem: 0 is not a positive number"},
		{[]string{"--disk", "0"}, nil, "testenv up: --disk: 0 is not a positive number"},
		{nil, []string{"TESTENV_CPUS=0"}, "testenv up: TESTENV_CPUS: 0 is not a positive number"},
		{[]string{"--listen", "nope"}, nil, `testenv up: --listen: "nope" is not HOST:PORT`},
		{nil, []string{"TESTENV_LISTEN=127.0.0.1:0,nope:x"}, `testenv up: TESTENV_LISTEN: "nope:x": port "x" is not a port number`},
		{[]string{"--listen", ","}, nil, `testenv up: --listen: no address in ","`},
		{[]string{"--dns", "127.0.0.1"}, nil, `testenv up: --dns: "127.0.0.1" is not HOST:PORT`},
		{[]string{"--mem", "0"}, []string{"TESTENV_AGENTS="}, "testenv up: --mem: 0 is not a positive number"},
		{[]string{"--attribute", "rack=r1", "--attribute", "=r2"}, nil, `testenv up: --attribute: "=r2" is not NAME=VALUE`},
		{nil, []string{"TESTENV_ATTRIBUTES=zone"}, `testenv up: TESTENV_ATTRIBUTES: "zone" is not NAME=VALUE`},
		{nil, []string{"TESTENV_PORTS=nope"}, `testenv up: TESTENV_PORTS: invalid port range "nope"`},
		{[]string{"--agents", "0"}, nil, "testenv up: --agents: 0, want at least 1"},
		{[]string{"--isolation", "posix/cpu,cgroups/mem"}, nil, `testenv up: --isolation: unknown or unsupported isolator "cgroups/mem"`},
		{nil, []string{"TESTENV_ISOLATION=cgroups"}, `testenv up: TESTENV_ISOLATION: unknown or unsupported isolator "cgroups"`},
		{[]string{"--isolation", "cgroups/cpu", "--cgroups-root", "../x"}, nil, `testenv up: --cgroups-root: "../x" is not a relative cgroup path`},
		{[]string{"--isolation", "cgroups/cpu", "--cgroups-hierarchy", "sys/fs/cgroup"}, nil, `testenv up: --cgroups-hierarchy: "sys/fs/cgroup" is not an absolute path`},
		// Mesos' bounds (src/master/flags.cpp, master.cpp).
		{[]string{"--agent-ping-timeout", "999ms"}, nil, `testenv up: --agent-ping-timeout: "999ms" is not between 1secs and 15mins, as Mesos' --agent_ping_timeout must be`},
		{nil, []string{"TESTENV_AGENT_PING_TIMEOUT=16mins"}, `testenv up: TESTENV_AGENT_PING_TIMEOUT: "16mins" is not between 1secs and 15mins`},
		{[]string{"--agent-ping-timeout", "-5s"}, nil, `testenv up: --agent-ping-timeout: "-5s" is not between 1secs and 15mins`},
		{[]string{"--agent-ping-timeout", "15"}, nil, `testenv up: --agent-ping-timeout: "15" is not a duration: want Go's form (15s, 1m30s) or Mesos' (15secs, 1.5mins)`},
		{[]string{"--max-agent-ping-timeouts", "0"}, nil, `testenv up: --max-agent-ping-timeouts: 0 is less than 1, as Mesos' --max_agent_ping_timeouts must not be`},
		{nil, []string{"TESTENV_MAX_AGENT_PING_TIMEOUTS=-1"}, `testenv up: TESTENV_MAX_AGENT_PING_TIMEOUTS: -1 is less than 1`},
		{[]string{"--agent-reregister-timeout", "9m59s"}, nil, `testenv up: --agent-reregister-timeout: "9m59s" is less than 10mins, as Mesos' --agent_reregister_timeout must not be`},
		{nil, []string{"TESTENV_AGENT_REREGISTER_TIMEOUT=5mins"}, `testenv up: TESTENV_AGENT_REREGISTER_TIMEOUT: "5mins" is less than 10mins`},
		{nil, []string{"TESTENV_AGENT_REREGISTER_TIMEOUT=soon"}, `testenv up: TESTENV_AGENT_REREGISTER_TIMEOUT: "soon" is not a duration`},
	} {
		t.Run(strings.Join(append(tc.args, tc.env...), " "), func(t *testing.T) {
			envFile := filepath.Join(t.TempDir(), "cluster.env")
			env := append([]string{"TESTENV_ENV_FILE=" + envFile, "TESTENV_AGENT_PORT=0"}, tc.env...)
			if !slices.ContainsFunc(tc.env, func(kv string) bool { return strings.HasPrefix(kv, "TESTENV_LISTEN=") }) &&
				!slices.Contains(tc.args, "--listen") {
				env = append(env, "TESTENV_LISTEN=127.0.0.1:0")
			}
			// A cluster that starts runs until then, and fails the test.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errb strings.Builder
			code := Run(ctx, append([]string{"testenv", "up"}, tc.args...), env, nil, &out, &errb)
			if code != ExitUsage || out.Len() > 0 || !strings.Contains(errb.String(), tc.want) ||
				!strings.Contains(errb.String(), "\nusage: testenv up ") || !strings.HasSuffix(errb.String(), "Run 'testenv up --help' for more.\n") ||
				strings.Contains(errb.String(), `msg="testenv up"`) || strings.Contains(errb.String(), `msg="testenv stopped"`) {
				t.Errorf("exit %d (want %d), stdout %q (want none), stderr without %q or with cluster logs:\n%s",
					code, ExitUsage, out.String(), tc.want, errb.String())
			}
			if _, err := os.Lstat(envFile); err == nil {
				t.Error("the env file was written")
			}
		})
	}
}

// TestUpMasterTimers: "testenv up --agent-ping-timeout 1secs
// --max-agent-ping-timeouts 1" (Mesos' smallest) marks an agent killed
// through /testenv/agents/ID/kill unreachable within seconds, not the 75-90
// s of Mesos' defaults; TESTENV_AGENT_REREGISTER_TIMEOUT in Go's form is
// taken too.
func TestUpMasterTimers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	cmd := upCommand(ctx, []string{"TESTENV_AGENT_REREGISTER_TIMEOUT=10m"},
		"--agent-ping-timeout", "1secs", "--max-agent-ping-timeouts", "1", "--env-file", "none")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	vars := map[string]string{}
	for sc := bufio.NewScanner(stdout); sc.Scan(); {
		k, v, _ := strings.Cut(sc.Text(), "=")
		if vars[k] = v; k == "TESTENV_EXECUTOR_BINARY" { // the last line
			break
		}
	}
	agentID, _, _ := strings.Cut(vars["TESTENV_AGENT_ENDPOINTS"], "@")
	if vars["MESOS_MASTER"] == "" || agentID == "" {
		t.Fatalf("printed %v:\n%s", vars, errb.String())
	}
	resp, err := http.Post(vars["MESOS_MASTER"]+"/testenv/agents/"+agentID+"/kill", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	killed := time.Now()
	for {
		var st struct {
			Unreachable int `json:"unreachable_slaves"`
		}
		if err := json.Unmarshal(get(t, vars["MESOS_MASTER"]+"/state"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Unreachable == 1 {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("the killed agent is not unreachable after %v:\n%s", time.Since(killed), errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
