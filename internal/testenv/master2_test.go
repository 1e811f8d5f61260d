package testenv

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

func TestBadRequests(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("bad"), protoCodec)
	streamID := func() string {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		return cl.frameworks[s.FrameworkID].stream.id
	}()
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
	for _, tc := range []struct {
		name   string
		method string
		ctype  string
		accept string
		sid    string
		body   []byte
		want   int
	}{
		{"GET", http.MethodGet, "", "", "", nil, 405},
		{"no content type", "POST", "", "", "", revive, 400},
		{"unsupported content type", "POST", "text/plain", "", "", revive, 415},
		{"unparseable body", "POST", "application/json", "", "", []byte("{nope"), 400},
		{"no framework id", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_REVIVE}), 400},
		{"unknown framework", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: "nope"}}), 400},
		{"no stream id", "POST", "application/json", "", "", revive, 400},
		{"wrong stream id", "POST", "application/json", "", "not-it", revive, 400},
		{"short ack uuid", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, FrameworkID: fid, Acknowledge: &scheduler.Call_Acknowledge{UUID: []byte("short")}}), 400},
		{"missing accept body", "POST", "application/json", "", streamID, enc(&scheduler.Call{Type: scheduler.Call_ACCEPT, FrameworkID: fid}), 400},
		{"unknown call type", "POST", "application/json", "", streamID, []byte(`{"type":"UNKNOWN","framework_id":{"value":"` + s.FrameworkID + `"}}`), 501},
		{"subscribe with stream id", "POST", "application/json", "application/json", "abc", subscribeCall, 400},
		{"subscribe not acceptable", "POST", "application/json", "text/html", "", subscribeCall, 406},
		{"ok", "POST", "application/json", "", streamID, revive, 202},
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
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("status %d (%s), want %d", res.StatusCode, body, tc.want)
			}
		})
	}
	t.Run("invalid framework info is an ERROR event", func(t *testing.T) {
		// (A missing user or name is a 400: TestSubscribeWithoutRequiredFields.)
		for _, fi := range []*mesos.FrameworkInfo{
			{User: "u", Name: "x", Roles: []string{"a"}},
			{User: "u", Name: "x", Roles: []string{"a", "a"}, Capabilities: []mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE}}},
		} {
			s2, err := trySubscribe(t, cl, fi, jsonCodec)
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			s2.WaitFor(func(e *scheduler.Event) bool { return e.Type == scheduler.Event_ERROR }, "ERROR")
			if !s2.StreamClosed(waitLong) {
				t.Errorf("stream not closed after ERROR")
			}
		}
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

		if err := cl.DropFramework(s.FrameworkID); err != nil {
			t.Fatal(err)
		}
		if !s.StreamClosed(waitLong) {
			t.Fatal("stream still open after DropFramework")
		}
		if err := s.Call(calls.Revive()); err == nil {
			t.Errorf("call on a dropped framework succeeded")
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

func TestAgentLoss(t *testing.T) {
	cl := startCluster(t, Config{Agents: 2})
	for _, tc := range []struct {
		name string
		caps []mesos.FrameworkInfo_Capability_Type
		want mesos.TaskState
	}{
		{"plain", nil, mesos.TASK_LOST},
		{"partition-aware", []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_PARTITION_AWARE}, mesos.TASK_UNREACHABLE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := subscribe(t, cl, frameworkInfo("loss-"+tc.name, tc.caps...), protoCodec)
			offers := s.offers()
			for len(offers) < 2 {
				offers = append(offers, s.offers()...)
			}
			o, other := offers[0], offers[1]
			s.launch(o, commandTask("victim", o, "exec sleep 300"))
			s.updateAck("victim", mesos.TASK_STARTING)
			s.updateAck("victim", mesos.TASK_RUNNING)
			if err := cl.KillAgent(o.AgentID.Value); err != nil {
				t.Fatal(err)
			}
			st := s.Update("victim", tc.want)
			if st.GetReason() != mesos.REASON_AGENT_REMOVED || st.GetSource() != mesos.SOURCE_MASTER {
				t.Errorf("%s: %s %s", tc.want, st.GetSource(), st.GetReason())
			}
			s.WaitFor(func(e *scheduler.Event) bool {
				return e.Type == scheduler.Event_RESCIND && e.Rescind.OfferID == other.ID ||
					e.Type == scheduler.Event_FAILURE && e.Failure.AgentID != nil && e.Failure.AgentID.Value == o.AgentID.Value
			}, "FAILURE")
			eventually(t, "task process gone", func() bool { return len(leakedPIDs()) == 0 })
			info, err := cl.RestartAgent(o.AgentID.Value)
			if err != nil {
				t.Fatal(err)
			}
			if info.ID == o.AgentID.Value || info.IP != o.Hostname {
				t.Errorf("restarted agent %+v", info)
			}
			s.MustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}
