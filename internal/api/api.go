// Package api is scheduler-lite's HTTP API (JSON), with the DC/OS SDK's
// paths and status codes (../../shared/research/dcos-sdk-inventory.md §3):
//
//	GET  /v1/plans                          plan names
//	GET  /v1/plans/{plan}                   200 complete, 202 in progress, 417 errors
//	POST /v1/plans/{plan}/{start|stop|interrupt|continue}[?phase=]
//	POST /v1/plans/{plan}/{restart|forceComplete}[?phase=[&step=]]
//	                                        200 {"message"}, 208 no-op, 404 unknown,
//	                                        400 a step without its phase
//	GET  /v1/pod                            pod instance names
//	GET  /v1/pod/status                     every instance's tasks by pod type (podstatus.go)
//	GET  /v1/pod/{name}/status              tasks and their states
//	GET  /v1/pod/{name}/info                TaskInfos and statuses, secrets masked
//	POST /v1/pod/{name}/{restart|replace}   {"pod","tasks"}
//	POST /v1/pod/{name}/{pause|resume}      body: optional ["task",...]; {"pod","tasks"},
//	                                        208 {"pod","tasks","message"} when nothing changes
//	GET  /v1/state/frameworkId              ["id"]
//	GET  /v1/state/files[/{name}]           state files, text/plain (statefiles.go)
//	PUT  /v1/state/files/{name}             a state file (multipart "file", ≤ 1 KiB)
//	GET  /v1/state/properties[/{key}]       property keys; a value (404 unknown), the
//	                                        CA's key and other secrets withheld (state.go)
//	GET  /v1/state/zone/tasks[/{task}]      {"task":"zone"}; a task's zone (text)
//	GET  /v1/state/zone/{podType}/{ip}      the zone of the pod type's task at ip (text)
//	PUT  /v1/state/refresh                  409: the state store keeps no cache
//	GET  /v1/endpoints[/{name}]             advertised ports
//	GET  /v1/configurations                 stored configuration IDs
//	GET  /v1/configurations/targetId        ["id"] of the target configuration
//	GET  /v1/configurations/target          the target configuration (configs.go)
//	GET  /v1/configurations/{id}            a configuration; 400 not an ID, 404 unknown
//	GET  /v1/health[?verbose=true]          {"value":code}, HTTP status = code; verbose adds
//	                                        status, plans and reasons
//	GET  /v1/debug/offers                   steps waiting for an offer and why; the latest
//	                                        offer evaluations
//	GET  /v1/metrics, /v1/metrics/prometheus
//	GET  /v1/artifacts/template/{cfg}/{pod}/{task}/{name}   a config template
//	GET  /v1/artifacts/bin/{name}           a toolkit binary (taskenv.Artifacts: bootstrap,
//	                                        healthd, tlsprov, executor); 404 for any other name
//	GET  /, /ui/{app.js,style.css}          the web UI (ui.go)
//
// Errors are JSON {"message": "..."} with 400, 404, 405 (a GET of a POST
// command) or 503 (the scheduler's event loop not running) as fits, except
// the state files API's, which are text as the SDK's are. In the SDK's
// uninstall mode UninstallHandler serves instead (uninstall.go).
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/service"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Server serves the API of one service.
type Server struct {
	// Sched is the scheduler the API reads and commands.
	Sched *service.Scheduler
	// ArtifactsDir holds the binaries served under /v1/artifacts/bin/:
	// only taskenv.Artifacts and ServiceArtifacts, by name; its other
	// files are never served.
	ArtifactsDir string
	// ServiceArtifacts are the other names served from ArtifactsDir: the
	// files the service's svc.yml fetches from ARTIFACTS_URL (e.g.
	// hello-world.tar.gz), set when the scheduler starts.
	ServiceArtifacts []string
	// Files is the state store, read and written by /v1/state/files
	// (statefiles.go) and read by /v1/state/properties and /zone
	// (state.go).
	Files StateStore
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger

	planBodies planBodies
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/plans", s.plans)
	mux.HandleFunc("GET /v1/plans/{plan}", s.planGet)
	mux.HandleFunc("POST /v1/plans/{plan}/{cmd}", s.planCmd)
	mux.HandleFunc("/v1/plans/{plan}/{cmd}", postOnly)
	mux.HandleFunc("GET /v1/pod", s.pods)
	mux.HandleFunc("GET /v1/pod/status", s.podStatuses)
	mux.HandleFunc("GET /v1/pod/{name}/status", s.podStatus)
	mux.HandleFunc("GET /v1/pod/{name}/info", s.podInfo)
	mux.HandleFunc("POST /v1/pod/{name}/{cmd}", s.podCmd)
	mux.HandleFunc("/v1/pod/{name}/{cmd}", postOnly)
	mux.HandleFunc("GET /v1/state/frameworkId", s.frameworkID)
	mux.HandleFunc("GET /v1/endpoints", s.endpoints)
	mux.HandleFunc("GET /v1/endpoints/{name}", s.endpoint)
	s.routeConfigurations(mux)
	mux.HandleFunc("GET /v1/health", s.health)
	mux.HandleFunc("GET /v1/debug/offers", s.debugOffers)
	mux.HandleFunc("GET /v1/debug/reservations", s.debugReservations)
	mux.HandleFunc("GET /v1/metrics", s.metrics)
	mux.HandleFunc("GET /v1/metrics/prometheus", s.prometheus)
	mux.HandleFunc("GET "+taskenv.TemplatePath+"{cfg}/{pod}/{task}/{name}", s.template)
	mux.HandleFunc("GET "+taskenv.ArtifactBinPath+"{name}", s.binary)
	s.routeUI(mux)
	s.routeStateFiles(mux)
	s.routeState(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.instrumented(mux)
}

// instrumented times every request the API serves, as the SDK's API server
// does with Dropwizard's InstrumentedHandler (dcos-commons
// framework/ApiServer.java), from its handler's start to its return (the
// time before, reading the request, is not in it; a wait for a CPU while
// the handler runs is). The timer is api.requests,
// except for the files tasks fetch under /v1/artifacts/ (binaries of
// megabytes, timed by the client's download), which are api.artifacts.
// The counters api.responses.2xx to .5xx count both by the status class
// answered.
func (s *Server) instrumented(next http.Handler) http.Handler {
	if s.Sched == nil {
		return next
	}
	m := s.Sched.Metrics()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		timer := "api.requests"
		if strings.HasPrefix(r.URL.Path, artifactsPath) {
			timer = "api.artifacts"
		}
		m.Observe(timer, time.Since(start))
		if c := sw.code / 100; c >= 2 && c <= 5 {
			m.Inc(fmt.Sprintf("api.responses.%dxx", c))
		}
	})
}

