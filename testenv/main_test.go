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
	for _, args := range [][]string{
		{"testenv", "up", "--agents", "0"},
		{"testenv", "up", "--ports", "nope"},
		{"testenv", "up", "--log-format", "xml"},
		{"testenv", "up", "extra"},
		{"testenv", "up", "--attribute", "novalue"},
		{"testenv", "up", "--disk-mount", "0"},
		{"testenv", "up", "--disk-mount", "2048", "--disk-mount", "-1"},
		{"testenv", "up", "--disk-mount", "big"},
	} {
		var out, errb strings.Builder
		if code := run(context.Background(), args, &out, &errb); code == 0 {
			t.Errorf("%v: exit 0", args)
		} else if errb.Len() == 0 {
			t.Errorf("%v: no error message", args)
		}
	}
}
