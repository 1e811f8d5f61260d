package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// storedTask is a task as the scheduler stores it: its TaskInfo with
// zone as ZONE (none when ""), and a status with ip (none when "").
func storedTask(t *testing.T, name, zone, ip string) (info, status []byte) {
	t.Helper()
	env := &mesos.Environment{Variables: []mesos.Environment_Variable{
		{Name: "TASK_NAME", Value: &name},
		// A secret variable of that name is not a zone.
		{Name: taskenv.EnvZone, Type: mesos.Environment_Variable_SECRET.Enum(), Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte("not-a-zone")}}},
	}}
	if zone != "" {
		region := "us-east-1"
		env.Variables = append(env.Variables,
			mesos.Environment_Variable{Name: taskenv.EnvRegion, Value: &region},
			mesos.Environment_Variable{Name: taskenv.EnvZone, Value: &zone})
	}
	ti := mesos.TaskInfo{Name: name, TaskID: mesos.TaskID{Value: name + "__1"}, AgentID: mesos.AgentID{Value: "a1"}, Command: &mesos.CommandInfo{Environment: env}}
	info, err := ti.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if ip == "" {
		return info, nil
	}
	st := mesos.TaskStatus{TaskID: ti.TaskID, State: mesos.TASK_RUNNING.Enum(), ContainerStatus: &mesos.ContainerStatus{
		NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.NetworkInfo_IPAddress{{IPAddress: &ip}}}},
	}}
	status, err = st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return info, status
}

