package servicecli

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestWriteReservations: debug reservations prints scheduler-lite's list
// of pod instances (resources with their IDs, a RESERVE not confirmed yet,
// an instance being released, a released resource still intact, one
// intact with its RESERVE not confirmed yet) and the DC/OS SDK's resource
// IDs by host, and says when there are none in either shape; an answer in
// neither shape is an error.
func TestWriteReservations(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		err              bool
	}{
		{name: "scheduler-lite", body: `[
  {"pod_instance":"db-0","agent_id":"a1-S0","hostname":"h1","role":"svc-role","resources":[
    {"key":"executor/cpus","resource_id":"id-1","resource":"0.1 cpus"},
    {"key":"node/volume","resource_id":"id-2","resource":"100 MB disk (volume data)","pending_operation":"db-0-reserve-7","pending_operation_kind":"RESERVE"}]},
  {"pod_instance":"db-1","agent_id":"a2-S0","hostname":"h2","role":"svc-role","releasing":true,"resources":[
    {"key":"node/cpus","resource_id":"id-3","resource":"0.5 cpus","pending_operation":"a2-S0-release-8","pending_operation_kind":"UNRESERVE"},
    {"key":"node/mem","resource_id":"id-4","resource":"64 MB mem"},
    {"key":"node/volume","resource_id":"id-5","resource":"100 MB disk (volume data)","intact":true},
    {"key":"node/port/http","resource_id":"id-6","resource":"ports [31000-31000]","pending_operation":"db-1-reserve-7","pending_operation_kind":"RESERVE","intact":true}]}]`,
			want: "db-0 on h1 (agent a1-S0), role svc-role: 2 resources\n" +
				"  executor/cpus  id-1  0.1 cpus\n" +
				"  node/volume  id-2  100 MB disk (volume data)  RESERVE pending\n" +
				"db-1 on h2 (agent a2-S0), role svc-role, being released: 4 resources\n" +
				"  node/cpus  id-3  0.5 cpus  UNRESERVE pending\n" +
				"  node/mem  id-4  64 MB mem\n" +
				"  node/volume  id-5  100 MB disk (volume data)  intact (nothing sent yet)\n" +
				"  node/port/http  id-6  ports [31000-31000]  RESERVE pending, intact (nothing sent yet)\n"},
		{name: "scheduler-lite without kinds", body: `[
  {"pod_instance":"db-0","agent_id":"a1-S0","hostname":"h1","role":"svc-role","resources":[
    {"key":"node/volume","resource_id":"id-2","resource":"100 MB disk (volume data)","pending_operation":"db-0-reserve-7"}]}]`,
			want: "db-0 on h1 (agent a1-S0), role svc-role: 1 resource\n" +
				"  node/volume  id-2  100 MB disk (volume data)  operation db-0-reserve-7 pending\n"},
		{name: "scheduler-lite, none", body: `[]`, want: "no reservations\n"},
		{name: "SDK", body: `{"h2":["b","a"],"h1":["c"]}`, want: "h1: 1 resource ID\n  c\nh2: 2 resource IDs\n  a\n  b\n"},
		{name: "SDK, none", body: `{}`, want: "no reservations\n"},
		{name: "neither", body: `"what"`, err: true},
	} {
		var out bytes.Buffer
		err := writeReservations(&out, json.RawMessage(tc.body))
		if (err != nil) != tc.err || out.String() != tc.want {
			t.Errorf("%s: %v, printed\n%s\nwant\n%s", tc.name, err, out.String(), tc.want)
		}
	}
}

// TestPlanProgress: what plan show --wait says on stderr while it waits:
// the plan's status and how many of its steps are COMPLETE.
func TestPlanProgress(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"status":"IN_PROGRESS","phases":[{"steps":[{"status":"COMPLETE"},{"status":"STARTING"}]},{"steps":[{"status":"PENDING"}]}]}`,
			"IN_PROGRESS, 1 of 3 steps COMPLETE"},
		{`{"status":"WAITING","phases":[{"steps":[{"status":"WAITING"}]}]}`, "WAITING, 0 of 1 steps COMPLETE"},
		{`{"status":"COMPLETE","phases":[]}`, "COMPLETE, 0 of 0 steps COMPLETE"},
	} {
		var p planView
		if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
			t.Fatal(err)
		}
		if got := planProgress(p); got != tc.want {
			t.Errorf("planProgress(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
