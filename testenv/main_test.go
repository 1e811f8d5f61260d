package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpAndInterrupt builds the binary, runs "testenv up" and checks the env
// file, the master and a clean exit 0 on SIGINT.
func TestUpAndInterrupt(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "testenv")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	envFile := filepath.Join(dir, "cluster.env")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "up", "--agents", "2", "--listen", "127.0.0.1:0", "--agent-port", "0",
		"--agent-ip", "127.77.1.1", "--env-file", envFile)
	cmd.Env = append(os.Environ(), "TESTENV_CPUS=2")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	vars := map[string]string{}
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		vars[k] = v
		if k == "TESTENV_EXECUTOR_BINARY" {
			break
		}
	}
	master := vars["MESOS_MASTER"]
	if !strings.HasPrefix(master, "http://127.0.0.1:") || vars["TESTENV_DNS_ADDR"] == "" ||
		strings.Count(vars["TESTENV_AGENT_ENDPOINTS"], "127.77.1.") != 2 {
		t.Fatalf("printed %v", vars)
	}
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
	_ = cmd.Process.Signal(syscall.SIGINT)
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(new(strings.Builder)) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v", err)
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("env file left behind: %v", err)
	}
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
