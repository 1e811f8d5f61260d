package health

import (
	"context"
	"sync"
	"time"
)

// fakeClock is a Clock whose time moves only when a test says so. It
// announces every Sleep on sleeping, so a test knows the checker is idle and
// waiting, and every WithTimeout on deadlines.
type fakeClock struct {
	mu        sync.Mutex
	now       time.Time
	sleepers  []*fakeSleeper
	timeouts  []*fakeTimeout
	sleeping  chan *fakeSleeper
	deadlines chan time.Time
}

type fakeSleeper struct {
	until time.Time
	wake  chan struct{}
}

type fakeTimeout struct {
	at     time.Time
	cancel context.CancelCauseFunc
}

func newFakeClock(t0 time.Time) *fakeClock {
	return &fakeClock{now: t0, sleeping: make(chan *fakeSleeper, 100), deadlines: make(chan time.Time, 1000)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	f.mu.Lock()
	s := &fakeSleeper{until: f.now.Add(d), wake: make(chan struct{})}
	f.sleepers = append(f.sleepers, s)
	f.mu.Unlock()
	f.sleeping <- s
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancelCause(ctx)
	f.mu.Lock()
	at := f.now.Add(d)
	f.timeouts = append(f.timeouts, &fakeTimeout{at: at, cancel: cancel})
	f.mu.Unlock()
	select {
	case f.deadlines <- at:
	default:
	}
	return cctx, func() { cancel(context.Canceled) }
}

// Advance moves the time forward by d, waking sleepers and expiring
// timeouts that are due.
func (f *fakeClock) Advance(d time.Duration) { f.AdvanceTo(f.Now().Add(d)) }

// AdvanceTo moves the time forward to t.
func (f *fakeClock) AdvanceTo(t time.Time) {
	f.mu.Lock()
	if t.After(f.now) {
		f.now = t
	}
	var wake []*fakeSleeper
	keep := f.sleepers[:0]
	for _, s := range f.sleepers {
		if !s.until.After(f.now) {
			wake = append(wake, s)
		} else {
			keep = append(keep, s)
		}
	}
	f.sleepers = keep
	var expire []*fakeTimeout
	keepT := f.timeouts[:0]
	for _, to := range f.timeouts {
		if !to.at.After(f.now) {
			expire = append(expire, to)
		} else {
			keepT = append(keepT, to)
		}
	}
	f.timeouts = keepT
	f.mu.Unlock()
	for _, to := range expire {
		to.cancel(context.DeadlineExceeded)
	}
	for _, s := range wake {
		close(s.wake)
	}
}
