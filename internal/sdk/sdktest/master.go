package sdktest

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Wait is how long the Master's Expect and Subscription wait for the
// scheduler (real time: the scheduler's goroutines must get there).
const Wait = 5 * time.Second

// Master is a fake Mesos master behind mesos-go's calls.Caller: SUBSCRIBE
// opens an event stream the test writes to (Send), every other call is
// recorded for Expect. Refuse makes calls fail.
type Master struct {
	mu      sync.Mutex
	stream  *stream
	subs    []*scheduler.Call
	calls   []*scheduler.Call
	cursor  int
	changed chan struct{}
	// refuse, when set, fails the calls it returns an error for.
	refuse func(*scheduler.Call) error
	// manualOps stops the automatic OPERATION_FINISHED of operations.
	manualOps bool
}

type stream struct {
	events chan *scheduler.Event
	done   chan struct{}
	once   sync.Once
	// sent counts the events put on the stream, asked the Decodes begun:
	// the reader asks for event n+1 only once it has passed event n on.
	sent, asked atomic.Int64
}

func (s *stream) close() { s.once.Do(func() { close(s.done) }) }

// put queues ev on the stream, or reports false when it has ended.
func (s *stream) put(ev *scheduler.Event) bool {
	s.sent.Add(1)
	select {
	case s.events <- ev:
		return true
	case <-s.done:
		s.sent.Add(-1)
		return false
	}
}

// NewMaster returns a master with no subscription. Like a Mesos master
// whose agents give operation feedback, it answers every operation with an
// ID in an ACCEPT with UPDATE_OPERATION_STATUS OPERATION_FINISHED (without
// a uuid, so nothing to acknowledge), unless ManualOperations.
func NewMaster() *Master { return &Master{changed: make(chan struct{})} }

// ManualOperations stops the automatic OPERATION_FINISHED: the test sends
// operation statuses itself.
func (m *Master) ManualOperations() {
	m.mu.Lock()
	m.manualOps = true
	m.mu.Unlock()
}

// Refuse makes every call f returns an error for fail with it (nil: none).
func (m *Master) Refuse(f func(*scheduler.Call) error) {
	m.mu.Lock()
	m.refuse = f
	m.mu.Unlock()
}

func (m *Master) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Call implements calls.Caller.
func (m *Master) Call(ctx context.Context, call *scheduler.Call) (mesos.Response, error) {
	// A copy: the caller may reuse its call.
	b, err := call.Marshal()
	if err != nil {
		return nil, err
	}
	c := new(scheduler.Call)
	if err := c.Unmarshal(b); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuse != nil {
		if err := m.refuse(c); err != nil {
			if c.Type == scheduler.Call_SUBSCRIBE {
				m.subs = append(m.subs, c)
			} else {
				m.calls = append(m.calls, c)
			}
			m.notifyLocked()
			return nil, err
		}
	}
	if c.Type != scheduler.Call_SUBSCRIBE {
		m.calls = append(m.calls, c)
		m.notifyLocked()
		if c.Type == scheduler.Call_ACCEPT && !m.manualOps && m.stream != nil {
			for _, op := range c.GetAccept().GetOperations() {
				if op.ID != nil {
					m.stream.sent.Add(1)
					select {
					case m.stream.events <- OperationStatus(op.ID.Value, "", mesos.OPERATION_FINISHED):
					default:
						m.stream.sent.Add(-1)
					}
				}
			}
		}
		return nil, nil
	}
	if m.stream != nil {
		m.stream.close()
	}
	s := &stream{events: make(chan *scheduler.Event, 1024), done: make(chan struct{})}
	m.stream = s
	m.subs = append(m.subs, c)
	m.notifyLocked()
	return &response{s: s, ctx: ctx}, nil
}

// response decodes the events the test sends, until the stream is dropped.
type response struct {
	s   *stream
	ctx context.Context
}

