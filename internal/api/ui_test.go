package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/sdk/service"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
)

// newScheduler is a scheduler of a one-pod spec on a fresh store; mutate
// adjusts its Config.
func newScheduler(t *testing.T, mutate func(*service.Config)) *service.Scheduler {
	t.Helper()
	loaded, err := spec.Parse([]byte("name: ui-unit\npods:\n  web:\n    count: 1\n    tasks:\n      server:\n        cmd: sleep 1\n        cpus: 0.5\n        memory: 32\n"), spec.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := service.Config{Loaded: loaded, Store: st, MasterURL: "http://127.0.0.1:1"}
	if mutate != nil {
		mutate(&cfg)
	}
	sched, err := service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sched
}

// newTestServer is the API of a scheduler that was never run (no master).
func newTestServer(t *testing.T) *Server {
	t.Helper()
	return &Server{Sched: newScheduler(t, nil)}
}

// TestUIBehindProxy serves the UI under /service/ui-unit/ through a reverse
// proxy that strips the prefix (as DC/OS's Admin Router does): every asset
// and link of the page is relative and resolves, through the proxy, to a
// real answer; the script calls the API by relative paths only.
func TestUIBehindProxy(t *testing.T) {
	api := httptest.NewServer(newTestServer(t).Handler())
	defer api.Close()
	target, _ := url.Parse(api.URL)
	const prefix = "/service/ui-unit/"
	var outside []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix) {
			outside = append(outside, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = "/" + strings.TrimPrefix(pr.In.URL.Path, prefix)
			pr.Out.URL.RawPath = ""
		}}).ServeHTTP(w, r)
	}))
	defer front.Close()
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	page, _ := url.Parse(front.URL + prefix)
	resp, html := get(page.String())
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(html, "<title>ui-unit · scheduler-lite</title>") {
		t.Errorf("the page does not name the framework:\n%.300s", html)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 5 {
		t.Fatalf("only %d references in the page", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," {
			continue
		}
		if strings.HasPrefix(ref, "/") || strings.Contains(ref, "://") {
			t.Errorf("%q is not relative: it would miss the /service/<name>/ prefix", ref)
			continue
		}
		u, _ := page.Parse(ref)
		resp, _ := get(u.String())
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 && !strings.Contains(ref, "v1/health") {
			t.Errorf("%s → %s: %d", ref, u.Path, resp.StatusCode)
		}
	}
	resp, js := get(page.String() + "ui/app.js")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("app.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if m := regexp.MustCompile("[\"'`]/v1").FindString(js); m != "" {
		t.Errorf("app.js calls the API by an absolute path (%s...)", m)
	}
	if !strings.Contains(js, `"v1/plans/" + encodeURIComponent(`) {
		t.Error("app.js does not call the API by relative paths")
	}
	if resp, _ := get(page.String() + "ui/style.css"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"ui/index.html", "ui/", "ui/nope.js"} {
		if resp, _ := get(page.String() + p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	if len(outside) > 0 {
		t.Errorf("requests outside the prefix: %v", outside)
	}
}

// TestUIPageSections: the page has every section the operator needs.
func TestUIPageSections(t *testing.T) {
	b, err := uiFS.ReadFile("ui/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{`id="plans"`, `id="pods"`, `id="agents"`, `id="health"`, `id="token-form"`} {
		if !strings.Contains(string(b), id) {
			t.Errorf("index.html lacks %s", id)
		}
	}
}
