package testenv

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
)

// TestFetchFailureMasksLearnedSecrets: a fetch that fails names its URI in
// the TASK_FAILED message; a secret of the task's environment carried in
// that URI (a query value, a userinfo user) is masked there, as taskkit's
// executor masks its tasks' statuses, for a command task and for a custom
// executor's URIs alike.
func TestFetchFailureMasksLearnedSecrets(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	const token, userSecret = "tok-query-5ecret-71", "user-5ecret-in-userinfo-42"
	env := []mesos.Environment_Variable{
		envVar(leakMarker),
		envVar("API_TOKEN=" + token), // secret by its name
		{Name: "GREETING", Type: mesos.Environment_Variable_SECRET.Enum(), // secret by its type
			Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(userSecret)}}},
	}
	uris := []mesos.CommandInfo_URI{{Value: "http://" + host + "/a.tgz?k=" + token}}
	userURI := []mesos.CommandInfo_URI{{Value: "http://" + userSecret + "@" + host + "/b.tgz"}}

	for _, tt := range []struct {
		name string
		task func(o mesos.Offer) mesos.TaskInfo
	}{
		{"command-query", func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("command-query", o, "true")
			ti.Command.Environment.Variables, ti.Command.URIs = env, uris
			return ti
		}},
		{"command-userinfo", func(o mesos.Offer) mesos.TaskInfo {
			ti := commandTask("command-userinfo", o, "true")
			ti.Command.Environment.Variables, ti.Command.URIs = env, userURI
			return ti
		}},
		{"executor-userinfo", func(o mesos.Offer) mesos.TaskInfo {
			ei := mesos.ExecutorInfo{
				Type:       mesos.ExecutorInfo_CUSTOM,
				ExecutorID: mesos.ExecutorID{Value: "fetchmask"},
				Command:    &mesos.CommandInfo{Value: strPtr("true"), URIs: userURI, Environment: &mesos.Environment{Variables: env}},
				Resources:  []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource},
			}
			return execTask("executor-userinfo", o, &ei, "")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := subscribe(t, startCluster(t, Config{}), frameworkInfo("fetchmask"), protoCodec)
			o := s.offers()[0]
			s.launch(o, tt.task(o))
			st := s.updateAck(tt.name, mesos.TASK_FAILED)
			msg := st.GetMessage()
			if st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || !strings.HasPrefix(msg, "Failed to launch container: ") {
				t.Errorf("%s %q, want a launch failure", st.GetReason(), msg)
			}
			if strings.Contains(msg, token) || strings.Contains(msg, userSecret) {
				t.Errorf("the message shows a secret: %q", msg)
			}
			if !strings.Contains(msg, host) {
				t.Errorf("the message %q does not name the URI's host", msg)
			}
		})
	}
}
