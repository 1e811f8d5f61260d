package healthreport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/promcheck"
	"github.com/taskkit/taskkit/internal/redact"
)

const secret = "hunter2-very-secret"

// fixture is a Reporter over running checkers whose probes answer from a
// script, count their calls, and block once the script is used up, so the
// checkers stay alive but record nothing more.
type fixture struct {
	rep            *Reporter
	hc, rc         *health.Checker
	hCalls, rCalls atomic.Int64
	logs           *bytes.Buffer
	logMu          *sync.Mutex
}

type syncBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (s syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// newFixture runs the health check (results hr, one per check) and the
// readiness check (rr) until the test ends; nil means no such check.
func newFixture(t *testing.T, hr, rr []probe.Result, statusFile string) *fixture {
	t.Helper()
	f := &fixture{logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	// As in healthd, the logger masks: the reporter logs results unmasked.
	log := slog.New(redact.Handler(slog.NewJSONHandler(syncBuffer{f.logMu, f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}),
		redact.NewShared(redact.Default().LearnValue(secret))))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	scripted := func(rs []probe.Result, calls *atomic.Int64) probe.Prober {
		return probe.Func(func(ctx context.Context) probe.Result {
			n := int(calls.Add(1))
			if n > len(rs) {
				<-ctx.Done()
				return probe.TimedOut(ctx)
			}
			return rs[n-1]
		})
	}
	opts := Options{Mode: "sidecar", StatusFile: statusFile, Log: log,
		Redactor: redact.Default().LearnValue(secret), Now: func() time.Time { return time.Unix(1700000000, 0) }}
	var err error
	if hr != nil {
		cfg := health.Config{Interval: time.Millisecond, FailureThreshold: 2,
			OnResult: func(e health.Event) { f.rep.Observe(Health, e) }}
		if f.hc, err = health.New(scripted(hr, &f.hCalls), cfg); err != nil {
			t.Fatal(err)
		}
		opts.Health, opts.HealthDesc = f.hc, "cmd: check --password "+secret
	}
	if rr != nil {
		cfg := health.Config{Interval: time.Millisecond, Latch: true,
			OnResult: func(e health.Event) { f.rep.Observe(Readiness, e) }}
		if f.rc, err = health.New(scripted(rr, &f.rCalls), cfg); err != nil {
			t.Fatal(err)
		}
		opts.Readiness, opts.ReadinessDesc = f.rc, "tcp: 127.0.0.1:1"
	}
	f.rep = New(opts)
	// Run each checker until it has used its script and is blocked in the
	// next check (or has latched).
	for _, c := range []struct {
		c     *health.Checker
		n     int
		calls *atomic.Int64
	}{{f.hc, len(hr), &f.hCalls}, {f.rc, len(rr), &f.rCalls}} {
		if c.c == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.c.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for !(c.c.Status().Latched || (int(c.c.Status().Checks) == c.n && int(c.calls.Load()) == c.n+1)) {
			if time.Now().After(deadline) {
				t.Fatal("checks did not run")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return f
}

var (
	healthy   = probe.Result{Status: probe.Healthy, Reason: "exit status 0", ExitCode: 0}
	unhealthy = probe.Result{Status: probe.Unhealthy, Reason: "exit status 1", Output: "db password " + secret + " rejected\n", ExitCode: 1}
)

func TestHandle(t *testing.T) {
	tests := []struct {
		name         string
		hr, rr       []probe.Result
		method, path string
		code         int
		body         string // substring
	}{
		{"healthy", []probe.Result{healthy}, nil, "GET", "/health", 200, "healthy"},
		{"unhealthy", []probe.Result{unhealthy}, nil, "GET", "/health", 503, "unhealthy (unhealthy)"},
		{"failed", []probe.Result{unhealthy, unhealthy}, nil, "GET", "/health", 503, "unhealthy (failed)"},
		{"recovered", []probe.Result{unhealthy, unhealthy, healthy}, nil, "GET", "/health", 200, "healthy"},
		{"ready follows health without a readiness check", []probe.Result{healthy}, nil, "GET", "/ready", 200, "ready"},
		{"not ready follows health", []probe.Result{unhealthy}, nil, "GET", "/ready", 503, "not ready"},
		{"readiness passed", []probe.Result{unhealthy}, []probe.Result{unhealthy, healthy}, "GET", "/ready", 200, "ready"},
		{"readiness not passed", []probe.Result{healthy}, []probe.Result{unhealthy}, "GET", "/ready", 503, "not ready"},
		{"no health check: healthy", nil, []probe.Result{unhealthy}, "GET", "/health", 200, "healthy"},
		{"HEAD", []probe.Result{healthy}, nil, "HEAD", "/health", 200, "healthy"},
		{"POST", []probe.Result{healthy}, nil, "POST", "/health", 405, "method not allowed"},
		{"unknown path", []probe.Result{healthy}, nil, "GET", "/", 404, "try /health"},
		{"status", []probe.Result{healthy}, nil, "GET", "/status", 200, `"state": "healthy"`},
		{"metrics", []probe.Result{healthy}, nil, "GET", "/metrics", 200, "healthd_healthy 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.hr, tt.rr, "")
			got := f.rep.Handle(tt.method, tt.path)
			if got.Code != tt.code || !strings.Contains(string(got.Body), tt.body) {
				t.Fatalf("%s %s = %d %q, want %d ~%q", tt.method, tt.path, got.Code, got.Body, tt.code, tt.body)
			}
			if got.Code == 405 && got.Allow != "GET, HEAD" {
				t.Fatalf("405 without Allow")
			}
		})
	}
}

func TestProcessStates(t *testing.T) {
	rep := New(Options{Mode: "supervise"})
	if !rep.Healthy() || !rep.Ready() {
		t.Fatal("no checks, no process: should be healthy")
	}
	rep.SetProcess(42, time.Unix(1, 0))
	if !rep.Healthy() {
		t.Fatal("running process: should be healthy")
	}
	rep.SetStopping("signal terminated")
	if rep.Healthy() || rep.Ready() {
		t.Fatal("stopping: should be unhealthy")
	}
	rep.SetExited(143)
	s := rep.Snapshot()
	if s.Process == nil || s.Process.Pid != 42 || s.Process.Running || s.Process.ExitCode == nil || *s.Process.ExitCode != 143 || s.Process.Stopping != "signal terminated" {
		t.Fatalf("process view %+v", s.Process)
	}
}

func TestStatusJSONAndRedaction(t *testing.T) {
	f := newFixture(t, []probe.Result{unhealthy}, []probe.Result{healthy}, "")
	b := f.rep.Handle("GET", "/status").Body
	if bytes.Contains(b, []byte(secret)) {
		t.Fatalf("/status leaks the secret:\n%s", b)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	h := s.Health
	if s.Mode != "sidecar" || s.Healthy || !s.Ready || h == nil || s.Readiness == nil {
		t.Fatalf("snapshot %+v", s)
	}
	if h.State != "unhealthy" || h.ConsecutiveFailures != 1 || h.FailureThreshold != 2 || h.Checks != 1 || h.Failures != 1 ||
		h.Last == nil || h.Last.Status != "unhealthy" || h.Last.Reason != "exit status 1" || h.Last.ExitCode == nil || *h.Last.ExitCode != 1 ||
		h.Last.Output != "db password "+redact.Mask+" rejected\n" || h.Check != "cmd: check --password "+redact.Mask || h.LastFailure == nil || h.LastSuccess != nil {
		t.Fatalf("health view %+v, last %+v", h, h.Last)
	}
	if !s.Readiness.Passed || !s.Readiness.Latched || s.Readiness.State != "healthy" {
		t.Fatalf("readiness view %+v", s.Readiness)
	}
	f.logMu.Lock()
	logs := f.logs.String()
	f.logMu.Unlock()
	if strings.Contains(logs, secret) || !strings.Contains(logs, `"msg":"unhealthy"`) || !strings.Contains(logs, `"msg":"ready"`) {
		t.Fatalf("logs leak the secret or miss transitions:\n%s", logs)
	}
}

func TestTransitionsLoggedOnce(t *testing.T) {
	f := newFixture(t, []probe.Result{healthy, healthy, healthy, unhealthy, unhealthy, unhealthy, unhealthy, healthy, healthy}, nil, "")
	f.logMu.Lock()
	defer f.logMu.Unlock()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Level != "DEBUG" {
			msgs = append(msgs, rec.Msg)
		}
	}
	want := []string{"healthy", "unhealthy", "health check failure threshold reached", "healthy again"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("logged %q, want %q", msgs, want)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, []probe.Result{healthy, unhealthy, {Status: probe.Error, Reason: "no shell"}}, []probe.Result{healthy}, "")
	m := string(f.rep.Metrics())
	// The library's output is read as Prometheus reads it, every family
	// with the type docs/healthd.md gives it.
	families, err := promcheck.Parse([]byte(m))
	if err != nil {
		t.Fatalf("not a valid exposition: %v\n%s", err, m)
	}
	for name, typ := range map[string]dto.MetricType{
		"healthd_healthy":                              dto.MetricType_GAUGE,
		"healthd_ready":                                dto.MetricType_GAUGE,
		"healthd_checks_total":                         dto.MetricType_COUNTER,
		"healthd_check_failures_total":                 dto.MetricType_COUNTER,
		"healthd_check_duration_seconds":               dto.MetricType_HISTOGRAM,
		"healthd_check_consecutive_failures":           dto.MetricType_GAUGE,
		"healthd_check_state":                          dto.MetricType_GAUGE,
		"healthd_check_last_success_timestamp_seconds": dto.MetricType_GAUGE,
	} {
		if got := families[name].GetType(); families[name] == nil || got != typ {
			t.Errorf("family %s: type %v, want %v", name, got, typ)
		}
	}
	if n := len(families["healthd_check_duration_seconds"].GetMetric()); n != 2 {
		t.Errorf("%d duration histograms, want one per check kind", n)
	}
	for _, want := range []string{
		"healthd_healthy 0",
		"healthd_ready 1",
		`healthd_checks_total{check="health",result="healthy"} 1`,
		`healthd_checks_total{check="health",result="unhealthy"} 1`,
		`healthd_checks_total{check="health",result="error"} 1`,
		`healthd_checks_total{check="readiness",result="healthy"} 1`,
		`healthd_check_failures_total{check="health"} 2`,
		`healthd_check_duration_seconds_bucket{check="health",le="+Inf"} 3`,
		`healthd_check_duration_seconds_count{check="health"} 3`,
		`healthd_check_consecutive_failures{check="health"} 2`,
		`healthd_check_state{check="health",state="failed"} 1`,
		`healthd_check_state{check="health",state="healthy"} 0`,
		"# TYPE healthd_check_duration_seconds histogram",
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics miss %q", want)
		}
	}
	// Buckets are cumulative.
	var prev int
	sc := bufio.NewScanner(strings.NewReader(m))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, `healthd_check_duration_seconds_bucket{check="health"`) {
			var n int
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%d", &n)
			if n < prev {
				t.Errorf("bucket count went down: %q", line)
			}
			prev = n
		}
	}
	if t.Failed() {
		t.Log(m)
	}
}

// Many concurrent requests on a real loopback listener answer from the last
// result and never start a check.
func TestServeConcurrentRequestsStartNoCheck(t *testing.T) {
	f := newFixture(t, []probe.Result{healthy}, []probe.Result{healthy}, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.rep.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 30 * time.Second}

	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := 0; i < 400; i++ {
		path := []string{"/health", "/ready", "/status", "/metrics"}[i%4]
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(base + path)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(body) == 0 {
				errs <- fmt.Errorf("%s: %d %q", path, resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One scripted health check plus the one blocked in progress; the
	// readiness check latched after one.
	if h, r := f.hCalls.Load(), f.rCalls.Load(); h != 2 || r != 1 {
		t.Fatalf("requests started checks: health %d, readiness %d calls (want 2 and 1)", h, r)
	}

	// HEAD has headers and no body; other methods and bad requests are refused.
	resp, err := client.Head(base + "/health")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "8" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("HEAD: %v %+v", err, resp)
	}
	resp, err = client.Post(base+"/health", "text/plain", nil)
	if err != nil || resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %v %+v", err, resp)
	}
	resp.Body.Close()
	for _, raw := range []string{"garbage\r\n\r\n", "GET /health HTTP/1.1\r\nno colon\r\n\r\n"} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, raw)
		got, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(got), "HTTP/1.1 400 Bad Request") {
			t.Errorf("%q answered %q", raw, got)
		}
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestStatusFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "status.json")
	f := newFixture(t, []probe.Result{healthy}, nil, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.rep.RunStatusFile(ctx) }()
	read := func() Snapshot {
		var s Snapshot
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := os.ReadFile(path)
			if err == nil && json.Unmarshal(b, &s) == nil {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("no status file: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if s := read(); !s.Healthy || s.Health.Checks != 1 {
		t.Fatalf("status file %+v", s)
	}
	f.rep.SetProcess(7, time.Unix(1, 0))
	f.rep.SetExited(3)
	cancel()
	<-done // the last write happens before RunStatusFile returns
	if s := read(); s.Process == nil || s.Process.ExitCode == nil || *s.Process.ExitCode != 3 {
		t.Fatalf("final status file %+v", s.Process)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("status file mode: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
