package testenv

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// Each test here pins a behaviour testenv used to get wrong, against the
// Mesos test or source that fixes it.

// TestTaskWithoutResources follows TaskValidationTest.TaskUsesNoResources
// (src/tests/master_validation_tests.cpp): a task without resources gets
// TASK_ERROR, REASON_TASK_INVALID, "Task uses no resources", from the
// master, and is not launched. Tasks of a group are validated the same way
// (task::group::internal::validateTask calls the task validators), the
// whole group failing with REASON_TASK_GROUP_INVALID and the message
// prefixed "Task '<id>' is invalid: " (task::group::validate).
func TestTaskWithoutResources(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("no-resources"), protoCodec)
	o := s.offers()[0]
	task := commandTask("bare", o, "exit 0")
	task.Resources = nil
	s.launch(o, task)
	st := s.Update("bare", mesos.TASK_ERROR)
	if st.GetReason() != mesos.REASON_TASK_INVALID || st.GetMessage() != "Task uses no resources" || st.GetSource() != mesos.SOURCE_MASTER {
		t.Errorf("got %s %s %q, want SOURCE_MASTER REASON_TASK_INVALID %q", st.GetSource(), st.GetReason(), st.GetMessage(), "Task uses no resources")
	}

	o = s.offers()[0]
	fid := mesos.FrameworkID{Value: s.FrameworkID}
	ei := mesos.ExecutorInfo{
		Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "group"}, FrameworkID: &fid,
		Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
	with, without := commandTask("with", o, "exit 0"), commandTask("without", o, "exit 0")
	without.Resources = nil
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, with, without)}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
	const want = "Task 'without' is invalid: Task uses no resources"
	for _, id := range []string{"with", "without"} {
		st := s.Update(id, mesos.TASK_ERROR)
		if st.GetReason() != mesos.REASON_TASK_GROUP_INVALID || st.GetMessage() != want {
			t.Errorf("%s: got %s %q, want REASON_TASK_GROUP_INVALID %q", id, st.GetReason(), st.GetMessage(), want)
		}
	}
}

// TestKillWithWrongAgentIgnored follows Master::kill
// (src/master/master.cpp): a KILL naming an agent_id other than the task's
// is logged and dropped — no kill, no update. The reconciliation answer
// that follows it on the stream shows that nothing came before it.
func TestKillWithWrongAgentIgnored(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("wrong-agent", mesos.FrameworkInfo_Capability_TASK_KILLING_STATE), protoCodec)
	o := s.offers()[0]
	s.launch(o, commandTask("sleeper", o, "exec sleep 60"))
	s.updateAck("sleeper", mesos.TASK_STARTING)
	s.updateAck("sleeper", mesos.TASK_RUNNING)

	s.MustCall(calls.Kill("sleeper", o.AgentID.Value+"-not"))
	s.MustCall(calls.Reconcile(calls.ReconcileTasks(map[string]string{"sleeper": o.AgentID.Value})))
	ev := s.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_UPDATE }, "UPDATE")
	if st := ev.Update.Status; st.GetReason() != mesos.REASON_RECONCILIATION || st.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("after a KILL for another agent: %s %s %q, want the reconciliation answer TASK_RUNNING", st.GetState(), st.GetReason(), st.GetMessage())
	}
	// With the task's own agent (or none) the KILL is carried out.
	s.MustCall(calls.Kill("sleeper", o.AgentID.Value))
	s.updateAck("sleeper", mesos.TASK_KILLING)
	s.updateAck("sleeper", mesos.TASK_KILLED)
}

