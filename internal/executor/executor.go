package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/calls"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpexec"

	"github.com/taskkit/taskkit/internal/fetcher"
	"github.com/taskkit/taskkit/internal/health"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/sandboxfs"
	"github.com/taskkit/taskkit/internal/supervise"
	"github.com/taskkit/taskkit/internal/taskcheck"
)

// ErrAgentLost is returned by Run when the executor gave up on the agent:
// the first subscription never succeeded, the connection was lost without
// checkpointing, or it could not be restored within the recovery timeout.
var ErrAgentLost = errors.New("lost the agent")

// Input is what New needs.
type Input struct {
	// Config is the executor's configuration (see FromEnv).
	Config Config
	// Log receives the executor's logs; nil discards them. Its handler
	// should mask through Secrets (redact.Handler) so task secrets are
	// masked.
	Log *slog.Logger
	// Secrets learns the secret values of every task's environment; nil
	// means a private set (useful only if Log does not use it).
	Secrets *redact.Shared
	// Fetcher fetches task URIs; nil means one using Config.FetchCacheDir.
	Fetcher *fetcher.Fetcher
}

// Executor runs the tasks of one Mesos executor. Create it with New and
// call Run once.
type Executor struct {
	cfg     Config
	log     *slog.Logger
	secrets *redact.Shared
	fetcher *fetcher.Fetcher
	calls   calls.Sender // UPDATE and MESSAGE calls
	subs    calls.Sender // SUBSCRIBE (its own connection, closed after)

	msgs   chan any      // to the event loop
	quit   chan struct{} // closed when the event loop ends
	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine started by the executor
	out    *outbox
	curGen atomic.Int64 // the connection generation the sender serves
	// epoch numbers the runs of in-order sending: a new connection starts
	// one, and so does sending the unacknowledged updates again on the
	// same connection after a timed-out UPDATE (see resendInOrder). The
	// sender drops what was queued in an epoch once a call of it failed.
	epoch int64
	// sandbox is the executor sandbox (Config.Sandbox), opened once by Run
	// before any task runs: every task sandbox, fetch, secret file and
	// volume link is reached through it, never by the path, which the
	// pod's tasks can rename and replace with a link.
	sandbox *sandboxfs.Dir

	// Everything below is owned by the event loop.
	conn           connState
	gen            int64
	connCancel     context.CancelFunc
	started        time.Time
	everSubscribed bool
	subscribedAt   time.Time // first SUBSCRIBED: see Config.NoTaskTimeout
	disconnectedAt time.Time
	subscribeSent  time.Time // the SUBSCRIBE in flight was sent
	slowNoted      bool      // and its slowness logged
	attempts       int
	framework      *mesos.FrameworkInfo
	containerID    *mesos.ContainerID
	tasks          map[string]*task
	pending        []*pendingUpdate // unacknowledged, oldest first
	launched       bool
	shuttingDown   bool
	abandon        bool      // exit once the tasks are dead, acknowledged or not
	exitBy         time.Time // deadline of the wait for acknowledgements
	shutdownBy     time.Time // end of the executor shutdown grace period (see shutdownGrace)
	ackWait        time.Duration
	result         error
	done           bool
}

type connState int

const (
	disconnected connState = iota
	subscribing
	subscribed
)

// pendingUpdate is an update not yet acknowledged by the agent.
type pendingUpdate struct {
	status  mesos.TaskStatus
	sentGen int64 // connection it was last sent on (or included in SUBSCRIBE)
	sentAt  time.Time
}

// Messages to the event loop.
type (
	evAgent struct {
		gen int64
		ev  *execpb.Event
	}
	evStreamEnded struct {
		gen int64
		err error
	}
	evSendFailed struct {
		gen, epoch int64
		err        error
	}
	evReconnect struct{ gen int64 }
	evLaunched  struct {
		t   *task
		p   *supervise.Process
		td  *sandboxfs.Dir // the task sandbox, open; nil on error
		err error
	}
	evExited struct{ t *task }
	evHealth struct {
		t  *task
		ev health.Event
	}
	evCheck struct {
		t  *task
		st *mesos.CheckStatusInfo
	}
)

// New returns an Executor for in.Config; it does nothing until Run.
func New(in Input) *Executor {
	cfg := in.Config.withDefaults()
	log := in.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secrets := in.Secrets
	if secrets == nil {
		secrets = redact.NewShared(redact.Default())
	}
	fetch := in.Fetcher
	if fetch == nil {
		fetch = &fetcher.Fetcher{CacheDir: in.Config.FetchCacheDir}
	}
	// Connecting is bounded by CallTimeout for every call. The response
	// of an UPDATE or MESSAGE is too; a SUBSCRIBE's answer is awaited
	// until the subscription's own deadline, which the event loop
	// enforces (see Config.RegistrationTimeout), so its transport has no
	// response-header timeout.
	callCli := agentClient(cfg, httpcli.Timeout(cfg.CallTimeout))
	subCli := agentClient(cfg, httpcli.Timeout(cfg.CallTimeout), httpcli.Transport(func(t *http.Transport) { t.ResponseHeaderTimeout = 0 }))
	callOpts := execpb.CallOptions{calls.Framework(cfg.FrameworkID), calls.Executor(cfg.ExecutorID)}
	return &Executor{
		cfg:     cfg,
		log:     log,
		secrets: secrets,
		fetcher: fetch,
		calls:   calls.SenderWith(httpexec.NewSender(callCli.Send), callOpts...),
		subs:    calls.SenderWith(httpexec.NewSender(subCli.Send, httpcli.Close(true)), callOpts...),
		msgs:    make(chan any, 256),
		quit:    make(chan struct{}),
		out:     newOutbox(),
		tasks:   map[string]*task{},
		ackWait: cfg.AckWait,
	}
}

