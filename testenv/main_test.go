package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/testenv"
)

// TestUpAndInterrupt builds the binary, runs two "testenv up" with default
// flags at once (as two users of one host would) and checks that both come
// up on their own master, agent addresses and env file, serve /state, and
// exit 0 on SIGINT leaving no env file behind.
func TestUpAndInterrupt(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "testenv")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type upCmd struct {
		cmd    *exec.Cmd
		stdout io.ReadCloser
		vars   map[string]string
	}
	var ups []*upCmd
	for i := 0; i < 2; i++ {
		cmd := exec.CommandContext(ctx, bin, "up", "--agents", "2")
		cmd.Env = append(os.Environ(), "TESTENV_CPUS=2")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ups = append(ups, &upCmd{cmd: cmd, stdout: stdout, vars: map[string]string{}})
	}
	for _, u := range ups {
		sc := bufio.NewScanner(u.stdout)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), "=")
			u.vars[k] = v
			if k == "TESTENV_EXECUTOR_BINARY" {
				break
			}
		}
		master := u.vars["MESOS_MASTER"]
		if !strings.HasPrefix(master, "http://127.0.0.1:") || u.vars["TESTENV_DNS_ADDR"] == "" ||
			strings.Count(u.vars["TESTENV_AGENT_ENDPOINTS"], ":5051") != 2 {
			t.Fatalf("printed %v", u.vars)
		}
	}
	a, b := ups[0].vars, ups[1].vars
	if a["MESOS_MASTER"] == b["MESOS_MASTER"] || a["TESTENV_DNS_ADDR"] == b["TESTENV_DNS_ADDR"] ||
		a["TESTENV_SANDBOX_ROOT"] == b["TESTENV_SANDBOX_ROOT"] || agentBlock(a) == agentBlock(b) {
		t.Fatalf("two clusters share an address or directory:\n%v\n%v", a, b)
	}
	for _, u := range ups {
		master := u.vars["MESOS_MASTER"]
		envFile := filepath.Join(u.vars["TESTENV_SANDBOX_ROOT"], "testenv.env")
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := os.ReadFile(envFile)
			if err == nil && strings.Contains(string(b), "MESOS_MASTER="+master) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("env file not written: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		res, err := http.Get(master + "/state")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET /state: %v %v", res, err)
		}
		res.Body.Close()
	}
	for _, u := range ups {
		_ = u.cmd.Process.Signal(syscall.SIGINT)
		go func() { _, _ = bufio.NewReader(u.stdout).WriteTo(io.Discard) }()
		if err := u.cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGINT: %v", err)
		}
		if _, err := os.Stat(u.vars["TESTENV_SANDBOX_ROOT"]); !os.IsNotExist(err) {
			t.Errorf("work dir and env file left behind: %v", err)
		}
	}
}

// agentBlock is the /24 of the first agent endpoint in TESTENV_AGENT_ENDPOINTS
// ("id@127.0.1.1:5051,...").
func agentBlock(vars map[string]string) string {
	_, ep, _ := strings.Cut(vars["TESTENV_AGENT_ENDPOINTS"], "@")
	return ep[:strings.LastIndex(ep, ".")]
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"testenv"}, 2, "testenv: no command given (want up)\nusage: testenv up [flags]\n"},
		{[]string{"testenv", "down"}, 2, `testenv: unknown command "down"`},
		{[]string{"testenv", "up", "--agents", "0"}, 2, "testenv: --agents: 0, want at least 1"},
		{[]string{"testenv", "up", "--nope"}, 2, "testenv up: flag provided but not defined: -nope\nusage: testenv up "},
		{[]string{"testenv", "up", "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"testenv", "up", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"testenv", "up", "--attribute", "novalue"}, 2, "--attribute"},
		{[]string{"testenv", "up", "--disk-mount", "0"}, 2, "testenv: --disk-mount: 0 MB, want a positive size"},
		{[]string{"testenv", "up", "--disk-mount", "2048", "--disk-mount", "-1"}, 2, "--disk-mount: -1 MB"},
		{[]string{"testenv", "up", "--disk-mount", "big"}, 2, `invalid value "big" for flag -disk-mount`},
		{[]string{"testenv", "up", "--reserved", "cpus:2", "--listen", "127.0.0.1:0", "--agent-port", "0", "--env-file", ""}, 2, `reserved: "cpus:2": want name(role):value`},
		{[]string{"testenv", "up", "--ports", "nope", "--listen", "127.0.0.1:0", "--agent-port", "0", "--env-file", ""}, 2, `invalid port range "nope"`},
		{[]string{"testenv", "up", "--listen", "256.0.0.1:0", "--agent-port", "0", "--env-file", ""}, 1, "testenv: master listen: "},
	} {
		var out, errb strings.Builder
		code := testenv.Run(context.Background(), tc.args, []string{"TESTENV_AGENT_IP=127.77.9.1"}, nil, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr lacks %q:\n%s", tc.args, code, tc.code, tc.want, errb.String())
		}
		if strings.Contains(errb.String(), "testenv: testenv:") {
			t.Errorf("%v: doubled prefix:\n%s", tc.args, errb.String())
		}
		if strings.Count(errb.String(), "\n") > 3 {
			t.Errorf("%v: more than an error and a usage line:\n%s", tc.args, errb.String())
		}
	}
}
