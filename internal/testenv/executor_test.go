package testenv

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// testExecutorInfo runs this test binary as the test executor, with a
// local file fetched into its sandbox.
func testExecutorInfo(t *testing.T, id string) mesos.ExecutorInfo {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "payload.txt")
	if err := os.WriteFile(extra, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	no := false
	return mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_CUSTOM,
		ExecutorID: mesos.ExecutorID{Value: id},
		Command: &mesos.CommandInfo{
			Shell:     &no,
			Value:     &self,
			Arguments: []string{self},
			URIs:      []mesos.CommandInfo_URI{{Value: extra}},
			Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
				envVar(helperEnv + "=1"), envVar(leakMarker),
			}},
		},
		Resources: []mesos.Resource{
			resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource,
		},
	}
}

// silentExecutorInfo is a CUSTOM executor of framework fid that never
// subscribes (a sleep), with the resources a task group's executor needs.
func silentExecutorInfo(fid, id string) mesos.ExecutorInfo {
	return mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_CUSTOM,
		ExecutorID:  mesos.ExecutorID{Value: id},
		FrameworkID: &mesos.FrameworkID{Value: fid},
		Command: &mesos.CommandInfo{Value: strPtr("exec sleep 60"),
			Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{envVar(leakMarker)}}},
		Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
}

func execTask(id string, o mesos.Offer, ei *mesos.ExecutorInfo, data string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: o.AgentID, Executor: ei, Data: []byte(data),
		Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(16).Resource},
	}
}

func TestCustomExecutor(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("custom"), protoCodec)
	o := s.offers()[0]
	ei := testExecutorInfo(t, "exec-1")

	s.launch(o, execTask("a", o, &ei, "run"))
	run := s.updateAck("a", mesos.TASK_RUNNING)
	if run.GetSource() != mesos.SOURCE_EXECUTOR || run.GetExecutorID().Value != "exec-1" || run.AgentID.GetValue() != o.AgentID.Value {
		t.Errorf("RUNNING: %s executor %v agent %v", run.GetSource(), run.ExecutorID, run.AgentID)
	}
	if !strings.Contains(run.GetMessage(), "payload.txt") {
		t.Errorf("executor sandbox lacks the fetched URI: %q", run.GetMessage())
	}

	// The next offer names the running executor.
	o = s.offers()[0]
	if len(o.ExecutorIDs) != 1 || o.ExecutorIDs[0].Value != "exec-1" {
		t.Errorf("offer executor_ids = %v", o.ExecutorIDs)
	}

	// MESSAGE reaches the executor, whose reply reaches the framework.
	s.MustCall(calls.Message(o.AgentID.Value, "exec-1", []byte("ping")))
	msg := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_MESSAGE }, "MESSAGE")
	if string(msg.Message.Data) != "echo:ping" || msg.Message.ExecutorID.Value != "exec-1" {
		t.Errorf("MESSAGE = %q from %s", msg.Message.Data, msg.Message.ExecutorID.Value)
	}

	// A second task goes to the running executor; it finishes.
	s.launch(o, execTask("b", o, &ei, "finish"))
	s.updateAck("b", mesos.TASK_RUNNING)
	s.updateAck("b", mesos.TASK_FINISHED)

	s.MustCall(calls.Kill("a", o.AgentID.Value))
	s.updateAck("a", mesos.TASK_KILLED)

	// The executor dies with a task running: TASK_FAILED and FAILURE.
	o = s.offers()[0]
	s.launch(o, execTask("c", o, &ei, "run"))
	s.updateAck("c", mesos.TASK_RUNNING)
	o = s.offers()[0]
	s.launch(o, execTask("d", o, &ei, "exit"))
	s.updateAck("d", mesos.TASK_RUNNING)
	for _, id := range []string{"c", "d"} {
		st := s.updateAck(id, mesos.TASK_FAILED)
		// Slave::sendExecutorTerminatedStatusUpdate: no termination message, so "Executor terminated".
		if st.GetReason() != mesos.REASON_EXECUTOR_TERMINATED || st.GetSource() != mesos.SOURCE_AGENT || st.GetMessage() != "Executor terminated" {
			t.Errorf("%s: %s %s %q", id, st.GetSource(), st.GetReason(), st.GetMessage())
		}
	}
	f := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_FAILURE }, "FAILURE")
	if f.Failure.ExecutorID.GetValue() != "exec-1" || f.Failure.GetStatus() != 7<<8 {
		t.Errorf("FAILURE = %+v", f.Failure)
	}
}