// TestStateProperties runs the SDK's properties, zone and refresh
// endpoints against a real bbolt store holding a service CA (the key
// withheld), a state file holding a private key (withheld), plain
// properties, and tasks with and without a zone and an IP.
func TestStateProperties(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ca, err := pki.NewCA(pki.CARequest{CommonName: "props service CA", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	caCert := pki.EncodeCertsPEM(ca.Cert)
	if err := st.SetProperties(map[string][]byte{
		"ca.crt": caCert, "ca.key": caKey,
		"deployment-completed": []byte("true"),
		"file-VERSION":         []byte("namespaceID=42\n"),
		"file-bin":             {0xff, 0xfe, 0},
		"file-tls.pem":         append([]byte("cert\n"), caKey...), // a task's upload
	}); err != nil {
		t.Fatal(err)
	}
	tasks := map[string][]byte{}
	statuses := map[string][]byte{}
	for _, tk := range []struct{ name, zone, ip string }{
		{"node-0-server", "us-east-1a", "127.0.1.2"},
		{"node-1-server", "us-east-1b", "127.0.1.3"},
		{"node-2-server", "us-east-1c", ""},           // no status yet
		{"nodex-0-server", "us-east-1d", "127.0.1.4"}, // another pod type, prefixed "node"
		{"web-0-server", "", "127.0.1.2"},             // launched from an offer without a domain
	} {
		info, status := storedTask(t, tk.name, tk.zone, tk.ip)
		tasks[tk.name] = info
		if status != nil {
			statuses[tk.name] = status
		}
	}
	if err := st.PutTasks(tasks); err != nil {
		t.Fatal(err)
	}
	if err := st.PutStatuses(statuses); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Files: st}).Handler())
	defer srv.Close()

	for _, tc := range []struct {
		name, method, path string
		code               int
		ctype, body        string // body: the whole answer, trimmed (JSON compacted), or a part
	}{
		{"keys", "GET", "/v1/state/properties", 200, "application/json", `["ca.crt","deployment-completed","file-VERSION","file-bin"]`},
		{"bytes", "GET", "/v1/state/properties/file-bin", 200, "application/octet-stream", "\xff\xfe\x00"},
		{"a value as stored", "GET", "/v1/state/properties/deployment-completed", 200, "application/json", "true"},
		{"a state file", "GET", "/v1/state/properties/file-VERSION", 200, "text/plain", "namespaceID=42"},
		{"the CA's certificate", "GET", "/v1/state/properties/ca.crt", 200, "text/plain", strings.TrimSpace(string(caCert))},
		{"the CA's key is unknown", "GET", "/v1/state/properties/ca.key", 404, "application/json", `{"message":"no such property: \"ca.key\""}`},
		{"a private key uploaded", "GET", "/v1/state/properties/file-tls.pem", 404, "application/json", `{"message":"no such property: \"file-tls.pem\""}`},
		{"unknown key", "GET", "/v1/state/properties/nope", 404, "application/json", `{"message":"no such property: \"nope\""}`},
		{"zones", "GET", "/v1/state/zone/tasks", 200, "application/json", `{"node-0-server":"us-east-1a","node-1-server":"us-east-1b","node-2-server":"us-east-1c","nodex-0-server":"us-east-1d"}`},
		{"a task's zone", "GET", "/v1/state/zone/tasks/node-1-server", 200, "text/plain", "us-east-1b"},
		{"a task without a status", "GET", "/v1/state/zone/tasks/node-2-server", 200, "text/plain", "us-east-1c"},
		{"a task without a zone", "GET", "/v1/state/zone/tasks/web-0-server", 404, "application/json", `{"message":"no zone known for task \"web-0-server\""}`},
		{"an unknown task", "GET", "/v1/state/zone/tasks/nope-0-server", 404, "application/json", `{"message":"no zone known for task \"nope-0-server\""}`},
		{"by pod type and IP", "GET", "/v1/state/zone/node/127.0.1.3", 200, "text/plain", "us-east-1b"},
		{"the pod type's own tasks", "GET", "/v1/state/zone/node/127.0.1.4", 404, "application/json", `{"message":"no task of pod type \"node\" with IP 127.0.1.4 and a zone"}`},
		{"the other pod type", "GET", "/v1/state/zone/nodex/127.0.1.4", 200, "text/plain", "us-east-1d"},
		{"an IP without a zone", "GET", "/v1/state/zone/web/127.0.1.2", 404, "application/json", `{"message":"no task of pod type \"web\" with IP 127.0.1.2 and a zone"}`},
		{"refresh", "PUT", "/v1/state/refresh", 409, "application/json", `{"message":"the state store is not cached: refresh is not applicable (scheduler-lite reads bbolt or ZooKeeper directly)"}`},
		{"refresh is a PUT", "GET", "/v1/state/refresh", 404, "application/json", "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := call(t, tc.method, srv.URL+tc.path)
			body = strings.TrimSpace(body)
			var compact bytes.Buffer
			if json.Compact(&compact, []byte(body)) == nil {
				body = compact.String()
			}
			if code != tc.code || !strings.HasPrefix(hdr.Get("Content-Type"), tc.ctype) || (body != tc.body && !strings.Contains(body, tc.body)) || (tc.body == "" && body != "") {
				t.Errorf("%s %s: %d %s %q, want %d %s %q", tc.method, tc.path, code, hdr.Get("Content-Type"), body, tc.code, tc.ctype, tc.body)
			}
			if strings.Contains(body, "PRIVATE KEY") {
				t.Errorf("%s %s hands out a private key", tc.method, tc.path)
			}
		})
	}

	t.Run("no store", func(t *testing.T) {
		for _, path := range []string{"/v1/state/properties", "/v1/state/properties/x", "/v1/state/zone/tasks", "/v1/state/zone/tasks/x", "/v1/state/zone/node/127.0.0.1"} {
			rec := httptest.NewRecorder()
			(&Server{}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "no state store") {
				t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}

// TestOfPodType: task names of a pod type are "<podType>-<index>-<task>".
func TestOfPodType(t *testing.T) {
	for _, tc := range []struct {
		name, podType string
		want          bool
	}{
		{"node-0-server", "node", true},
		{"node-12-server-init", "node", true},
		{"data-node-0-server", "data-node", true},
		{"data-node-0-server", "data", false},
		{"nodex-0-server", "node", false},
		{"node-x-server", "node", false},
		{"node-0", "node", false},
		{"node-0-", "node", false},
		{"node--server", "node", false},
	} {
		if got := ofPodType(tc.name, tc.podType); got != tc.want {
			t.Errorf("ofPodType(%q, %q) = %v, want %v", tc.name, tc.podType, got, tc.want)
		}
	}
}