// agentClient is a client of the agent's executor API with opts and the
// authentication token, if any.
func agentClient(cfg Config, opts ...httpcli.ConfigOpt) *httpcli.Client {
	if cfg.AuthToken != "" {
		token := cfg.AuthToken
		opts = append(opts, httpcli.WrapRoundTripper(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+token)
				return rt.RoundTrip(r)
			})
		}))
	}
	return httpcli.New(
		httpcli.Endpoint("http://"+cfg.AgentEndpoint+"/api/v1/executor"),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(opts...)),
		mesosx.BoundedStreams(codecs.ByMediaType[codecs.MediaTypeProtobuf]), // the event stream's records at most 4 MiB, refused before they are read
	)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Run subscribes to the agent and runs tasks until the executor is done:
// SHUTDOWN, no task left, or the agent lost. After a SHUTDOWN, or once the
// agent is given up, Run returns at the end of the executor shutdown grace
// period (MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD) at the latest. When ctx
// ends (SIGTERM), every task is killed and Run returns soon after. Every
// task process is dead when Run returns. The error is nil after a normal
// end, ErrAgentLost (wrapped) when the agent was lost, and names
// MESOS_SANDBOX when the executor sandbox cannot be opened (then nothing
// else is done).
func (e *Executor) Run(ctx context.Context) error {
	sb, err := sandboxfs.Open(e.cfg.Sandbox)
	if err != nil {
		return fmt.Errorf("opening the executor sandbox (MESOS_SANDBOX): %w", err)
	}
	defer sb.Close() // after stop: every goroutine using it has ended
	e.sandbox = sb
	e.runCtx, e.cancel = context.WithCancel(context.Background())
	e.started = time.Now()
	e.goOwned(e.sendLoop)
	defer e.stop()
	e.connect()

	// No periodic tick: the loop sleeps until a message or its next
	// deadline, so hundreds of idle executors on an agent cost nothing.
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	stopping := ctx.Done()
	for !e.done {
		e.arm(wake, time.Now())
		select {
		case m := <-e.msgs:
			e.handle(m)
		case <-wake.C:
			e.housekeep(time.Now())
		case <-stopping:
			stopping = nil
			e.signalled(time.Now())
		}
		e.checkDone(time.Now())
	}
	return e.result
}

// signalled handles SIGTERM or SIGINT (Run's ctx ending): every task is
// killed, and the wait for acknowledgements after is at most 1 s, also
// when it had already begun with a longer deadline.
func (e *Executor) signalled(now time.Time) {
	e.log.Info("signalled: killing every task")
	e.ackWait = min(e.ackWait, time.Second)
	if !e.exitBy.IsZero() && e.exitBy.After(now.Add(e.ackWait)) {
		e.exitBy = now.Add(e.ackWait)
	}
	e.shutdown()
}

// stop ends every goroutine and kills any task process still alive.
func (e *Executor) stop() {
	for _, t := range e.tasks {
		if t.proc != nil {
			_ = t.proc.Kill()
		}
	}
	close(e.quit)
	e.cancel()
	e.out.close()
	for _, t := range e.tasks {
		if t.proc != nil {
			select {
			case <-t.proc.Done():
			case <-time.After(10 * time.Second):
				e.log.Error("task process did not end after SIGKILL", "task", t.id(), "pid", t.proc.Pid())
			}
		}
	}
	e.wg.Wait()
}

