//go:build linux

package probe

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/supervise"
	"github.com/taskkit/taskkit/internal/testtools"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name      string
		line      string
		env       []string
		want      Status
		reason    string
		exitCode  int
		signal    syscall.Signal
		output    string // prefix of the output
		outLen    int    // when > 0, the exact output length
		truncated bool
	}{
		{"exit 0", "exit 0", nil, Healthy, "exit status 0", 0, 0, "", 0, false},
		{"exit 1 with output", "echo out; echo err >&2; exit 1", nil, Unhealthy, "exit status 1", 1, 0, "out\nerr\n", 0, false},
		{"killed by signal", "kill -KILL $$", nil, Unhealthy, "killed by signal killed", 137, syscall.SIGKILL, "", 0, false},
		{"not found", "/nonexistent/check-up", nil, Unhealthy, "exit status 127 (command not found)", 127, 0, "sh: ", 0, false}, // dash or bash, each in its words
		{"env passed", `echo "$CHECK_PORT"`, []string{"CHECK_PORT=8080"}, Healthy, "exit status 0", 0, 0, "8080\n", 0, false},
		{"stdin is empty", "cat", nil, Healthy, "exit status 0", 0, 0, "", 0, false},
		{"chatty output truncated", "head -c 1000000 /dev/zero | tr '\\0' a", nil, Healthy, "exit status 0", 0, 0, "aaaa", MaxOutput, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&Command{Line: tt.line, Env: tt.env}).Probe(withTimeout(t, 20*time.Second))
			if got.Status != tt.want || got.Reason != tt.reason || got.ExitCode != tt.exitCode || got.Signal != tt.signal ||
				!strings.HasPrefix(got.Output, tt.output) || got.Truncated != tt.truncated ||
				(tt.outLen > 0 && len(got.Output) != tt.outLen) {
				t.Fatalf("got %v %q exit %d output %q (%d bytes) truncated %v; want %v %q exit %d output %q",
					got.Status, got.Reason, got.ExitCode, got.Output[:min(40, len(got.Output))], len(got.Output), got.Truncated,
					tt.want, tt.reason, tt.exitCode, tt.output)
			}
		})
	}
}

// TestCommandTee: Tee gets the whole output, stdout and stderr, while the
// Result keeps its first MaxOutput bytes.
func TestCommandTee(t *testing.T) {
	var tee bytes.Buffer
	got := (&Command{Line: "echo start; head -c 10000 /dev/zero | tr '\\0' a; echo; echo end >&2", Tee: &tee}).Probe(withTimeout(t, 20*time.Second))
	want := "start\n" + strings.Repeat("a", 10000) + "\nend\n"
	if got.Status != Healthy || tee.String() != want || len(got.Output) != MaxOutput || !got.Truncated {
		t.Fatalf("got %v, %d bytes of output (truncated %v), tee %d bytes %q...; want the whole %d bytes in tee",
			got.Status, len(got.Output), got.Truncated, tee.Len(), tee.String()[:min(20, tee.Len())], len(want))
	}
}

// TestCommandRunsInTheTaskShell: a command check runs in the shell a task's
// command runs in (supervise.ShellCommand), as Mesos runs both with the
// same `sh -c`: with bash installed, the bash a DC/OS SDK check script may
// rely on, called as sh.
func TestCommandRunsInTheTaskShell(t *testing.T) {
	want, _ := supervise.ShellCommand("")
	want, err := filepath.EvalSymlinks(want)
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct{ name, line, output string }{
		{"the task's shell program", "readlink /proc/$$/exe; true", want + "\n"}, // "; true": the shell does not exec readlink
		{"called as sh", "echo $0", "sh\n"},
	}
	if strings.HasSuffix(want, "/bash") {
		rows = append(rows,
			struct{ name, line, output string }{"bash's [[ ]]", `[[ "a-b" == a-* ]] && echo matched`, "matched\n"},
			struct{ name, line, output string }{"a trap by signal name", `trap 'echo got TERM' SIGTERM; kill -TERM $$`, "got TERM\n"})
	}
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			got := (&Command{Line: tt.line}).Probe(withTimeout(t, 20*time.Second))
			if got.Status != Healthy || got.Output != tt.output {
				t.Fatalf("got %v %q output %q, want healthy with %q", got.Status, got.Reason, got.Output, tt.output)
			}
		})
	}
}

