package healthreport

import (
	"os"
)

var osEnviron = os.Environ

// Response is one answer of the HTTP endpoints.
type Response struct {
	Code        int
	ContentType string
	Body        []byte
	Allow       string // for 405
}

// Handle answers one request:
//
//	GET /health   200 "healthy" or 503 "unhealthy (<state>)", see Healthy
//	GET /ready    200 "ready" or 503 "not ready", see Ready
//	GET /status   the Snapshot as JSON
//	GET /metrics  Prometheus text exposition format 0.0.4
//
// HEAD works wherever GET does, other methods get 405 and other paths 404.
// It never starts a check.
func (r *Reporter) Handle(method, path string) Response {
	const textType = "text/plain; charset=utf-8"
	switch path {
	case "/health", "/ready", "/status", "/metrics":
	default:
		return Response{404, textType, []byte("not found; try /health, /ready, /status or /metrics\n"), ""}
	}
	if method != "GET" && method != "HEAD" {
		return Response{405, textType, []byte("method not allowed\n"), "GET, HEAD"}
	}
	var resp Response
	switch path {
	case "/health":
		if r.Healthy() {
			resp = Response{200, textType, []byte("healthy\n"), ""}
			break
		}
		state := "no health check"
		if r.opts.Health != nil {
			state = r.opts.Health.Status().State.String()
		}
		resp = Response{503, textType, []byte("unhealthy (" + state + ")\n"), ""}
	case "/ready":
		if r.Ready() {
			resp = Response{200, textType, []byte("ready\n"), ""}
		} else {
			resp = Response{503, textType, []byte("not ready\n"), ""}
		}
	case "/status":
		resp = Response{200, "application/json", r.Snapshot().JSON(), ""}
	case "/metrics":
		resp = Response{200, "text/plain; version=0.0.4; charset=utf-8", r.Metrics(), ""}
	}
	return resp
}
