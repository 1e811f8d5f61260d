package testenv

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// TestBadRequests pins the scheduler API's refusals, code and body byte
// for byte, in the order Master::Http::scheduler (src/master/http.cpp)
// checks them, with libprocess' bodies
// (3rdparty/libprocess/include/process/http.hpp) and
// validation::scheduler::call::validate's messages
// (src/master/validation.cpp).
func TestBadRequests(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("bad"), protoCodec)
	streamID := streamIDOf(t, cl, s.FrameworkID)
	enc := func(c *scheduler.Call) []byte {
		b, err := mesosx.Marshal(jsonCodec, c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fid := &mesos.FrameworkID{Value: s.FrameworkID}
	revive := enc(&scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: fid, Revive: &scheduler.Call_Revive{}})
	subscribeCall := enc(calls.Subscribe(frameworkInfo("x")))
	unversioned := mesosx.NewUUID()
	unversioned[6] &= 0x0f // 16 bytes, but no UUID version: stout refuses it
	otherFI := *frameworkInfo("bad")
	otherFI.ID = &mesos.FrameworkID{Value: "other"}
	const validate = "Failed to validate scheduler::Call: "
	for _, tc := range []struct {
		name     string
		method   string
		ctype    string
		accept   string
		sid      string
		body     []byte
		want     int
		wantBody string // "" for none (a 200 stream or a 202)
	}{
		{"GET", http.MethodGet, "", "", "", nil, 405, "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."},
		{"no content type", "POST", "", "", "", revive, 400, "Expecting 'Content-Type' to be present"},
		{"unsupported content type", "POST", "text/plain", "", "", revive, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		// Mesos compares the header as a string: a parameter makes it another type.
		{"content type with a charset", "POST", "application/json; charset=utf-8", "", streamID, revive, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"content type in another case", "POST", "Application/JSON", "", streamID, revive, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"unparseable protobuf", "POST", "application/x-protobuf", "", "", []byte("{nope"), 400, "Failed to parse body into Call protobuf"},
		{"no framework id", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_REVIVE}), 400, validate + "Expecting 'framework_id' to be present"},
		{"unknown framework", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: "nope"}}), 400, "Framework cannot be found"},
		{"empty framework id", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{}}), 400, "Framework cannot be found"},
		{"no stream id", "POST", "application/json", "", "", revive, 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"},
		{"wrong stream id", "POST", "application/json", "", "not-it", revive, 400,
			"The stream ID 'not-it' included in this request didn't match the stream ID currently associated with framework ID " + s.FrameworkID},
		{"short ack uuid", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, FrameworkID: fid, Acknowledge: &scheduler.Call_Acknowledge{UUID: []byte("short")}}), 400, validate + "Not a valid UUID"},
		{"ack uuid without a version", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, FrameworkID: fid, Acknowledge: &scheduler.Call_Acknowledge{UUID: unversioned}}), 400, validate + "Not a valid UUID"},
		{"missing accept body", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_ACCEPT, FrameworkID: fid}), 400, validate + "Expecting 'accept' to be present"},
		{"update_framework for another id", "POST", "application/json", "", streamID,
			enc(&scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, FrameworkID: fid, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: otherFI}}), 400,
			validate + "'framework_id' differs from 'update_framework.framework_info.id'"},
		{"unknown call type", "POST", "application/json", "", streamID, []byte(`{"type":"UNKNOWN","framework_id":{"value":"` + s.FrameworkID + `"}}`), 501, "501 Not Implemented."},
		// UNKNOWN passes validation: the framework is checked first.
		{"unknown call type, unknown framework", "POST", "application/json", "", streamID, []byte(`{"type":"UNKNOWN","framework_id":{"value":"nope"}}`), 400, "Framework cannot be found"},
		{"unknown call type, no framework id", "POST", "application/json", "", streamID, []byte(`{"type":"UNKNOWN"}`), 400, validate + "Expecting 'framework_id' to be present"},
		{"subscribe with stream id", "POST", "application/json", "application/json", "abc", subscribeCall, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header"},
		{"subscribe not acceptable", "POST", "application/json", "text/html", "", subscribeCall, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"},
		// libprocess' acceptsMediaType: q=0 refuses the type.
		{"subscribe, json at q=0", "POST", "application/json", "application/json; q=0", "", subscribeCall, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"},
		// Accept is checked before the stream ID.
		{"subscribe with stream id, not acceptable", "POST", "application/json", "text/html", "abc", subscribeCall, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"},
		{"reconcile_operations not acceptable", "POST", "application/json", "text/html", streamID,
			enc(&scheduler.Call{Type: scheduler.Call_RECONCILE_OPERATIONS, FrameworkID: fid, ReconcileOperations: &scheduler.Call_ReconcileOperations{}}), 406,
			"Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"},
		{"ok", "POST", "application/json", "", streamID, revive, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, cl.MasterURL()+"/api/v1/scheduler", bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			if tc.sid != "" {
				req.Header.Set("Mesos-Stream-Id", tc.sid)
			}
			res, body := answer(t, req)
			if res.StatusCode != tc.want || body != tc.wantBody {
				t.Errorf("%d %q, want %d %q", res.StatusCode, body, tc.want, tc.wantBody)
			}
			if tc.want == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q, want POST", res.Header.Get("Allow"))
			}
		})
	}
	t.Run("invalid framework info is an ERROR event", func(t *testing.T) {
		// (A missing user or name is a 400: TestSubscribeWithoutRequiredFields.)
		// The messages are Master::validateFramework's (src/master/master.cpp)
		// and roles::validate's (src/common/roles.cpp).
		multi := []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE}}
		huge := 1e300
		for _, tc := range []struct {
			fi   *mesos.FrameworkInfo
			want string
		}{
			{&mesos.FrameworkInfo{User: "u", Name: "x", Roles: []string{"a"}}, "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("a"), Capabilities: multi}, "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Roles: []string{"b", "a", "b", "a"}, Capabilities: multi}, "'FrameworkInfo.roles' contains duplicate items: { a, b }"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Roles: []string{"ok", "a/./b"}, Capabilities: multi}, "'FrameworkInfo.roles' contains invalid role: Role 'a/./b' cannot include '.' as a component"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("/a")}, "'FrameworkInfo.role' is not a valid role: Role '/a' cannot start with a slash"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("a/")}, "'FrameworkInfo.role' is not a valid role: Role 'a/' cannot end with a slash"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("a//b")}, "'FrameworkInfo.role' is not a valid role: Role 'a//b' cannot contain two adjacent slashes"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("")}, "'FrameworkInfo.role' is not a valid role: Role names cannot be the empty string"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("a/-b")}, "'FrameworkInfo.role' is not a valid role: Role component '-b' is invalid because it starts with a dash"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", Role: strPtr("a b")}, "'FrameworkInfo.role' is not a valid role: Role component 'a b' is invalid because it contains backspace or whitespace"},
			{&mesos.FrameworkInfo{User: "u", Name: "x", FailoverTimeout: &huge}, "The framework failover_timeout (1e+300) is invalid"},
		} {
			s2, err := trySubscribe(t, cl, tc.fi, jsonCodec)
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			ev := s2.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_ERROR }, "ERROR")
			if ev.Error.Message != tc.want {
				t.Errorf("ERROR %q, want %q", ev.Error.Message, tc.want)
			}
			if !s2.StreamClosed(waitLong) {
				t.Errorf("stream not closed after ERROR")
			}
		}
	})
	t.Run("negative failover timeout is valid", func(t *testing.T) {
		// Duration::create takes negative seconds (3rdparty/stout/include/stout/duration.hpp).
		fi := frameworkInfo("negative-failover")
		neg := -1.0
		fi.FailoverTimeout = &neg
		subscribe(t, cl, fi, jsonCodec)
	})
}

