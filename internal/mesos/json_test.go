package mesos

import (
	"encoding/json"
	"reflect"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func ptr[T any](v T) *T { return &v }

// TestMarshalJSON pins Mesos' JSON mapping (stout's protobuf.hpp json()) on
// the cases mesos-go's own encoder gets wrong.
func TestMarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  encoding.Marshaler
		want string
	}{
		{"unset repeated fields and optional messages are left out, never null",
			&mesos.Offer{ID: mesos.OfferID{Value: "o"}, FrameworkID: mesos.FrameworkID{Value: "f"}, AgentID: mesos.AgentID{Value: "a"}, Hostname: "h"},
			`{"id":{"value":"o"},"framework_id":{"value":"f"},"agent_id":{"value":"a"},"hostname":"h"}`},
		{"enums by name, timestamps in plain decimals, bytes in base64",
			&mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: ptr(mesos.TASK_RUNNING), Timestamp: ptr(1712345678.123456), UUID: []byte{1, 2, 3}},
			`{"task_id":{"value":"t"},"state":"TASK_RUNNING","timestamp":1712345678.123456,"uuid":"AQID"}`},
		{"integral doubles end in .0; int64 is a number",
			&mesos.Resource{Name: "cpus", Type: ptr(mesos.SCALAR), Scalar: &mesos.Value_Scalar{Value: 4}},
			`{"name":"cpus","type":"SCALAR","scalar":{"value":4.0}}`},
		{"a required enum is written at its zero value",
			&mesos.Attribute{Name: "rack", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 1.5}},
			`{"name":"rack","type":"SCALAR","scalar":{"value":1.5}}`},
		{"an ExecutorInfo without type has none (not UNKNOWN)",
			&mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e"}},
			`{"executor_id":{"value":"e"}}`},
		{"unset fields with a default are written with it, as Mesos does",
			&mesos.CommandInfo{Value: ptr("true")},
			`{"shell":true,"value":"true"}`},
		{"deprecated fields with a default are not",
			&mesos.Resource{Name: "mem", Type: ptr(mesos.SCALAR), Scalar: &mesos.Value_Scalar{Value: 32}, AllocationInfo: &mesos.Resource_AllocationInfo{Role: ptr("r")}},
			`{"name":"mem","type":"SCALAR","scalar":{"value":32.0},"allocation_info":{"role":"r"}}`},
		{"int64 nanoseconds",
			&mesos.DurationInfo{Nanoseconds: 5000000000},
			`{"nanoseconds":5000000000}`},
		{"events",
			&scheduler.Event{Type: scheduler.Event_HEARTBEAT},
			`{"type":"HEARTBEAT"}`},
		{"strings escaped",
			&mesos.Label{Key: "k\"\n", Value: ptr("<v>")},
			`{"key":"k\"\n","value":"\u003cv\u003e"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := MarshalJSON(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}

// TestMarshalJSONRoundTrip: mesos-go's decoder reads back what MarshalJSON
// writes (defaults it writes aside).
func TestMarshalJSONRoundTrip(t *testing.T) {
	port := uint32(5050)
	msgs := []interface {
		encoding.Marshaler
		encoding.Unmarshaler
	}{
		&scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
			FrameworkID: &mesos.FrameworkID{Value: "f"}, HeartbeatIntervalSeconds: ptr(15.0),
			MasterInfo: &mesos.MasterInfo{ID: "m", IP: 16777343, Port: &port, Address: &mesos.Address{IP: ptr("127.0.0.1"), Port: 5050}}}},
		&scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: []mesos.Offer{{
			ID: mesos.OfferID{Value: "o"}, FrameworkID: mesos.FrameworkID{Value: "f"}, AgentID: mesos.AgentID{Value: "a"}, Hostname: "h",
			Resources:   []mesos.Resource{{Name: "ports", Type: ptr(mesos.RANGES), Role: ptr("*"), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 1024, End: 65535}}}}},
			ExecutorIDs: []mesos.ExecutorID{{Value: "e"}},
		}}}},
		&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: mesos.TaskStatus{
			TaskID: mesos.TaskID{Value: "t"}, State: ptr(mesos.TASK_FAILED), Source: ptr(mesos.SOURCE_EXECUTOR),
			Reason: ptr(mesos.REASON_COMMAND_EXECUTOR_FAILED), UUID: []byte("0123456789abcdef"), Timestamp: ptr(1.5), Data: []byte{0, 255}}}},
	}
	for _, m := range msgs {
		b, err := MarshalJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(m).Elem()).Interface().(encoding.Unmarshaler)
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Errorf("round trip of %s:\ngot  %+v\nwant %+v", b, back, m)
		}
	}
}

func TestMarshalJSONNotFinite(t *testing.T) {
	nan := 0.0
	nan /= nan
	if _, err := MarshalJSON(&mesos.Value_Scalar{Value: nan}); err == nil {
		t.Error("NaN marshaled")
	}
}
