package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/testenv"
)

// BenchmarkLaunchGroup5 measures, for a LAUNCH_GROUP of 5 tasks, the time
// from the scheduler's ACCEPT to the fifth TASK_RUNNING reaching it:
// "cold" starts a new executor for every group (process start, subscribe,
// launch), "warm" sends every group to one running executor. It reports
// the median and 95th percentile. Every task is acknowledged as it
// arrives, as a mesos-go scheduler does.
func BenchmarkLaunchGroup5(b *testing.B) {
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			cl := startCluster(b, testenv.Config{StatusUpdateRetry: time.Minute})
			s := subscribe(b, cl, frameworkInfo("bench", false))
			if warm {
				// A task that keeps the executor up between groups (it
				// exits once it has no task left).
				s.launchGroup(s.offer(), s.defaultExecutor("warm"), shellTask("keeper", "exec sleep 300"))
				s.Update("keeper", mesos.TASK_RUNNING)
			}
			var took []time.Duration
			for i := 0; b.Loop(); i++ {
				eid := fmt.Sprintf("cold-%d", i)
				if warm {
					eid = "warm"
				}
				o := s.offer()
				var tasks []mesos.TaskInfo
				for j := 0; j < 5; j++ {
					tasks = append(tasks, shellTask(fmt.Sprintf("b%d-%d", i, j), "exec sleep 300"))
				}
				start := time.Now()
				s.launchGroup(o, s.defaultExecutor(eid), tasks...)
				for _, ti := range tasks {
					s.Update(ti.TaskID.Value, mesos.TASK_RUNNING)
				}
				took = append(took, time.Since(start))
				b.StopTimer()
				for _, ti := range tasks {
					s.MustCall(calls.Kill(ti.TaskID.Value, ""))
					s.Update(ti.TaskID.Value, mesos.TASK_KILLED)
				}
				s.drop()
				b.StartTimer()
			}
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
			b.ReportMetric(ms(took[(len(took)*95+99)/100-1]), "p95-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkExecutorRSS50 runs 50 tasks (one group) under one executor and
// reports the executor's resident memory once all are running: "plain"
// tasks, and "checked" tasks each with a COMMAND health check every second
// and a TCP readiness check.
func BenchmarkExecutorRSS50(b *testing.B) {
	for _, checked := range []bool{false, true} {
		name := "plain"
		if checked {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			var rss, hwm float64
			for i := 0; b.Loop(); i++ {
				cl := startCluster(b, testenv.Config{})
				s := subscribe(b, cl, frameworkInfo("rss", false))
				var tasks []mesos.TaskInfo
				for j := 0; j < 50; j++ {
					t := shellTask(fmt.Sprintf("r%d-%d", i, j), "exec sleep 300")
					if checked {
						line := "true"
						t.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: &line},
							DelaySeconds: secs(0), IntervalSeconds: secs(1), GracePeriodSeconds: secs(0)}
						t.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_TCP, TCP: &mesos.CheckInfo_Tcp{Port: 9},
							DelaySeconds: secs(0), IntervalSeconds: secs(1)}
					}
					tasks = append(tasks, t)
				}
				s.launchGroup(s.offer(), s.defaultExecutor("rss"), tasks...)
				for _, ti := range tasks {
					s.Update(ti.TaskID.Value, mesos.TASK_RUNNING)
				}
				time.Sleep(3 * time.Second) // a few rounds of checks
				rss, hwm = executorMemory(b, cl.WorkDir(), "rss")
				b.StopTimer()
				s.MustCall(calls.Shutdown("rss", cl.Agents()[0].ID))
				s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_FAILURE }, "executor exit")
				b.StartTimer()
			}
			b.ReportMetric(rss, "rss-MiB")
			b.ReportMetric(hwm, "peak-rss-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// executorMemory reads VmRSS and VmHWM (MiB) of the executor eid running
// under work.
func executorMemory(b testing.TB, work, eid string) (rss, hwm float64) {
	b.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !strings.Contains(string(env), "MESOS_SANDBOX="+work) ||
			!strings.Contains(string(env), "MESOS_EXECUTOR_ID="+eid+"\x00") || strings.Contains(string(env), leakMarker) {
			continue
		}
		status, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				rss = kb / 1024
			case "VmHWM:":
				hwm = kb / 1024
			}
		}
		return rss, hwm
	}
	b.Fatalf("executor %s not found", eid)
	return 0, 0
}
