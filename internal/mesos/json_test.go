package mesos

import (
	"bytes"
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
		{"strings escaped as rapidjson does: quote, backslash, control characters only",
			&mesos.Label{Key: "k\"\\\n\t\r\b\f", Value: ptr("\x00\x1f\x7f")},
			`{"key":"k\"\\\n\t\r\b\f","value":"\u0000\u001F` + "\x7f" + `"}`},
		{"no HTML escaping: <, >, & as they are",
			&mesos.Label{Key: "a&b", Value: ptr("<script>")},
			`{"key":"a&b","value":"<script>"}`},
		{"U+2028, U+2029 and other characters as they are",
			&mesos.Label{Key: "l\u2028s\u2029", Value: ptr("é€😀")},
			"{\"key\":\"l\u2028s\u2029\",\"value\":\"é€😀\"}"},
		{"a byte that is not UTF-8 is U+FFFD",
			&mesos.Label{Key: "k", Value: ptr("a\xffb")},
			"{\"key\":\"k\",\"value\":\"a\ufffdb\"}"},
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

// TestStoutEscaping: JSON encoding/json wrote (HTML escaping off) comes
// out with Mesos' string escaping; escapes that only look alike (an
// escaped backslash before "u2028", text outside strings) are left alone.
func TestStoutEscaping(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"line and paragraph separators become characters", map[string]string{"k": "a\u2028b\u2029c"}, "{\"k\":\"a\u2028b\u2029c\"}"},
		{"control characters take upper-case hex", []string{"\x1f\x0b", "\n\t"}, `["\u001F\u000B","\n\t"]`},
		{"invalid UTF-8 is U+FFFD", []string{"a\xffb"}, "[\"a\ufffdb\"]"},
		{"an escaped backslash before u2028 stays", []string{`\u2028`}, `["\\u2028"]`},
		{"no HTML escaping", map[string]string{"<a>": "&"}, `{"<a>":"&"}`},
		{"keys and nesting", map[string]any{"x\u2028": []any{1.5, map[string]string{"y": "\x01"}}}, "{\"x\u2028\":[1.5,{\"y\":\"\\u0001\"}]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(tc.in); err != nil {
				t.Fatal(err)
			}
			got := StoutEscaping(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("not JSON: %s", got)
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
