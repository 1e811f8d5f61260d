package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/taskkit/taskkit/internal/sdk/service"
)

// podTypeStatus is one pod type in GET /v1/pod/status.
type podTypeStatus struct {
	Name      string                  `json:"name"`
	Instances []service.PodStatusView `json:"instances"`
}

// podStatuses is GET /v1/pod/status: every pod instance's tasks and their
// states, grouped by pod type, as dcos-commons' PodQueries.getStatuses
// answers: {"service":name,"pods":[{"name":type,"instances":[{"name","tasks":[{"id","name","status"}]}]}]}.
// Instances with no task launched yet are listed with no tasks, as
// GET /v1/pod lists the spec's instances (the SDK's getStatuses, grouping
// stored tasks, leaves them out; GET /v1/pod/{name}/status answers 404 for
// them, as the SDK's does).
func (s *Server) podStatuses(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Service string          `json:"service"`
		Pods    []podTypeStatus `json:"pods"`
	}{Service: s.Sched.FrameworkName(), Pods: []podTypeStatus{}}
	for _, name := range s.Sched.Pods() {
		v, err := s.Sched.PodStatus(name)
		if errors.Is(err, service.ErrNotFound) {
			v, err = service.PodStatusView{Name: name, Tasks: []service.TaskStatusView{}}, nil
		}
		if err != nil {
			fail(w, err)
			return
		}
		typ := name[:strings.LastIndex(name, "-")] // Pods names instances <type>-<index>
		if n := len(out.Pods); n == 0 || out.Pods[n-1].Name != typ {
			out.Pods = append(out.Pods, podTypeStatus{Name: typ})
		}
		last := &out.Pods[len(out.Pods)-1]
		last.Instances = append(last.Instances, v)
	}
	writeJSON(w, http.StatusOK, out)
}