func TestDeclineFiltersReviveSuppress(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 100 * time.Millisecond})
	s := subscribe(t, cl, frameworkInfo("filters"), protoCodec)
	isOffer := func(e *scheduler.Event) bool { return e.Type == scheduler.Event_OFFERS }

	o := s.offers()[0]
	declined := time.Now()
	s.MustCall(calls.Decline(o.ID).With(calls.RefuseSeconds(2 * time.Second)))
	next := s.offers()[0]
	if elapsed := time.Since(declined); elapsed < 2*time.Second {
		t.Errorf("re-offered after %v, within refuse_seconds 2s", elapsed)
	}
	if next.AgentID != o.AgentID {
		t.Errorf("offer from another agent")
	}

	// REVIVE clears a long filter.
	s.MustCall(calls.Decline(next.ID).With(calls.RefuseSeconds(time.Hour)))
	if _, ok := s.WaitWithin(isOffer, 500*time.Millisecond); ok {
		t.Fatalf("offered within a 1h filter")
	}
	s.MustCall(calls.Revive())
	o = s.offers()[0]

	// SUPPRESS stops offers even without a filter; REVIVE resumes them.
	s.MustCall(calls.Suppress())
	s.MustCall(calls.Decline(o.ID).With(calls.RefuseSeconds(0)))
	if _, ok := s.WaitWithin(isOffer, 500*time.Millisecond); ok {
		t.Fatalf("offered while suppressed")
	}
	// Master::revive drops a REVIVE naming a role that is not the
	// framework's, its own roles with it.
	s.MustCall(&scheduler.Call{Type: scheduler.Call_REVIVE, Revive: &scheduler.Call_Revive{Roles: []string{"*", "not-mine"}}})
	if _, ok := s.WaitWithin(isOffer, 500*time.Millisecond); ok {
		t.Fatalf("offered after a REVIVE naming a role not the framework's")
	}
	s.MustCall(calls.Revive())
	s.offers()

	// Declining without filters refuses for the default 5 s.
	cl.mu.Lock()
	fw := cl.frameworks[s.FrameworkID]
	cl.mu.Unlock()
	_ = fw
	if d := refuseFor(nil); d != 5*time.Second {
		t.Errorf("default refuse = %v", d)
	}
	neg := -1.0
	if d := refuseFor(&mesos.Filters{RefuseSeconds: &neg}); d != 5*time.Second {
		t.Errorf("negative refuse = %v", d)
	}
}

