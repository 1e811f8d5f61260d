package testenv

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestCheckRules follows common::validation::validateCheckInfo and
// validateHealthCheck (src/common/validation.cpp, Mesos 1.11): their
// messages word for word, and what they let through (ports are not
// checked: a port of 0 or one no TCP port has passes the master).
func TestCheckRules(t *testing.T) {
	minusOne := -1.0
	empty := &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "A"}}}
	secretType := mesos.Environment_Variable_SECRET
	withSecret := &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "S", Type: &secretType,
		Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte("a\x00b")}}}}}
	for _, tc := range []struct {
		name  string
		check *mesos.CheckInfo
		hc    *mesos.HealthCheck
		want  string // "" when valid
	}{
		{name: "health check, TCP port 0", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{}}},
		{name: "health check, HTTP port beyond 65535", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: 70000}}},
		{name: "health check, COMMAND", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: strPtr("true")}}},
		{name: "health check without type", hc: &mesos.HealthCheck{Command: &mesos.CommandInfo{Value: strPtr("true")}},
			want: "'UNKNOWN' is not a valid health check type"},
		{name: "health check, COMMAND without command", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND},
			want: "Expecting 'command' to be set for COMMAND health check"},
		{name: "health check, COMMAND without value, not shell", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Shell: new(bool)}},
			want: "Command health check must contain 'executable path'"},
		{name: "health check, COMMAND with a variable without value", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: strPtr("true"), Environment: empty}},
			want: "Health check's `CommandInfo` is invalid: Environment variable 'A' of type 'VALUE' must have a value set"},
		{name: "health check, HTTP ftp", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Scheme: strPtr("ftp")}},
			want: "Unsupported HTTP health check scheme: 'ftp'"},
		{name: "health check, TCP without tcp", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_TCP},
			want: "Expecting 'tcp' to be set for TCP health check"},
		{name: "health check, negative grace period", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{}, GracePeriodSeconds: &minusOne},
			want: "Expecting 'grace_period_seconds' to be non-negative"},
		{name: "health check, negative timeout", hc: &mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{}, TimeoutSeconds: &minusOne},
			want: "Expecting 'timeout_seconds' to be non-negative"},

		{name: "check, TCP port 0", check: &mesos.CheckInfo{Type: mesos.CheckInfo_TCP, TCP: &mesos.CheckInfo_Tcp{}}},
		{name: "check, HTTP without path", check: &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP, HTTP: &mesos.CheckInfo_Http{Port: 70000}}},
		{name: "check without type", check: &mesos.CheckInfo{}, want: "'UNKNOWN' is not a valid check type"},
		{name: "check, COMMAND without command", check: &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND},
			want: "Expecting 'command' to be set for COMMAND check"},
		{name: "check, COMMAND without value", check: &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{}},
			want: "Command check must contain 'shell command'"},
		{name: "check, COMMAND with a secret holding a null byte", check: &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND,
			Command: &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: strPtr("true"), Environment: withSecret}}},
			want: "Check's `CommandInfo` is invalid: Environment variable 'S' specifies a secret containing null bytes, which is not allowed in the environment"},
		{name: "check, HTTP relative path", check: &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP, HTTP: &mesos.CheckInfo_Http{Path: strPtr("ready")}},
			want: "The path 'ready' of HTTP check must start with '/'"},
		{name: "check, HTTP without http", check: &mesos.CheckInfo{Type: mesos.CheckInfo_HTTP}, want: "Expecting 'http' to be set for HTTP check"},
		{name: "check, negative interval", check: &mesos.CheckInfo{Type: mesos.CheckInfo_TCP, TCP: &mesos.CheckInfo_Tcp{}, IntervalSeconds: &minusOne},
			want: "Expecting 'interval_seconds' to be non-negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.check != nil {
				err = validateCheckInfo(tc.check)
			} else {
				err = validateHealthCheck(tc.hc)
			}
			if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestTaskGroupCheckValidation follows task::group::validate
// (src/master/validation.cpp, Mesos 1.11): a LAUNCH_GROUP one of whose
// tasks has an invalid check or health check is refused by the master, at
// ACCEPT, before any executor runs: every task of the group TASK_ERROR,
// REASON_TASK_GROUP_INVALID, SOURCE_MASTER, "Task '<id>' is invalid: Task
// uses invalid (health) check: <reason>".
func TestTaskGroupCheckValidation(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("group-checks"), protoCodec)
	fid := mesos.FrameworkID{Value: s.FrameworkID}
	bridge := &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), NetworkInfos: []mesos.NetworkInfo{{Name: strPtr("bridge")}}}
	for i, tc := range []struct {
		name string
		bad  func(ti *mesos.TaskInfo)
		want string
	}{
		{name: "HTTP health check without http", bad: func(ti *mesos.TaskInfo) {
			ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP}
		}, want: "Task uses invalid health check: Expecting 'http' to be set for HTTP health check"},
		{name: "COMMAND check without command", bad: func(ti *mesos.TaskInfo) {
			ti.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND}
		}, want: "Task uses invalid check: Expecting 'command' to be set for COMMAND check"},
		{name: "check's command with a variable without value", bad: func(ti *mesos.TaskInfo) {
			ti.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{Command: mesos.CommandInfo{
				Value: strPtr("true"), Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "X"}}}}}}
		}, want: "Task uses invalid check: Check's `CommandInfo` is invalid: Environment variable 'X' of type 'VALUE' must have a value set"},
		{name: "TCP health check in a network of its own", bad: func(ti *mesos.TaskInfo) {
			ti.Container = bridge
			ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{Port: 80}}
		}, want: "HTTP and TCP health checks are not supported for nested containers not joining parent's network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.T = t
			o := s.offers()[0]
			ei := mesos.ExecutorInfo{
				Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: fmt.Sprintf("e%d", i)}, FrameworkID: &fid,
				Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
			}
			badID, sibID := fmt.Sprintf("bad%d", i), fmt.Sprintf("sib%d", i)
			bad, sib := commandTask(badID, o, "sleep 30"), commandTask(sibID, o, "sleep 30")
			tc.bad(&bad)
			s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, bad, sib)}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
			want := "Task '" + badID + "' is invalid: " + tc.want
			for _, id := range []string{badID, sibID} {
				st := s.Update(id, mesos.TASK_ERROR)
				if st.GetReason() != mesos.REASON_TASK_GROUP_INVALID || st.GetSource() != mesos.SOURCE_MASTER || st.GetMessage() != want {
					t.Errorf("%s: got %s %s %q, want SOURCE_MASTER REASON_TASK_GROUP_INVALID %q", id, st.GetSource(), st.GetReason(), st.GetMessage(), want)
				}
			}
		})
	}
}
