//go:build linux

package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/testtools"
)

// helperSweeper is a subreaper whose shell child leaves two sleeps behind,
// one of them in a session of its own (what a task that calls setsid does),
// and exits. It prints the sleeps' pids, then KillChildren must leave none.
func helperSweeper() {
	if err := BecomeSubreaper(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	out, err := exec.Command("/bin/sh", "-c", `setsid sleep 1000 >/dev/null 2>&1 & echo $!; sleep 1001 >/dev/null 2>&1 & echo $!`).Output()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Print(string(out))
	// The shell has exited; its sleeps are now our children.
	n, err := KillChildren(10 * time.Second)
	fmt.Printf("killed %d err %v\n", n, err)
	os.Exit(0)
}

func TestKillChildrenSweepsOrphans(t *testing.T) {
	testtools.Require(t, "setsid", "util-linux")
	cmd := exec.Command(os.Args[0])
	cmd.Env = helperEnv("sweeper")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sweeper: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "killed 2 err <nil>") {
		t.Fatalf("sweeper output:\n%s", out)
	}
	for _, l := range lines[:2] {
		pid, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("bad pid line %q", l)
		}
		if syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("sleep %d survived the sweep", pid)
		}
	}
}
