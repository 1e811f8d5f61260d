package executor_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/testenv"
)

// TestKillDuringFetch: a KILL of a task whose URIs are being fetched (the
// task's or, by the group rule, its group's), a SHUTDOWN or a SIGTERM to
// the executor ends the fetch: the tasks end TASK_KILLED while the artifact
// server still holds the download (it never sends the body, and the fetch
// client's own timeout is 5 minutes), and their processes never start.
func TestKillDuringFetch(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill func(t *testing.T, s *sched, o mesos.Offer)
	}{
		{"KILL of one task of the group", func(t *testing.T, s *sched, o mesos.Offer) {
			s.MustCall(calls.Kill("kf-1", o.AgentID.Value))
		}},
		{"SHUTDOWN", func(t *testing.T, s *sched, o mesos.Offer) {
			s.MustCall(calls.Shutdown("kf", o.AgentID.Value))
		}},
		{"SIGTERM to the executor", func(t *testing.T, s *sched, o mesos.Offer) {
			if err := syscall.Kill(executorPid(t, "kf"), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests := make(chan struct{}, 2)
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				requests <- struct{}{}
				select { // a hung artifact server: the body never comes
				case <-release:
				case <-r.Context().Done():
				}
			}))
			t.Cleanup(func() { close(release); srv.Close() })
			cl := startCluster(t, testenv.Config{})
			s := subscribe(t, cl, frameworkInfo("killfetch", false, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
			o := s.offer()
			var tasks []mesos.TaskInfo
			for _, id := range []string{"kf-1", "kf-2"} {
				task := shellTask(id, "touch started && exec sleep 300")
				task.Command.URIs = []mesos.CommandInfo_URI{{Value: srv.URL + "/" + id + ".bin"}}
				tasks = append(tasks, task)
			}
			s.launchGroup(o, s.defaultExecutor("kf"), tasks...)
			for range tasks {
				select {
				case <-requests:
				case <-time.After(waitLong):
					t.Fatal("the fetches did not begin")
				}
			}
			tc.kill(t, s, o)
			for _, id := range []string{"kf-1", "kf-2"} {
				st := s.Update(id, mesos.TASK_KILLED)
				if st.GetSource() != mesos.SOURCE_EXECUTOR || st.GetMessage() != "Task killed before it started" {
					t.Errorf("%s: %s from %s %q, want the executor's kill before the start", id, st.GetState(), st.GetSource(), st.GetMessage())
				}
				for _, u := range s.updates(id) {
					if u.GetState() == mesos.TASK_RUNNING {
						t.Errorf("%s: TASK_RUNNING sent", id)
					}
				}
			}
			started, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves", "*", "frameworks", s.FrameworkID, "executors", "kf", "runs", "*", "tasks", "*", "started"))
			if len(started) != 0 {
				t.Errorf("task processes started: %v", started)
			}
		})
	}
}
