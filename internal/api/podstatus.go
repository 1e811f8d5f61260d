package api

import (
	"net/http"

	"github.com/taskkit/taskkit/internal/sdk/service"
)

// podStatuses is GET /v1/pod/status: the tasks of every pod instance with
// tasks in the state store, and their states, grouped by pod type, as
// dcos-commons' PodQueries.getStatuses answers:
// {"service":name,"pods":[{"name":type,"instances":[{"name","tasks":[{"id","name","status"}]}]}]}.
// An instance not launched yet is absent (its status is 404), one being
// decommissioned is present (DECOMMISSIONING) until its tasks are erased.
// With no pod instance stored, "pods" is absent ({"service":name}), as the
// SDK builds it with JSONObject.append, once per pod type.
func (s *Server) podStatuses(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Service string                      `json:"service"`
		Pods    []service.PodTypeStatusView `json:"pods,omitempty"`
	}{s.Sched.FrameworkName(), s.Sched.PodStatuses()})
}