func TestFailover(t *testing.T) {
	cl := startCluster(t, Config{StatusUpdateRetry: time.Hour})
	t.Run("within timeout", func(t *testing.T) {
		fi := frameworkInfo("failover")
		ft := 60.0
		fi.FailoverTimeout = &ft
		s := subscribe(t, cl, fi, protoCodec)
		o := s.offers()[0]
		s.launch(o, commandTask("keep", o, "exec sleep 300"))
		s.updateAck("keep", mesos.TASK_STARTING)
		s.Update("keep", mesos.TASK_RUNNING) // not acknowledged

		oldStream := streamIDOf(t, cl, s.FrameworkID)
		if err := cl.DropFramework(s.FrameworkID); err != nil {
			t.Fatal(err)
		}
		if !s.StreamClosed(waitLong) {
			t.Fatal("stream still open after DropFramework")
		}
		// Master::Http::scheduler: a disconnected framework gets 403 (which
		// mesos-go takes as "subscription lost"), before any stream ID check.
		revive := []byte(`{"type":"REVIVE","framework_id":{"value":"` + s.FrameworkID + `"}}`)
		for _, sid := range []string{oldStream, "other"} {
			if code, body := postCall(t, cl, revive, sid); code != http.StatusForbidden || body != "Framework is not subscribed" {
				t.Errorf("call on a dropped framework (stream ID %s): %d %q, want 403 %q", sid, code, body, "Framework is not subscribed")
			}
		}
		fi.ID = &mesos.FrameworkID{Value: s.FrameworkID}
		s2 := subscribe(t, cl, fi, protoCodec)
		if s2.FrameworkID != s.FrameworkID {
			t.Fatalf("framework ID changed: %s → %s", s.FrameworkID, s2.FrameworkID)
		}
		st := s2.updateAck("keep", mesos.TASK_RUNNING) // the unacknowledged update again
		if st.GetSource() != mesos.SOURCE_EXECUTOR {
			t.Errorf("re-sent update source %s", st.GetSource())
		}
		// A second subscription fails the first one over.
		s3 := subscribe(t, cl, fi, jsonCodec)
		ev := s2.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_ERROR }, "ERROR")
		if ev.Error.Message != "Framework failed over" {
			t.Errorf("ERROR %q", ev.Error.Message)
		}
		s3.MustCall(calls.Kill("keep", ""))
		s3.updateAck("keep", mesos.TASK_KILLED)
	})
	t.Run("after timeout", func(t *testing.T) {
		fi := frameworkInfo("expire")
		ft := 0.3
		fi.FailoverTimeout = &ft
		s := subscribe(t, cl, fi, protoCodec)
		o := s.offers()[0]
		s.launch(o, commandTask("doomed", o, "exec sleep 300"))
		s.updateAck("doomed", mesos.TASK_STARTING)
		s.updateAck("doomed", mesos.TASK_RUNNING)
		if err := cl.DropFramework(s.FrameworkID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "framework removed and task killed", func() bool {
			for _, fw := range cl.State().Frameworks {
				if fw.ID == s.FrameworkID {
					return len(fw.Tasks) == 0 && len(fw.Completed) == 1 && fw.Completed[0].State == mesos.TASK_KILLED
				}
			}
			return false
		})
		eventually(t, "task process gone", func() bool { return len(leakedPIDs()) == 0 })
		fi.ID = &mesos.FrameworkID{Value: s.FrameworkID}
		s2, err := trySubscribe(t, cl, fi, protoCodec)
		if err != nil {
			t.Fatal(err)
		}
		ev := s2.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_ERROR }, "ERROR")
		if !strings.Contains(ev.Error.Message, "removed") {
			t.Errorf("ERROR %q", ev.Error.Message)
		}
	})
}