// goOwned runs f in a goroutine the executor waits for before Run returns.
func (e *Executor) goOwned(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// post hands m to the event loop; it reports false once the loop is gone.
func (e *Executor) post(m any) bool {
	select {
	case e.msgs <- m:
		return true
	case <-e.quit:
		return false
	}
}

func (e *Executor) handle(m any) {
	switch m := m.(type) {
	case evAgent:
		if m.gen == e.gen {
			e.agentEvent(m.ev)
		}
	case evStreamEnded:
		if m.gen == e.gen {
			e.lostConnection(m.err)
		}
	case evSendFailed:
		if m.gen != e.gen || e.conn != subscribed || m.epoch != e.epoch {
			break
		}
		if !e.cfg.Checkpoint && isTimeout(m.err) {
			e.resendInOrder(m.err)
			break
		}
		// Later updates must not overtake this one: drop the
		// connection and resend everything with SUBSCRIBE.
		e.log.Warn("sending an update failed; re-subscribing", "error", m.err)
		e.connCancel()
	case evReconnect:
		if m.gen == e.gen && e.conn == disconnected && !e.abandon {
			e.connect()
		}
	case evLaunched:
		e.launched_(m.t, m.p, m.td, m.err)
	case evExited:
		e.exited(m.t)
	case evHealth:
		e.healthResult(m.t, m.ev)
	case evCheck:
		e.checkResult(m.t, m.st)
	}
}

// connect starts a new subscription carrying every unacknowledged update
// and every task received no update of which was acknowledged.
func (e *Executor) connect() {
	e.gen++
	e.epoch++
	gen := e.gen
	e.curGen.Store(gen)
	e.conn = subscribing
	now := time.Now()
	updates := make([]execpb.Call_Update, 0, len(e.pending))
	for _, p := range e.pending {
		updates = append(updates, execpb.Call_Update{Status: p.status})
		p.sentGen, p.sentAt = gen, now
	}
	unacked := e.unacknowledgedTasks()
	call := calls.Subscribe(unacked, updates)
	ctx, cancel := context.WithCancel(e.runCtx)
	e.connCancel = cancel
	e.subscribeSent, e.slowNoted = now, false
	e.log.Debug("subscribing", "attempt", e.attempts+1, "unacknowledged_updates", len(updates), "unacknowledged_tasks", len(unacked))
	e.goOwned(func() { e.stream(ctx, gen, call) })
}

// unacknowledgedTasks is the SUBSCRIBE's unacknowledged_tasks, sorted by
// task ID: every task received in a LAUNCH or LAUNCH_GROUP (still fetching
// or starting, running, or ended) none of whose updates the agent has
// acknowledged. The agent drops (TASK_DROPPED or TASK_LOST, reason
// REASON_AGENT_RESTARTED) a TASK_STAGING task missing from the list, as
// the launch it sent never arrived; so a task is left out only once the
// agent has shown it knows the task. Mesos' command executor lists its task
// the same way (src/launcher/executor.cpp, doReliableRegistration).
func (e *Executor) unacknowledgedTasks() []mesos.TaskInfo {
	var unacked []mesos.TaskInfo
	for _, t := range e.tasks {
		if !t.acked {
			unacked = append(unacked, t.info)
		}
	}
	slices.SortFunc(unacked, func(a, b mesos.TaskInfo) int { return strings.Compare(a.TaskID.Value, b.TaskID.Value) })
	return unacked
}

// stream runs one subscription: it posts every event, then the end.
func (e *Executor) stream(ctx context.Context, gen int64, call *execpb.Call) {
	resp, err := e.subs.Send(ctx, calls.NonStreaming(call))
	if err != nil {
		if resp != nil {
			resp.Close()
		}
		e.post(evStreamEnded{gen, fmt.Errorf("subscribing: %w", err)})
		return
	}
	defer resp.Close()
	stop := context.AfterFunc(ctx, func() { resp.Close() })
	defer stop()
	for {
		var ev execpb.Event
		if err := resp.Decode(&ev); err != nil {
			e.post(evStreamEnded{gen, fmt.Errorf("reading events: %w", err)})
			return
		}
		if !e.post(evAgent{gen, &ev}) {
			return
		}
	}
}

// lostConnection decides what a closed subscription means.
func (e *Executor) lostConnection(err error) {
	e.conn = disconnected
	e.connCancel()
	now := time.Now()
	if e.abandon {
		return
	}
	switch {
	case !e.everSubscribed:
		if now.Sub(e.started) > e.cfg.RegistrationTimeout {
			e.giveUp(fmt.Errorf("%w: could not subscribe within %v: %v", ErrAgentLost, e.cfg.RegistrationTimeout, err))
			return
		}
	case !e.cfg.Checkpoint:
		e.giveUp(fmt.Errorf("%w: connection closed and the framework does not checkpoint: %v", ErrAgentLost, err))
		return
	default:
		if e.disconnectedAt.IsZero() {
			e.disconnectedAt = now
			e.log.Warn("agent connection lost; re-subscribing", "error", err, "recovery_timeout", e.cfg.RecoveryTimeout)
		}
		if now.Sub(e.disconnectedAt) > e.cfg.RecoveryTimeout {
			e.giveUp(fmt.Errorf("%w: not reconnected within the recovery timeout %v: %v", ErrAgentLost, e.cfg.RecoveryTimeout, err))
			return
		}
	}
	e.attempts++
	d := e.cfg.SubscriptionBackoffMax
	if shift := min(e.attempts, 16); time.Duration(100*time.Millisecond)<<shift < d {
		d = 100 * time.Millisecond << shift
	}
	d = time.Duration(float64(d) * (0.5 + rand.Float64()/2))
	e.log.Debug("subscription failed; retrying", "error", err, "in", d)
	gen := e.gen
	time.AfterFunc(d, func() { e.post(evReconnect{gen}) })
}

// giveUp kills every task and ends the executor once they are dead.
func (e *Executor) giveUp(err error) {
	e.log.Error("giving up on the agent; killing every task", "error", err)
	e.result = err
	e.abandon = true
	e.shutdownGrace(time.Now())
	e.shutdown()
}

// shutdownGrace starts the executor shutdown grace period
// (MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD), as Mesos' executor library does
// on a SHUTDOWN, the agent's or its own when it gives up on the agent
// (src/executor/executor.cpp, ShutdownProcess): once it is over, the
// executor is gone whatever it was waiting for. There it SIGKILLs its own
// process group; here checkDone ends Run, which SIGKILLs every task still
// alive, so no update waits past it. A grace period of 0 (a Config not
// read by FromEnv) sets no bound.
func (e *Executor) shutdownGrace(now time.Time) {
	if g := e.cfg.ExecutorShutdownGracePeriod; g > 0 && e.shutdownBy.IsZero() {
		e.shutdownBy = now.Add(g)
	}
}

// housekeep resends old unacknowledged updates and enforces deadlines.
func (e *Executor) housekeep(now time.Time) {
	for _, t := range e.tasks {
		if t.live() && !t.killing && !t.completeBy.IsZero() && !now.Before(t.completeBy) {
			e.killOverdue(t)
		}
	}
	if e.conn == subscribed {
		for _, p := range e.pending {
			if p.sentGen == e.gen && now.Sub(p.sentAt) >= e.cfg.UpdateRetry {
				e.send(p)
			}
		}
	}
	if e.conn == disconnected && !e.abandon && e.everSubscribed && e.cfg.Checkpoint &&
		!e.disconnectedAt.IsZero() && now.Sub(e.disconnectedAt) > e.cfg.RecoveryTimeout {
		e.giveUp(fmt.Errorf("%w: not reconnected within the recovery timeout %v", ErrAgentLost, e.cfg.RecoveryTimeout))
	}
	if e.conn == subscribing && !e.abandon && !e.slowNoted && now.Sub(e.subscribeSent) >= e.cfg.CallTimeout {
		// Said once per SUBSCRIBE: an agent under load answers late, and
		// the answer is waited for (see Config.RegistrationTimeout).
		e.slowNoted = true
		e.log.Warn("the agent has not answered SUBSCRIBE yet; waiting for it", "waited", now.Sub(e.subscribeSent).Round(time.Millisecond),
			"until", e.subscribeBy().Format(time.RFC3339))
	}
	if e.conn == subscribing && !e.abandon && now.After(e.subscribeBy()) {
		e.conn = disconnected
		e.connCancel()
		if e.everSubscribed {
			e.giveUp(fmt.Errorf("%w: no answer to SUBSCRIBE within the recovery timeout %v", ErrAgentLost, e.cfg.RecoveryTimeout))
		} else {
			e.giveUp(fmt.Errorf("%w: no answer to SUBSCRIBE within the registration timeout %v", ErrAgentLost, e.cfg.RegistrationTimeout))
		}
	}
}

// subscribeBy is the deadline of the subscription in flight, the only
// bound on the wait for its answer: the registration timeout from Run for
// the first subscription, the recovery timeout from the loss of the
// connection for a re-subscription (see Config.RegistrationTimeout).
func (e *Executor) subscribeBy() time.Time {
	if !e.everSubscribed || e.disconnectedAt.IsZero() {
		return e.started.Add(e.cfg.RegistrationTimeout)
	}
	return e.disconnectedAt.Add(e.cfg.RecoveryTimeout)
}

// arm sets wake to fire just after nextDeadline (housekeep and checkDone
// act once a deadline has passed), or stops it when there is none.
func (e *Executor) arm(wake *time.Timer, now time.Time) {
	next := e.nextDeadline()
	if next.IsZero() {
		wake.Stop()
		return
	}
	wake.Reset(max(next.Sub(now), 0) + time.Millisecond)
}

// nextDeadline is the earliest time housekeep or checkDone has something
// to do without a message: an update's resend, the recovery timeout, the
// deadline of the subscription in flight (and the moment to say it is
// slow), the no-task timeout, the end of a running task's
// max_completion_time, the end of the wait for acknowledgements, the end
// of the executor shutdown grace period. Zero: none.
func (e *Executor) nextDeadline() time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if e.conn == subscribed {
		for _, p := range e.pending {
			if p.sentGen == e.gen {
				earliest(p.sentAt.Add(e.cfg.UpdateRetry))
			}
		}
	}
	if e.conn == disconnected && !e.abandon && e.everSubscribed && e.cfg.Checkpoint && !e.disconnectedAt.IsZero() {
		earliest(e.disconnectedAt.Add(e.cfg.RecoveryTimeout))
	}
	if e.conn == subscribing && !e.abandon {
		earliest(e.subscribeBy())
		if !e.slowNoted {
			earliest(e.subscribeSent.Add(e.cfg.CallTimeout))
		}
	}
	if !e.launched && !e.shuttingDown && len(e.tasks) == 0 && !e.subscribedAt.IsZero() {
		earliest(e.subscribedAt.Add(e.cfg.NoTaskTimeout))
	}
	for _, t := range e.tasks {
		if t.live() && !t.killing && !t.completeBy.IsZero() {
			earliest(t.completeBy)
		}
	}
	if !e.exitBy.IsZero() {
		earliest(e.exitBy)
	}
	if !e.shutdownBy.IsZero() {
		earliest(e.shutdownBy)
	}
	return next
}