// TestStateTaskRole follows SlaveTest.StateEndpoint
// (src/tests/slave_tests.cpp) and json(ObjectWriter*, const Task&) in
// src/common/http.cpp: since Mesos 1.3 /state gives every task (and
// executor) "role", the role its resources were allocated to.
func TestStateTaskRole(t *testing.T) {
	cl := startCluster(t, Config{})
	for _, tc := range []struct {
		name string
		fi   *mesos.FrameworkInfo
		want string
	}{
		{"single role", func() *mesos.FrameworkInfo { fi := frameworkInfo("web"); fi.Role = strPtr("web-role"); return fi }(), "web-role"},
		{"default role", frameworkInfo("star"), "*"},
		{"multi role", func() *mesos.FrameworkInfo {
			fi := frameworkInfo("multi", mesos.FrameworkInfo_Capability_MULTI_ROLE)
			fi.Roles = []string{"blue"}
			return fi
		}(), "blue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := subscribe(t, cl, tc.fi, protoCodec)
			o := s.offers()[0]
			task := commandTask("t-"+tc.want, o, "exec sleep 60")
			if tc.fi.Roles != nil {
				for i := range task.Resources {
					task.Resources[i].AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(tc.want)}
				}
			}
			s.launch(o, task)
			s.updateAck(task.TaskID.Value, mesos.TASK_STARTING)
			var state struct {
				Frameworks []struct {
					ID    string `json:"id"`
					Tasks []struct {
						Role *string `json:"role"`
					} `json:"tasks"`
				} `json:"frameworks"`
			}
			if err := json.Unmarshal(get(t, cl.MasterURL()+"/state"), &state); err != nil {
				t.Fatal(err)
			}
			for _, fw := range state.Frameworks {
				if fw.ID != s.FrameworkID {
					continue
				}
				if len(fw.Tasks) != 1 || fw.Tasks[0].Role == nil || *fw.Tasks[0].Role != tc.want {
					t.Errorf("tasks %+v, want one with role %q", fw.Tasks, tc.want)
				}
			}
			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}

// post sends a raw scheduler call, with a Mesos-Stream-Id header when
// streamID is not "", and returns the status and, unless it is a 200 (a
// SUBSCRIBE stream, closed at once), the body.
func post(t *testing.T, cl *Cluster, ctype string, body []byte, streamID string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, cl.MasterURL()+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", ctype)
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	res, got := answer(t, req)
	return res.StatusCode, got
}

// protoField is one protobuf field, for bodies mesos-go cannot produce
// (it always writes required fields).
type protoField struct {
	num    uint64
	varint uint64
	bytes  []byte // a length-delimited field when set
}

func protoMessage(fields ...protoField) []byte {
	b := proto.NewBuffer(nil)
	for _, f := range fields {
		if f.bytes != nil {
			_ = b.EncodeVarint(f.num<<3 | proto.WireBytes)
			_ = b.EncodeRawBytes(f.bytes)
			continue
		}
		_ = b.EncodeVarint(f.num<<3 | proto.WireVarint)
		_ = b.EncodeVarint(f.varint)
	}
	return b.Bytes()
}

// TestSubscribeWithoutRequiredFields follows Master::Http::scheduler
// (src/master/http.cpp) and stout's protobuf::parse: FrameworkInfo's user
// and name are required, so a SUBSCRIBE without them is no Call at all —
// 400 before any stream, not 200 and an ERROR event. Present but empty,
// they are accepted, as on Mesos.
func TestSubscribeWithoutRequiredFields(t *testing.T) {
	cl := startCluster(t, Config{})
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		want        int
		wantBody    string
	}{
		{"json without user", "application/json", []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}`), 400,
			"Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user"},
		{"json without user and name", "application/json", []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{}}}`), 400,
			"Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user, subscribe.framework_info.name"},
		{"json with a null name", "application/json", []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":null}}}`), 400,
			"Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.name"},
		// Call{type: SUBSCRIBE, subscribe: {framework_info: {name: "x"}}}
		{"protobuf without user", "application/x-protobuf", protoMessage(protoField{num: 2, varint: 1},
			protoField{num: 3, bytes: protoMessage(protoField{num: 1, bytes: protoMessage(protoField{num: 2, bytes: []byte("x")})})}), 400,
			"Failed to parse body into Call protobuf"},
		{"json with empty user and name", "application/json", []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"","name":""}}}`), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, cl, tc.ctype, tc.body, "")
			if code != tc.want || (tc.wantBody != "" && body != tc.wantBody) {
				t.Errorf("%d %q, want %d %q", code, body, tc.want, tc.wantBody)
			}
		})
	}
}

// TestCallWithoutType follows validation::scheduler::call::validate
// (src/master/validation.cpp) and Master::Http::scheduler
// (src/master/http.cpp): a call without a type is a 400 "Expecting 'type'
// to be present"; one of type UNKNOWN is a 501 with libprocess' body.
func TestCallWithoutType(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("typeless"), protoCodec)
	fid := []byte(`{"value":"` + s.FrameworkID + `"}`)
	fidProto := protoMessage(protoField{num: 1, bytes: []byte(s.FrameworkID)})
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		want        int
		wantBody    string
	}{
		{"json without type", "application/json", []byte(`{"framework_id":` + string(fid) + `}`), 400,
			"Failed to validate scheduler::Call: Expecting 'type' to be present"},
		{"protobuf without type", "application/x-protobuf", protoMessage(protoField{num: 1, bytes: fidProto}), 400,
			"Failed to validate scheduler::Call: Expecting 'type' to be present"},
		{"json UNKNOWN", "application/json", []byte(`{"type":"UNKNOWN","framework_id":` + string(fid) + `}`), 501, "501 Not Implemented."},
		{"protobuf UNKNOWN", "application/x-protobuf", protoMessage(protoField{num: 1, bytes: fidProto}, protoField{num: 2, varint: 0}), 501, "501 Not Implemented."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := post(t, cl, tc.ctype, tc.body, streamIDOf(t, cl, s.FrameworkID)); code != tc.want || body != tc.wantBody {
				t.Errorf("%d %q, want %d %q", code, body, tc.want, tc.wantBody)
			}
		})
	}
}

// TestInvalidOffers follows Master::accept (src/master/master.cpp) and
// validation::offer::validate (src/master/validation.cpp): an ACCEPT with
// invalid offers fails its tasks with TASK_DROPPED (PARTITION_AWARE),
// REASON_INVALID_OFFERS and Mesos' message, each check running over all
// the offers before the next (so a duplicate is reported before an offer
// that is gone, whatever their order).
func TestInvalidOffers(t *testing.T) {
	cl := startCluster(t, Config{Agents: 2, AllocationInterval: 50 * time.Millisecond})
	a := subscribe(t, cl, frameworkInfo("offers-a", mesos.FrameworkInfo_Capability_PARTITION_AWARE), protoCodec)
	held := map[string]mesos.Offer{} // a's outstanding offers by agent
	// offersOnBothAgents waits until a holds an offer on each agent.
	offersOnBothAgents := func() (o1, o2 mesos.Offer) {
		t.Helper()
		for len(held) < 2 {
			for _, o := range a.offers() {
				held[o.AgentID.Value] = o
			}
		}
		var os []mesos.Offer
		for _, o := range held {
			os = append(os, o)
		}
		return os[0], os[1]
	}
	// accept sends an ACCEPT of ids, in this order and duplicates kept
	// (mesos-go's calls.Accept would drop them), launching one task.
	accept := func(taskID string, agent mesos.AgentID, ids ...mesos.OfferID) mesos.TaskStatus {
		t.Helper()
		task := commandTask(taskID, mesos.Offer{AgentID: agent}, "true")
		a.MustCall(&scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{
			OfferIDs: ids, Operations: []mesos.Offer_Operation{calls.OpLaunch(task)}}})
		for agent, o := range held { // the master discards the listed offers
			if slices.Contains(ids, o.ID) {
				delete(held, agent)
			}
		}
		st := a.Update(taskID, mesos.TASK_DROPPED)
		if st.GetReason() != mesos.REASON_INVALID_OFFERS || st.GetSource() != mesos.SOURCE_MASTER || len(st.UUID) != 0 {
			t.Errorf("%s: %s %s uuid %x, want SOURCE_MASTER REASON_INVALID_OFFERS and no uuid", taskID, st.GetSource(), st.GetReason(), st.UUID)
		}
		return st
	}
	const prefix = "Task launched with invalid offers: "

	o1, o2 := offersOnBothAgents()
	if st := accept("two-agents", o1.AgentID, o1.ID, o2.ID); st.GetMessage() != prefix+"Aggregated offers must belong to one single agent. Offer "+o2.ID.Value+" uses agent "+o2.AgentID.Value+" and agent "+o1.AgentID.Value {
		t.Errorf("two agents: %q", st.GetMessage())
	}

	o1, _ = offersOnBothAgents()
	gone := mesos.OfferID{Value: "gone"}
	if st := accept("duplicate", o1.AgentID, o1.ID, gone, o1.ID); st.GetMessage() != prefix+"Duplicate offer "+o1.ID.Value+" in offer list" {
		t.Errorf("duplicate: %q", st.GetMessage())
	}
	if st := accept("gone", o1.AgentID, gone); st.GetMessage() != prefix+"Offer gone is no longer valid" {
		t.Errorf("gone: %q", st.GetMessage())
	}
	if st := accept("none", o1.AgentID); st.GetMessage() != prefix+"No offers specified" {
		t.Errorf("none: %q", st.GetMessage())
	}

	// Another framework's offer: a declines everything, b gets it.
	o1, o2 = offersOnBothAgents()
	a.MustCall(calls.Decline(o1.ID, o2.ID).With(calls.RefuseSeconds(time.Hour)))
	b := subscribe(t, cl, frameworkInfo("offers-b"), protoCodec)
	ob := b.offers()[0]
	if st := accept("foreign", ob.AgentID, ob.ID); st.GetMessage() != prefix+"Offer "+ob.ID.Value+" has invalid framework "+b.FrameworkID+" while framework "+a.FrameworkID+" is expected" {
		t.Errorf("foreign: %q", st.GetMessage())
	}
}

// TestTaskValidationMessages follows validation::task::validate and
// validation::task::group::validate (src/master/validation.cpp) and
// common::validation::validateID (src/common/validation.cpp): the
// TASK_ERROR messages, word for word, of the checks frameworks meet most.
func TestTaskValidationMessages(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("task-validation"), protoCodec)
	fid := mesos.FrameworkID{Value: s.FrameworkID}
	executor := func(typ mesos.ExecutorInfo_Type, id string, rs ...mesos.Resource) *mesos.ExecutorInfo {
		return &mesos.ExecutorInfo{Type: typ, ExecutorID: mesos.ExecutorID{Value: id}, FrameworkID: &fid, Resources: rs}
	}
	cpus, mem, disk := resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource
	minusOne := -1.0
	withHealthCheck := func(id string, hc mesos.HealthCheck) func(mesos.Offer) mesos.TaskInfo {
		return func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask(id, o, "true")
			ti.HealthCheck = &hc
			return ti
		}
	}
	for _, tc := range []struct {
		name  string
		task  func(o mesos.Offer) mesos.TaskInfo
		group *mesos.ExecutorInfo // LAUNCH_GROUP with this executor when set
		want  string
	}{
		{name: "empty ID", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("", o, "true") }, want: "ID must not be empty"},
		{name: "slash in ID", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("a/b", o, "true") }, want: "'a/b' contains invalid characters"},
		{name: "dot-dot ID", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("..", o, "true") }, want: "'..' is disallowed"},
		{name: "long ID", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask(strings.Repeat("x", 256), o, "true") }, want: "ID must not be greater than 255 characters"},
		{name: "other agent", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("elsewhere", o, "true")
			ti.AgentID.Value = "nope"
			return ti
		}, want: "Task uses invalid agent nope while agent %AGENT% is expected"},
		{name: "negative kill grace period", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("kp", o, "true")
			ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: -1}}
			return ti
		}, want: "Task's 'kill_policy.grace_period' must be non-negative"},
		{name: "health check without type", task: withHealthCheck("hc1", mesos.HealthCheck{Command: &mesos.CommandInfo{Value: strPtr("true")}}),
			want: "Task uses invalid health check: 'UNKNOWN' is not a valid health check type"},
		{name: "HTTP health check without http", task: withHealthCheck("hc2", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP}),
			want: "Task uses invalid health check: Expecting 'http' to be set for HTTP health check"},
		{name: "HTTP health check, ftp", task: withHealthCheck("hc3", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Scheme: strPtr("ftp"), Port: 80}}),
			want: "Task uses invalid health check: Unsupported HTTP health check scheme: 'ftp'"},
		{name: "HTTP health check, relative path", task: withHealthCheck("hc4", mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Path: strPtr("x"), Port: 80}}),
			want: "Task uses invalid health check: The path 'x' of HTTP health check must start with '/'"},
		{name: "COMMAND health check without a value", task: withHealthCheck("hc5", mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{}}),
			want: "Task uses invalid health check: Command health check must contain 'shell command'"},
		{name: "negative health check delay", task: withHealthCheck("hc6", mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{Port: 80}, DelaySeconds: &minusOne}),
			want: "Task uses invalid health check: Expecting 'delay_seconds' to be non-negative"},
		{name: "TCP check without tcp", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("ck", o, "true")
			ti.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_TCP}
			return ti
		}, want: "Task uses invalid check: Expecting 'tcp' to be set for TCP check"},
		{name: "group task with a negative kill grace period", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("kp2", o, "true")
			ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: -1}}
			return ti
		}, group: executor(mesos.ExecutorInfo_DEFAULT, "g", cpus, mem, disk),
			want: "Task 'kp2' is invalid: Task's 'kill_policy.grace_period' must be non-negative"},
		{name: "DEFAULT executor in LAUNCH", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("default", o, "")
			ti.Command, ti.Executor = nil, executor(mesos.ExecutorInfo_DEFAULT, "d", cpus, mem, disk)
			return ti
		}, want: "'ExecutorInfo.type' must be 'CUSTOM'"},
		{name: "CUSTOM executor without command", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("custom", o, "")
			ti.Command, ti.Executor = nil, executor(mesos.ExecutorInfo_CUSTOM, "c", cpus, mem, disk)
			return ti
		}, want: "'ExecutorInfo.command' must be set for 'CUSTOM' executor"},
		{name: "untyped executor without command", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("untyped", o, "")
			ti.Command, ti.Executor = nil, executor(mesos.ExecutorInfo_UNKNOWN, "u", cpus, mem, disk)
			return ti
		}, want: "'ExecutorInfo.command' must be set"},
		{name: "group executor under min cpus", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("g1", o, "true") },
			group: executor(mesos.ExecutorInfo_DEFAULT, "g", resources.NewCPUs(0.005).Resource, mem, disk),
			want:  "Executor 'g' uses less CPUs (0.005) than the minimum required (0.01)"},
		{name: "group executor under min mem", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("g2", o, "true") },
			group: executor(mesos.ExecutorInfo_DEFAULT, "g", cpus, resources.NewMemory(16).Resource, disk),
			want:  "Executor 'g' uses less memory (16MB) than the minimum required (32MB)"},
		{name: "group executor without mem", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("g3", o, "true") },
			group: executor(mesos.ExecutorInfo_DEFAULT, "g", cpus, disk),
			want:  "Executor 'g' uses less memory (None) than the minimum required (32MB)"},
		{name: "group executor without disk", task: func(o mesos.Offer) mesos.TaskInfo { return commandTask("g4", o, "true") },
			group: executor(mesos.ExecutorInfo_DEFAULT, "g", cpus, mem),
			want:  "Executor 'g' uses no disk"},
		{name: "group task on another agent", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("g5", o, "true")
			ti.AgentID.Value = "nope"
			return ti
		}, group: executor(mesos.ExecutorInfo_DEFAULT, "g", cpus, mem, disk),
			want: "Task 'g5' is invalid: Task uses invalid agent nope while agent %AGENT% is expected"},
		{name: "group task with another executor", task: func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("g6", o, "true")
			ti.Executor = executor(mesos.ExecutorInfo_DEFAULT, "other", cpus, mem, disk)
			return ti
		}, group: executor(mesos.ExecutorInfo_DEFAULT, "g", cpus, mem, disk),
			want: "The `ExecutorInfo` of task 'g6' is different from executor 'g'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := s.offers()[0]
			ti := tc.task(o)
			op := calls.OpLaunch(ti)
			if tc.group != nil {
				op = calls.OpLaunchGroup(*tc.group, ti)
			}
			s.MustCall(calls.Accept(calls.OfferOperations{op}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
			st := s.Update(ti.TaskID.Value, mesos.TASK_ERROR)
			want := strings.ReplaceAll(tc.want, "%AGENT%", o.AgentID.Value)
			if st.GetMessage() != want || st.GetSource() != mesos.SOURCE_MASTER {
				t.Errorf("%s %q, want SOURCE_MASTER %q", st.GetSource(), st.GetMessage(), want)
			}
		})
	}
	t.Run("empty name is accepted", func(t *testing.T) {
		o := s.offers()[0]
		ti := commandTask("nameless", o, "true")
		ti.Name = ""
		s.launch(o, ti)
		s.Update("nameless", mesos.TASK_STARTING)
	})
}