func (r *response) Close() error { r.s.close(); return nil }

func (r *response) Decode(u encoding.Unmarshaler) error {
	r.s.asked.Add(1)
	select {
	case ev := <-r.s.events:
		b, err := ev.Marshal()
		if err != nil {
			return err
		}
		return u.Unmarshal(b)
	case <-r.s.done:
		return io.EOF
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// Send writes events to the current subscription's stream.
func (m *Master) Send(t testing.TB, evs ...*scheduler.Event) {
	t.Helper()
	s := m.current(t)
	for _, ev := range evs {
		if !s.put(ev) {
			t.Fatalf("the subscription ended before %s was sent", ev.Type)
		}
	}
}

// Delivered waits (at most Wait) until the scheduler's reader has taken
// every event sent on the current stream and passed it on: it asks for the
// next one. A test that holds the event loop uses it to know what the
// loop will find queued when it is let go.
func (m *Master) Delivered(t testing.TB) {
	t.Helper()
	s := m.current(t)
	deadline := time.Now().Add(Wait)
	for s.asked.Load() <= s.sent.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events read within %s", s.asked.Load()-1, s.sent.Load(), Wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// current is the current subscription's stream; none fails t.
func (m *Master) current(t testing.TB) *stream {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stream == nil {
		t.Fatal("no subscription to send events on")
	}
	return m.stream
}

// Drop ends the current subscription's stream (the master lost it).
func (m *Master) Drop() {
	m.mu.Lock()
	if m.stream != nil {
		m.stream.close()
		m.stream = nil
	}
	m.mu.Unlock()
}

// Subscription waits (at most Wait) for the n-th SUBSCRIBE (1 is the
// first) and returns it.
func (m *Master) Subscription(t testing.TB, n int) *scheduler.Call {
	t.Helper()
	deadline := time.After(Wait)
	for {
		m.mu.Lock()
		if len(m.subs) >= n {
			c := m.subs[n-1]
			m.mu.Unlock()
			return c
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no SUBSCRIBE #%d within %s", n, Wait)
		}
	}
}

// Expect waits (at most Wait) for the next calls not yet expected to be of
// the given types, in order, and returns them. A call of another type
// fails the test.
func (m *Master) Expect(t testing.TB, types ...scheduler.Call_Type) []*scheduler.Call {
	t.Helper()
	var out []*scheduler.Call
	deadline := time.After(Wait)
	for len(out) < len(types) {
		m.mu.Lock()
		for m.cursor < len(m.calls) && len(out) < len(types) {
			c := m.calls[m.cursor]
			m.cursor++
			if want := types[len(out)]; c.Type != want {
				m.mu.Unlock()
				t.Fatalf("call #%d is %s, want %s (%v)", m.cursor, c.Type, want, c)
			}
			out = append(out, c)
		}
		ch := m.changed
		m.mu.Unlock()
		if len(out) == len(types) {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("got calls %v, want %v within %s", typesOf(out), types, Wait)
		}
	}
	return out
}

// ExpectNone checks that no call is made within d (real time).
func (m *Master) ExpectNone(t testing.TB, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cursor < len(m.calls) {
		t.Fatalf("unexpected call %s: %v", m.calls[m.cursor].Type, m.calls[m.cursor])
	}
}

// Skip drops the calls made so far from what Expect looks at.
func (m *Master) Skip() {
	m.mu.Lock()
	m.cursor = len(m.calls)
	m.mu.Unlock()
}

// Calls returns every call made so far but SUBSCRIBEs.
func (m *Master) Calls() []*scheduler.Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*scheduler.Call(nil), m.calls...)
}

func typesOf(cs []*scheduler.Call) []scheduler.Call_Type {
	var out []scheduler.Call_Type
	for _, c := range cs {
		out = append(out, c.Type)
	}
	return out
}

// ErrRefused is a convenient error for Refuse.
var ErrRefused = errors.New("refused by the test")
