package executor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// slowAgent is a loopback Mesos agent's executor API whose answers to
// SUBSCRIBE come late. Its n-th SUBSCRIBE (from 1) is answered as
// answer(n) says; the first one answered for good (not closeAfter) gets
// the LAUNCH_GROUP, as a real agent sends a launch once. UPDATEs are
// accepted and acknowledged on the current stream, but for the first
// stallUpdates, which are held until the executor gives up on them and
// then dropped, unrecorded and unacknowledged.
type slowAgent struct {
	t            *testing.T
	answer       func(n int) subscribeAnswer
	stallUpdates int
	acks         chan execpb.Event

	mu         sync.Mutex
	subscribes int // SUBSCRIBEs received
	abandoned  int // SUBSCRIBEs the executor gave up before SUBSCRIBED came
	launched   bool
	updates    int // UPDATEs received
	states     []mesos.TaskState
}

// subscribeAnswer is how slowAgent answers one SUBSCRIBE.
type subscribeAnswer struct {
	headers    time.Duration // before the response headers
	subscribed time.Duration // then before SUBSCRIBED
	closeAfter bool          // close the stream after SUBSCRIBED (no launch)
}

// never is a delay longer than any test: the answer never comes.
const never = time.Hour

func (a *slowAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var call execpb.Call
	if err := call.Unmarshal(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch call.Type {
	case execpb.Call_UPDATE:
		st := call.Update.Status
		a.mu.Lock()
		a.updates++
		stall := a.updates <= a.stallUpdates
		a.mu.Unlock()
		if stall {
			<-r.Context().Done() // the executor's call timeout
			return
		}
		a.mu.Lock()
		a.states = append(a.states, st.GetState())
		a.mu.Unlock()
		a.acks <- execpb.Event{Type: execpb.Event_ACKNOWLEDGED, Acknowledged: &execpb.Event_Acknowledged{TaskID: st.TaskID, UUID: st.UUID}}
		w.WriteHeader(http.StatusAccepted)
	case execpb.Call_SUBSCRIBE:
		a.mu.Lock()
		a.subscribes++
		ans := a.answer(a.subscribes)
		a.mu.Unlock()
		if !sleepCtx(r.Context(), ans.headers) {
			a.abandon()
			return
		}
		ew := mesosx.StartStream(w, codecs.ByMediaType[codecs.MediaTypeProtobuf], nil)
		if !sleepCtx(r.Context(), ans.subscribed) {
			a.abandon()
			return
		}
		fw := mesos.FrameworkInfo{User: "root", Name: "slow"}
		_ = ew.Write(&execpb.Event{Type: execpb.Event_SUBSCRIBED, Subscribed: &execpb.Event_Subscribed{
			ExecutorInfo:  mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "ex"}},
			FrameworkInfo: fw,
			AgentInfo:     mesos.AgentInfo{Hostname: "localhost"},
		}})
		if ans.closeAfter {
			return
		}
		a.mu.Lock()
		launch := !a.launched
		a.launched = true
		// The updates a re-SUBSCRIBE carries are taken, as UPDATEs are.
		carried := call.Subscribe.UnacknowledgedUpdates
		for _, u := range carried {
			a.states = append(a.states, u.Status.GetState())
		}
		a.mu.Unlock()
		for _, u := range carried {
			a.acks <- execpb.Event{Type: execpb.Event_ACKNOWLEDGED, Acknowledged: &execpb.Event_Acknowledged{TaskID: u.Status.TaskID, UUID: u.Status.UUID}}
		}
		shell := "true"
		if launch {
			_ = ew.Write(&execpb.Event{Type: execpb.Event_LAUNCH_GROUP, LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: mesos.TaskGroupInfo{Tasks: []mesos.TaskInfo{{
				Name: "t1", TaskID: mesos.TaskID{Value: "t1"}, AgentID: mesos.AgentID{Value: "agent"},
				Command: &mesos.CommandInfo{Value: &shell},
			}}}}})
		}
		for {
			select {
			case ev := <-a.acks:
				if ew.Write(&ev) != nil {
					return
				}
			case <-r.Context().Done():
				return
			}
		}
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

