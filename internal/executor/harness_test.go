package executor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/testenv"
	"github.com/taskkit/taskkit/internal/testenv/testsched"
)

// waitLong bounds every wait: generous, for a loaded two-core machine.
// Conditions are waited for, never slept on.
const waitLong = 45 * time.Second

// executorBin is the executor built once for every test.
var executorBin string

// leakMarker is in the environment of every task the tests start, so
// leftover processes can be found in /proc.
var leakMarker = fmt.Sprintf("EXECUTOR_TEST_LEAK_MARKER=%d-%d", os.Getpid(), time.Now().UnixNano())

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "executor-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		executorBin = filepath.Join(dir, "executor")
		if err := buildExecutor(executorBin); err != nil {
			fmt.Fprintln(os.Stderr, "building the executor:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// buildExecutor builds ./executor as scripts/dist.sh does (without -s -w);
// with EXECUTOR_TEST_RACE=1, with the race detector.
func buildExecutor(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"build", "-tags", "urfave_cli_no_docs", "-trimpath", "-o", out}
	cgo := "CGO_ENABLED=0"
	if os.Getenv("EXECUTOR_TEST_RACE") == "1" {
		// The black-box tests then run a race-detecting executor.
		args, cgo = append(args, "-race"), "CGO_ENABLED=1"
	}
	cmd := exec.CommandContext(ctx, goBin, append(args, "github.com/taskkit/taskkit/executor")...)
	cmd.Env = append(os.Environ(), cgo)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, b)
	}
	return nil
}

// startCluster starts a testenv cluster running the built executor for
// DEFAULT executors. At the end of the test it is stopped, and the test
// fails if a task or executor process survives.
func startCluster(t testing.TB, cfg testenv.Config) *testenv.Cluster {
	t.Helper()
	cfg.WorkDir = t.TempDir()
	cfg.ExecutorPath = executorBin
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := testenv.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("testenv.Start: %v", err)
	}
	work := cfg.WorkDir
	t.Cleanup(func() {
		cancel()
		select {
		case <-cl.Done():
		case <-time.After(waitLong):
			t.Errorf("cluster did not stop within %v", waitLong)
		}
		eventually(t, "no process left behind", func() bool { return len(leftovers(work)) == 0 })
		// An executor's log must not report a data race or a panic.
		logs, _ := filepath.Glob(filepath.Join(work, "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "stderr"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			if strings.Contains(string(b), "DATA RACE") || strings.Contains(string(b), "panic:") {
				t.Errorf("executor log %s:\n%s", l, b)
			}
		}
	})
	return cl
}

// leftovers lists live processes started by the tests: tasks (leakMarker)
// and executors (their sandbox is under work).
func leftovers(work string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue
		}
		env := string(b)
		// A zombie has an empty environ, so these are live processes.
		if strings.Contains(env, leakMarker) || strings.Contains(env, "MESOS_SANDBOX="+work) {
			cmd, _ := os.ReadFile(filepath.Join(d, "cmdline"))
			out = append(out, filepath.Base(d)+":"+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

// leftoversOf lists live task processes whose environment holds marker.
func leftoversOf(marker string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "environ"))
		if err == nil && strings.Contains(string(b), marker) {
			out = append(out, filepath.Base(d))
		}
	}
	return out
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLong)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sched is the shared test scheduler, acknowledging every update as it
// arrives and keeping the offers it gathers for a pod.
type sched struct {
	*testsched.Sched
	// held are offers received and not used yet; using are the IDs offer
	// returned last, accepted together by launchGroup.
	held  []mesos.Offer
	using []mesos.OfferID

	mu  sync.Mutex
	all []*scheduler.Event // every UPDATE received, for duplicate checks
}

func frameworkInfo(name string, checkpoint bool, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := &mesos.FrameworkInfo{User: "root", Name: name, Checkpoint: &checkpoint}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkInfo_Capability{Type: c})
	}
	return fi
}

// subscribe subscribes fi and waits for SUBSCRIBED.
func subscribe(t testing.TB, cl *testenv.Cluster, fi *mesos.FrameworkInfo) *sched {
	t.Helper()
	s := &sched{}
	s.Sched = testsched.Subscribe(t, cl.MasterURL(), fi, testsched.Options{
		Codec: codecs.ByMediaType[codecs.MediaTypeProtobuf],
		Wait:  waitLong,
		OnEvent: func(ts *testsched.Sched, e *scheduler.Event) {
			s.received(t, ts, e)
		},
	})
	return s
}

