// Package testsched is a small Mesos framework scheduler for tests,
// written with mesos-go's client packages. It subscribes to a master's
// scheduler API, keeps the events it receives in a backlog, and lets a
// test wait for (and consume) the event it expects.
//
// The tests of internal/testenv and internal/executor drive their
// clusters with it; each suite adds its own helpers (offers, tasks,
// acknowledgements) on top. It does not import testenv, so testenv's own
// tests can use it.
package testsched

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// Options configure a scheduler.
type Options struct {
	// Codec encodes calls and decodes events (protobuf or JSON).
	Codec encoding.Codec
	// Wait bounds WaitFor.
	Wait time.Duration
	// OnEvent, if set, sees every event on the goroutine that reads the
	// stream, before the event joins the backlog.
	OnEvent func(*Sched, *scheduler.Event)
	// Principal and Secret, when Principal is set, authenticate every
	// call with HTTP basic authentication.
	Principal, Secret string
}

// Sched is a framework subscribed to a master.
type Sched struct {
	// T is the test or benchmark the scheduler belongs to.
	T testing.TB
	// FrameworkID is the ID SUBSCRIBED gave (empty until then).
	FrameworkID string

	wait   time.Duration
	caller calls.Caller

	mu      sync.Mutex
	backlog []*scheduler.Event // received and not consumed yet
	wake    chan struct{}
	closed  bool
}

// Open subscribes fi at masterURL and reads the event stream until the
// test ends; it does not wait for SUBSCRIBED.
func Open(t testing.TB, masterURL string, fi *mesos.FrameworkInfo, opt Options) (*Sched, error) {
	do := []httpcli.ConfigOpt{httpcli.Timeout(10 * time.Second)}
	if opt.Principal != "" {
		do = append(do, httpcli.BasicAuth(opt.Principal, opt.Secret))
	}
	cli := httpcli.New(
		httpcli.Endpoint(masterURL+"/api/v1/scheduler"),
		httpcli.Codec(opt.Codec),
		httpcli.Do(httpcli.With(do...)),
	)
	s := &Sched{T: t, wait: opt.Wait, caller: httpsched.NewCaller(cli), wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := s.caller.Call(ctx, calls.Subscribe(fi))
	if err != nil {
		cancel()
		return nil, err
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
			if opt.OnEvent != nil {
				opt.OnEvent(s, &e)
			}
			s.mu.Lock()
			s.backlog = append(s.backlog, &e)
			s.mu.Unlock()
			s.signal()
		}
	}()
	return s, nil
}

// Subscribe subscribes fi and waits for SUBSCRIBED; t fails otherwise.
func Subscribe(t testing.TB, masterURL string, fi *mesos.FrameworkInfo, opt Options) *Sched {
	t.Helper()
	s, err := Open(t, masterURL, fi, opt)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	ev := s.WaitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_SUBSCRIBED || e.Type == scheduler.Event_ERROR
	}, "SUBSCRIBED")
	if ev.Type == scheduler.Event_ERROR {
		t.Fatalf("subscribe: ERROR %s", ev.Error.Message)
	}
	s.FrameworkID = ev.Subscribed.FrameworkID.Value
	return s
}

func (s *Sched) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// WaitFor returns (and consumes) the first event matching pred, waiting
// up to Options.Wait; the test fails if none comes.
func (s *Sched) WaitFor(pred func(*scheduler.Event) bool, what string) *scheduler.Event {
	s.T.Helper()
	ev, ok := s.WaitWithin(pred, s.wait)
	if !ok {
		s.T.Fatalf("no %s within %v; pending events: %s", what, s.wait, s.Describe())
	}
	return ev
}

// WaitWithin returns (and consumes) the first event matching pred, or
// false if none comes within d or the stream ends first.
func (s *Sched) WaitWithin(pred func(*scheduler.Event) bool, d time.Duration) (*scheduler.Event, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i, e := range s.backlog {
			if pred(e) {
				s.backlog = append(s.backlog[:i:i], s.backlog[i+1:]...)
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

// Update waits for an UPDATE of task in state and consumes it.
func (s *Sched) Update(taskID string, state mesos.TaskState) mesos.TaskStatus {
	s.T.Helper()
	return s.UpdateWhere(taskID, state, func(mesos.TaskStatus) bool { return true })
}

// UpdateWhere waits for an UPDATE of task in state matching pred and
// consumes it.
func (s *Sched) UpdateWhere(taskID string, state mesos.TaskState, pred func(mesos.TaskStatus) bool) mesos.TaskStatus {
	s.T.Helper()
	ev := s.WaitFor(func(e *scheduler.Event) bool {
		if e.Type != scheduler.Event_UPDATE || e.Update.Status.TaskID.Value != taskID {
			return false
		}
		st := e.Update.Status
		return st.GetState() == state && pred(st)
	}, fmt.Sprintf("UPDATE %s %s", taskID, state))
	return ev.Update.Status
}

// StreamClosed waits up to d until the subscription stream has ended.
func (s *Sched) StreamClosed(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return true
		}
		select {
		case <-s.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false
}

// Pending returns the events received and not consumed yet, in order.
func (s *Sched) Pending() []*scheduler.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*scheduler.Event(nil), s.backlog...)
}

// Forget drops the pending events keep does not hold on to.
func (s *Sched) Forget(keep func(*scheduler.Event) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kept []*scheduler.Event
	for _, e := range s.backlog {
		if keep(e) {
			kept = append(kept, e)
		}
	}
	s.backlog = kept
}

// Describe lists the pending events, for failure messages.
func (s *Sched) Describe() string {
	var b strings.Builder
	for _, e := range s.Pending() {
		if e.Type == scheduler.Event_UPDATE {
			st := e.Update.Status
			fmt.Fprintf(&b, "[UPDATE %s %s %q] ", st.TaskID.Value, st.GetState(), st.GetMessage())
		} else {
			fmt.Fprintf(&b, "[%s] ", e.Type)
		}
	}
	return b.String()
}

// Call sends c for this framework (once subscribed).
func (s *Sched) Call(c *scheduler.Call) error {
	if s.FrameworkID != "" && c.Type != scheduler.Call_SUBSCRIBE {
		c.FrameworkID = &mesos.FrameworkID{Value: s.FrameworkID}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.caller.Call(ctx, c)
	if resp != nil {
		resp.Close()
	}
	return err
}

// MustCall sends c; the test fails if the master refuses it.
func (s *Sched) MustCall(c *scheduler.Call) {
	s.T.Helper()
	if err := s.Call(c); err != nil {
		s.T.Fatalf("%s: %v", c.Type, err)
	}
}
