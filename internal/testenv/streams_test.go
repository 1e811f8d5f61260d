package testenv

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// The shape of the two event streams, as Master::Http::scheduler
// (src/master/http.cpp) and the agent's Http::executor (src/slave/http.cpp)
// answer a SUBSCRIBE, and as mesos-go's httpcli reads them: 200, the
// Content-Type exactly the codec's, no Content-Length (mesos-go reads
// RecordIO only then), RecordIO records "<length>\n<bytes>" with no
// separator, a Mesos-Stream-Id on the scheduler's stream only.

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// readRecord reads one RecordIO record exactly as framed: a decimal length,
// "\n", that many bytes.
func readRecord(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	head, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("record header: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, "\n"))
	if err != nil {
		t.Fatalf("record header %q is not a decimal length", head)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("record of %d bytes: %v", n, err)
	}
	return b
}

func checkStreamHeaders(t *testing.T, res *http.Response, wantType string, wantStreamID bool) {
	t.Helper()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s", res.Status, b)
	}
	if got := res.Header.Get("Content-Type"); got != wantType {
		t.Errorf("Content-Type %q, want exactly %q", got, wantType)
	}
	if res.ContentLength != -1 || res.Header.Get("Content-Length") != "" {
		t.Errorf("Content-Length %d %q, want none", res.ContentLength, res.Header.Get("Content-Length"))
	}
	if sid := res.Header.Get("Mesos-Stream-Id"); wantStreamID != uuidRE.MatchString(sid) || (!wantStreamID && sid != "") {
		t.Errorf("Mesos-Stream-Id %q, want a UUID: %v", sid, wantStreamID)
	}
}

func TestSchedulerStreamShape(t *testing.T) {
	cl := startCluster(t, Config{})
	for _, tc := range []struct {
		path, accept, wantType string
	}{
		{"/api/v1/scheduler", "application/json", "application/json"},
		{"/master/api/v1/scheduler", "application/x-protobuf", "application/x-protobuf"},
		// Mesos prefers JSON when both are acceptable, and without Accept.
		{"/api/v1/scheduler", "application/x-protobuf, application/json", "application/json"},
		{"/api/v1/scheduler", "", "application/json"},
	} {
		t.Run(tc.path+" "+tc.accept, func(t *testing.T) {
			body, err := mesosx.Marshal(protoCodec, calls.Subscribe(frameworkInfo("shape")))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, cl.MasterURL()+tc.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-protobuf")
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			checkStreamHeaders(t, res, tc.wantType, true)
			codec := jsonCodec
			if tc.wantType == "application/x-protobuf" {
				codec = protoCodec
			}
			r := bufio.NewReader(res.Body)
			var first, second scheduler.Event
			if err := mesosx.Unmarshal(codec, readRecord(t, r), &first); err != nil {
				t.Fatal(err)
			}
			if err := mesosx.Unmarshal(codec, readRecord(t, r), &second); err != nil {
				t.Fatal(err)
			}
			sub := first.Subscribed
			if first.Type != scheduler.Event_SUBSCRIBED || sub == nil || sub.FrameworkID.GetValue() == "" || sub.GetHeartbeatIntervalSeconds() != 15 || sub.MasterInfo == nil {
				t.Errorf("first event %+v, want SUBSCRIBED with a framework ID, heartbeat_interval_seconds 15 and master_info", first)
			}
			if second.Type != scheduler.Event_HEARTBEAT {
				t.Errorf("second event %s, want HEARTBEAT", second.Type)
			}
		})
	}
}

// TestExecutorStreamShape subscribes by hand as the executor of a task
// whose real executor never does, on both paths of the executor API.
func TestExecutorStreamShape(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("exec-shape"), protoCodec)
	for _, path := range []string{"/api/v1/executor", "/slave(1)/api/v1/executor"} {
		t.Run(path, func(t *testing.T) {
			o := s.offers()[0]
			eid := "by-hand-" + strconv.Itoa(len(path))
			ei := silentExecutorInfo(s.FrameworkID, eid)
			s.launch(o, execTask("t-"+eid, o, &ei, ""))
			var endpoint string
			for _, a := range cl.Agents() {
				if a.ID == o.AgentID.Value {
					endpoint = a.Endpoint
				}
			}
			call := &execpb.Call{Type: execpb.Call_SUBSCRIBE, FrameworkID: mesos.FrameworkID{Value: s.FrameworkID},
				ExecutorID: ei.ExecutorID, Subscribe: &execpb.Call_Subscribe{}}
			body, err := mesosx.Marshal(jsonCodec, call)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, "http://"+endpoint+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/x-protobuf")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			checkStreamHeaders(t, res, "application/x-protobuf", false)
			r := bufio.NewReader(res.Body)
			var first, second execpb.Event
			if err := mesosx.Unmarshal(protoCodec, readRecord(t, r), &first); err != nil {
				t.Fatal(err)
			}
			if err := mesosx.Unmarshal(protoCodec, readRecord(t, r), &second); err != nil {
				t.Fatal(err)
			}
			sub := first.Subscribed
			if first.Type != execpb.Event_SUBSCRIBED || sub == nil || sub.ExecutorInfo.ExecutorID.Value != eid || sub.FrameworkInfo.GetID().GetValue() != s.FrameworkID ||
				sub.AgentInfo.GetID().GetValue() != o.AgentID.Value || sub.ContainerID.GetValue() == "" {
				t.Errorf("first event %+v, want SUBSCRIBED with executor_info, framework_info, agent_info and container_id", first)
			}
			if second.Type != execpb.Event_LAUNCH || second.Launch.Task.TaskID.Value != "t-"+eid {
				t.Errorf("second event %+v, want LAUNCH of t-%s", second, eid)
			}
			s.MustCall(calls.Shutdown(eid, o.AgentID.Value))
		})
	}
}
