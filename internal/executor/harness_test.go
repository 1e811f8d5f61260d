package executor_test

import (
	"context"
	"fmt"
	"math/rand"
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
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/testenv"
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
	cfg.AgentIPBase = fmt.Sprintf("127.%d.%d.1", 100+rand.Intn(100), rand.Intn(250))
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

// sched is a small test scheduler written with mesos-go.
type sched struct {
	t      testing.TB
	caller calls.Caller
	fid    string
	// autoAck acknowledges every update as it arrives.
	autoAck bool
	// held are offers received and not used yet; using are the IDs offer
	// returned last, accepted together by launchGroup.
	held  []mesos.Offer
	using []mesos.OfferID

	mu     sync.Mutex
	events []*scheduler.Event // not yet consumed
	all    []*scheduler.Event // every UPDATE received, for duplicate checks
	wake   chan struct{}
	closed bool
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
	cli := httpcli.New(
		httpcli.Endpoint(cl.MasterURL()+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(httpcli.Timeout(10*time.Second))),
	)
	s := &sched{t: t, caller: httpsched.NewCaller(cli), wake: make(chan struct{}, 1), autoAck: true}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := s.caller.Call(ctx, calls.Subscribe(fi))
	if err != nil {
		cancel()
		t.Fatalf("subscribe: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		resp.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			var e scheduler.Event
			if err := resp.Decode(&e); err != nil {
				s.mu.Lock()
				s.closed = true
				s.mu.Unlock()
				s.signal()
				return
			}
			if e.Type == scheduler.Event_UPDATE && len(e.Update.Status.UUID) > 0 && s.autoAck {
				// As mesos-go's controller.AckStatusUpdates does.
				st := e.Update.Status
				if err := s.call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID)); err != nil {
					t.Logf("acknowledging %s %s: %v", st.TaskID.Value, st.GetState(), err)
				}
			}
			s.mu.Lock()
			s.events = append(s.events, &e)
			if e.Type == scheduler.Event_UPDATE {
				s.all = append(s.all, &e)
			}
			s.mu.Unlock()
			s.signal()
		}
	}()
	ev := s.waitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_SUBSCRIBED || e.Type == scheduler.Event_ERROR
	}, "SUBSCRIBED")
	if ev.Type == scheduler.Event_ERROR {
		t.Fatalf("subscribe: ERROR %s", ev.Error.Message)
	}
	s.fid = ev.Subscribed.FrameworkID.Value
	return s
}

func (s *sched) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// waitFor returns (and consumes) the first event matching pred.
func (s *sched) waitFor(pred func(*scheduler.Event) bool, what string) *scheduler.Event {
	s.t.Helper()
	ev, ok := s.waitWithin(pred, waitLong)
	if !ok {
		s.t.Fatalf("no %s within %v; pending events: %s", what, waitLong, s.describe())
	}
	return ev
}

func (s *sched) waitWithin(pred func(*scheduler.Event) bool, d time.Duration) (*scheduler.Event, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i, e := range s.events {
			if pred(e) {
				s.events = append(s.events[:i:i], s.events[i+1:]...)
				s.mu.Unlock()
				return e, true
			}
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-s.wake:
		case <-deadline.C:
			return nil, false
		}
	}
}

func (s *sched) describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, e := range s.events {
		if e.Type == scheduler.Event_UPDATE {
			st := e.Update.Status
			fmt.Fprintf(&b, "[UPDATE %s %s %q] ", st.TaskID.Value, st.GetState(), st.GetMessage())
		} else {
			fmt.Fprintf(&b, "[%s] ", e.Type)
		}
	}
	return b.String()
}

func (s *sched) call(c *scheduler.Call) error {
	c.FrameworkID = &mesos.FrameworkID{Value: s.fid}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.caller.Call(ctx, c)
	if resp != nil {
		resp.Close()
	}
	return err
}

func (s *sched) mustCall(c *scheduler.Call) {
	s.t.Helper()
	if err := s.call(c); err != nil {
		s.t.Fatalf("%s: %v", c.Type, err)
	}
}

// offer waits until the offers received (and not used) have room for a
// test pod (1 cpu, 512 MB) and returns the first; launchGroup then accepts
// all of them together. (Resources freed one task at a time come back as
// separate small offers.)
func (s *sched) offer() mesos.Offer {
	s.t.Helper()
	for {
		ev := s.waitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }, "OFFERS")
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

// update waits for an UPDATE of task in state (acknowledged on arrival).
func (s *sched) update(taskID string, state mesos.TaskState) mesos.TaskStatus {
	s.t.Helper()
	return s.updateWhere(taskID, state, func(mesos.TaskStatus) bool { return true })
}

// updateWhere waits for an UPDATE of task in state matching pred.
func (s *sched) updateWhere(taskID string, state mesos.TaskState, pred func(mesos.TaskStatus) bool) mesos.TaskStatus {
	s.t.Helper()
	ev := s.waitFor(func(e *scheduler.Event) bool {
		if e.Type != scheduler.Event_UPDATE || e.Update.Status.TaskID.Value != taskID {
			return false
		}
		st := e.Update.Status
		return st.GetState() == state && pred(st)
	}, fmt.Sprintf("UPDATE %s %s", taskID, state))
	return ev.Update.Status
}

// drop forgets every event received so far but offers.
func (s *sched) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []*scheduler.Event
	for _, e := range s.events {
		if e.Type == scheduler.Event_OFFERS {
			keep = append(keep, e)
		}
	}
	s.events, s.all = keep, nil
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
		FrameworkID: &mesos.FrameworkID{Value: s.fid},
		Resources:   []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
}

// launchGroup launches tasks as one group on offer o.
func (s *sched) launchGroup(o mesos.Offer, ei mesos.ExecutorInfo, tasks ...mesos.TaskInfo) {
	s.t.Helper()
	for i := range tasks {
		tasks[i].AgentID = o.AgentID
	}
	s.mustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, tasks...)}.WithOffers(s.offerIDs(o)...)).With(calls.RefuseSeconds(0)))
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