func TestExecutorShutdownAndKill(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("shutdown"), jsonCodec)
	o := s.offers()[0]
	e1, e2 := testExecutorInfo(t, "e1"), testExecutorInfo(t, "e2")
	s.launch(o, execTask("s1", o, &e1, "run"), execTask("s2", o, &e2, "run"))
	s.updateAck("s1", mesos.TASK_RUNNING)
	s.updateAck("s2", mesos.TASK_RUNNING)

	s.MustCall(calls.Shutdown("e1", o.AgentID.Value))
	st := s.updateAck("s1", mesos.TASK_KILLED)
	if st.GetMessage() != "shutdown" {
		t.Errorf("s1 KILLED message %q", st.GetMessage())
	}

	if err := cl.KillExecutor(s.FrameworkID, "e2"); err != nil {
		t.Fatal(err)
	}
	st = s.updateAck("s2", mesos.TASK_FAILED)
	if st.GetReason() != mesos.REASON_EXECUTOR_TERMINATED {
		t.Errorf("s2 reason %s", st.GetReason())
	}
}

func TestLaunchGroupCustomExecutor(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("group"), protoCodec)
	o := s.offers()[0]
	ei := testExecutorInfo(t, "grp")
	ei.FrameworkID = &mesos.FrameworkID{Value: s.FrameworkID}
	t1, t2 := execTask("g1", o, nil, "finish"), execTask("g2", o, nil, "run")
	t1.Command, t2.Command = &mesos.CommandInfo{}, &mesos.CommandInfo{}
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, t1, t2)}.WithOffers(o.ID)))
	s.updateAck("g1", mesos.TASK_RUNNING)
	s.updateAck("g1", mesos.TASK_FINISHED)
	s.updateAck("g2", mesos.TASK_RUNNING)
	s.MustCall(calls.Kill("g2", ""))
	s.updateAck("g2", mesos.TASK_KILLED)
}

func TestLaunchGroupDefaultExecutor(t *testing.T) {
	cl := startCluster(t, Config{ExecutorPath: buildExecutor(t)})
	fi := frameworkInfo("default-exec")
	checkpoint := true
	fi.Checkpoint = &checkpoint
	s := subscribe(t, cl, fi, protoCodec)
	o := s.offers()[0]
	ei := mesos.ExecutorInfo{
		Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "default"},
		FrameworkID: &mesos.FrameworkID{Value: s.FrameworkID},
		Resources:   []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
	task, long := commandTask("dt", o, "exit 0"), commandTask("dl", o, "sleep 300")
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, task, long)}.WithOffers(o.ID)))
	s.updateAck("dt", mesos.TASK_STARTING)
	s.updateAck("dt", mesos.TASK_RUNNING)
	s.updateAck("dt", mesos.TASK_FINISHED)
	s.updateAck("dl", mesos.TASK_STARTING)
	s.updateAck("dl", mesos.TASK_RUNNING)

	// A KILL sent while the executor's stream is down is kept and
	// delivered when it subscribes again (it checkpoints, so it does).
	if err := cl.DropExecutor(s.FrameworkID, "default"); err != nil {
		t.Fatal(err)
	}
	s.MustCall(calls.Kill("dl", ""))
	s.updateAck("dl", mesos.TASK_KILLED)
}

// buildExecutor builds taskkit's executor for DEFAULT executors.
func buildExecutor(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), "executor")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/taskkit/taskkit/executor")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the executor: %v\n%s", err, b)
	}
	return out
}