func (a *slowAgent) abandon() {
	a.mu.Lock()
	a.abandoned++
	a.mu.Unlock()
}

// runAgainst runs an executor against agent, served on loopback for it,
// with framework checkpointing as given, limit as its recovery and
// registration timeouts and callTimeout for every call, its log into logs;
// it returns how long Run took and its error, and fails t when Run has
// not returned within 30 s.
func runAgainst(t *testing.T, agent *slowAgent, checkpoint bool, limit, callTimeout time.Duration, logs *lockedBuffer) (time.Duration, error) {
	t.Helper()
	srv := httptest.NewServer(agent)
	defer srv.Close()
	cfg := Config{
		Config: config.Config{
			FrameworkID: "fw", ExecutorID: "ex", Sandbox: t.TempDir(), Directory: t.TempDir(),
			AgentEndpoint: srv.Listener.Addr().String(), Checkpoint: checkpoint,
			RecoveryTimeout: limit, SubscriptionBackoffMax: 50 * time.Millisecond,
		},
		ContainerIP:         "127.0.0.1",
		CallTimeout:         callTimeout,
		RegistrationTimeout: limit,
		NoTaskTimeout:       10 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- New(Input{Config: cfg, Log: slog.New(slog.NewTextHandler(logs, nil))}).Run(ctx) }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatalf("Run did not return within 30 s; log:\n%s", logs)
		return 0, nil
	}
}

// lockedBuffer is a log sink safe for the executor's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sleepCtx sleeps d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// TestSubscribeWaitsForSlowAgent: a SUBSCRIBE the agent answers after
// longer than the call timeout (the old, shared bound) is waited for, not
// abandoned for another (which lost the LAUNCH_GROUP the agent then wrote
// into the abandoned stream); a SUBSCRIBE never answered ends the executor
// at the registration or recovery timeout, never later. Durations are
// scaled down: a 200 ms call timeout, answers 1 s late. (An UPDATE slower
// than the call timeout on a loaded machine makes a checkpointing executor
// re-subscribe, as it should, so the SUBSCRIBEs abandoned unanswered are
// counted, not all of them; one that does not checkpoint sends its updates
// again on the same subscription: TestUpdateTimeout. Before, it gave up on
// the agent, "context canceled", and this test failed under load.)
func TestSubscribeWaitsForSlowAgent(t *testing.T) {
	const callTimeout, late = 200 * time.Millisecond, time.Second
	for _, tc := range []struct {
		name       string
		checkpoint bool
		limit      time.Duration // registration timeout, or recovery timeout when checkpointing
		answer     func(n int) subscribeAnswer
		lost       bool // Run must end with ErrAgentLost
		subscribes int  // SUBSCRIBEs before the first SUBSCRIBED of the launch, or in all when lost
	}{
		{"first SUBSCRIBE answered late", false, 5 * time.Second,
			func(int) subscribeAnswer { return subscribeAnswer{headers: late} }, false, 1},
		{"SUBSCRIBED comes late", false, 5 * time.Second,
			func(int) subscribeAnswer { return subscribeAnswer{subscribed: late} }, false, 1},
		{"re-SUBSCRIBE answered late", true, 5 * time.Second,
			func(n int) subscribeAnswer {
				if n == 1 {
					return subscribeAnswer{closeAfter: true}
				}
				return subscribeAnswer{headers: late}
			}, false, 2},
		{"first SUBSCRIBE never answered", false, time.Second,
			func(int) subscribeAnswer { return subscribeAnswer{headers: never} }, true, 1},
		{"SUBSCRIBED never comes", false, time.Second,
			func(int) subscribeAnswer { return subscribeAnswer{subscribed: never} }, true, 1},
		{"re-SUBSCRIBE never answered", true, time.Second,
			func(n int) subscribeAnswer {
				if n == 1 {
					return subscribeAnswer{closeAfter: true}
				}
				return subscribeAnswer{headers: never}
			}, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := &slowAgent{t: t, answer: tc.answer, acks: make(chan execpb.Event, 16)}
			logs := &lockedBuffer{}
			took, err := runAgainst(t, agent, tc.checkpoint, tc.limit, callTimeout, logs)
			agent.mu.Lock()
			defer agent.mu.Unlock()
			t.Logf("Run returned %v after %v; agent saw %d SUBSCRIBEs (%d abandoned unanswered), updates %v", err, took, agent.subscribes, agent.abandoned, agent.states)
			// Every case has a SUBSCRIBE slower than the call timeout, said
			// once per SUBSCRIBE.
			if n := strings.Count(logs.String(), "the agent has not answered SUBSCRIBE yet"); n < 1 || n > agent.subscribes {
				t.Errorf("a slow SUBSCRIBE was logged %d times, want once per slow SUBSCRIBE:\n%s", n, logs)
			}
			if got := errors.Is(err, ErrAgentLost); got != tc.lost {
				t.Errorf("Run = %v, want ErrAgentLost: %v", err, tc.lost)
			}
			if tc.lost {
				// The unanswered SUBSCRIBE was the last: none replaced it.
				if agent.subscribes != tc.subscribes {
					t.Errorf("the agent saw %d SUBSCRIBEs, want %d", agent.subscribes, tc.subscribes)
				}
				if took < tc.limit {
					t.Errorf("gave up after %v, before the %v timeout", took, tc.limit)
				}
				return
			}
			if agent.abandoned != 0 || agent.subscribes < tc.subscribes {
				t.Errorf("the agent saw %d SUBSCRIBEs, %d abandoned unanswered; want %d or more, none abandoned", agent.subscribes, agent.abandoned, tc.subscribes)
			}
			if !slices.Contains(agent.states, mesos.TASK_FINISHED) {
				t.Errorf("updates %v, want the launched task to end TASK_FINISHED", agent.states)
			}
		})
	}
}

