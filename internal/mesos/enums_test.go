package mesos

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// TestUnknownEnumValues: a JSON call naming an enum value the master does
// not know is decoded as stout's parser decodes it (Mesos 1.11
// protobuf.hpp): the value of an optional field, or the item of a repeated
// one, is dropped, so an unknown call type is a call without a type and an
// unknown capability is one of no type; in a required field it is stout's
// "Failed to find enum" error.
func TestUnknownEnumValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		typeSet bool
		check   func(c *scheduler.Call) bool
		err     string
	}{
		{"an unknown call type is no type", `{"type":"NOPE","framework_id":{"value":"f"}}`, false,
			func(c *scheduler.Call) bool {
				return c.Type == scheduler.Call_UNKNOWN && c.FrameworkID.GetValue() == "f"
			}, ""},
		{"an unknown capability is one of no type", `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":12345678901.5,` +
			`"capabilities":[{"type":"MULTI_ROLE"},{"type":"SOME_FUTURE_CAPABILITY"}]}}}`, true,
			func(c *scheduler.Call) bool {
				fi := c.Subscribe.FrameworkInfo
				return len(fi.Capabilities) == 2 && fi.Capabilities[0].Type == mesos.FrameworkInfo_Capability_MULTI_ROLE &&
					fi.Capabilities[1].Type == mesos.FrameworkInfo_Capability_UNKNOWN && fi.GetFailoverTimeout() == 12345678901.5
			}, ""},
		{"an unknown item of a repeated enum is dropped", `{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[],"operations":[` +
			`{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},` +
			`"container":{"type":"MESOS","linux_info":{"capability_info":{"capabilities":["CHOWN","NOPE","KILL"]}}}}]}}]}}`, true,
			func(c *scheduler.Call) bool {
				caps := c.Accept.Operations[0].Launch.TaskInfos[0].Container.LinuxInfo.CapabilityInfo.Capabilities
				return len(caps) == 2 && caps[0] == mesos.CapabilityInfo_CHOWN && caps[1] == mesos.CapabilityInfo_KILL
			}, ""},
		{"in a required field, an error", `{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[],"operations":[` +
			`{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},` +
			`"resources":[{"name":"cpus","type":"NOPE","scalar":{"value":1}}]}]}}]}}`, false, nil,
			"400 Failed to convert JSON into Call protobuf: Failed to find enum for 'NOPE'"},
		{"a malformed value is still the decoder's error", `{"type":7.5,"framework_id":{"value":"f"}}`, false, nil,
			"400 Failed to convert JSON into Call protobuf: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/scheduler", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			var call scheduler.Call
			_, typeSet, err := DecodeRequest(r, &call, "type", 2)
			var he *HTTPError
			switch {
			case tc.err != "":
				if !errors.As(err, &he) || !strings.HasPrefix(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
			case err != nil || typeSet != tc.typeSet || !tc.check(&call):
				t.Errorf("error %v, type set %v (want %v), call %+v", err, typeSet, tc.typeSet, call)
			}
		})
	}
}