func TestInvalidLaunches(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("invalid", mesos.FrameworkInfo_Capability_PARTITION_AWARE), protoCodec)
	o := s.offers()[0]
	ei := testExecutorInfo(t, "x")

	both := commandTask("both", o, "true")
	both.Executor = &ei
	huge := commandTask("huge", o, "true")
	huge.Resources = []mesos.Resource{resources.NewCPUs(1000).Resource}
	s.launch(o, both, huge)
	for _, id := range []string{"both", "huge"} {
		st := s.Update(id, mesos.TASK_ERROR)
		if st.GetReason() != mesos.REASON_TASK_INVALID || len(st.UUID) != 0 {
			t.Errorf("%s: %s uuid %x", id, st.GetReason(), st.UUID)
		}
	}

	o = s.offers()[0]
	noFID := ei // LAUNCH_GROUP requires ExecutorInfo.framework_id
	g := commandTask("g", o, "true")
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(noFID, g)}.WithOffers(o.ID)))
	if st := s.Update("g", mesos.TASK_ERROR); st.GetReason() != mesos.REASON_TASK_GROUP_INVALID {
		t.Errorf("group: %s", st.GetReason())
	}

	// An offer that is gone: TASK_DROPPED for a partition-aware framework.
	s.launch(o, commandTask("late", o, "true"))
	if st := s.Update("late", mesos.TASK_DROPPED); st.GetReason() != mesos.REASON_INVALID_OFFERS {
		t.Errorf("late: %s", st.GetReason())
	}
}

