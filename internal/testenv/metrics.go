package testenv

import (
	"net/http"
	"slices"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// serveMetricsSnapshot serves /metrics/snapshot as libprocess'
// MetricsProcess::_snapshot (3rdparty/libprocess/src/metrics/metrics.cpp):
// an object of metric name to value, sorted by name, for any method, with
// ?jsonp=; a ?timeout= that is no duration is a 400 ("Invalid timeout
// '...': ...") and a valid one changes nothing, as every value is at hand.
// The metrics are the Mesos 1.11 master's (src/master/metrics.cpp,
// src/master/master.cpp) that testenv has the truth for (masterMetricsLocked);
// the others are left out, not made up.
func (c *Cluster) serveMetricsSnapshot(w http.ResponseWriter, r *http.Request) {
	if v, ok := mesosQuery(r)["timeout"]; ok {
		if _, err := mesosx.ParseDuration(v); err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("Invalid timeout '" + v + "': " + err.Error() + ".\n"))
			return
		}
	}
	c.mu.Lock()
	m := c.masterMetricsLocked(time.Now())
	c.mu.Unlock()
	writeJSONP(w, http.StatusOK, m, r)
}

// taskEndCounters are the master's counters of tasks that reached a
// terminal state (Metrics::tasks_finished ... in src/master/metrics.cpp),
// there from the start.
var taskEndCounters = []mesos.TaskState{mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_LOST, mesos.TASK_ERROR, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR}

// taskGauges are the task states the master counts its tasks on
// registered agents in (Master::_tasks_staging ...).
var taskGauges = []mesos.TaskState{mesos.TASK_STAGING, mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_KILLING}

// taskMetricName is "master/tasks_<state>" for a TaskState.
func taskMetricName(s mesos.TaskState) string {
	return "master/tasks_" + strings.TrimPrefix(strings.ToLower(s.String()), "task_")
}

// countTaskEndLocked counts a task's transition to the terminal state of
// st, or to TASK_UNREACHABLE, as Master::updateTask does
// (src/master/master.cpp): a terminal state's counter (TASK_UNREACHABLE
// has a gauge instead), and, when st has a reason, the counter of its
// state, source and reason (Metrics::incrementTasksStates), named with
// Mesos' internal (v0) enum names: "master/task_lost/source_slave/reason_slave_removed"
// where the v1 API says SOURCE_AGENT and REASON_AGENT_REMOVED. The master
// counts the same way the tasks it fails before they reach an agent
// (TASK_ERROR for an invalid task, TASK_LOST or TASK_DROPPED for invalid
// offers, in Master::_accept).
func (c *Cluster) countTaskEndLocked(st mesos.TaskStatus) {
	if c.counters == nil {
		c.counters = map[string]int{}
	}
	if mesosx.IsTerminal(st.GetState()) {
		c.counters[taskMetricName(st.GetState())]++
	}
	if st.Reason != nil {
		v0 := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "AGENT", "SLAVE")) }
		c.counters["master/"+strings.ToLower(st.GetState().String())+"/"+v0(st.GetSource().String())+"/"+v0(st.GetReason().String())]++
	}
}

// masterMetricsLocked are the Mesos master's metrics testenv has the truth
// for, as Mesos computes them (Master::_uptime_secs ... in
// src/master/master.cpp and master.hpp), over the registered agents (not
// removed: /state's) and frameworks (not completed):
//
//   - master/uptime_secs, and master/elected: 1, as testenv's one master
//     leads from its start (/state's elected_time);
//   - master/slaves_{connected,disconnected,active,inactive,unreachable}:
//     a killed agent is disconnected and inactive until it is marked
//     unreachable (then it counts only as unreachable, as /state's
//     unreachable_slaves); testenv never deactivates a connected agent;
//   - master/frameworks_{connected,disconnected,active,inactive};
//   - master/outstanding_offers;
//   - master/tasks_{staging,starting,running,killing} (tasks on registered
//     agents), master/tasks_unreachable, and the counters of tasks ended
//     (countTaskEndLocked) since the cluster started;
//   - master/{cpus,gpus,mem,disk}_{total,used,percent} and their
//     _revocable_ forms (testenv's agents have no revocable resources).
func (c *Cluster) masterMetricsLocked(now time.Time) map[string]float64 {
	m := map[string]float64{
		"master/uptime_secs":        now.Sub(c.started).Seconds(),
		"master/elected":            1,
		"master/outstanding_offers": float64(len(c.offers)),
	}
	for _, k := range []string{"slaves_connected", "slaves_disconnected", "slaves_active", "slaves_inactive", "slaves_unreachable",
		"frameworks_connected", "frameworks_disconnected", "frameworks_active", "frameworks_inactive"} {
		m["master/"+k] = 0
	}
	var registered []*agent
	for _, a := range c.agents {
		switch {
		case !a.unreachableAt.IsZero():
			m["master/slaves_unreachable"]++
		case a.removed:
		default:
			registered = append(registered, a)
			if a.disconnectedAt.IsZero() {
				m["master/slaves_connected"]++
			} else {
				m["master/slaves_disconnected"]++
			}
			if a.active {
				m["master/slaves_active"]++
			} else {
				m["master/slaves_inactive"]++
			}
		}
	}
	for _, s := range append(append([]mesos.TaskState{}, taskGauges...), mesos.TASK_UNREACHABLE) {
		m[taskMetricName(s)] = 0
	}
	for _, fw := range c.frameworks {
		if fw.connected() {
			m["master/frameworks_connected"]++
		} else {
			m["master/frameworks_disconnected"]++
		}
		if fw.connected() && !fw.removed { // /state's "active"
			m["master/frameworks_active"]++
		} else {
			m["master/frameworks_inactive"]++
		}
		for _, t := range fw.tasks {
			switch {
			case t.state == mesos.TASK_UNREACHABLE:
				m[taskMetricName(t.state)]++
			case !t.agent.removed && slices.Contains(taskGauges, t.state):
				m[taskMetricName(t.state)]++
			}
		}
	}
	for _, s := range taskEndCounters {
		m[taskMetricName(s)] = 0
	}
	for name, n := range c.counters {
		m[name] = float64(n)
	}
	for _, name := range []string{"cpus", "gpus", "mem", "disk"} {
		for _, revocable := range []bool{false, true} {
			var total, used float64
			keep := func(x *mesos.Resource) bool { return x.IsRevocable() == revocable }
			for _, a := range registered {
				total += a.total.filter(keep).scalar(name)
				used += a.used.filter(keep).scalar(name)
			}
			prefix := "master/" + name + "_"
			if revocable {
				prefix += "revocable_"
			}
			m[prefix+"total"], m[prefix+"used"], m[prefix+"percent"] = total, used, 0
			if total != 0 {
				m[prefix+"percent"] = used / total
			}
		}
	}
	return m
}
