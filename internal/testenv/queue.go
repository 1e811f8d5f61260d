package testenv

import (
	"sync"

	"github.com/mesos/mesos-go/api/v1/lib/encoding"
)

// queue is an unbounded FIFO of events for one stream. Producers push under
// the cluster lock without blocking; the stream's HTTP handler drains it.
type queue struct {
	mu     sync.Mutex
	items  []encoding.Marshaler
	closed bool
	wake   chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(ev encoding.Marshaler) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, ev)
	}
	q.mu.Unlock()
	q.signal()
}

// close ends the stream once the queued events are written.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drain returns the queued events and whether the queue is closed.
func (q *queue) drain() ([]encoding.Marshaler, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items, q.closed
}