func TestCommandCouldNotRun(t *testing.T) {
	got := (&Command{Line: "true", Dir: filepath.Join(t.TempDir(), "missing")}).Probe(withTimeout(t, 20*time.Second))
	if got.Status != Error || !strings.Contains(got.Reason, "no such file") {
		t.Fatalf("got %v %q, want error", got.Status, got.Reason)
	}
}

func TestCommandDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := (&Command{Line: "true"}).Probe(ctx); got.Status != Unhealthy {
		t.Fatalf("got %+v", got)
	}
}

// processGone reports whether pid no longer runs (absent or a zombie).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// A check that spawns a grandchild and hangs is killed whole at the timeout.
// The "timeout" fires once the grandchild is known to run (a cancel with
// context.DeadlineExceeded as its cause), so a slow machine cannot make the
// check time out before it got that far.
func TestCommandTimeoutKillsWholeGroup(t *testing.T) {
	dir := t.TempDir()
	line := fmt.Sprintf(`cd %s; sh -c 'trap "" TERM; echo $$ > gc; exec sleep 1000' &
		while [ ! -s gc ]; do sleep 0.01; done; echo started; touch ready; while :; do sleep 1; done`, dir)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel(context.DeadlineExceeded)
	}()
	got := (&Command{Line: line}).Probe(ctx)
	if got.Status != Unhealthy || got.Reason != "timed out" || got.ExitCode != -1 || got.Output != "started\n" {
		t.Fatalf("got %v %q exit %d output %q", got.Status, got.Reason, got.ExitCode, got.Output)
	}
	gc := readPid(t, filepath.Join(dir, "gc"))
	waitFor(t, "grandchild to die", func() bool { return processGone(gc) })
}

// A process that leaves the check's group keeps the output pipe open; the
// check must still finish.
func TestCommandEscapedProcessDoesNotHang(t *testing.T) {
	testtools.Require(t, "setsid", "util-linux")
	dir := t.TempDir()
	line := fmt.Sprintf(`setsid sh -c 'echo $$ > %s/esc; exec sleep 60' & sleep 0.2; echo done`, dir)
	start := time.Now()
	got := (&Command{Line: line}).Probe(withTimeout(t, 50*time.Second))
	if pid := readPid(t, filepath.Join(dir, "esc")); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if got.Status != Healthy || !strings.Contains(got.Output, "done") {
		t.Fatalf("got %v %q output %q", got.Status, got.Reason, got.Output)
	}
	if el := time.Since(start); el > 40*time.Second {
		t.Fatalf("check waited for the escaped process (%v)", el)
	}
}

// After 1,000 timed-out checks there are no zombies, no leftover processes,
// and no growth in open files or goroutines.
func TestManyTimeoutsLeakNothing(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	const marker = "86317" // sleep argument unique to this test
	fds0, gor0 := openFDs(t), runtime.NumGoroutine()
	c := &Command{Line: "sleep " + marker + " & sleep " + marker}
	for i := 0; i < n; i++ {
		// 1 to 4 ms: some checks die before the shell forks, some
		// after the grandchildren started.
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%4)*time.Millisecond)
		got := c.Probe(ctx)
		cancel()
		if got.Status != Unhealthy {
			t.Fatalf("check %d: %v %q", i, got.Status, got.Reason)
		}
	}
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= gor0 })
	if fds := openFDs(t); fds > fds0 {
		t.Fatalf("open files grew from %d to %d", fds0, fds)
	}
	waitFor(t, "no zombie children and no leftover sleep", func() bool {
		children, sleeps := scanProcs(t, marker)
		return children == 0 && sleeps == 0
	})
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// scanProcs counts this process's children (zombies included) and the live
// processes whose command line contains marker.
func scanProcs(t *testing.T, marker string) (children, live int) {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == me {
			children++
		}
		if f[0] == "Z" {
			continue
		}
		if cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && bytes.Contains(cl, []byte(marker)) {
			live++
		}
	}
	return children, live
}