// checkDone ends the loop once no task is live and every update is
// acknowledged (or AckWait has passed, or the agent is lost), or once the
// executor shutdown grace period is over.
func (e *Executor) checkDone(now time.Time) {
	if !e.done && !e.launched && !e.shuttingDown && len(e.tasks) == 0 && !e.subscribedAt.IsZero() &&
		now.Sub(e.subscribedAt) > e.cfg.NoTaskTimeout {
		e.log.Warn("subscribed, and no task came; exiting", "waited", e.cfg.NoTaskTimeout)
		e.done = true
		return
	}
	if !e.done && !e.shutdownBy.IsZero() && now.After(e.shutdownBy) {
		live := 0
		for _, t := range e.tasks {
			if t.live() {
				live++
			}
		}
		e.log.Warn("the executor shutdown grace period is over; killing what is left and exiting",
			"grace", e.cfg.ExecutorShutdownGracePeriod, "live_tasks", live, "unacknowledged_updates", len(e.pending))
		e.done = true
		return
	}
	if e.done || !(e.launched || e.shuttingDown) {
		return
	}
	for _, t := range e.tasks {
		if t.live() || t.launching {
			e.exitBy = time.Time{}
			return
		}
	}
	switch {
	case len(e.pending) == 0:
		e.log.Info("no task left and every update acknowledged; exiting")
		e.done = true
	case e.abandon:
		e.log.Warn("exiting with unacknowledged updates", "updates", len(e.pending))
		e.done = true
	case e.exitBy.IsZero():
		e.exitBy = now.Add(e.ackWait)
	case now.After(e.exitBy):
		e.log.Warn("acknowledgements did not come; exiting", "updates", len(e.pending), "waited", e.ackWait)
		e.done = true
	}
}

