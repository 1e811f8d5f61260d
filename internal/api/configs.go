package api

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// The configuration endpoints, as the SDK's ConfigResource and
// ConfigQueries answer them:
//
//	GET /v1/configurations            ["id", ...] the stored configurations
//	GET /v1/configurations/targetId   ["id"] the target's
//	GET /v1/configurations/target     the target configuration
//	GET /v1/configurations/{id}       a configuration: 400 when id cannot be
//	                                  one, 404 when it is not stored
//
// A configuration is JSON: {"id", "name", "user", "role", "region", "spec"
// (the rendered svc.yml), "templates", "taskcfg"}, every secret-looking
// value masked (service.Scheduler.Configuration).

func (s *Server) routeConfigurations(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/configurations", s.configurations)
	mux.HandleFunc("GET /v1/configurations/targetId", s.targetID)
	mux.HandleFunc("GET /v1/configurations/target", s.configuration)
	mux.HandleFunc("GET /v1/configurations/{id}", s.configuration)
}

func (s *Server) configurations(w http.ResponseWriter, r *http.Request) {
	ids, err := s.Sched.ConfigurationIDs()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ids)
}

func (s *Server) targetID(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []string{s.Sched.TargetID()})
}

func (s *Server) configuration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" {
		id = s.Sched.TargetID()
	}
	b, err := s.Sched.Configuration(id)
	if err != nil {
		fail(w, err)
		return
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	out.WriteByte('\n')
	w.Write(out.Bytes())
}
