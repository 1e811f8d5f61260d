package service

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
)

// job is what the event loop decided: store writes, then the calls that
// depend on them.
type job struct {
	// tasks are TaskInfos to store (a launch), statuses task statuses by
	// task name, plans plan progress by plan name.
	tasks    []*mesos.TaskInfo
	statuses map[string]*mesos.TaskStatus
	plans    map[string]plan.Progress
	// reservations are pod instances' reservations (nil: released),
	// written first: before the ACCEPT that reserves, and the TaskInfos.
	reservations map[string]*reservation.Reservation
	// props are properties to store; deletes tasks to delete (TaskInfo and
	// status), configs configurations to delete, after the other writes.
	props   map[string][]byte
	deletes []string
	configs []string
	// calls are sent, in order, once the writes are stored.
	calls []*scheduler.Call
	// failed runs on the event loop when the writes fail (the calls are
	// not sent); stored runs on it once they are stored.
	failed func(error)
	stored func()
}

func (j *job) writes() bool {
	return len(j.tasks)+len(j.statuses)+len(j.plans)+len(j.reservations)+len(j.props)+len(j.deletes)+len(j.configs) > 0
}

// outbox takes the loop's jobs off it: one goroutine writes and calls, in
// the order the loop decided, so the loop never waits for the store or the
// master. Jobs queued together are written together: a burst of status
// updates is one transaction per kind of write (TaskInfos in chunks of at
// most maxChunk bytes, whole launches each, for ZooKeeper's request limit),
// then their acknowledgements are sent.
type outbox struct {
	s      *Scheduler
	mu     sync.Mutex
	queue  []*job
	busy   bool // a batch is being written or sent
	signal chan struct{}
}

// maxChunk bounds one write transaction (ZooKeeper refuses requests over
// 1 MiB).
const maxChunk = 512 << 10

// maxBatch bounds the jobs written together.
const maxBatch = 1024

func newOutbox(s *Scheduler) *outbox { return &outbox{s: s, signal: make(chan struct{}, 1)} }

// push queues jobs, together (one batch, unless the queue is long); it
// never blocks. It runs on the loop, which publishes the plans' views
// first: what the outbox stores and calls follows from plans the API
// shows already (a DECLINE, ACCEPT or acknowledgement is never seen
// before the change that made it).
func (o *outbox) push(jobs ...*job) {
	o.s.publishPlans()
	o.mu.Lock()
	o.queue = append(o.queue, jobs...)
	o.mu.Unlock()
	select {
	case o.signal <- struct{}{}:
	default:
	}
}

// idle reports whether everything queued has been written and sent.
func (o *outbox) idle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue) == 0 && !o.busy
}

// run works through the queue until ctx ends; what is queued then is
// dropped (the master re-sends unacknowledged updates, and a restarted
// scheduler reconciles).
func (o *outbox) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			o.mu.Lock()
			if n := len(o.queue); n > 0 {
				o.s.log.Debug("stopping: queued calls not sent", "jobs", n)
			}
			o.queue = nil
			o.mu.Unlock()
			return
		case <-o.signal:
		}
		for {
			o.mu.Lock()
			n := min(len(o.queue), maxBatch)
			batch := append([]*job(nil), o.queue[:n]...)
			o.queue = o.queue[n:]
			o.busy = n > 0
			o.mu.Unlock()
			if n == 0 {
				break
			}
			o.process(ctx, batch)
		}
	}
}

// process writes a batch's writes, then sends its calls in order. A job
// whose writes failed sends none; a job whose ACCEPT the master refused
// (or never answered) is failed too: its launch is undone and done again.
func (o *outbox) process(ctx context.Context, batch []*job) {
	err := o.write(batch)
	if err != nil {
		o.s.log.Error("storing the state; not acting on it", "err", err)
	}
	for _, j := range batch {
		if err != nil && j.writes() {
			o.fail(ctx, j, err)
			continue
		}
		if j.stored != nil {
			f := j.stored
			select {
			case o.s.work <- func(context.Context) { f(); o.s.publishPlans() }:
			case <-ctx.Done():
			}
		}
		for _, c := range j.calls {
			if cerr := o.send(ctx, c); cerr != nil && c.Type == scheduler.Call_ACCEPT {
				o.fail(ctx, j, cerr)
			}
		}
	}
}