// received acknowledges an update (as mesos-go's
// controller.AckStatusUpdates does) and remembers it. It runs on the
// goroutine reading the stream, so it logs to the subscribing test t, not
// to s.T (which subtests replace).
func (s *sched) received(t testing.TB, ts *testsched.Sched, e *scheduler.Event) {
	if e.Type != scheduler.Event_UPDATE {
		return
	}
	if st := e.Update.Status; len(st.UUID) > 0 {
		if err := ts.Call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID)); err != nil {
			t.Logf("acknowledging %s %s: %v", st.TaskID.Value, st.GetState(), err)
		}
	}
	s.mu.Lock()
	s.all = append(s.all, e)
	s.mu.Unlock()
}

// offer waits until the offers received (and not used) have room for a
// test pod (1 cpu, 512 MB) and returns the first; launchGroup then accepts
// all of them together. (Resources freed one task at a time come back as
// separate small offers.)
func (s *sched) offer() mesos.Offer {
	s.T.Helper()
	for {
		ev := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "OFFERS")
		s.held = append(s.held, ev.Offers.Offers...)
		var cpus float64
		var mem uint64
		for _, o := range s.held {
			c, _ := resources.CPUs(o.Resources...)
			m, _ := resources.Memory(o.Resources...)
			cpus, mem = cpus+c, mem+m
		}
		if cpus >= 1 && mem >= 512 {
			o := s.held[0]
			s.using = nil
			for _, h := range s.held {
				s.using = append(s.using, h.ID)
			}
			s.held = nil
			return o
		}
	}
}

// drop forgets every event received so far but offers.
func (s *sched) drop() {
	s.Forget(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS })
	s.mu.Lock()
	s.all = nil
	s.mu.Unlock()
}

// updates returns every UPDATE received for task, in order.
func (s *sched) updates(taskID string) []mesos.TaskStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mesos.TaskStatus
	for _, e := range s.all {
		if e.Update.Status.TaskID.Value == taskID {
			out = append(out, e.Update.Status)
		}
	}
	return out
}

// defaultExecutor is a DEFAULT ExecutorInfo for this framework.
func (s *sched) defaultExecutor(id string) mesos.ExecutorInfo {
	return mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_DEFAULT,
		ExecutorID:  mesos.ExecutorID{Value: id},
		FrameworkID: &mesos.FrameworkID{Value: s.FrameworkID},
		Resources:   []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
}

// launchGroup launches tasks as one group on offer o.
func (s *sched) launchGroup(o mesos.Offer, ei mesos.ExecutorInfo, tasks ...mesos.TaskInfo) {
	s.T.Helper()
	for i := range tasks {
		tasks[i].AgentID = o.AgentID
	}
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, tasks...)}.WithOffers(s.offerIDs(o)...)).With(calls.RefuseSeconds(0)))
}

// offerIDs are the offers to accept with o: those offer gathered.
func (s *sched) offerIDs(o mesos.Offer) []mesos.OfferID {
	if len(s.using) > 0 && s.using[0] == o.ID {
		return s.using
	}
	return []mesos.OfferID{o.ID}
}

// shellTask is a task running a shell command, with the leak marker and
// extra environment variables.
func shellTask(id, shell string, env ...string) mesos.TaskInfo {
	vars := []mesos.Environment_Variable{envVar(leakMarker)}
	for _, kv := range env {
		vars = append(vars, envVar(kv))
	}
	return mesos.TaskInfo{
		Name:   id,
		TaskID: mesos.TaskID{Value: id},
		Command: &mesos.CommandInfo{
			Value:       &shell,
			Environment: &mesos.Environment{Variables: vars},
		},
		Resources: []mesos.Resource{resources.NewCPUs(0.05).Resource, resources.NewMemory(8).Resource},
	}
}

func envVar(kv string) mesos.Environment_Variable {
	k, v, _ := strings.Cut(kv, "=")
	return mesos.Environment_Variable{Name: k, Value: &v}
}

func label(k, v string) *mesos.Labels {
	return &mesos.Labels{Labels: []mesos.Label{{Key: k, Value: &v}}}
}

// sandbox is the executor's sandbox on the cluster's only agent.
func sandbox(t testing.TB, cl *testenv.Cluster, fid, eid string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves", "*", "frameworks", fid, "executors", eid, "runs", "latest"))
	if len(matches) != 1 {
		t.Fatalf("executor sandbox of %s: %v", eid, matches)
	}
	dir, err := filepath.EvalSymlinks(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
