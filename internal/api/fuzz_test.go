package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
	"github.com/taskkit/taskkit/internal/sdk/service"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
)

// fuzzSecret is the value of a secret-named variable of the fuzzed
// service's task: no answer may show it.
const fuzzSecret = "Fuzz-Api-S3cret-Value"

// fuzzServer is the API of a scheduler subscribed to sdktest's master,
// whose one pod was launched (so that pod info has a TaskInfo, with
// fuzzSecret in its environment), and the files it serves templates and
// binaries from.
func fuzzServer(t testing.TB) http.Handler {
	t.Helper()
	dir := t.TempDir()
	loaded, err := spec.Parse([]byte(`name: api-fuzz
pods:
  web:
    count: 1
    tasks:
      server:
        goal: RUNNING
        cmd: sleep 1000
        cpus: 0.1
        memory: 32
        env:
          DB_PASSWORD: `+fuzzSecret+`
`), spec.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := sdktest.NewMaster()
	sched, err := service.New(service.Config{Loaded: loaded, Store: st, MasterURL: "http://127.0.0.1:1", Caller: m, Clock: sdktest.NewClock(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	runSubscribed(t, sched, m)
	m.Send(t, sdktest.Offers(sdktest.Offer("o1", "a1", "h1")))
	m.Expect(t, scheduler.Call_ACCEPT)
	return (&Server{Sched: sched, ArtifactsDir: dir, Files: st}).Handler()
}

// FuzzRequest sends the API fuzzed requests (method, path and query,
// content type, body), parsed from the wire as net/http's server does.
// Properties:
//   - no 500: a request the API cannot serve is the client's fault (4xx)
//     or the scheduler's state's (503);
//   - a JSON answer is valid JSON, and a JSON error is {"message": "..."}
//     with a message;
//   - no answer shows the task's secret environment value;
//   - at most 16 MiB allocated per request over 64 KiB (bodies are read
//     with a limit: plan parameters 1 MiB, state files 1 KiB).
func FuzzRequest(f *testing.F) {
	for _, s := range []struct{ method, target, ctype, body string }{
		{"GET", "/v1/plans", "", ""},
		{"GET", "/v1/plans/deploy", "", ""},
		{"POST", "/v1/plans/deploy/start", "application/json", `{"KEY":"value"}`},
		{"POST", "/v1/plans/deploy/start?phase=web", "application/json", `["not","an","object"]`},
		{"POST", "/v1/plans/deploy/interrupt?phase=web", "", ""},
		{"POST", "/v1/plans/deploy/restart?phase=web&step=web-0:[server]", "", ""},
		{"GET", "/v1/plans/deploy/continue", "", ""},
		{"GET", "/v1/pod", "", ""},
		{"GET", "/v1/pod/status", "", ""},
		{"GET", "/v1/pod/web-0/info", "", ""},
		{"GET", "/v1/pod/web-0/status", "", ""},
		{"POST", "/v1/pod/web-0/restart", "", ""},
		{"POST", "/v1/pod/web-0/replace", "", ""},
		{"GET", "/v1/state/frameworkId", "", ""},
		{"GET", "/v1/state/files", "", ""},
		{"PUT", "/v1/state/files/a.txt", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XX--\r\n"},
		{"GET", "/v1/state/files/a.txt", "", ""},
		{"GET", "/v1/state/properties", "", ""},
		{"GET", "/v1/state/properties/file-a.txt", "", ""},
		{"GET", "/v1/state/zone/tasks", "", ""},
		{"GET", "/v1/state/zone/tasks/web-0-server", "", ""},
		{"GET", "/v1/state/zone/web/127.0.0.1", "", ""},
		{"PUT", "/v1/state/refresh", "", ""},
		{"GET", "/v1/endpoints", "", ""},
		{"GET", "/v1/endpoints/http", "", ""},
		{"GET", "/v1/health?verbose=true", "", ""},
		{"GET", "/v1/debug/offers", "", ""},
		{"GET", "/v1/metrics", "", ""},
		{"GET", "/v1/metrics/prometheus", "", ""},
		{"GET", "/v1/artifacts/template/web/web/server/a.conf", "", ""},
		{"GET", "/v1/artifacts/bin/..%2fstate.db", "", ""},
		{"GET", "/ui/app.js", "", ""},
		{"DELETE", "/v1/plans/deploy", "", ""},
	} {
		f.Add(s.method, s.target, s.ctype, []byte(s.body))
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, method, target, ctype string, body []byte) {
		req := wireRequest(method, target, ctype, body)
		if req == nil {
			return // net/http's server answers 400 before the API sees it
		}
		if len(body) > 64<<10 {
			fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}.Check(t, "ServeHTTP", func() { checkRequest(t, h, req, body) })
			return
		}
		checkRequest(t, h, req, body)
	})
}

// wireRequest is the request the bytes of method, target, content type
// and body make on the wire, as net/http's server reads it; nil when it
// refuses them.
func wireRequest(method, target, ctype string, body []byte) *http.Request {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.test\r\nContent-Length: %d\r\n", method, target, len(body))
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	b.WriteString("\r\n")
	b.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil || strings.ContainsAny(method+target+ctype, "\r\n") {
		return nil
	}
	return req
}

// checkRequest serves req and checks FuzzRequest's properties.
func checkRequest(t *testing.T, h http.Handler, req *http.Request, body []byte) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	res := w.Result()
	what := fmt.Sprintf("%s %s (%q, %d bytes)", req.Method, req.RequestURI, req.Header.Get("Content-Type"), len(body))
	got := w.Body.Bytes()
	if res.StatusCode == http.StatusInternalServerError {
		t.Fatalf("%s: 500 %s", what, got)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "application/json" {
		if !json.Valid(got) {
			t.Fatalf("%s: %d, not JSON: %q", what, res.StatusCode, got)
		}
		var e struct{ Message *string }
		if res.StatusCode >= 400 && (json.Unmarshal(got, &e) != nil || e.Message == nil || *e.Message == "") {
			t.Fatalf("%s: %d without a message: %s", what, res.StatusCode, got)
		}
	}
	if bytes.Contains(got, []byte(fuzzSecret)) && !strings.Contains(req.RequestURI+string(body), fuzzSecret) {
		t.Fatalf("%s: %d shows the secret: %s", what, res.StatusCode, got)
	}
}

// TestRequestBudget sends 1 MiB bodies (plan parameters, a state file,
// a body where none is read) within 16 MiB allocated each.
func TestRequestBudget(t *testing.T) {
	h := fuzzServer(t)
	params := append([]byte(`{"A":"`), fuzzcheck.Sized([]byte("x"), fuzzcheck.MiB)...)
	params = append(params, `"}`...)
	multipart := "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n" + string(fuzzcheck.Sized([]byte("y"), fuzzcheck.MiB)) + "\r\n--XX--\r\n"
	b := fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}
	for _, tt := range []struct{ method, target, ctype, body string }{
		{"POST", "/v1/plans/deploy/start", "application/json", string(params)},
		{"POST", "/v1/plans/deploy/start", "application/json", string(fuzzcheck.Sized([]byte(`{"A":"b",`), fuzzcheck.MiB))},
		{"PUT", "/v1/state/files/a.txt", "multipart/form-data; boundary=XX", multipart},
		{"GET", "/v1/pod/web-0/info", "", string(fuzzcheck.Sized([]byte("z"), fuzzcheck.MiB))},
	} {
		req := wireRequest(tt.method, tt.target, tt.ctype, []byte(tt.body))
		if req == nil {
			t.Fatalf("%s %s: not a request", tt.method, tt.target)
		}
		c := b.Check(t, tt.method+" "+tt.target, func() { checkRequest(t, h, req, []byte(tt.body)) })
		t.Logf("%s %s (%d bytes): %v", tt.method, tt.target, len(tt.body), c)
	}
}
