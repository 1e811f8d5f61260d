package framework_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// recorder is a Handler that records what the session gives it.
type recorder struct {
	mu           sync.Mutex
	subscribed   int
	events       [][]scheduler.Event_Type
	ticks        int
	disconnected []error
	failEvents   error
}

func (r *recorder) Subscribed(context.Context, *scheduler.Event_Subscribed) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subscribed++
	return nil
}

func (r *recorder) Events(_ context.Context, evs []*scheduler.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []scheduler.Event_Type
	for _, ev := range evs {
		ts = append(ts, ev.Type)
	}
	r.events = append(r.events, ts)
	return r.failEvents
}

func (r *recorder) Tick(context.Context) error {
	r.mu.Lock()
	r.ticks++
	r.mu.Unlock()
	return nil
}

func (r *recorder) Disconnected(err error) {
	r.mu.Lock()
	r.disconnected = append(r.disconnected, err)
	r.mu.Unlock()
}

func (r *recorder) get(f func(*recorder) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return f(r)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(sdktest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type session struct {
	m     *sdktest.Master
	clock *sdktest.Clock
	r     *recorder
	s     *framework.Session
	done  chan error
	stop  context.CancelFunc
	work  chan func(context.Context)
	wake  chan struct{}
}

func start(t *testing.T, mutate func(*framework.Session), refuse ...func(*scheduler.Call) error) *session {
	t.Helper()
	x := &session{m: sdktest.NewMaster(), clock: sdktest.NewClock(time.Unix(0, 0)), r: &recorder{}, done: make(chan error, 1),
		work: make(chan func(context.Context)), wake: make(chan struct{}, 1)}
	reg := framework.Registration{Name: "svc", User: "u", Principal: "p", Checkpoint: true, WebUIURL: "http://ui/"}.WithDefaults()
	id := ""
	x.s = &framework.Session{
		Caller: x.m, Clock: x.clock, Handler: x.r, Work: x.work, Wake: x.wake, Master: "http://master.test",
		Framework: func() *mesos.FrameworkInfo { return reg.FrameworkInfo(id) },
	}
	if mutate != nil {
		mutate(x.s)
	}
	for _, f := range refuse {
		x.m.Refuse(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.stop = cancel
	go func() { x.done <- x.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-x.done:
		case <-time.After(sdktest.Wait):
			t.Error("Run did not return")
		}
	})
	return x
}

// paused waits until the session waits out its backoff (its only timer).
func (x *session) paused(t *testing.T) {
	t.Helper()
	eventually(t, "the backoff", func() bool { return x.clock.Waiters() == 1 })
}

func (x *session) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-x.done:
		x.done <- err // for the cleanup
		return err
	case <-time.After(sdktest.Wait):
		t.Fatal("Run did not end")
	}
	return nil
}

// TestSessionEvents: SUBSCRIBED to Subscribed, events read together in one
// run (HEARTBEAT dropped), ticks only while subscribed, work at any time.
func TestSessionEvents(t *testing.T) {
	x := start(t, nil)
	sub := x.m.Subscription(t, 1)
	fi := sub.GetSubscribe().FrameworkInfo
	if fi.Name != "svc" || fi.GetRole() != "svc-role" || fi.GetPrincipal() != "p" || fi.GetWebUiURL() != "http://ui/" || fi.GetFailoverTimeout() != 14*24*3600 || len(fi.Capabilities) != 3 {
		t.Errorf("FrameworkInfo %+v", fi)
	}
	ran := make(chan bool)
	x.work <- func(context.Context) { ran <- true }
	<-ran
	x.m.Send(t, sdktest.Subscribed("fw"), sdktest.Heartbeat(), sdktest.Offers(), sdktest.Rescind("o"))
	eventually(t, "the events", func() bool {
		return x.r.get(func(r *recorder) bool { return r.subscribed == 1 && len(r.events) > 0 })
	})
	x.clock.Advance(250 * time.Millisecond)
	eventually(t, "a tick", func() bool { return x.r.get(func(r *recorder) bool { return r.ticks >= 1 }) })
	x.wake <- struct{}{}
	eventually(t, "a woken tick", func() bool { return x.r.get(func(r *recorder) bool { return r.ticks >= 2 }) })
}

