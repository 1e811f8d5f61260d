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

// sweepScripts are what the sweeper helper's shell child runs before it
// exits, leaving its background processes to the helper (a subreaper). Each
// prints the pid of every process KillChildren must kill, one a line.
var sweepScripts = map[string]string{
	// Two sleeps, one in a session of its own (a task that calls setsid).
	"two orphans": `setsid sleep 1000 >/dev/null 2>&1 & echo $!; sleep 1001 >/dev/null 2>&1 & echo $!`,
	// An orphan shell with two sleeps of its own: killing the shell
	// re-parents them to the subreaper, so a second round must find them.
	// The fifo tells when both sleeps are running.
	"orphans of orphans": `f=$(mktemp -u); mkfifo "$f"
		sh -c 'sleep 1002 & a=$!; sleep 1003 & echo "$$ $a $!" > "$1"; wait' sh "$f" >/dev/null 2>&1 &
		tr " " "\n" < "$f"; rm -f "$f"`,
	// A process with much memory takes long to die after SIGKILL (its
	// pages are freed first): it is counted once, not once per look.
	"a slow death": `f=$(mktemp -u); mkfifo "$f"
		SUPERVISE_TEST_HELPER=hog "$SWEEP_HOG" > "$f" 2>/dev/null & read pid < "$f"; echo "$pid"; rm -f "$f"`,
}

// hogBytes is how much memory the hog helper touches: enough that freeing
// it takes tens of milliseconds, more on a loaded machine.
const hogBytes = 128 << 20

// helperHog touches hogBytes of memory, prints its pid and waits to be
// killed.
func helperHog() {
	b := make([]byte, hogBytes)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	fmt.Println(os.Getpid())
	time.Sleep(time.Hour)
	fmt.Println(b[0]) // keeps b alive
}

// helperSweeper becomes a subreaper, runs the sweepScripts entry named by
// SWEEP_SCRIPT with its own shell child, prints the pids that child printed,
// then what KillChildren returned.
func helperSweeper() {
	if err := BecomeSubreaper(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	out, err := exec.Command("/bin/sh", "-c", sweepScripts[os.Getenv("SWEEP_SCRIPT")]).Output()
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Print(string(out))
	// The shell has exited; what it left behind is now ours.
	n, err := KillChildren(20 * time.Second)
	fmt.Printf("killed %d err %v\n", n, err)
	os.Exit(0)
}

// TestKillChildrenSweepsOrphans: KillChildren kills every descendant a
// subreaper inherited, in as many rounds as re-parenting takes, and counts
// each killed process once however long it takes to die: it used to look
// again after 10 ms and signal and count a process still dying once more, so
// a loaded machine saw "killed 4" for two sleeps.
func TestKillChildrenSweepsOrphans(t *testing.T) {
	testtools.Require(t, "setsid", "util-linux")
	testtools.Require(t, "mkfifo", "coreutils")
	for name := range sweepScripts {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(helperEnv("sweeper"), "SWEEP_SCRIPT="+name, "SWEEP_HOG="+os.Args[0])
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("sweeper: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			pids := lines[:len(lines)-1]
			if want := fmt.Sprintf("killed %d err <nil>", len(pids)); lines[len(lines)-1] != want {
				t.Fatalf("sweeper output:\n%s\nwant last line %q", out, want)
			}
			for _, l := range pids {
				pid, err := strconv.Atoi(l)
				if err != nil {
					t.Fatalf("bad pid line %q", l)
				}
				// The helper reaped its children and exited: a pid still
				// there is a process that survived.
				if syscall.Kill(pid, 0) == nil && !processGone(pid) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("process %d survived the sweep", pid)
				}
			}
		})
	}
}
