package testenv

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestEndDuringFetch: a container killed, shut down or whose agent dies
// while its URIs are still being fetched has its fetch aborted at once, as
// Mesos kills the fetcher of a container it destroys while FETCHING
// (src/slave/containerizer/mesos/containerizer.cpp): the artifact server
// here stalls until the test ends, and sees its connection closed; the
// task ends (KILLED, or LOST with its agent) and its process never starts.
func TestEndDuringFetch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		custom bool // a custom executor's URIs (else a command task's)
		end    func(s *sched, cl *Cluster, o mesos.Offer)
		want   mesos.TaskState
	}{
		{"KILL of a command task", false, func(s *sched, _ *Cluster, o mesos.Offer) {
			s.MustCall(calls.Kill("fetching", o.AgentID.Value))
		}, mesos.TASK_KILLED},
		{"SHUTDOWN of a custom executor", true, func(s *sched, _ *Cluster, o mesos.Offer) {
			s.MustCall(calls.Shutdown("fetcher", o.AgentID.Value))
		}, mesos.TASK_KILLED},
		{"KillAgent", false, func(_ *sched, cl *Cluster, o mesos.Offer) {
			if err := cl.KillAgent(o.AgentID.Value); err != nil {
				t.Fatal(err)
			}
		}, mesos.TASK_LOST},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requested, aborted, release := make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				requested <- struct{}{}
				select {
				case <-r.Context().Done():
					aborted <- struct{}{}
				case <-release:
				}
			}))
			defer srv.Close()
			defer close(release)
			cl := startCluster(t, Config{})
			s := subscribe(t, cl, frameworkInfo("end-during-fetch"), protoCodec)
			o := s.offers()[0]
			task := commandTask("fetching", o, "touch started; exec sleep 300")
			uris := []mesos.CommandInfo_URI{{Value: srv.URL + "/big.bin"}}
			if tc.custom {
				ei := mesos.ExecutorInfo{
					Type: mesos.ExecutorInfo_CUSTOM, ExecutorID: mesos.ExecutorID{Value: "fetcher"},
					Command:   &mesos.CommandInfo{Value: strPtr("touch started; exec sleep 300"), URIs: uris},
					Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource},
				}
				task = execTask("fetching", o, &ei, "")
			} else {
				task.Command.URIs = uris
			}
			s.launch(o, task)
			select {
			case <-requested:
			case <-time.After(waitLong):
				t.Fatal("the fetch did not start")
			}
			tc.end(s, cl, o)
			select {
			case <-aborted:
			case <-time.After(waitLong):
				t.Fatalf("the fetch was not aborted within %v", waitLong)
			}
			if st := s.Update("fetching", tc.want); st.GetState() != tc.want {
				t.Errorf("fetching: %s %q, want %s", st.GetState(), st.GetMessage(), tc.want)
			}
			started, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "started"))
			if len(started) > 0 {
				t.Errorf("the process started: %q", started)
			}
		})
	}
}