// agentEvent handles one event of the subscription.
func (e *Executor) agentEvent(ev *execpb.Event) {
	switch ev.Type {
	case execpb.Event_SUBSCRIBED:
		s := ev.Subscribed
		e.conn = subscribed
		e.everSubscribed = true
		if e.subscribedAt.IsZero() {
			e.subscribedAt = time.Now()
		}
		e.disconnectedAt = time.Time{}
		e.attempts = 0
		fw := s.FrameworkInfo
		e.framework = &fw
		if s.ContainerID != nil {
			e.containerID = s.ContainerID
		}
		e.log.Info("subscribed", "agent", s.AgentInfo.GetHostname(), "framework", fw.GetName(), "container", e.containerID.GetValue())
		// Updates made while the SUBSCRIBE was on its way go now.
		for _, p := range e.pending {
			if p.sentGen != e.gen {
				e.send(p)
			}
		}
	case execpb.Event_LAUNCH:
		e.launchGroup([]mesos.TaskInfo{ev.Launch.Task})
	case execpb.Event_LAUNCH_GROUP:
		e.launchGroup(ev.LaunchGroup.TaskGroup.Tasks)
	case execpb.Event_KILL:
		k := ev.Kill
		t := e.tasks[k.TaskID.Value]
		switch {
		case t == nil || !t.live():
			e.log.Warn("ignoring KILL of a task that is not running", "task", k.TaskID.Value)
		case t.killing:
			e.log.Info("ignoring KILL of a task being killed", "task", t.id())
		default:
			e.kill(t, killGrace(k.KillPolicy, t.info.KillPolicy), "KILL")
		}
	case execpb.Event_ACKNOWLEDGED:
		e.acknowledged(ev.Acknowledged.TaskID.Value, ev.Acknowledged.UUID)
	case execpb.Event_MESSAGE:
		e.log.Info("message from the framework (ignored)", "bytes", len(ev.Message.Data))
	case execpb.Event_SHUTDOWN:
		e.log.Info("SHUTDOWN: killing every task")
		e.shutdownGrace(time.Now())
		e.shutdown()
	case execpb.Event_ERROR:
		e.log.Error("error from the agent", "message", ev.Error.Message)
	case execpb.Event_HEARTBEAT:
		e.log.Debug("heartbeat")
	default:
		e.log.Warn("ignoring an unknown event", "type", ev.Type.String())
	}
}

func (e *Executor) acknowledged(taskID string, uuid []byte) {
	key := string(uuid)
	for i, p := range e.pending {
		if string(p.status.UUID) != key {
			continue
		}
		e.pending = append(e.pending[:i:i], e.pending[i+1:]...)
		if t := e.tasks[taskID]; t != nil {
			t.acked = true
			if t.terminal && !e.hasPending(taskID) {
				delete(e.tasks, taskID)
			}
		}
		return
	}
	e.log.Debug("acknowledgement of an unknown update", "task", taskID, "uuid", mesosx.UUIDString(uuid))
}

func (e *Executor) hasPending(taskID string) bool {
	for _, p := range e.pending {
		if p.status.TaskID.Value == taskID {
			return true
		}
	}
	return false
}

// shutdown kills every task; the executor exits once they are gone.
func (e *Executor) shutdown() {
	if e.shuttingDown {
		return
	}
	e.shuttingDown = true
	for _, t := range e.tasks {
		if t.live() && !t.killing {
			e.kill(t, DefaultKillGrace, "shutdown")
		}
	}
}

// launchGroup takes a LAUNCH_GROUP (or a LAUNCH as a group of one).
func (e *Executor) launchGroup(infos []mesos.TaskInfo) {
	e.launched = true
	if e.shuttingDown {
		e.log.Warn("ignoring a launch while shutting down", "tasks", len(infos))
		return
	}
	g := &group{}
	var invalid error
	for i := range infos {
		ti := &infos[i]
		if old := e.tasks[ti.TaskID.Value]; old != nil && old.live() {
			e.log.Error("ignoring a launch of a task that is already running", "task", ti.TaskID.Value)
			continue
		}
		if ti.Command == nil {
			// A LAUNCH to a custom executor cannot carry a command (the
			// master refuses both); like the DC/OS SDK's custom executor,
			// take it from the task's data.
			ti.Command = commandFromData(ti.Data)
		}
		t := &task{info: *ti, group: g, essential: isEssential(ti)}
		t.container = mesos.ContainerID{Value: mesosx.NewID(), Parent: e.containerID}
		if ti.Check != nil {
			typ := ti.Check.Type
			t.checkType = &typ
		}
		g.tasks = append(g.tasks, t)
		e.tasks[t.id()] = t
		if err := validateTask(ti); err != nil && invalid == nil {
			invalid = fmt.Errorf("task '%s': %w", t.id(), err)
		}
	}
	if invalid != nil {
		// Like the Mesos master, an invalid task fails its whole group.
		for _, t := range g.tasks {
			reason, msg := mesos.REASON_TASK_GROUP_INVALID, "Task group is invalid: "+invalid.Error()
			if err := validateTask(&t.info); err != nil {
				reason, msg = mesos.REASON_TASK_INVALID, "Task is invalid: "+err.Error()
			}
			e.finish(t, mesos.TASK_ERROR, &reason, msg)
		}
		return
	}
	for _, t := range g.tasks {
		e.startTask(t)
	}
}

// validateTask rejects what Mesos' master would: invalid checks, a
// negative max_completion_time (src/master/validation.cpp,
// validateMaxCompletionTime).
func validateTask(ti *mesos.TaskInfo) error {
	var errs []error
	if d := ti.MaxCompletionTime; d != nil && d.Nanoseconds < 0 {
		errs = append(errs, errors.New("Task's `max_completion_time` must be non-negative"))
	}
	if ti.HealthCheck != nil {
		if err := ValidateHealthCheck(ti.HealthCheck); err != nil {
			errs = append(errs, fmt.Errorf("invalid health check: %w", err))
		}
	}
	if ti.Check != nil {
		if err := ValidateCheck(ti.Check); err != nil {
			errs = append(errs, fmt.Errorf("invalid check: %w", err))
		}
	}
	return errors.Join(errs...)
}