// TestExecutorAPIBadRequests pins the agent's executor API refusals, code
// and body byte for byte, in the order of Http::executor
// (src/slave/http.cpp), with common::validation::validateExecutorCall's
// messages (src/common/validation.cpp).
func TestExecutorAPIBadRequests(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("exec-api"), protoCodec)
	o := s.offers()[0]
	ei := testExecutorInfo(t, "api")
	s.launch(o, execTask("t", o, &ei, "run"))
	s.updateAck("t", mesos.TASK_RUNNING)
	endpoint := cl.Agents()[0].Endpoint
	fid := s.FrameworkID

	src, bad := mesos.SOURCE_EXECUTOR, mesos.SOURCE_MASTER
	running, staging := mesos.TASK_RUNNING, mesos.TASK_STAGING
	call := func(fid, eid string, st mesos.TaskStatus) *execpb.Call {
		return &execpb.Call{Type: execpb.Call_UPDATE, FrameworkID: mesos.FrameworkID{Value: fid}, ExecutorID: mesos.ExecutorID{Value: eid},
			Update: &execpb.Call_Update{Status: st}}
	}
	typed := func(typ execpb.Call_Type, fid, eid string) *execpb.Call {
		return &execpb.Call{Type: typ, FrameworkID: mesos.FrameworkID{Value: fid}, ExecutorID: mesos.ExecutorID{Value: eid}}
	}
	good := mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: &running, Source: &src, UUID: mesosx.NewUUID()}
	withUUID := func(u []byte) mesos.TaskStatus { x := good; x.UUID = u; return x }
	withSource := func(s mesos.TaskStatus_Source) mesos.TaskStatus { x := good; x.Source = &s; return x }
	withState := func(s mesos.TaskState) mesos.TaskStatus { x := good; x.State = &s; return x }
	withExecutor := func(id string) mesos.TaskStatus { x := good; x.ExecutorID = &mesos.ExecutorID{Value: id}; return x }
	unversioned := mesosx.NewUUID()
	unversioned[6] &= 0x0f
	const validate = "Failed to validate Executor::Call: "
	for _, tc := range []struct {
		name     string
		method   string
		ctype    string // protobuf when ""
		call     *execpb.Call
		raw      []byte // the body, when call is nil
		want     int
		wantBody string
	}{
		{name: "GET", method: http.MethodGet, want: 405, wantBody: "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."},
		{name: "content type with a charset", ctype: "application/x-protobuf; charset=utf-8", call: call(fid, "api", good), want: 415,
			wantBody: "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{name: "no type", ctype: "application/json", raw: []byte(`{"framework_id":{"value":"` + fid + `"},"executor_id":{"value":"api"}}`), want: 400, wantBody: validate + "Expecting 'type' to be present"},
		{name: "no update", call: typed(execpb.Call_UPDATE, fid, "api"), want: 400, wantBody: validate + "Expecting 'update' to be present"},
		{name: "no message", call: typed(execpb.Call_MESSAGE, fid, "api"), want: 400, wantBody: validate + "Expecting 'message' to be present"},
		{name: "no uuid", call: call(fid, "api", withUUID(nil)), want: 400, wantBody: validate + "Expecting 'uuid' to be present"},
		{name: "short uuid", call: call(fid, "api", withUUID([]byte("x"))), want: 400, wantBody: validate + "Not a valid UUID"},
		{name: "uuid without a version", call: call(fid, "api", withUUID(unversioned)), want: 400, wantBody: validate + "Not a valid UUID"},
		{name: "other executor in status", call: call(fid, "api", withExecutor("x")), want: 400, wantBody: validate + "ExecutorID in Call: api does not match ExecutorID in TaskStatus: x"},
		{name: "bad source", call: call(fid, "api", withSource(bad)), want: 400,
			wantBody: validate + "Received Call from executor api of framework " + fid + " with invalid source, expecting 'SOURCE_EXECUTOR'"},
		{name: "staging", call: call(fid, "api", withState(staging)), want: 400,
			wantBody: validate + "Received TASK_STAGING from executor api of framework " + fid + " which is not allowed"},
		// Validation comes before the lookup.
		{name: "staging, unknown framework", call: call("nope", "api", withState(staging)), want: 400,
			wantBody: validate + "Received TASK_STAGING from executor api of framework nope which is not allowed"},
		{name: "unknown framework", call: call("nope", "api", good), want: 400, wantBody: "Framework cannot be found"},
		{name: "unknown executor", call: call(fid, "nope", good), want: 400, wantBody: "Executor cannot be found"},
		// HEARTBEAT is answered before any lookup.
		{name: "heartbeat, unknown ids", call: typed(execpb.Call_HEARTBEAT, "nope", "nope"), want: 202},
		{name: "unknown type", call: typed(execpb.Call_UNKNOWN, fid, "api"), want: 501, wantBody: "501 Not Implemented."},
		{name: "unknown type, unknown executor", call: typed(execpb.Call_UNKNOWN, fid, "nope"), want: 400, wantBody: "Executor cannot be found"},
		{name: "ok", call: call(fid, "api", good), want: 202},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.raw
			if tc.call != nil {
				b, err := mesosx.Marshal(protoCodec, tc.call)
				if err != nil {
					t.Fatal(err)
				}
				body = b
			}
			method, ctype := http.MethodPost, mesosx.MediaTypeProtobuf
			if tc.method != "" {
				method = tc.method
			}
			if tc.ctype != "" {
				ctype = tc.ctype
			}
			req, _ := http.NewRequest(method, "http://"+endpoint+"/api/v1/executor", bytes.NewReader(body))
			req.Header.Set("Content-Type", ctype)
			res, got := answer(t, req)
			if res.StatusCode != tc.want || got != tc.wantBody {
				t.Errorf("%d %q, want %d %q", res.StatusCode, got, tc.want, tc.wantBody)
			}
		})
	}
	// Only an executor that never subscribed is refused (Http::executor
	// checks Executor::REGISTERING): one whose stream is gone, between a
	// drop and its re-SUBSCRIBE, may still send updates.
	t.Run("update without a stream", func(t *testing.T) {
		cl.mu.Lock()
		e := cl.agents[0].executors[fid+"/api"]
		stream := e.stream
		e.stream = nil
		cl.mu.Unlock()
		defer func() {
			cl.mu.Lock()
			e.stream = stream
			cl.mu.Unlock()
		}()
		b, err := mesosx.Marshal(protoCodec, call(fid, "api", withUUID(mesosx.NewUUID())))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+endpoint+"/api/v1/executor", bytes.NewReader(b))
		req.Header.Set("Content-Type", mesosx.MediaTypeProtobuf)
		res, got := answer(t, req)
		if res.StatusCode != http.StatusAccepted {
			t.Errorf("%d %q, want 202", res.StatusCode, got)
		}
	})
}