// fail runs j's failure handler on the event loop.
func (o *outbox) fail(ctx context.Context, j *job, err error) {
	if j.failed == nil {
		return
	}
	f := j.failed
	select {
	case o.s.work <- func(context.Context) { f(err); o.s.publishPlans() }:
	case <-ctx.Done():
	}
}

// write stores every write of the batch: later values win.
func (o *outbox) write(batch []*job) error {
	st := o.s.cfg.Store
	statuses := map[string][]byte{}
	plans := map[string]plan.Progress{}
	reservations := map[string][]byte{}
	props := map[string][]byte{}
	var deletes, configs []string
	var chunks []map[string][]byte
	chunk, size := map[string][]byte{}, 0
	for _, j := range batch {
		if err := j.marshalReservations(reservations); err != nil {
			return err
		}
		if len(j.tasks) > 0 {
			var launch int
			enc := make(map[string][]byte, len(j.tasks))
			for _, ti := range j.tasks {
				b, err := ti.Marshal()
				if err != nil {
					return err
				}
				enc[ti.Name] = b
				launch += len(b)
			}
			if size > 0 && size+launch > maxChunk {
				chunks, chunk, size = append(chunks, chunk), map[string][]byte{}, 0
			}
			for k, v := range enc {
				chunk[k] = v
			}
			size += launch
		}
		for name, s := range j.statuses {
			b, err := s.Marshal()
			if err != nil {
				return err
			}
			statuses[name] = b
		}
		for name, p := range j.plans {
			plans[name] = p
		}
		for k, v := range j.props {
			props[k] = v
		}
		deletes = append(deletes, j.deletes...)
		configs = append(configs, j.configs...)
	}
	if size > 0 {
		chunks = append(chunks, chunk)
	}
	if len(reservations) > 0 {
		start := time.Now()
		if err := putReservations(st.PutReservations, reservations); err != nil {
			return err
		}
		o.s.m.Observe("store.reservations", time.Since(start))
	}
	for _, c := range chunks {
		start := time.Now()
		if err := st.PutTasks(c); err != nil {
			return err
		}
		o.s.m.Observe("store.tasks", time.Since(start))
	}
	if len(statuses) > 0 {
		start := time.Now()
		if err := putChunked(st.PutStatuses, statuses); err != nil {
			return err
		}
		o.s.m.Observe("status.store", time.Since(start))
	}
	for name, p := range plans {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := st.PutPlan(name, b); err != nil {
			return err
		}
	}
	if len(props) > 0 {
		if err := st.SetProperties(props); err != nil {
			return err
		}
	}
	if len(deletes) > 0 {
		if err := st.DeleteTasks(deletes...); err != nil {
			return err
		}
	}
	if len(configs) > 0 {
		return st.DeleteConfigurations(configs...)
	}
	return nil
}

// send makes one call and returns why it failed; a failure is logged
// (not while stopping) and counted. Calls made while no subscription is up
// are dropped, without an error: the next subscription reconciles, and the
// master re-sends what was not acknowledged.
func (o *outbox) send(ctx context.Context, c *scheduler.Call) error {
	o.s.mu.RLock()
	id, connected := o.s.frameworkID, o.s.connected
	o.s.mu.RUnlock()
	if !connected || ctx.Err() != nil {
		o.s.log.Debug("not connected: call dropped", "call", c.Type.String())
		return nil
	}
	start := time.Now()
	err := framework.Send(ctx, o.s.cfg.Caller, id, c)
	if c.Type == scheduler.Call_ACKNOWLEDGE {
		o.s.m.Observe("status.ack", time.Since(start))
	}
	if err == nil || ctx.Err() != nil {
		return nil
	}
	o.s.log.Warn("call failed", "call", c.Type.String(), "err", err)
	o.s.m.Inc("calls.failed")
	return err
}

// marshalReservations adds to kv the reservations j writes, encoded, by
// pod instance; a nil value (an instance's reservation deleted) stays nil.
func (j *job) marshalReservations(kv map[string][]byte) error {
	for inst, r := range j.reservations {
		if r == nil {
			kv[inst] = nil
			continue
		}
		b, err := r.Marshal()
		if err != nil {
			return err
		}
		kv[inst] = b
	}
	return nil
}