// TestSessionResubscribes: a refused SUBSCRIBE, a dropped stream, an
// ERROR, a silent master and a failing handler each end the subscription;
// the session subscribes again after a backoff (work runs meanwhile).
func TestSessionResubscribes(t *testing.T) {
	x := start(t, func(s *framework.Session) { s.Backoff, s.MaxBackoff = time.Second, 2*time.Second },
		func(c *scheduler.Call) error { return sdktest.ErrRefused })
	x.m.Subscription(t, 1)
	eventually(t, "disconnected", func() bool { return x.r.get(func(r *recorder) bool { return len(r.disconnected) == 1 }) })
	x.m.Refuse(nil)
	ran := make(chan bool)
	x.work <- func(context.Context) { ran <- true } // during the backoff
	<-ran
	x.clock.Advance(time.Second)
	x.m.Subscription(t, 2)
	x.m.Send(t, sdktest.Subscribed("fw"))
	eventually(t, "subscribed", func() bool { return x.r.get(func(r *recorder) bool { return r.subscribed == 1 }) })

	x.m.Drop()
	eventually(t, "the drop", func() bool { return x.r.get(func(r *recorder) bool { return len(r.disconnected) == 2 }) })
	x.paused(t)
	x.clock.Advance(time.Second) // the backoff starts again after a subscription
	x.m.Subscription(t, 3)
	x.m.Send(t, sdktest.Error("some error"))
	eventually(t, "the error", func() bool { return x.r.get(func(r *recorder) bool { return len(r.disconnected) == 3 }) })
	if err := x.r.get(func(r *recorder) bool { return strings.Contains(r.disconnected[2].Error(), "mesos error: some error") }); !err {
		t.Errorf("disconnected %v", x.r.disconnected[2])
	}
	x.paused(t)
	x.clock.Advance(2 * time.Second)
	x.m.Subscription(t, 4)
	x.m.Send(t, sdktest.Subscribed("fw"))
	eventually(t, "subscribed again", func() bool { return x.r.get(func(r *recorder) bool { return r.subscribed == 2 }) })
	x.clock.Advance(75 * time.Second) // 5 heartbeats of silence
	eventually(t, "the watchdog", func() bool { return x.r.get(func(r *recorder) bool { return len(r.disconnected) == 4 }) })
	if !x.r.get(func(r *recorder) bool {
		return strings.Contains(r.disconnected[3].Error(), "no event from the master for 5 heartbeat intervals")
	}) {
		t.Errorf("watchdog: %v", x.r.disconnected[3])
	}
	x.paused(t)
	x.clock.Advance(2 * time.Second)
	x.m.Subscription(t, 5)
	x.r.mu.Lock()
	x.r.failEvents = errors.New("handler failed")
	x.r.mu.Unlock()
	x.m.Send(t, sdktest.Subscribed("fw"), sdktest.Offers())
	eventually(t, "the handler's error", func() bool { return x.r.get(func(r *recorder) bool { return len(r.disconnected) == 5 }) })
}

// TestSessionFatal: "failed over" and "removed" end Run with their
// sentinels.
func TestSessionFatal(t *testing.T) {
	for msg, want := range map[string]error{"Framework failed over": framework.ErrFailedOver, "Framework has been removed": framework.ErrFrameworkRemoved} {
		x := start(t, nil)
		x.m.Subscription(t, 1)
		x.m.Send(t, sdktest.Subscribed("fw"), sdktest.Error(msg))
		err := x.result(t)
		var fe *framework.FatalError
		if !errors.Is(err, want) || !errors.As(err, &fe) || fe.Error() != "mesos: "+msg {
			t.Errorf("%s: Run %v", msg, err)
		}
	}
}

// TestSessionOnce: with Once, the first end is Run's result: no SUBSCRIBED
// within SubscribeTimeout, or a refused SUBSCRIBE.
func TestSessionOnce(t *testing.T) {
	x := start(t, func(s *framework.Session) { s.Once, s.SubscribeTimeout = true, 30*time.Second })
	x.m.Subscription(t, 1)
	eventually(t, "the watchdog timer", func() bool { return x.clock.Waiters() > 0 })
	x.clock.Advance(30 * time.Second)
	if err := x.result(t); err == nil || err.Error() != "no SUBSCRIBED from http://master.test within 30s" {
		t.Errorf("Run %v", err)
	}
	y := start(t, func(s *framework.Session) { s.Once = true }, func(*scheduler.Call) error { return sdktest.ErrRefused })
	if err := y.result(t); !errors.Is(err, sdktest.ErrRefused) || !strings.Contains(err.Error(), "subscribing to http://master.test") {
		t.Errorf("Run %v", err)
	}
}

// TestSend fills in the framework ID and names the call in errors.
func TestSend(t *testing.T) {
	m := sdktest.NewMaster()
	if err := framework.Send(context.Background(), m, "fw-9", &scheduler.Call{Type: scheduler.Call_REVIVE}); err != nil {
		t.Fatal(err)
	}
	if c := m.Expect(t, scheduler.Call_REVIVE)[0]; c.FrameworkID.GetValue() != "fw-9" {
		t.Errorf("framework ID %v", c.FrameworkID)
	}
	m.Refuse(func(*scheduler.Call) error { return sdktest.ErrRefused })
	if err := framework.Send(context.Background(), m, "fw-9", &scheduler.Call{Type: scheduler.Call_SUPPRESS}); err == nil || !strings.HasPrefix(err.Error(), "SUPPRESS: ") {
		t.Errorf("error %v", err)
	}
}

// TestRegistration: defaults and names.
func TestRegistration(t *testing.T) {
	if got := framework.RoleFor("/team/kafka"); got != "team__kafka-role" {
		t.Errorf("RoleFor %s", got)
	}
	t.Setenv("USER", "")
	if got := framework.DefaultUser(); got != "root" {
		t.Errorf("DefaultUser %s", got)
	}
	t.Setenv("USER", "alice")
	r := framework.Registration{Name: "x"}.WithDefaults()
	if r.User != "alice" || r.Role != "x-role" || r.FailoverTimeout != 14*24*time.Hour {
		t.Errorf("defaults %+v", r)
	}
	fi := r.FrameworkInfo("id-1")
	if fi.GetID().GetValue() != "id-1" || fi.Principal != nil || fi.WebUiURL != nil || fi.GetHostname() == "" {
		t.Errorf("FrameworkInfo %+v", fi)
	}
	if framework.NewHTTPCaller("http://127.0.0.1:1/", "p", "s") == nil {
		t.Error("no caller")
	}
	// The real clock.
	c := framework.System
	tm := c.NewTimer(time.Hour)
	if !tm.Stop() || tm.Reset(time.Millisecond) {
		t.Error("timer")
	}
	<-tm.C()
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
	<-c.After(time.Millisecond)
	if c.Now().IsZero() {
		t.Error("Now")
	}
}