// TestExecutorResubscribe: Mesos' rule at an executor's SUBSCRIBE
// (Slave::subscribe): a task sent to the executor, still TASK_STAGING and
// neither listed in unacknowledged_tasks nor moved on by an unacknowledged
// update, never reached it: it ends TASK_DROPPED (TASK_LOST if the
// framework is not PARTITION_AWARE), from the agent, REASON_AGENT_RESTARTED.
// A task the executor knows is neither dropped nor launched again.
func TestExecutorResubscribe(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		caps       []mesos.FrameworkInfo_Capability_Type
		dropped    mesos.TaskState   // the task's only update, if it is dropped
		states     []mesos.TaskState // else the updates it goes through
	}{
		{name: "launch never read, partition-aware", mode: "forget",
			caps: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}, dropped: mesos.TASK_DROPPED},
		{name: "launch never read", mode: "forget", dropped: mesos.TASK_LOST},
		{name: "task listed", mode: "remember",
			states: []mesos.TaskState{mesos.TASK_RUNNING, mesos.TASK_FINISHED}},
		{name: "update carried", mode: "update",
			caps:   []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			states: []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := startCluster(t, Config{})
			s := subscribe(t, cl, frameworkInfo("resubscribe", tc.caps...), protoCodec)
			o := s.offers()[0]
			ei := testExecutorInfo(t, "resub")
			ei.Command.Environment.Variables = append(ei.Command.Environment.Variables, envVar(resubscribeEnv+"="+tc.mode))
			s.launch(o, execTask("r", o, &ei, "run"))
			if tc.dropped != 0 {
				st := s.updateAck("r", tc.dropped)
				if st.GetSource() != mesos.SOURCE_AGENT || st.GetReason() != mesos.REASON_AGENT_RESTARTED ||
					st.GetMessage() != "Task launched during agent restart" {
					t.Errorf("%s: source %s reason %s message %q", tc.dropped, st.GetSource(), st.GetReason(), st.GetMessage())
				}
				return
			}
			var last mesos.TaskStatus
			for _, state := range tc.states {
				last = s.updateAck("r", state)
			}
			if got := last.GetMessage(); got != "launches after re-subscribe: 0" {
				t.Errorf("FINISHED message %q: the launch was sent again", got)
			}
			for _, ev := range s.Pending() {
				if ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == "r" {
					t.Errorf("unexpected update %s %s", ev.Update.Status.GetState(), ev.Update.Status.GetReason())
				}
			}
		})
	}
}

// TestExecutorRegistrationTimeout follows Slave::registerExecutorTimeout
// (src/slave/slave.cpp): an executor that does not subscribe in time is
// killed; its tasks fail from the agent with
// REASON_EXECUTOR_REGISTRATION_TIMEOUT and "Executor did not register
// within <timeout>" in stout's duration units (1500ms, where Go writes
// 1.5s); the framework gets FAILURE.
func TestExecutorRegistrationTimeout(t *testing.T) {
	cl := startCluster(t, Config{ExecutorRegistrationTimeout: 1500 * time.Millisecond})
	s := subscribe(t, cl, frameworkInfo("silent-executor"), protoCodec)
	o := s.offers()[0]
	ei := silentExecutorInfo(s.FrameworkID, "silent")
	s.launch(o, execTask("waits", o, &ei, ""))
	st := s.Update("waits", mesos.TASK_FAILED)
	if st.GetReason() != mesos.REASON_EXECUTOR_REGISTRATION_TIMEOUT || st.GetSource() != mesos.SOURCE_AGENT || st.GetMessage() != "Executor did not register within 1500ms" {
		t.Errorf("%s %s %q, want SOURCE_AGENT REASON_EXECUTOR_REGISTRATION_TIMEOUT %q", st.GetSource(), st.GetReason(), st.GetMessage(), "Executor did not register within 1500ms")
	}
	s.WaitFor(func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_FAILURE && e.Failure.ExecutorID != nil && e.Failure.ExecutorID.Value == "silent"
	}, "FAILURE")
}

