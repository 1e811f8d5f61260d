package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
		{[]string{"testenv", "up", "--agents", "0"}, 2, "testenv up: --agents: 0, want at least 1\nusage: testenv up "},
		{[]string{"testenv", "up", "--nope"}, 2, "testenv up: unknown flag --nope\nusage: testenv up "},
		{[]string{"testenv", "up", "--log-format", "xml"}, 2, "testenv up: --log-format: unknown log format \"xml\" (want text or json)\nusage: testenv up "},
		{[]string{"testenv", "up", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"testenv", "up", "--attribute", "novalue"}, 2, "--attribute"},
		{[]string{"testenv", "up", "--disk-mount", "2048", "--disk-mount", "-1"}, 2, "testenv up: --disk-mount: disk 1: size -1 MB is not a positive number\nusage: testenv up "},
		{[]string{"testenv", "up", "--disk-mount", "big"}, 2, `invalid value "big" for --disk-mount: want numbers separated by commas`},
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

// TestConfigErrorsNameTheSource checks that every error about a setting
// names the flag or the environment variable that gave it, whichever the
// user used, with the exit code of its kind (2 invalid, a usage error with
// the usage line; 1 unusable).
func TestConfigErrorsNameTheSource(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag, env, value string
		code             int
		want             string // the error after "SOURCE: "
	}{
		{"agents", "TESTENV_AGENTS", "300", 2, "300 is out of range 1..250"},
		{"cpus", "TESTENV_CPUS", "-1", 2, "-1 is not a positive number"},
		{"mem", "TESTENV_MEM", "-2", 2, "-2 is not a positive number"},
		{"disk", "TESTENV_DISK", "-3", 2, "-3 is not a positive number"},
		{"ports", "TESTENV_PORTS", "nope", 2, `invalid port range "nope"`},
		{"disk-mount", "TESTENV_DISK_MOUNTS", "0", 2, "disk 0: size 0 MB is not a positive number"},
		{"reserved", "TESTENV_RESERVED", "cpus:2", 2, `"cpus:2": want name(role):value`},
		{"agent-ip", "TESTENV_AGENT_IP", "10.0.0.1", 2, `"10.0.0.1" is not an IPv4 loopback address`},
		{"agent-port", "TESTENV_AGENT_PORT", "70000", 2, "70000 is out of range 0..65535"},
		{"dns-forward", "TESTENV_DNS_FORWARD", "nope", 2, `"nope": want refuse, system or host:port`},
		{"listen", "TESTENV_LISTEN", "256.0.0.1:0", 1, "listen tcp: "},
		{"dns", "TESTENV_DNS", "256.0.0.1:0", 1, "listen udp: "},
		{"work-dir", "TESTENV_WORK_DIR", filepath.Join(notDir, "sub"), 1, "mkdir " + notDir + ": not a directory"},
	} {
		// Everything else valid and out of every other cluster's way.
		base := []string{"TESTENV_AGENT_IP=127.77.10.1", "TESTENV_AGENT_PORT=0", "TESTENV_LISTEN=127.0.0.1:0", "TESTENV_ENV_FILE=none"}
		for _, viaEnv := range []bool{false, true} {
			args, env, source := []string{"testenv", "up", "--" + tc.flag, tc.value}, base, "--"+tc.flag
			if viaEnv {
				args, env, source = []string{"testenv", "up"}, append(slices.Clone(base), tc.env+"="+tc.value), tc.env
			}
			var out, errb strings.Builder
			code := testenv.Run(context.Background(), args, env, nil, &out, &errb)
			// The error is the last line, logs may come before it; an
			// invalid value is a usage error: the usage line follows it.
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			want, last := "testenv: "+source+": "+tc.want, lines[len(lines)-1]
			if tc.code == 2 {
				want, last = "testenv up: "+source+": "+tc.want, lines[max(len(lines)-3, 0)]
				if !strings.HasPrefix(lines[len(lines)-2], "usage: testenv up ") {
					last = ""
				}
			}
			if code != tc.code || !strings.HasPrefix(last, want) {
				t.Errorf("%s=%s: exit %d (want %d), the error does not start with %q:\n%s", source, tc.value, code, tc.code, want, errb.String())
			}
		}
	}
}
