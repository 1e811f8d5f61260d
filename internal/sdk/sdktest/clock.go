package sdktest

import (
	"sort"
	"sync"
	"time"

	"github.com/taskkit/taskkit/internal/sdk/framework"
)

// Clock is a framework.Clock that moves only when the test calls Advance.
// Timers, tickers and After channels fire (without blocking) as time
// passes them, in time order. As Go's timers do (since Go 1.23), a timer's
// Stop and Reset and a ticker's Stop discard a value fired and not yet
// received.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter
	// fired are one-shot waiters that fired, until their value is taken.
	fired []*waiter
}

type waiter struct {
	at      time.Time
	period  time.Duration // tickers
	ch      chan time.Time
	stopped bool
}

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now implements framework.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) add(d, period time.Duration) *waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &waiter{at: c.now.Add(d), period: period, ch: make(chan time.Time, 1)}
	c.waiters = append(c.waiters, w)
	return w
}

// After implements framework.Clock.
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.add(d, 0).ch }

// NewTimer implements framework.Clock.
func (c *Clock) NewTimer(d time.Duration) framework.Timer { return &fakeTimer{c: c, w: c.add(d, 0)} }

// NewTicker implements framework.Clock.
func (c *Clock) NewTicker(d time.Duration) framework.Ticker { return &fakeTicker{c: c, w: c.add(d, d)} }

// Advance moves the clock by d, firing what falls due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for {
		sort.SliceStable(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
		var next *waiter
		for _, w := range c.waiters {
			if !w.stopped && !w.at.After(end) {
				next = w
				break
			}
		}
		if next == nil {
			break
		}
		c.now = next.at
		select {
		case next.ch <- next.at:
		default: // a tick nobody took is dropped, as time.Ticker does
		}
		if next.period > 0 {
			next.at = next.at.Add(next.period)
		} else {
			next.stopped = true
			c.fired = append(c.fired, next)
		}
	}
	c.now = end
	live := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.stopped {
			live = append(live, w)
		}
	}
	c.waiters = live
}

// Unread is how many values fired timers, tickers and After channels hold
// that nobody has received yet. A test that advances past a ticker the code
// under test selects on waits for 0 before it goes on, so that the tick is
// handled then and not after what the test does next (the select may take
// another ready channel first).
func (c *Clock) Unread() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	fired := c.fired[:0]
	for _, w := range c.fired {
		if len(w.ch) > 0 {
			fired = append(fired, w)
			n++
		}
	}
	c.fired = fired
	for _, w := range c.waiters {
		if !w.stopped && len(w.ch) > 0 {
			n++
		}
	}
	return n
}

// drain discards a value fired and not received.
func drain(ch chan time.Time) {
	select {
	case <-ch:
	default:
	}
}

// Waiters is how many timers, tickers and After channels are pending.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, w := range c.waiters {
		if !w.stopped {
			n++
		}
	}
	return n
}

type fakeTimer struct {
	c *Clock
	w *waiter
}

func (t *fakeTimer) C() <-chan time.Time { return t.w.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.w.stopped
	t.w.stopped = true
	drain(t.w.ch)
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.w.stopped
	if was {
		t.w.stopped = true
	}
	drain(t.w.ch)
	t.w = &waiter{at: t.c.now.Add(d), ch: t.w.ch}
	t.c.waiters = append(t.c.waiters, t.w)
	return was
}

type fakeTicker struct {
	c *Clock
	w *waiter
}

func (t *fakeTicker) C() <-chan time.Time { return t.w.ch }

func (t *fakeTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.w.stopped = true
	drain(t.w.ch)
}
