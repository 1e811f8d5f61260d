package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
)

// The service scheduler's unit tests drive it through sdktest's fake
// master (a calls.Caller) and clock: no cluster, no process, no listener.
// The store is a bbolt file in the test's temporary directory, wrapped to
// count (and, on demand, fail) writes.

// epoch is the fake clock's start.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// countingStore counts writes and fails them on demand.
type countingStore struct {
	store.Store
	mu                    sync.Mutex
	putTasks, putStatuses int
	failTasks, failStatus error
}

func (c *countingStore) PutTasks(infos map[string][]byte) error {
	c.mu.Lock()
	c.putTasks++
	err := c.failTasks
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Store.PutTasks(infos)
}

func (c *countingStore) PutStatuses(st map[string][]byte) error {
	c.mu.Lock()
	c.putStatuses++
	err := c.failStatus
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Store.PutStatuses(st)
}

func (c *countingStore) counts() (tasks, statuses int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.putTasks, c.putStatuses
}

func (c *countingStore) fail(tasks, statuses error) {
	c.mu.Lock()
	c.failTasks, c.failStatus = tasks, statuses
	c.mu.Unlock()
}

// harness is one scheduler under test.
type harness struct {
	t      testing.TB
	master *sdktest.Master
	clock  *sdktest.Clock
	store  *countingStore
	s      *Scheduler
	cancel context.CancelFunc
	done   chan error
	subs   int
	// accept is a test's ACCEPT of interest (the first launch).
	accept *scheduler.Call
	since  int // awaitCall looks at the calls from this one on (mark)
}

// spec parses a svc.yml for the tests.
func parseSpec(t testing.TB, yaml string) *spec.Loaded {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "t.mustache"), []byte("{{TASK_NAME}}"), 0o644)
	l, err := spec.Parse([]byte(yaml), spec.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// openStore opens a bbolt store in dir (shared across restarts).
func openStore(t testing.TB, dir string) *countingStore {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: st}
}

// newHarness makes a scheduler of yaml on store st (a new one when nil)
// with the fake master and clock; mutate adjusts its Config.
func newHarness(t testing.TB, yaml string, st *countingStore, mutate func(*Config)) *harness {
	t.Helper()
	if st == nil {
		st = openStore(t, t.TempDir())
		t.Cleanup(func() { st.Close() })
	}
	h := &harness{t: t, master: sdktest.NewMaster(), clock: sdktest.NewClock(epoch), store: st}
	cfg := testConfig(t, yaml, st, h.master, h.clock)
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	return h
}

// testConfig is the Config of a scheduler of yaml on store st under
// test, with master and clock.
func testConfig(t testing.TB, yaml string, st store.Store, master *sdktest.Master, clock *sdktest.Clock) Config {
	t.Helper()
	return Config{
		Loaded: parseSpec(t, yaml), Store: st, MasterURL: "http://master.test:5050", Caller: master, Clock: clock,
		User: "tester", Checkpoint: true, APIHostname: "api.test", APIPort: 8080, Artifacts: []string{"bootstrap"},
		Logger: testLogger(t),
	}
}

// testLogger logs to the test when -v is given.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// start runs the scheduler until the test ends and waits for its
// SUBSCRIBE.
func (h *harness) start() *scheduler.Call {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.s.Run(ctx) }()
	h.t.Cleanup(func() { h.stop() })
	h.subs++
	return h.master.Subscription(h.t, h.subs)
}

// stop stops the scheduler and returns Run's error.
func (h *harness) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(sdktest.Wait):
		h.t.Fatal("Run did not return")
	}
	return nil
}

// subscribe answers the SUBSCRIBE with SUBSCRIBED for id. The fake master
// sends no heartbeats, so it promises one a day: tests advance the clock by
// up to an hour, and a master silent for five intervals ends the session.
func (h *harness) subscribe(id string) {
	h.t.Helper()
	h.master.Send(h.t, sdktest.SubscribedEvery(id, 24*time.Hour))
}

// ready starts the scheduler, subscribes it as fw-1 and expects its first
// calls without stored tasks: an implicit RECONCILE and a REVIVE.
func (h *harness) ready() {
	h.t.Helper()
	h.start()
	h.subscribe("fw-1")
	h.master.Expect(h.t, scheduler.Call_RECONCILE, scheduler.Call_REVIVE)
}

// eventually waits (real time, at most sdktest.Wait) for cond.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(sdktest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// confirmed waits until no reservation waits for its RESERVE's
// confirmation.
func (h *harness) confirmed() {
	h.t.Helper()
	h.eventually("reservations confirmed", func() bool {
		for _, r := range h.s.Reservations() {
			for _, res := range r.Resources {
				if res.Operation != "" {
					return false
				}
			}
		}
		return true
	})
}

// tick advances the clock by d and runs a tick on the loop. The loop's own
// ticker fires too: its tick is waited for, as its select may take other
// work first, and a tick handled after the test's next events made calls
// Expect did not want (a REVIVE after a DECLINE, before the ACCEPT).
func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.clock.Advance(d)
	h.eventually("the loop's own tick", func() bool { return h.clock.Unread() == 0 })
	h.onLoop(func() { h.s.Tick(context.Background()) })
}

