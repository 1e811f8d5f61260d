package testenv

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/testenv/testsched"
)

// waitLong bounds every wait in these tests: generous, for a loaded
// two-core machine; conditions are polled, never slept on.
const waitLong = 30 * time.Second

var (
	protoCodec = codecs.ByMediaType[codecs.MediaTypeProtobuf]
	jsonCodec  = codecs.ByMediaType[codecs.MediaTypeJSON]
)

// leakMarker is put in the environment of every task the tests start, so
// that leaked processes can be found in /proc.
var leakMarker = fmt.Sprintf("TESTENV_LEAK_MARKER=%d-%d", os.Getpid(), time.Now().UnixNano())

// startCluster starts a cluster on its own loopback block; it is stopped
// at the end of the test, and the test fails if a task process survives.
func startCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	cl, err := tryStartCluster(t, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return cl
}

// tryStartCluster is startCluster returning Start's error; it may be called
// from any goroutine.
func tryStartCluster(t *testing.T, cfg Config) (*Cluster, error) {
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 500 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-cl.Done():
		case <-time.After(waitLong):
			t.Errorf("cluster did not stop within %v", waitLong)
		}
		if pids := leakedPIDs(cl.WorkDir()); len(pids) > 0 {
			t.Errorf("processes left behind: %v", pids)
		}
	})
	return cl, nil
}

// leakedPIDs lists processes whose environment carries leakMarker and,
// with a work dir, whose working directory is in it (a sandbox of that
// cluster: other clusters of the test may still be running).
func leakedPIDs(workDir ...string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue
		}
		if len(workDir) > 0 {
			if cwd, err := os.Readlink(filepath.Join(d, "cwd")); err == nil && !strings.HasPrefix(cwd, workDir[0]+"/") {
				continue
			}
		}
		if strings.Contains(string(b), leakMarker) {
			// A zombie has an empty environ, so this is a live process.
			out = append(out, filepath.Base(d))
		}
	}
	return out
}

// sched is the shared test scheduler; the tests acknowledge updates
// themselves.
type sched struct{ *testsched.Sched }

func frameworkInfo(name string, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := &mesos.FrameworkInfo{User: "root", Name: name}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkInfo_Capability{Type: c})
	}
	return fi
}

// subscribe subscribes fi and waits for SUBSCRIBED.
func subscribe(t testing.TB, cl *Cluster, fi *mesos.FrameworkInfo, codec encoding.Codec) *sched {
	t.Helper()
	return &sched{testsched.Subscribe(t, cl.MasterURL(), fi, testsched.Options{Codec: codec, Wait: waitLong})}
}

// trySubscribe subscribes fi without waiting for SUBSCRIBED.
func trySubscribe(t testing.TB, cl *Cluster, fi *mesos.FrameworkInfo, codec encoding.Codec) (*sched, error) {
	s, err := testsched.Open(t, cl.MasterURL(), fi, testsched.Options{Codec: codec, Wait: waitLong})
	if err != nil {
		return nil, err
	}
	return &sched{s}, nil
}

// answer sends req and returns the response and, unless it is a 200 (a
// SUBSCRIBE stream, closed at once unread), its body.
func answer(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return res, ""
	}
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// streamIDOf is the Mesos-Stream-Id of framework fid's subscription.
func streamIDOf(t *testing.T, cl *Cluster, fid string) string {
	t.Helper()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	fw := cl.frameworks[fid]
	if fw == nil || fw.stream == nil {
		t.Fatalf("framework %s has no stream", fid)
	}
	return fw.stream.id
}

// offers waits for an OFFERS event.
func (s *sched) offers() []mesos.Offer {
	s.T.Helper()
	return s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "OFFERS").Offers.Offers
}

// ack acknowledges a status that carries a uuid.
func (s *sched) ack(st mesos.TaskStatus) {
	s.T.Helper()
	if len(st.UUID) == 0 {
		s.T.Fatalf("status %s of %s has no uuid", st.GetState(), st.TaskID.Value)
	}
	s.MustCall(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
}

// updateAck waits for an update and acknowledges it.
func (s *sched) updateAck(taskID string, state mesos.TaskState) mesos.TaskStatus {
	s.T.Helper()
	st := s.Update(taskID, state)
	s.ack(st)
	return st
}

func (s *sched) launch(o mesos.Offer, tasks ...mesos.TaskInfo) {
	s.T.Helper()
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunch(tasks...)}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
}

// commandTask is a shell-command task on offer o's agent.
func commandTask(id string, o mesos.Offer, shell string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:    id,
		TaskID:  mesos.TaskID{Value: id},
		AgentID: o.AgentID,
		Command: &mesos.CommandInfo{
			Value:       strPtr(shell),
			Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{envVar(leakMarker)}},
		},
		Resources: []mesos.Resource{
			resources.NewCPUs(0.1).Resource,
			resources.NewMemory(32).Resource,
		},
	}
}

func envVar(kv string) mesos.Environment_Variable {
	k, v, _ := strings.Cut(kv, "=")
	return mesos.Environment_Variable{Name: k, Value: strPtr(v)}
}

// eventually polls cond until it holds or waitLong passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLong)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func taskIn(st State, fid, tid string) (TaskState, bool) {
	for _, fw := range st.Frameworks {
		if fw.ID != fid {
			continue
		}
		for _, t := range fw.Tasks {
			if t.ID == tid {
				return t, true
			}
		}
	}
	return TaskState{}, false
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// benchCluster starts a cluster and a subscribed scheduler for a benchmark.
func benchCluster(b *testing.B, cfg Config) (*Cluster, *sched) {
	b.Helper()
	cfg.WorkDir = b.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); cl.Wait() })
	return cl, subscribe(b, cl, frameworkInfo("bench"), protoCodec)
}