// startTask sends TASK_STARTING and launches the task in a goroutine:
// sandbox, URIs, process.
func (e *Executor) startTask(t *task) {
	t.dir = filepath.Join(e.cfg.Sandbox, TasksDir, t.id())
	t.env = taskEnv(&t.info, t.dir, e.cfg.ContainerIP, allocationRole(&t.info, e.framework))
	e.secrets.LearnEnv(t.env)
	for _, v := range mesosx.SecretValues(t.info.Command) {
		e.secrets.LearnValue(v)
	}
	e.update(t, e.newStatus(t, mesos.TASK_STARTING, nil, ""))
	t.launching = true
	// The launch has its own context: a kill of the task (KILL, its
	// group's, SHUTDOWN, SIGTERM) while its URIs are fetched ends the
	// fetch, as Mesos' agent kills the fetcher of a container destroyed
	// while FETCHING (src/slave/containerizer/mesos/containerizer.cpp).
	ctx, cancel := context.WithCancel(e.runCtx)
	t.cancelLaunch = cancel
	info, env := t.info, t.env
	e.log.Info("launching task", "task", t.id(), "command", info.Command.GetValue(), "uris", len(info.Command.GetURIs()), "essential", t.essential)
	e.goOwned(func() {
		p, td, err := e.spawnTask(ctx, &info, env)
		if !e.post(evLaunched{t, p, td, err}) && p != nil {
			_ = p.Kill()
			<-p.Done()
			td.Close()
		}
	})
}