// TestUpdateTimeout: the agent holds the first UPDATE until the executor's
// call timeout ends it, and drops it. Any failed call made the executor
// drop its connection to re-subscribe, which for a framework that does not
// checkpoint is the end: the executor gave up on the agent ("connection
// closed and the framework does not checkpoint: reading events: context
// canceled") and killed its task — TestSubscribeWaitsForSlowAgent's
// failure on a loaded machine, where its 200 ms call timeout ran out on an
// UPDATE. Now such an executor sends every unacknowledged update again on
// the same subscription, in order; one that checkpoints re-subscribes with
// them as before. Either way the agent gets every update, in order.
func TestUpdateTimeout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint bool
		subscribes func(n int) bool
	}{
		{"not checkpointing: sent again on the same subscription", false, func(n int) bool { return n == 1 }},
		{"checkpointing: re-subscribes", true, func(n int) bool { return n >= 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := &slowAgent{t: t, answer: func(int) subscribeAnswer { return subscribeAnswer{} }, stallUpdates: 1, acks: make(chan execpb.Event, 16)}
			logs := &lockedBuffer{}
			_, err := runAgainst(t, agent, tc.checkpoint, 20*time.Second, 200*time.Millisecond, logs)
			agent.mu.Lock()
			defer agent.mu.Unlock()
			if err != nil {
				t.Errorf("Run = %v, want nil; log:\n%s", err, logs)
			}
			if !tc.subscribes(agent.subscribes) {
				t.Errorf("the agent saw %d SUBSCRIBEs", agent.subscribes)
			}
			// Each update's first arrival, duplicates (the agent drops them
			// by uuid) aside, in the order the task went through them.
			var firsts []mesos.TaskState
			for _, s := range agent.states {
				if !slices.Contains(firsts, s) {
					firsts = append(firsts, s)
				}
			}
			if want := []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}; !slices.Equal(firsts, want) {
				t.Errorf("updates arrived as %v, want %v in order (all: %v)", firsts, want, agent.states)
			}
		})
	}
}
