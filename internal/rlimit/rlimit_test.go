//go:build linux

package rlimit

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// run starts sh -c script with limits through os/exec and returns its
// output.
func run(t *testing.T, limits []Limit, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := false
	if _, err := Start(limits, cmd.SysProcAttr, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		started = true
		return cmd.Process.Pid, nil
	}); err != nil {
		if started {
			_ = cmd.Process.Release()
		}
		return "", err
	}
	err := cmd.Wait()
	return strings.TrimSpace(out.String()), err
}

func TestStart(t *testing.T) {
	_, hardNofile, err := Get(0, unix.RLIMIT_NOFILE)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		limits []Limit
		script string
		want   string
	}{
		{"no limits, no tracing", nil, "grep TracerPid /proc/self/status | tr -d ' \\t'", "TracerPid:0"},
		{"nofile", []Limit{{Resource: unix.RLIMIT_NOFILE, Name: "RLMT_NOFILE", Soft: 100, Hard: 200}}, "ulimit -Sn; ulimit -Hn", "100\n200"},
		{"several, in force at once", []Limit{
			{Resource: unix.RLIMIT_NOFILE, Name: "RLMT_NOFILE", Soft: 64, Hard: 64},
			{Resource: unix.RLIMIT_CORE, Name: "RLMT_CORE", Soft: 0, Hard: 0},
		}, "ulimit -n; ulimit -c; grep TracerPid /proc/self/status | tr -d ' \\t'", "64\n0\nTracerPid:0"},
		{"inherited by the task's children", []Limit{{Resource: unix.RLIMIT_NOFILE, Name: "RLMT_NOFILE", Soft: 77, Hard: 77}}, "sh -c 'ulimit -n'", "77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, l := range tc.limits {
				if l.Resource == unix.RLIMIT_NOFILE && l.Hard > hardNofile {
					t.Skipf("this process's hard nofile limit %d is below %d", hardNofile, l.Hard)
				}
			}
			got, err := run(t, tc.limits, tc.script)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestStartRefusesSoftAboveHard(t *testing.T) {
	_, err := run(t, []Limit{{Resource: unix.RLIMIT_CPU, Name: "RLMT_CPU", Soft: 100, Hard: 1}}, "true")
	var le *Error
	if !errors.Is(err, ErrSet) || !errors.As(err, &le) || le.Error() != "Failed to set RLMT_CPU limit: soft limit 100 exceeds hard limit 1" {
		t.Errorf("err = %v", err)
	}
}

func TestStartCannotRaiseHardLimitUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may raise hard limits (CAP_SYS_RESOURCE)")
	}
	_, hard, err := Get(0, unix.RLIMIT_NOFILE)
	if err != nil || hard == Unlimited {
		t.Skip("no finite hard nofile limit to exceed")
	}
	_, err = run(t, []Limit{{Resource: unix.RLIMIT_NOFILE, Name: "RLMT_NOFILE", Soft: hard + 1, Hard: hard + 1}}, "true")
	if !errors.Is(err, ErrSet) || !errors.Is(err, unix.EPERM) {
		t.Errorf("err = %v, want an EPERM *Error", err)
	}
}

func TestStartFailure(t *testing.T) {
	cmd := exec.Command("/nonexistent/program")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	_, err := Start([]Limit{{Resource: unix.RLIMIT_NOFILE, Name: "RLMT_NOFILE", Soft: 10, Hard: 10}}, cmd.SysProcAttr, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err == nil || errors.Is(err, ErrSet) {
		t.Errorf("err = %v, want the start error", err)
	}
}