// spawnTask prepares a task's sandbox and starts its process, and returns
// the process and the task sandbox, open, for its checks; the caller
// closes it. It runs outside the event loop and touches nothing shared.
// Once ctx ends (the task was killed) the fetch stops and the process is
// not started: an error is returned.
func (e *Executor) spawnTask(ctx context.Context, ti *mesos.TaskInfo, env []string) (_ *supervise.Process, _ *sandboxfs.Dir, err error) {
	if err := validTaskDir(ti.TaskID.Value); err != nil {
		return nil, nil, err
	}
	if ti.Container != nil && (ti.Container.Type == nil || *ti.Container.Type != mesos.ContainerInfo_MESOS || ti.Container.Mesos != nil && ti.Container.Mesos.Image != nil) {
		return nil, nil, errors.New("containers (Docker, images) are not supported; tasks run as plain processes")
	}
	// The task sandbox is reached through the executor sandbox Run holds
	// open, without following a link: the pod's tasks own the executor
	// sandbox's contents, and can even rename it and put a link in its
	// place (package sandboxfs).
	td, err := openTaskDir(e.sandbox, ti.TaskID.Value)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the task sandbox: %w", err)
	}
	defer func() {
		if err != nil {
			td.Close()
		}
	}()
	if err := linkVolumes(ti, e.sandbox, td); err != nil {
		return nil, nil, err
	}
	if err := writeSecretVolumes(ti, td); err != nil {
		return nil, nil, err
	}
	limits, err := mesosx.RLimits(ti.Container.GetRlimitInfo())
	if err != nil {
		return nil, nil, err
	}
	if ti.Command != nil && len(ti.Command.URIs) > 0 {
		if err := e.fetcher.Fetch(ctx, ti.Command.URIs, td.FDPath()); err != nil {
			return nil, nil, fmt.Errorf("fetching URIs: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("not started: %w", err)
	}
	// The process starts in the directory td holds, not in whatever the
	// task's path (its MESOS_SANDBOX) names by then.
	spec, err := commandSpec(ti.Command, env, td.FDPath())
	if err != nil {
		return nil, nil, err
	}
	stdout, stderr, err := td.OpenStdio()
	if err != nil {
		return nil, nil, fmt.Errorf("opening the task's stdout and stderr: %w", err)
	}
	defer stdout.Close()
	defer stderr.Close()
	spec.Stdout, spec.Stderr = stdout, stderr
	spec.ParentDeathSignal = parentDeath
	spec.Rlimits = limits
	p, err := supervise.Start(spec)
	if err != nil {
		return nil, nil, err
	}
	return p, td, nil
}

// launched_ handles the end of a task's launch.
func (e *Executor) launched_(t *task, p *supervise.Process, td *sandboxfs.Dir, err error) {
	t.launching = false
	if t.cancelLaunch != nil {
		t.cancelLaunch()
		t.cancelLaunch = nil
	}
	if err != nil {
		if t.killing {
			e.finish(t, mesos.TASK_KILLED, nil, "Task killed before it started")
			return
		}
		reason := mesos.REASON_CONTAINER_LAUNCH_FAILED
		e.log.Error("task launch failed", "task", t.id(), "error", err)
		e.finish(t, mesos.TASK_FAILED, &reason, "Failed to launch task: "+err.Error())
		return
	}
	t.proc = p
	e.goOwned(func() {
		<-p.Done()
		e.post(evExited{t})
	})
	if t.killing {
		td.Close()
		p.Terminate(t.killGrace)
		return
	}
	e.log.Info("task running", "task", t.id(), "pid", p.Pid())
	if d := mesosx.MaxCompletionTime(&t.info); d > 0 {
		// From the start of its process, as Mesos' default executor arms
		// its timer once the task's container is launched.
		t.completeBy = time.Now().Add(d)
		e.log.Info("task has a max completion time", "task", t.id(), "max_completion_time", d)
	}
	e.update(t, e.newStatus(t, mesos.TASK_RUNNING, nil, ""))
	e.startChecks(t, td)
}

// exited turns a task's end into its terminal update.
func (e *Executor) exited(t *task) {
	e.stopChecks(t)
	st := t.proc.Status()
	state := mesos.TASK_FAILED
	var reason *mesos.TaskStatus_Reason
	switch {
	case t.overdue:
		r := mesos.REASON_MAX_COMPLETION_TIME_REACHED
		reason = &r
	case t.killing:
		state = mesos.TASK_KILLED
	case st.Signal == 0 && st.Code == 0:
		state = mesos.TASK_FINISHED
	}
	msg := exitMessage(st)
	e.log.Info("task ended", "task", t.id(), "state", state.String(), "status", st.String())
	e.finish(t, state, reason, msg)
}

// finish sends a task's terminal update and applies the group rule: a
// task ending FAILED or KILLED kills the rest of its group, unless it is
// not essential.
func (e *Executor) finish(t *task, state mesos.TaskState, reason *mesos.TaskStatus_Reason, msg string) {
	if t.terminal {
		return
	}
	t.terminal = true
	st := e.newStatus(t, state, reason, msg)
	if t.unhealthy {
		f := false
		st.Healthy = &f
	}
	e.update(t, st)
	if state != mesos.TASK_FAILED && state != mesos.TASK_KILLED {
		return
	}
	g := t.group
	if !t.essential || g.killing || e.shuttingDown {
		return
	}
	g.killing = true
	for _, s := range g.tasks {
		if s != t && s.live() && !s.killing {
			e.log.Info("killing the task's group", "task", s.id(), "because", t.id())
			e.kill(s, DefaultKillGrace, "group")
		}
	}
}

// killOverdue kills a task that ran past its max_completion_time, as Mesos'
// default executor does (src/launcher/default_executor.cpp,
// maxCompletion): no grace (SIGKILL to its process group at once), no
// TASK_KILLING, and the terminal update is TASK_FAILED with
// REASON_MAX_COMPLETION_TIME_REACHED, so the group rule applies.
func (e *Executor) killOverdue(t *task) {
	e.log.Warn("killing a task that exceeded its max completion time", "task", t.id(), "max_completion_time", mesosx.MaxCompletionTime(&t.info))
	t.overdue = true
	e.kill(t, 0, "max completion time")
}

// kill stops a task: TASK_KILLING if the framework wants it (not for a
// task overdue), SIGTERM to its process group, SIGKILL after grace. As in Mesos' default executor
// (src/launcher/default_executor.cpp), a KILL and a failed health check
// (killTask) give the KILL's or the task's kill policy, and the group rule
// (waited) and SHUTDOWN give DefaultKillGrace whatever the task's policy.
func (e *Executor) kill(t *task, grace time.Duration, why string) {
	if !t.live() || t.killing {
		return
	}
	t.killing = true
	t.killGrace = grace
	e.stopChecks(t)
	e.log.Info("killing task", "task", t.id(), "why", why, "grace", t.killGrace)
	if !t.overdue && e.hasCapability(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) && (t.proc != nil || t.launching) {
		e.update(t, e.newStatus(t, mesos.TASK_KILLING, nil, ""))
	}
	if t.proc != nil {
		t.proc.Terminate(t.killGrace)
	}
	if t.cancelLaunch != nil {
		// Still launching: the fetch ends now, the process never starts,
		// and launched_ reports TASK_KILLED.
		t.cancelLaunch()
	}
}

func (e *Executor) hasCapability(c mesos.FrameworkInfo_Capability_Type) bool {
	if e.framework == nil {
		return false
	}
	for _, x := range e.framework.Capabilities {
		if x.Type == c {
			return true
		}
	}
	return false
}

// startChecks starts the task's health check and check, if any. Their
// commands run in td, the task sandbox held open (never by its path, which
// the pod's tasks can redirect), which is closed once both have ended.
func (e *Executor) startChecks(t *task, td *sandboxfs.Dir) {
	if t.info.HealthCheck == nil && t.info.Check == nil {
		td.Close()
		return
	}
	ctx, cancel := context.WithCancel(e.runCtx)
	t.stopChecks = cancel
	var running sync.WaitGroup
	run := func(c *health.Checker) {
		running.Add(1)
		e.goOwned(func() {
			defer running.Done()
			_ = c.Run(ctx)
		})
	}
	if hc := t.info.HealthCheck; hc != nil {
		c, err := healthChecker(hc, t.env, td.FDPath(), func(ev health.Event) { e.post(evHealth{t, ev}) })
		if err != nil {
			e.log.Error("cannot run the health check", "task", t.id(), "error", err)
		} else {
			run(c)
		}
	}
	if ci := t.info.Check; ci != nil {
		c, err := checkChecker(ci, t.env, td.FDPath(), func(st *mesos.CheckStatusInfo) { e.post(evCheck{t, st}) })
		if err != nil {
			e.log.Error("cannot run the check", "task", t.id(), "error", err)
		} else {
			run(c)
		}
	}
	e.goOwned(func() {
		running.Wait()
		td.Close()
	})
}

func (e *Executor) stopChecks(t *task) {
	if t.stopChecks != nil {
		t.stopChecks()
		t.stopChecks = nil
	}
}

// healthResult reports health transitions as Mesos does
// (taskcheck.HealthReport): healthy=false on every counted failure,
// healthy=true on the first success and the first after failures, and a
// kill at the threshold.
func (e *Executor) healthResult(t *task, ev health.Event) {
	if !t.live() || t.killing || t.proc == nil || t.last == nil {
		return
	}
	report, healthy, kill := taskcheck.HealthReport(ev)
	if !report {
		return
	}
	if healthy {
		e.log.Info("task healthy", "task", t.id())
	} else {
		e.log.Warn("health check failed", "task", t.id(), "consecutive_failures", ev.Status.ConsecutiveFailures, "reason", ev.Check.Reason)
	}
	e.update(t, e.derived(t, mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, func(st *mesos.TaskStatus) {
		st.Healthy = &healthy
	}))
	if kill {
		t.unhealthy = true
		e.kill(t, killGrace(t.info.KillPolicy), "health check")
	}
}

// checkResult reports a check result that differs from the previous one.
func (e *Executor) checkResult(t *task, cs *mesos.CheckStatusInfo) {
	if !t.live() || t.killing || t.proc == nil || t.last == nil {
		return
	}
	if t.last.CheckStatus != nil && t.last.CheckStatus.Equal(cs) {
		return
	}
	e.log.Info("check status changed", "task", t.id(), "check_status", cs.String())
	e.update(t, e.derived(t, mesos.REASON_TASK_CHECK_STATUS_UPDATED, func(st *mesos.TaskStatus) {
		st.CheckStatus = cs
	}))
}

// newStatus is a fresh update of t: new uuid, SOURCE_EXECUTOR, the
// container status, and an empty check_status if the task has a check.
// msg is masked through e.secrets: it often carries an error (a fetch,
// a launch) that can quote a URI's credentials or a task secret, and the
// agent, the master's state and the scheduler all show it.
func (e *Executor) newStatus(t *task, state mesos.TaskState, reason *mesos.TaskStatus_Reason, msg string) mesos.TaskStatus {
	src := mesos.SOURCE_EXECUTOR
	eid := mesos.ExecutorID{Value: e.cfg.ExecutorID}
	ts := float64(time.Now().UnixNano()) / 1e9
	cid := t.container
	ip := e.cfg.ContainerIP
	st := mesos.TaskStatus{
		TaskID:     t.info.TaskID,
		State:      &state,
		Source:     &src,
		ExecutorID: &eid,
		UUID:       mesosx.NewUUID(),
		Timestamp:  &ts,
		Reason:     reason,
		ContainerStatus: &mesos.ContainerStatus{
			ContainerID:  &cid,
			NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.NetworkInfo_IPAddress{{IPAddress: &ip}}}},
		},
	}
	if t.proc != nil {
		pid := uint32(t.proc.Pid())
		st.ContainerStatus.ExecutorPID = &pid
	}
	if msg != "" {
		masked := e.secrets.String(msg)
		st.Message = &masked
	}
	if t.checkType != nil {
		st.CheckStatus = taskcheck.EmptyStatus(*t.checkType)
	}
	return st
}

