package healthreport

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/probe"
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

// Metrics returns the Prometheus text exposition (format 0.0.4). It is
// written by hand: client_golang would link protobuf into healthd.
func (r *Reporter) Metrics() []byte {
	type kc struct {
		k Kind
		c *health.Checker
	}
	var checks []kc
	if r.opts.Health != nil {
		checks = append(checks, kc{Health, r.opts.Health})
	}
	if r.opts.Readiness != nil {
		checks = append(checks, kc{Readiness, r.opts.Readiness})
	}
	statuses := make([]health.Status, len(checks))
	for i, c := range checks {
		statuses[i] = c.c.Status()
	}
	healthy, ready := r.Healthy(), r.Ready()

	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	header := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	header("healthd_healthy", "gauge", "1 when GET /health answers 200.")
	fmt.Fprintf(&b, "healthd_healthy %d\n", b2i(healthy))
	header("healthd_ready", "gauge", "1 when GET /ready answers 200.")
	fmt.Fprintf(&b, "healthd_ready %d\n", b2i(ready))
	if len(checks) == 0 {
		return b.Bytes()
	}
	header("healthd_checks_total", "counter", "Checks run, by check and result (error: the check could not run).")
	for _, c := range checks {
		m := r.metrics[c.k]
		for _, s := range []probe.Status{probe.Healthy, probe.Unhealthy, probe.Error} {
			fmt.Fprintf(&b, "healthd_checks_total{check=%q,result=%q} %d\n", c.k, s, m.results[s])
		}
	}
	header("healthd_check_failures_total", "counter", "Failed checks that counted toward the threshold (not ignored in the grace period).")
	for _, c := range checks {
		fmt.Fprintf(&b, "healthd_check_failures_total{check=%q} %d\n", c.k, r.metrics[c.k].counted)
	}
	header("healthd_check_duration_seconds", "histogram", "How long checks took.")
	for _, c := range checks {
		m := r.metrics[c.k]
		for i, le := range durationBuckets {
			fmt.Fprintf(&b, "healthd_check_duration_seconds_bucket{check=%q,le=%q} %d\n", c.k, strconv.FormatFloat(le, 'g', -1, 64), m.buckets[i])
		}
		fmt.Fprintf(&b, "healthd_check_duration_seconds_bucket{check=%q,le=\"+Inf\"} %d\n", c.k, m.count)
		fmt.Fprintf(&b, "healthd_check_duration_seconds_sum{check=%q} %s\n", c.k, strconv.FormatFloat(m.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "healthd_check_duration_seconds_count{check=%q} %d\n", c.k, m.count)
	}
	header("healthd_check_consecutive_failures", "gauge", "Counted failures since the last success.")
	for i, c := range checks {
		fmt.Fprintf(&b, "healthd_check_consecutive_failures{check=%q} %d\n", c.k, statuses[i].ConsecutiveFailures)
	}
	header("healthd_check_state", "gauge", "1 for each check's current state.")
	for i, c := range checks {
		for _, s := range []health.State{health.Unknown, health.Healthy, health.Unhealthy, health.Failed} {
			fmt.Fprintf(&b, "healthd_check_state{check=%q,state=%q} %d\n", c.k, s, b2i(statuses[i].State == s))
		}
	}
	header("healthd_check_last_success_timestamp_seconds", "gauge", "When the last successful check ended (Unix time; 0: never).")
	for i, c := range checks {
		fmt.Fprintf(&b, "healthd_check_last_success_timestamp_seconds{check=%q} %s\n", c.k, unixSeconds(statuses[i].LastSuccess))
	}
	return b.Bytes()
}

func unixSeconds(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