// TestFrameworkInfoUpdates follows Master::subscribe and
// Master::updateFramework (src/master/master.cpp) with
// validation::framework::validateUpdate and preserveImmutableFields
// (src/master/validation.cpp): a re-SUBSCRIBE silently keeps the user and
// checkpoint the framework had, but may not change its principal (ERROR);
// UPDATE_FRAMEWORK may change none of the three (400, with the reason).
func TestFrameworkInfoUpdates(t *testing.T) {
	cl := startCluster(t, Config{})
	fi := frameworkInfo("updates")
	fi.Principal = strPtr("alice")
	keep := 600.0 // outlives the subscriptions the subtests close
	fi.FailoverTimeout = &keep
	s := subscribe(t, cl, fi, jsonCodec)
	fi.ID = &mesos.FrameworkID{Value: s.FrameworkID}

	post := func(c *scheduler.Call) (int, string) {
		c.FrameworkID = fi.ID
		b, err := mesosx.Marshal(jsonCodec, c)
		if err != nil {
			t.Fatal(err)
		}
		return postCall(t, cl, b, streamIDOf(t, cl, s.FrameworkID))
	}
	update := func(change func(*mesos.FrameworkInfo)) *scheduler.Call {
		u := *fi
		change(&u)
		return &scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: u}}
	}
	yes := true
	for _, tc := range []struct {
		name     string
		call     *scheduler.Call
		want     int
		wantBody string
	}{
		{"principal", update(func(u *mesos.FrameworkInfo) { u.Principal = nil }), 400, "FrameworkInfo update is not valid: Changing framework's principal is not allowed."},
		{"user", update(func(u *mesos.FrameworkInfo) { u.User = "bob" }), 400, "FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported; attempted to update from 'root' to 'bob'"},
		{"checkpoint", update(func(u *mesos.FrameworkInfo) { u.Checkpoint = &yes }), 400, "FrameworkInfo update is not valid: Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update from 'false' to 'true'"},
		{"invalid roles", update(func(u *mesos.FrameworkInfo) { u.Roles = []string{"a"} }), 400, "Supplied FrameworkInfo is not valid: 'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"},
		{"suppressed role not its own", &scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: *fi, SuppressedRoles: []string{"other"}}}, 400,
			"Supplied FrameworkInfo is not valid: Suppressed role 'other' is not contained in the list of roles"},
		{"name", update(func(u *mesos.FrameworkInfo) { u.Name = "renamed" }), 200, ""},
	} {
		t.Run("update_framework "+tc.name, func(t *testing.T) {
			if code, body := post(tc.call); code != tc.want || body != tc.wantBody {
				t.Errorf("%d %q, want %d %q", code, body, tc.want, tc.wantBody)
			}
		})
	}

	t.Run("resubscribe with another user keeps the old one", func(t *testing.T) {
		again := *fi
		again.User = "bob"
		subscribe(t, cl, &again, jsonCodec)
		cl.mu.Lock()
		user := cl.frameworks[s.FrameworkID].info.User
		cl.mu.Unlock()
		if user != "root" {
			t.Errorf("user %q after a re-SUBSCRIBE as bob, want root kept", user)
		}
	})
	t.Run("resubscribe with another principal is an ERROR", func(t *testing.T) {
		again := *fi
		again.Principal = strPtr("mallory")
		s2, err := trySubscribe(t, cl, &again, jsonCodec)
		if err != nil {
			t.Fatal(err)
		}
		ev := s2.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_ERROR }, "ERROR")
		if want := "Changing framework's principal is not allowed."; ev.Error.Message != want {
			t.Errorf("ERROR %q, want %q", ev.Error.Message, want)
		}
	})
}

// postCall posts a JSON scheduler call with a stream ID and returns the
// status and body.
func postCall(t *testing.T, cl *Cluster, body []byte, streamID string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, cl.MasterURL()+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Mesos-Stream-Id", streamID)
	res, b := answer(t, req)
	return res.StatusCode, b
}