// derived is the task's latest update with a new uuid, timestamp and
// reason, changed by f (health and check updates, as Mesos builds them).
func (e *Executor) derived(t *task, reason mesos.TaskStatus_Reason, f func(*mesos.TaskStatus)) mesos.TaskStatus {
	st := *t.last
	st.UUID = mesosx.NewUUID()
	ts := float64(time.Now().UnixNano()) / 1e9
	st.Timestamp = &ts
	st.Reason = &reason
	f(&st)
	return st
}

// update records st as unacknowledged and sends it if subscribed.
func (e *Executor) update(t *task, st mesos.TaskStatus) {
	t.last = &st
	p := &pendingUpdate{status: st}
	e.pending = append(e.pending, p)
	e.log.Debug("status update", "task", t.id(), "state", st.GetState().String(), "uuid", mesosx.UUIDString(st.UUID))
	if e.conn == subscribed {
		e.send(p)
	}
}

func (e *Executor) send(p *pendingUpdate) {
	p.sentGen, p.sentAt = e.gen, time.Now()
	e.out.push(outItem{gen: e.gen, epoch: e.epoch, call: calls.Update(p.status)})
}

// resendInOrder handles an UPDATE that timed out when the framework does
// not checkpoint. Dropping the connection, as any other failed call does,
// would end the executor there: a non-checkpointing framework's executor
// cannot re-subscribe (Mesos' executor library shuts down on the
// disconnection, and so does lostConnection), so a slow agent would cost
// the tasks. Mesos' library keeps the subscription when a call fails
// (src/executor/executor.cpp, _send). The order of updates is kept the
// way a re-subscription keeps it: the sender has dropped everything queued
// after the failed call, and every unacknowledged update is queued again,
// oldest first, in a new epoch; the agent drops the duplicates by uuid.
// Each round waits out a call timeout, so a stalled agent is not flooded.
func (e *Executor) resendInOrder(err error) {
	e.log.Warn("an update timed out; sending every unacknowledged update again, in order", "error", err, "updates", len(e.pending))
	e.epoch++
	for _, p := range e.pending {
		e.send(p)
	}
}

// isTimeout reports whether err is a call that ran out of time, not one
// the agent or the connection refused.
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// sendLoop posts queued calls in order. After a failure it drops the rest
// of that epoch's calls: the event loop re-subscribes with them, or sends
// them again in a new epoch (resendInOrder).
func (e *Executor) sendLoop() {
	var failed int64 // the last epoch a call failed in
	for {
		item, ok := e.out.pop()
		if !ok {
			return
		}
		if item.gen != e.curGen.Load() || item.epoch <= failed {
			continue
		}
		ctx, cancel := context.WithTimeout(e.runCtx, e.cfg.CallTimeout)
		resp, err := e.calls.Send(ctx, calls.NonStreaming(item.call))
		if resp != nil {
			resp.Close()
		}
		cancel()
		if err != nil {
			failed = item.epoch
			e.post(evSendFailed{item.gen, item.epoch, err})
		}
	}
}

// outItem is a call to send on connection gen, in epoch (see Executor.epoch).
type outItem struct {
	gen, epoch int64
	call       *execpb.Call
}

// outbox is the unbounded FIFO between the event loop and sendLoop.
type outbox struct {
	mu     sync.Mutex
	q      []outItem
	wake   chan struct{}
	closed bool
}

func newOutbox() *outbox { return &outbox{wake: make(chan struct{}, 1)} }

func (o *outbox) push(it outItem) {
	o.mu.Lock()
	o.q = append(o.q, it)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next item; false once closed.
func (o *outbox) pop() (outItem, bool) {
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return outItem{}, false
		}
		if len(o.q) > 0 {
			it := o.q[0]
			o.q = o.q[1:]
			o.mu.Unlock()
			return it, true
		}
		o.mu.Unlock()
		<-o.wake
	}
}
