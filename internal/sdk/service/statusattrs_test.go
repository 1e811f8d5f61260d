package service

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestStatusAttrs: the "task status" log line says why a status came and
// the health verdict or the check's result when the status has them, so a
// task's several TASK_RUNNING (started, healthy, checked, ready) read apart;
// a bare status has none.
func TestStatusAttrs(t *testing.T) {
	running := mesos.TASK_RUNNING
	healthReason := mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
	checkReason := mesos.REASON_TASK_CHECK_STATUS_UPDATED
	healthy := true
	exit, code := int32(0), uint32(503)
	for _, tc := range []struct {
		st   mesos.TaskStatus
		want string
	}{
		{mesos.TaskStatus{State: &running}, "[task t state TASK_RUNNING message ]"},
		{mesos.TaskStatus{State: &running, Reason: &healthReason, Healthy: &healthy},
			"[task t state TASK_RUNNING message  reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED healthy true]"},
		{mesos.TaskStatus{State: &running, Reason: &checkReason, CheckStatus: &mesos.CheckStatusInfo{Command: &mesos.CheckStatusInfo_Command{}}},
			"[task t state TASK_RUNNING message  reason REASON_TASK_CHECK_STATUS_UPDATED]"},
		{mesos.TaskStatus{State: &running, Reason: &checkReason, CheckStatus: &mesos.CheckStatusInfo{Command: &mesos.CheckStatusInfo_Command{ExitCode: &exit}}},
			"[task t state TASK_RUNNING message  reason REASON_TASK_CHECK_STATUS_UPDATED check_exit_code 0]"},
		{mesos.TaskStatus{State: &running, Reason: &checkReason, CheckStatus: &mesos.CheckStatusInfo{HTTP: &mesos.CheckStatusInfo_Http{StatusCode: &code}}},
			"[task t state TASK_RUNNING message  reason REASON_TASK_CHECK_STATUS_UPDATED check_http_status 503]"},
		{mesos.TaskStatus{State: &running, Reason: &checkReason, CheckStatus: &mesos.CheckStatusInfo{TCP: &mesos.CheckStatusInfo_Tcp{Succeeded: &healthy}}},
			"[task t state TASK_RUNNING message  reason REASON_TASK_CHECK_STATUS_UPDATED check_tcp_succeeded true]"},
	} {
		if got := fmt.Sprint(statusAttrs("t", &tc.st)); got != tc.want {
			t.Errorf("statusAttrs = %s, want %s", got, tc.want)
		}
	}
}