// artifactsPath is the prefix of the files tasks fetch (binaries and
// config templates, taskenv.ArtifactBinPath and TemplatePath).
const artifactsPath = "/v1/artifacts/"

// statusWriter remembers the final status code a handler answered (200
// unless it called WriteHeader first; a 1xx is not final). Unwrap keeps
// http.ResponseController working through it.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeBody(w, code, encodeJSON(v))
}

// encodeJSON is v as the API answers it: indented JSON, then a newline.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return b.Bytes()
}

// writeBody answers code with the JSON body, its length known: one write,
// rather than chunks of a few KiB each a write of its own.
func writeBody(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

// postOnly answers a command path called with another method than POST.
func postOnly(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	writeErr(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": commands are POSTed")
}

// fail maps a scheduler error to a status code.
func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, service.ErrNotRunning):
		writeErr(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, service.ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	case errors.Is(err, service.ErrBadCommand):
		writeErr(w, http.StatusBadRequest, err.Error())
	default:
		writeErr(w, http.StatusInternalServerError, err.Error())
	}
}

func (s *Server) plans(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Sched.PlanNames())
}

func (s *Server) planGet(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("plan")
	v, version, err := s.Sched.PlanViewVersion(name)
	if err != nil {
		fail(w, err)
		return
	}
	writeBody(w, planCode(v), s.planBodies.get(name, version, v))
}

// planBodies keeps each plan's GET /v1/plans/{plan} answer with the
// version of the view it was encoded from (service.PlanViewVersion):
// while a deploy runs, a plan's view changes a few times a second and is
// read more often, and the JSON of a 200-step plan is tens of KiB. An
// unchanged view is encoded once.
type planBodies struct {
	mu sync.Mutex
	m  map[string]planBody
}

type planBody struct {
	version uint64
	body    []byte
}

// get returns the body of plan name's view v of version version, encoding
// it unless it is kept. (Versions only grow: a body of an older version
// never replaces a newer one.)
func (c *planBodies) get(name string, version uint64, v plan.View) []byte {
	c.mu.Lock()
	b, ok := c.m[name]
	c.mu.Unlock()
	if ok && b.version == version {
		return b.body
	}
	body := encodeJSON(v)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]planBody{}
	}
	if cur, ok := c.m[name]; !ok || cur.version < version {
		c.m[name] = planBody{version: version, body: body}
	}
	c.mu.Unlock()
	return body
}

func (s *Server) planCmd(w http.ResponseWriter, r *http.Request) {
	name, cmd := r.PathValue("plan"), r.PathValue("cmd")
	if !slices.Contains(service.PlanCommands, cmd) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("unknown plan command %q (%s)", cmd, strings.Join(service.PlanCommands, ", ")))
		return
	}
	var params map[string]string
	if cmd == service.CmdStart {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeErr(w, http.StatusBadRequest, "reading the body: "+err.Error())
			return
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &params); err != nil {
				writeErr(w, http.StatusBadRequest, `body: want a JSON object of strings, e.g. {"KEY":"value"}: `+err.Error())
				return
			}
		}
	}
	q := r.URL.Query()
	changed, err := s.Sched.PlanCommand(context.WithoutCancel(r.Context()), name, cmd, q.Get("phase"), q.Get("step"), params)
	if err != nil {
		fail(w, err)
		return
	}
	code := http.StatusOK
	if !changed {
		code = http.StatusAlreadyReported
	}
	msg := "Received cmd: " + cmd
	if cmd == service.CmdRestart || cmd == service.CmdForceComplete {
		// The SDK's getPlanCommandResult.
		msg = fmt.Sprintf("Received cmd: %s for Plan: %s, Phase: %s, Step: %s", cmd, name, orNull(q.Get("phase")), orNull(q.Get("step")))
	}
	writeJSON(w, code, map[string]string{"message": msg})
}

