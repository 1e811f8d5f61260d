package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/testenv"
)

// TestIdleExecutorSleeps: an executor whose task runs and whose updates
// are acknowledged has no deadline, so its process is not scheduled at all
// while nothing happens. The loop it replaced woke every 250 ms (~55
// context switches in 2 s); a timer re-armed at 0 would show thousands.
//
// A wake-up of that kind shows in every 2 s window, so the executor is
// watched for up to quietWindows of them and passes at the first quiet one:
// on a loaded machine the acknowledgement and the work of the launch can
// still be under way in the first window, and spill into it.
func TestIdleExecutorSleeps(t *testing.T) {
	const quietWindows = 5
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("idle", true))
	s.launchGroup(s.offer(), s.defaultExecutor("idle"), shellTask("idle-1", "sleep 300"))
	s.Update("idle-1", mesos.TASK_RUNNING)
	time.Sleep(500 * time.Millisecond) // the acknowledgement arrives
	pid := executorPid(t, "idle")
	var seen []int
	for range quietWindows {
		c0, cpu0 := switches(t, pid)
		time.Sleep(2 * time.Second)
		c1, cpu1 := switches(t, pid)
		t.Logf("executor %d over 2 s: %d context switches (all threads), %d CPU ticks", pid, c1-c0, cpu1-cpu0)
		if c1-c0 <= 20 {
			return
		}
		seen = append(seen, c1-c0)
	}
	t.Errorf("an idle executor switched %v times in each of %d windows of 2 s, want (almost) none in one", seen, quietWindows)
}

func executorPid(t *testing.T, eid string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.HasPrefix(string(b), executorBin) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(d, "environ"))
		if strings.Contains(string(env), "MESOS_EXECUTOR_ID="+eid+"\x00") {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	t.Fatal("executor process not found")
	return 0
}

// switches sums voluntary+involuntary context switches over the process's
// threads, and its utime+stime.
func switches(t *testing.T, pid int) (int, int) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	n := 0
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "ctxt_switches:") {
				v, _ := strconv.Atoi(strings.TrimSpace(l[strings.Index(l, ":")+1:]))
				n += v
			}
		}
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(string(st)[strings.LastIndex(string(st), ")")+2:])
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return n, u + s
}
