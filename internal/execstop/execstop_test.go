//go:build linux

package execstop

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// start runs sh -c script args... through Start with hook and returns
// the started command (nil if Start failed), the pid Start returned and
// Start's error.
func start(t *testing.T, hook Hook, script string, args ...string) (*exec.Cmd, int, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := false
	pid, err := Start(cmd.SysProcAttr, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		started = true
		return cmd.Process.Pid, nil
	}, hook)
	if err != nil {
		if started {
			_ = cmd.Process.Release()
		}
		return nil, 0, err
	}
	return cmd, pid, nil
}

// TestHookRunsBeforeTheProgram has the hook write a file the program's
// first command reads: it is there, whatever the scheduling, and the
// program runs untraced once let go.
func TestHookRunsBeforeTheProgram(t *testing.T) {
	dir := t.TempDir()
	mark, out := filepath.Join(dir, "mark"), filepath.Join(dir, "out")
	var hookPID int
	cmd, pid, err := start(t, func(pid int) error {
		hookPID = pid
		return os.WriteFile(mark, []byte("before\n"), 0o644)
	}, `cat "$0" > "$1"; grep TracerPid /proc/$$/status | tr -d ' \t' >> "$1"`, mark, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if hookPID != pid || pid != cmd.Process.Pid {
		t.Errorf("hook got pid %d, Start returned %d, the child is %d", hookPID, pid, cmd.Process.Pid)
	}
	b, err := os.ReadFile(out)
	if got := strings.TrimSpace(string(b)); err != nil || got != "before\nTracerPid:0" {
		t.Errorf("the program saw %q (%v), want the hook's mark and no tracer", got, err)
	}
}

// TestHookErrorKillsTheChild: the program never runs, the error comes
// back as the hook returned it and the child is reaped.
func TestHookErrorKillsTheChild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ran")
	errHook := errors.New("no cgroup")
	var pid int
	cmd, _, err := start(t, func(p int) error { pid = p; return errHook }, "touch "+out)
	if cmd != nil || !errors.Is(err, errHook) {
		t.Fatalf("Start = %v, %v; want the hook's error", cmd, err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the program ran: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("child %d still exists: %v", pid, err)
	}
}