// TestExecutorEnvironment follows executorEnvironment (src/slave/slave.cpp)
// and the containerizer's MESOS_SANDBOX: what a custom executor finds in
// its environment, durations in stout's units (mesos-go's config.FromEnv
// rejects Go's), the recovery variables only with checkpointing, the
// sandbox as its working directory; and, not Mesos', the cluster's
// executor registration timeout as taskkit's executor reads it.
func TestExecutorEnvironment(t *testing.T) {
	cl := startCluster(t, Config{ExecutorRegistrationTimeout: 90 * time.Second})
	for _, checkpoint := range []bool{false, true} {
		t.Run("checkpoint="+strconv.FormatBool(checkpoint), func(t *testing.T) {
			fi := frameworkInfo("env")
			fi.Checkpoint = &checkpoint
			s := subscribe(t, cl, fi, protoCodec)
			o := s.offers()[0]
			ei := testExecutorInfo(t, "env-exec")
			s.launch(o, execTask("env", o, &ei, "env"))
			s.updateAck("env", mesos.TASK_RUNNING)
			got := map[string]string{}
			fin := s.updateAck("env", mesos.TASK_FINISHED)
			for _, kv := range strings.Split(fin.GetMessage(), "\n") {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
			}
			var endpoint string
			for _, a := range cl.Agents() {
				if a.ID == o.AgentID.Value {
					endpoint = a.Endpoint
				}
			}
			want := map[string]string{
				"MESOS_FRAMEWORK_ID":                   s.FrameworkID,
				"MESOS_EXECUTOR_ID":                    "env-exec",
				"MESOS_SLAVE_ID":                       o.AgentID.Value,
				"MESOS_AGENT_ENDPOINT":                 endpoint,
				"MESOS_SLAVE_PID":                      "slave(1)@" + endpoint,
				"MESOS_CHECKPOINT":                     "0",
				"MESOS_HTTP_COMMAND_EXECUTOR":          "0",
				"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
				"LIBPROCESS_PORT":                      "0",
				"EXECUTOR_REGISTRATION_TIMEOUT":        "1m30s",
			}
			if checkpoint {
				want["MESOS_CHECKPOINT"] = "1"
				want["MESOS_RECOVERY_TIMEOUT"] = "15mins"
				want["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "2secs"
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s=%q, want %q", k, got[k], v)
				}
			}
			for _, k := range []string{"MESOS_RECOVERY_TIMEOUT", "MESOS_SUBSCRIPTION_BACKOFF_MAX"} {
				if _, ok := got[k]; ok && !checkpoint {
					t.Errorf("%s set without checkpointing", k)
				}
			}
			dir := got["MESOS_DIRECTORY"]
			if !strings.Contains(dir, "/slaves/"+o.AgentID.Value+"/frameworks/"+s.FrameworkID+"/executors/env-exec/runs/") ||
				got["MESOS_SANDBOX"] != dir || got["PWD"] != dir {
				t.Errorf("MESOS_DIRECTORY %q, MESOS_SANDBOX %q, working directory %q: want one sandbox path", dir, got["MESOS_SANDBOX"], got["PWD"])
			}
			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}

// TestKillBeforeDelivery follows Slave::killTask (src/slave/slave.cpp): a
// task killed while it waits for its executor to subscribe ends
// TASK_KILLED, SOURCE_AGENT, REASON_TASK_KILLED_DURING_LAUNCH; a task of a
// group takes its whole group with it, with the group's message.
func TestKillBeforeDelivery(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("kill-early"), protoCodec)
	check := func(id, want string) {
		t.Helper()
		st := s.updateAck(id, mesos.TASK_KILLED)
		if st.GetReason() != mesos.REASON_TASK_KILLED_DURING_LAUNCH || st.GetSource() != mesos.SOURCE_AGENT || st.GetMessage() != want {
			t.Errorf("%s: %s %s %q, want SOURCE_AGENT REASON_TASK_KILLED_DURING_LAUNCH %q", id, st.GetSource(), st.GetReason(), st.GetMessage(), want)
		}
	}

	o := s.offers()[0]
	ei := silentExecutorInfo(s.FrameworkID, "alone")
	s.launch(o, execTask("lone", o, &ei, ""))
	s.MustCall(calls.Kill("lone", ""))
	check("lone", "Killed before delivery to the executor")

	o = s.offers()[0]
	group := silentExecutorInfo(s.FrameworkID, "grouped")
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(group, commandTask("g1", o, "true"), commandTask("g2", o, "true"))}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
	s.MustCall(calls.Kill("g1", ""))
	for _, id := range []string{"g1", "g2"} {
		check(id, "A task within the task group was killed before delivery to the executor")
	}
	s.MustCall(calls.Shutdown("alone", o.AgentID.Value))
	s.MustCall(calls.Shutdown("grouped", o.AgentID.Value))
}