// skip waits until the outbox has sent what the loop decided, then drops
// the calls made so far from what Expect looks at. A wake the loop has not
// taken yet (a command's, or an update's) is taken here, its tick run
// first: the loop's select chooses at random between the wake and this
// work when both are ready, and a tick after the skip made calls Expect
// did not want (a REVIVE before the ACCEPT).
func (h *harness) skip() {
	h.t.Helper()
	h.onLoop(func() {
		select {
		case <-h.s.kick:
			h.s.mu.RLock()
			connected := h.s.connected
			h.s.mu.RUnlock()
			if connected { // as the session ticks only while subscribed
				h.s.Tick(context.Background())
			}
		default:
		}
	})
	h.eventually("the outbox drained", h.s.out.idle)
	h.master.Skip()
	h.viewsPublished()
}

// viewsPublished checks, on the loop, that the plans' views the API reads
// are the plans as they are: every loop action that changed a plan
// published them (views.go).
func (h *harness) viewsPublished() {
	h.t.Helper()
	h.onLoop(func() {
		var names []string
		for _, p := range h.s.listedPlans() {
			names = append(names, p.Name)
			got, err := h.s.PlanView(p.Name)
			if want := p.View(); err != nil || !reflect.DeepEqual(got, want) {
				h.t.Errorf("plan %s: the API reads\n%+v (%v)\nthe plan is\n%+v", p.Name, got, err, want)
			}
		}
		if got := h.s.PlanNames(); !slices.Equal(got, names) {
			h.t.Errorf("the API lists plans %v, the scheduler has %v", got, names)
		}
	})
}

// onLoop runs fn on the event loop and waits for it.
func (h *harness) onLoop(fn func()) {
	h.t.Helper()
	if err := h.s.do(context.Background(), func() error { fn(); return nil }); err != nil {
		h.t.Fatal(err)
	}
}

// launched returns the TaskInfos of an ACCEPT's LAUNCH_GROUPs.
func launched(c *scheduler.Call) []mesos.TaskInfo {
	var out []mesos.TaskInfo
	for _, op := range c.GetAccept().GetOperations() {
		if lg := op.GetLaunchGroup(); lg != nil {
			out = append(out, lg.TaskGroup.Tasks...)
		}
	}
	return out
}

// launchGroup returns an ACCEPT's (first) LAUNCH_GROUP.
func launchGroup(c *scheduler.Call) *mesos.Offer_Operation_LaunchGroup {
	for _, op := range c.GetAccept().GetOperations() {
		if lg := op.GetLaunchGroup(); lg != nil {
			return lg
		}
	}
	return nil
}

func names(tis []mesos.TaskInfo) []string {
	var out []string
	for _, ti := range tis {
		out = append(out, ti.Name)
	}
	slices.Sort(out)
	return out
}

// taskID returns the ID of the launched task named name.
func taskID(t *testing.T, tis []mesos.TaskInfo, name string) string {
	t.Helper()
	for _, ti := range tis {
		if ti.Name == name {
			return ti.TaskID.Value
		}
	}
	t.Fatalf("no task %s among %v", name, names(tis))
	return ""
}

// stepStatus returns the status of step name in plan p ("" when none).
func (h *harness) stepStatus(p, name string) plan.Status {
	v, err := h.s.PlanView(p)
	if err != nil {
		return ""
	}
	for _, ph := range v.Phases {
		for _, st := range ph.Steps {
			if st.Name == name {
				return st.Status
			}
		}
	}
	return ""
}

// stepMessage returns the message of step name in plan p.
func (h *harness) stepMessage(p, name string) string {
	v, _ := h.s.PlanView(p)
	for _, ph := range v.Phases {
		for _, st := range ph.Steps {
			if st.Name == name {
				return st.Message
			}
		}
	}
	return ""
}

var errStore = errors.New("disk full")

const oneTask = `name: svc
pods:
  p:
    count: %d
    tasks:
      t: {goal: RUNNING, cmd: "sleep 600", cpus: 0.5, memory: 64}
plans:
  deploy:
    phases:
      p: {pod: p, strategy: %s}
`

func small() []sdktest.OfferOption {
	return []sdktest.OfferOption{sdktest.CPUs(1), sdktest.Mem(1024), sdktest.Disk(1024), sdktest.Ports(31000, 31010)}
}

// offer is an offer of agent (host) as Mesos makes it once pods have
// reserved there: what the pod instances on that agent hold (by resource
// ID, as the scheduler records it) next to the default unreserved
// resources.
func (h *harness) offer(id, agent, host string) mesos.Offer {
	h.t.Helper()
	var held []mesos.Resource
	h.s.mu.RLock()
	for _, r := range h.s.reservations {
		if r.AgentID != agent {
			continue
		}
		for _, it := range r.Items {
			held = append(held, it.Resource)
		}
	}
	h.s.mu.RUnlock()
	return sdktest.Offer(id, agent, host, sdktest.CPUs(4), sdktest.Mem(4096), sdktest.Disk(16384), sdktest.Ports(31000, 32000), sdktest.Resources(held...))
}
