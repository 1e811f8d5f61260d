package testenv

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestScale launches 500 sleep tasks on 10 agents, kills them all, stops
// the cluster and checks that no process is left. It is a capacity check,
// not a timed test; -short skips it.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test skipped with -short")
	}
	const agents, perAgent = 10, 50
	cl := startCluster(t, Config{Agents: agents, CPUs: 8, Mem: 16384})
	s := subscribe(t, cl, frameworkInfo("scale"), protoCodec)
	start := time.Now()
	launched := 0
	for launched < agents*perAgent {
		for _, o := range s.offers() {
			var tasks []mesos.TaskInfo
			for i := 0; i < perAgent && launched < agents*perAgent; i++ {
				task := commandTask(fmt.Sprintf("sleep-%03d", launched), o, "exec sleep 600")
				task.Resources = []mesos.Resource{resources.NewCPUs(0.01).Resource, resources.NewMemory(1).Resource}
				tasks = append(tasks, task)
				launched++
			}
			s.launch(o, tasks...)
		}
	}
	running := 0
	for running < launched {
		ev := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_UPDATE }, "UPDATE")
		st := ev.Update.Status
		s.ack(st)
		switch st.GetState() {
		case mesos.TASK_RUNNING:
			running++
		case mesos.TASK_STARTING:
		default:
			t.Fatalf("task %s: %s %s", st.TaskID.Value, st.GetState(), st.GetMessage())
		}
	}
	t.Logf("%d tasks RUNNING on %d agents in %v; test process RSS %s", running, agents, time.Since(start), rss())
	for i := 0; i < launched; i++ {
		s.MustCall(calls.Kill(fmt.Sprintf("sleep-%03d", i), ""))
	}
	killed := 0
	for killed < launched {
		ev := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_UPDATE }, "UPDATE")
		s.ack(ev.Update.Status)
		if ev.Update.Status.GetState() == mesos.TASK_KILLED {
			killed++
		}
	}
	eventually(t, "no task process left", func() bool { return len(leakedPIDs()) == 0 })
	// Launch 100 more and leave them running: stopping the cluster must kill them.
	for _, o := range s.offers()[:1] {
		var tasks []mesos.TaskInfo
		for i := 0; i < 100; i++ {
			task := commandTask(fmt.Sprintf("left-%03d", i), o, "exec sleep 600")
			task.Resources = []mesos.Resource{resources.NewCPUs(0.01).Resource, resources.NewMemory(1).Resource}
			tasks = append(tasks, task)
		}
		s.launch(o, tasks...)
	}
	eventually(t, "100 more running", func() bool { return len(leakedPIDs()) >= 100 })
	// startCluster's cleanup stops the cluster and fails on any leftover.
}

// rss is this process's resident set size from /proc.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkAcceptToRunning measures the time from ACCEPT (LAUNCH of a
// command task) to its TASK_RUNNING update.
func BenchmarkAcceptToRunning(b *testing.B) {
	benchAcceptToRunning(b, Config{AllocationInterval: 50 * time.Millisecond})
}

func benchAcceptToRunning(b *testing.B, cfg Config) {
	_, s := benchCluster(b, cfg)
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := s.offers()[0]
		id := fmt.Sprintf("b-%d", i)
		start := time.Now()
		s.launch(o, commandTask(id, o, "exit 0"))
		s.updateAck(id, mesos.TASK_STARTING)
		s.updateAck(id, mesos.TASK_RUNNING)
		ds = append(ds, time.Since(start))
		s.updateAck(id, mesos.TASK_FINISHED)
	}
	b.ReportMetric(float64(percentile(ds, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(ds, 0.95).Microseconds())/1000, "p95-ms")
}

// BenchmarkOfferCycle measures DECLINE (refuse_seconds 0) to the next
// OFFERS event for the same agent.
func BenchmarkOfferCycle(b *testing.B) {
	_, s := benchCluster(b, Config{AllocationInterval: time.Second})
	o := s.offers()[0]
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s.MustCall(calls.Decline(o.ID).With(calls.RefuseSeconds(0)))
		o = s.offers()[0]
		ds = append(ds, time.Since(start))
	}
	b.ReportMetric(float64(percentile(ds, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(ds, 0.95).Microseconds())/1000, "p95-ms")
}