// orNull is v, or "null" as Java prints an absent value.
func orNull(v string) string {
	if v == "" {
		return "null"
	}
	return v
}

func (s *Server) pods(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Sched.Pods())
}

func (s *Server) podStatus(w http.ResponseWriter, r *http.Request) {
	v, err := s.Sched.PodStatus(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) podInfo(w http.ResponseWriter, r *http.Request) {
	v, err := s.Sched.PodInfo(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) podCmd(w http.ResponseWriter, r *http.Request) {
	name, cmd := r.PathValue("name"), r.PathValue("cmd")
	var tasks []string
	var err error
	ctx := context.WithoutCancel(r.Context())
	switch cmd {
	case "restart", "replace":
		tasks, err = s.Sched.PodRestart(ctx, name, cmd == "replace")
	case "pause", "resume":
		var filter []string
		body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil {
			writeErr(w, http.StatusBadRequest, "reading the body: "+rerr.Error())
			return
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if jerr := json.Unmarshal(body, &filter); jerr != nil {
				writeErr(w, http.StatusBadRequest, `body: want a JSON array of task names, e.g. ["server"]: `+jerr.Error())
				return
			}
		}
		var changed bool
		tasks, changed, err = s.Sched.PodOverride(ctx, name, filter, cmd == "pause")
		if err == nil && !changed {
			// As a plan command that changes nothing.
			writeJSON(w, http.StatusAlreadyReported, map[string]any{"pod": name, "tasks": tasks, "message": "nothing changed: " + map[bool]string{true: "already paused", false: "not paused"}[cmd == "pause"]})
			return
		}
	default:
		writeErr(w, http.StatusNotFound, fmt.Sprintf("unknown pod command %q (restart, replace, pause, resume)", cmd))
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pod": name, "tasks": tasks})
}

func (s *Server) frameworkID(w http.ResponseWriter, r *http.Request) {
	id := s.Sched.FrameworkID()
	if id == "" {
		writeJSON(w, http.StatusOK, []string{})
		return
	}
	writeJSON(w, http.StatusOK, []string{id})
}

func (s *Server) endpoints(w http.ResponseWriter, r *http.Request) {
	eps := s.Sched.Endpoints()
	if eps == nil {
		eps = []string{}
	}
	writeJSON(w, http.StatusOK, eps)
}

func (s *Server) endpoint(w http.ResponseWriter, r *http.Request) {
	v, err := s.Sched.Endpoint(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := s.Sched.HealthReport()
	v := map[string]any{"value": h.Code}
	if r.URL.Query().Get("verbose") == "true" {
		v["status"] = h.Status
		v["plans"] = map[string]plan.Status{plan.Deploy: s.Sched.PlanStatus(plan.Deploy), plan.Recovery: s.Sched.PlanStatus(plan.Recovery)}
		v["reasons"] = h.Reasons
	}
	writeJSON(w, h.Code, v)
}

func (s *Server) debugOffers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Sched.DebugOffers())
}

// debugReservations serves GET /v1/debug/reservations (the SDK's
// TaskReservationsResource): what each pod instance has reserved, and the
// reservations being released.
func (s *Server) debugReservations(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Sched.Reservations())
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Sched.Metrics().Snapshot())
}

func (s *Server) prometheus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.Sched.Metrics().WritePrometheus(w)
}

func (s *Server) template(w http.ResponseWriter, r *http.Request) {
	text, ok := s.Sched.Template(r.PathValue("cfg"), r.PathValue("pod"), r.PathValue("task"), r.PathValue("name"))
	if !ok {
		writeErr(w, http.StatusNotFound, "no such template in the current configuration")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, text)
}

// binary serves one of the toolkit's binaries (taskenv.Artifacts) by its
// name, and nothing else: ArtifactsDir is the scheduler's sandbox under
// the Universe package, where its secret mounts (principal-secret,
// api-token), svc.yml, logs and a file state store (TLS keys, secret
// values) live too, so any other name is 404 even when the file exists.
func (s *Server) binary(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.ArtifactsDir == "" || (!slices.Contains(taskenv.Artifacts, name) && !slices.Contains(s.ServiceArtifacts, name)) {
		writeErr(w, http.StatusNotFound, "no such artifact: "+name)
		return
	}
	p := filepath.Join(s.ArtifactsDir, name)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		writeErr(w, http.StatusNotFound, "no such artifact: "+name)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeFile(w, r, p)
}
