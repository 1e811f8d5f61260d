package dnswait_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/dnswait/dnstest"
	"github.com/taskkit/taskkit/internal/logging"
)

// env is one test's DNS world: a live server, a resolv.conf and an empty
// hosts file in a temp dir.
type env struct {
	srv  *dnstest.Server
	dir  string
	base dnswait.Config
}

func newEnv(t *testing.T, resolvConf string) *env {
	t.Helper()
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	if resolvConf == "" {
		resolvConf = "nameserver 127.0.0.1\n"
	}
	writeFile(t, rc, resolvConf)
	writeFile(t, hosts, "127.0.0.1 localhost\n")
	return &env{srv: srv, dir: dir, base: dnswait.Config{
		Resolvers:      []string{srv.Addr},
		ResolvConfPath: rc,
		HostsPath:      hosts,
	}}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// later runs f after d in a goroutine the test owns: cleanup waits for it.
func later(t *testing.T, d time.Duration, f func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(d)
		f()
	}()
	t.Cleanup(wg.Wait)
}

// checkNoLeak fails if goroutines started during the test outlive it.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines before, %d after Wait returned:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func TestWaitRecordAppearsLater(t *testing.T) {
	e := newEnv(t, "")
	later(t, 300*time.Millisecond, func() { e.srv.Set("web-0.svc.test", "10.0.0.1") })
	cfg := e.base
	cfg.Hosts = []string{"web-0.svc.test"}
	cfg.Timeout = 30 * time.Second
	if err := dnswait.Wait(context.Background(), cfg, logging.Discard()); err != nil {
		t.Fatal(err)
	}
}

func TestSelfResolve(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		self    string
		wantErr string // "" = passes
	}{
		{"exact", []string{"10.0.0.1"}, "10.0.0.1", ""},
		{"dual stack, v4 self", []string{"10.0.0.1", "fd00::1"}, "10.0.0.1", ""},
		{"dual stack, v6 self", []string{"10.0.0.1", "fd00::1"}, "fd00::1", ""},
		{"several A, self among them", []string{"10.0.0.3", "10.0.0.1", "10.0.0.2"}, "10.0.0.1", ""},
		{"wrong IP", []string{"10.0.0.2"}, "10.0.0.1", "web-0.svc.test: resolves to [10.0.0.2], want 10.0.0.1"},
		{"wrong dual stack", []string{"10.0.0.2", "fd00::2"}, "10.0.0.1", "resolves to [10.0.0.2 fd00::2], want 10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			e.srv.Set("web-0.svc.test", tc.records...)
			cfg := e.base
			cfg.SelfName = "web-0.svc.test"
			cfg.SelfIP = mustAddr(t, tc.self)
			cfg.Timeout = 10 * time.Second
			if tc.wantErr != "" {
				cfg.Timeout = 400 * time.Millisecond
			}
			err := dnswait.Wait(context.Background(), cfg, logging.Discard())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			case tc.wantErr != "" && !errors.Is(err, dnswait.ErrTimeout):
				t.Fatalf("err = %v, want ErrTimeout in its chain", err)
			}
		})
	}
}

func TestSelfResolveWrongThenRight(t *testing.T) {
	e := newEnv(t, "")
	e.srv.Set("web-0.svc.test", "10.0.0.2")
	later(t, 300*time.Millisecond, func() { e.srv.Set("web-0.svc.test", "10.0.0.2", "10.0.0.1") })
	cfg := e.base
	cfg.SelfName, cfg.SelfIP = "web-0.svc.test", mustAddr(t, "10.0.0.1")
	cfg.Hosts = []string{"WEB-0.svc.test."} // same name: checked once, as self
	cfg.Timeout = 30 * time.Second
	var logs bytes.Buffer
	if err := dnswait.Wait(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "msg=ready"); n != 1 {
		t.Errorf("%d ready records, want 1:\n%s", n, logs.String())
	}
}

func TestTimeoutNamesEveryPendingTarget(t *testing.T) {
	checkNoLeak(t)
	e := newEnv(t, "")
	e.srv.SetRcode("broken.svc.test", dns.RcodeServerFailure)
	e.srv.Set("v6only.svc.test", "fd00::9")
	e.srv.Set("ok.svc.test", "10.0.0.9")
	closed := closedPort(t)
	cfg := e.base
	cfg.Hosts = []string{"ok.svc.test", "missing.svc.test", "broken.svc.test"}
	cfg.SelfName, cfg.SelfIP = "v6only.svc.test", mustAddr(t, "10.0.0.1")
	cfg.Targets = targets(t, "tcp://"+closed, "file://"+filepath.Join(e.dir, "nope"))
	// Long enough for every target's first attempt on a loaded machine
	// (at 500 ms the closed port was once still unanswered, and ok.svc.test
	// could be too): what each saw is the point, not how soon.
	cfg.Timeout = 2 * time.Second
	var logs bytes.Buffer
	err := dnswait.Wait(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if !errors.Is(err, dnswait.ErrTimeout) || errors.Is(err, dnswait.ErrCanceled) {
		t.Fatalf("err = %v, want ErrTimeout only", err)
	}
	var pe *dnswait.PendingError
	if !errors.As(err, &pe) || len(pe.Pending) != 5 {
		t.Fatalf("err = %#v, want a PendingError with 5 pending", err)
	}
	for _, want := range []string{
		"v6only.svc.test: resolves to [fd00::9], want 10.0.0.1",
		"missing.svc.test: NXDOMAIN from " + e.srv.Addr,
		"broken.svc.test: SERVFAIL from " + e.srv.Addr,
		"tcp://" + closed + ": connection refused",
		"file://" + filepath.Join(e.dir, "nope") + ": does not exist",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "ok.svc.test") {
		t.Errorf("error names a target that passed: %v", err)
	}
	if !strings.Contains(logs.String(), "target=ok.svc.test") {
		t.Errorf("no ready record for ok.svc.test:\n%s", logs.String())
	}
}

func TestTimeoutZeroWaitsUntilCanceled(t *testing.T) {
	checkNoLeak(t)
	e := newEnv(t, "")
	cfg := e.base
	cfg.Hosts = []string{"never.svc.test"}
	cfg.Timeout = 0
	ctx, cancel := context.WithCancel(context.Background())
	later(t, 300*time.Millisecond, cancel)
	start := time.Now()
	err := dnswait.Wait(ctx, cfg, logging.Discard())
	if !errors.Is(err, dnswait.ErrCanceled) || !errors.Is(err, context.Canceled) || errors.Is(err, dnswait.ErrTimeout) {
		t.Fatalf("err = %v, want ErrCanceled and context.Canceled", err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatalf("returned after %v, before the cancel", time.Since(start))
	}
	if !strings.Contains(err.Error(), "never.svc.test: NXDOMAIN from "+e.srv.Addr) {
		t.Errorf("err = %v", err)
	}
}

func TestContextDeadlineIsATimeout(t *testing.T) {
	e := newEnv(t, "")
	cfg := e.base
	cfg.Hosts = []string{"never.svc.test"}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := dnswait.Wait(ctx, cfg, nil); !errors.Is(err, dnswait.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func TestSearchListAndNdots(t *testing.T) {
	const rc = "nameserver 127.0.0.1\nsearch svc.test other.test\noptions ndots:2\n"
	for _, tc := range []struct {
		name      string
		host      string
		record    string
		wantOrder []string // qnames the server sees, in order, before the hit
		pass      bool
	}{
		{"short name via search", "web", "web.other.test.", []string{"web.svc.test.", "web.other.test."}, true},
		{"short name absolute last", "web.x", "web.x.", []string{"web.x.svc.test.", "web.x.other.test.", "web.x."}, true},
		{"ndots reached: absolute first", "a.b.c", "a.b.c.", []string{"a.b.c."}, true},
		{"ndots reached: search after", "a.b.c", "a.b.c.svc.test.", []string{"a.b.c.", "a.b.c.svc.test."}, true},
		{"trailing dot: no search", "web.", "web.svc.test.", []string{"web."}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, rc)
			e.srv.Set(tc.record, "10.0.0.1")
			cfg := e.base
			cfg.Hosts = []string{tc.host}
			cfg.Timeout = 10 * time.Second
			if !tc.pass {
				cfg.Timeout = 300 * time.Millisecond
			}
			err := dnswait.Wait(context.Background(), cfg, logging.Discard())
			if tc.pass != (err == nil) {
				t.Fatalf("err = %v, want pass=%v", err, tc.pass)
			}
			var order []string
			for _, q := range e.srv.Queries("") {
				if q.Type == dns.TypeA && (len(order) == 0 || order[len(order)-1] != q.Name) {
					order = append(order, q.Name)
				}
			}
			if tc.pass && strings.Join(order, " ") != strings.Join(tc.wantOrder, " ") {
				t.Errorf("A queries %v, want %v", order, tc.wantOrder)
			}
			if !tc.pass && (len(order) != 1 || order[0] != tc.wantOrder[0]) {
				t.Errorf("A queries %v, want only %v", order, tc.wantOrder)
			}
		})
	}
}

func TestHostsFileFirst(t *testing.T) {
	e := newEnv(t, "nameserver 127.0.0.1\nsearch svc.test\n")
	writeFile(t, e.base.HostsPath, "# comment\n127.0.0.1 localhost\n10.0.0.1 db.svc.test db # alias\nfd00::1 db.svc.test\n")
	e.srv.Set("db.svc.test", "10.9.9.9") // DNS would say otherwise
	cfg := e.base
	cfg.Hosts = []string{"db", "localhost"}
	cfg.SelfName, cfg.SelfIP = "db.svc.test", mustAddr(t, "fd00::1")
	cfg.Timeout = 10 * time.Second
	if err := dnswait.Wait(context.Background(), cfg, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	if q := e.srv.Queries(""); len(q) != 0 {
		t.Errorf("server got %d queries, want 0 (hosts file answers)", len(q))
	}
}

func TestServfailIsRetried(t *testing.T) {
	e := newEnv(t, "")
	e.srv.SetRcode("flaky.svc.test", dns.RcodeServerFailure)
	later(t, 300*time.Millisecond, func() { e.srv.Set("flaky.svc.test", "10.0.0.1") })
	cfg := e.base
	cfg.Hosts = []string{"flaky.svc.test"}
	cfg.Timeout = 30 * time.Second
	if err := dnswait.Wait(context.Background(), cfg, logging.Discard()); err != nil {
		t.Fatal(err)
	}
}

func TestSecondResolverAfterFailure(t *testing.T) {
	e := newEnv(t, "")
	good := e.srv
	bad, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bad.Close)
	bad.SetRcode("web.svc.test", dns.RcodeServerFailure)
	good.Set("web.svc.test", "10.0.0.1")
	cfg := e.base
	cfg.Resolvers = []string{bad.Addr, good.Addr}
	cfg.Hosts = []string{"web.svc.test"}
	cfg.Timeout = 10 * time.Second
	if err := dnswait.Wait(context.Background(), cfg, logging.Discard()); err != nil {
		t.Fatal(err)
	}
}

// TestQueryRate counts at the server: never more than 20 queries for a name
// in any one-second window, with the default backoff and with a backoff that
// asks for far more. The server logs each query at the kernel's receive
// timestamp, taken as the client sends it (dnstest), so queries a loaded
// server reads late and together are still counted when they were sent.
func TestQueryRate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backoff dnswait.Backoff
	}{
		{"default", dnswait.Backoff{}},
		{"greedy backoff is capped", dnswait.Backoff{Initial: time.Millisecond, Max: time.Millisecond, Factor: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			cfg := e.base
			cfg.Hosts = []string{"never.svc.test"}
			cfg.Backoff = tc.backoff
			cfg.Timeout = 2500 * time.Millisecond
			if err := dnswait.Wait(context.Background(), cfg, logging.Discard()); !errors.Is(err, dnswait.ErrTimeout) {
				t.Fatalf("err = %v", err)
			}
			qs := e.srv.Queries("never.svc.test")
			if len(qs) < 10 {
				t.Fatalf("only %d queries in 2.5 s", len(qs))
			}
			peak := 0
			for i := range qs {
				n := 0
				for j := i; j < len(qs) && qs[j].At.Sub(qs[i].At) < time.Second; j++ {
					n++
				}
				peak = max(peak, n)
			}
			if peak > dnswait.MaxQueriesPerSecond {
				t.Errorf("peak %d queries in one second, want ≤ %d", peak, dnswait.MaxQueriesPerSecond)
			}
			t.Logf("%d queries in 2.5 s, peak %d in one second", len(qs), peak)
		})
	}
}

func TestTargets(t *testing.T) {
	checkNoLeak(t)
	e := newEnv(t, "")
	dir := e.dir

	// tcp: a port that is closed now and listens later, reached by name.
	tcpAddr := closedPort(t)
	_, tcpPort, _ := net.SplitHostPort(tcpAddr)
	e.srv.Set("db.svc.test", "127.0.0.1")
	later(t, 200*time.Millisecond, func() {
		ln, err := net.Listen("tcp", tcpAddr)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { ln.Close() })
		go acceptAll(ln)
	})

	// http: 503 twice, then 200; another answers 302 to a place that fails.
	var hits int
	var mu sync.Mutex
	okSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if hits++; hits <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(okSrv.Close)
	redirSrv := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/nowhere", http.StatusFound))
	t.Cleanup(redirSrv.Close)

	// file: created later.
	file := filepath.Join(dir, "ready")
	later(t, 200*time.Millisecond, func() { writeFile(t, file, "") })

	// unix: a socket that listens later.
	sock := filepath.Join(dir, "s.sock")
	later(t, 200*time.Millisecond, func() {
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { ln.Close() })
		go acceptAll(ln)
	})

	cfg := e.base
	cfg.Targets = targets(t,
		"tcp://db.svc.test:"+tcpPort,
		okSrv.URL+"/health",
		redirSrv.URL,
		"file://"+file,
		"unix://"+sock,
	)
	cfg.Timeout = 30 * time.Second
	var logs bytes.Buffer
	if err := dnswait.Wait(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, tg := range cfg.Targets {
		if n := strings.Count(logs.String(), "target="+tg.String()+" "); n != 1 {
			t.Errorf("%d ready records for %s, want 1", n, tg)
		}
	}
}

func TestTargetsPending(t *testing.T) {
	e := newEnv(t, "")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(bad.Close)
	cfg := e.base
	sock := filepath.Join(e.dir, "none.sock")
	cfg.Targets = targets(t, bad.URL, "unix://"+sock, "tcp://nodb.svc.test:5432", "http://user:hunter2@nodb.svc.test/")
	cfg.Timeout = 400 * time.Millisecond
	err := dnswait.Wait(context.Background(), cfg, logging.Discard())
	for _, want := range []string{
		bad.URL + ": HTTP 503 Service Unavailable",
		"unix://" + sock + ": does not exist",
		"tcp://nodb.svc.test:5432: nodb.svc.test: NXDOMAIN from " + e.srv.Addr,
		"http://user:xxxxx@nodb.svc.test/: nodb.svc.test: NXDOMAIN",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks a password: %v", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  dnswait.Config
		want string
	}{
		{"self without IP", dnswait.Config{SelfName: "a", Resolvers: []string{"127.0.0.1"}}, "no task IP"},
		{"bad resolver", dnswait.Config{Hosts: []string{"a"}, Resolvers: []string{"nope"}}, `resolver "nope"`},
		{"no resolv.conf", dnswait.Config{Hosts: []string{"a"}, ResolvConfPath: "/nonexistent/resolv.conf"}, "/nonexistent/resolv.conf"},
		{"empty host", dnswait.Config{Hosts: []string{" "}, Resolvers: []string{"127.0.0.1"}}, "empty host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := dnswait.Wait(context.Background(), tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if errors.Is(err, dnswait.ErrTimeout) {
				t.Fatalf("config error %v is an ErrTimeout", err)
			}
		})
	}
	if err := dnswait.Wait(context.Background(), dnswait.Config{}, nil); err != nil {
		t.Fatalf("empty config: %v", err)
	}
}

func targets(t *testing.T, urls ...string) []dnswait.Target {
	t.Helper()
	var out []dnswait.Target
	for _, u := range urls {
		tg, err := dnswait.ParseTarget(u)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tg)
	}
	return out
}

// closedPort returns a loopback address nothing listens on (for now).
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func acceptAll(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// lockedBuffer is a log handler's writer read while the wait runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestStillWaitingReported: a long wait logs, every ReportEvery, what is
// still pending and what each target saw last, so a task's stderr is not
// silent until the deadline; a target that passed is no longer named; a
// negative ReportEvery logs none.
func TestStillWaitingReported(t *testing.T) {
	checkNoLeak(t)
	e := newEnv(t, "")
	e.srv.Set("up.svc.test", "10.0.0.1")
	const ready, still = `msg=ready target=up.svc.test`, `msg="still waiting"`
	for _, every := range []time.Duration{20 * time.Millisecond, -1} {
		cfg := e.base
		cfg.Hosts = []string{"up.svc.test", "nodb.svc.test"}
		cfg.ReportEvery = every
		var logs lockedBuffer
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- dnswait.Wait(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil))) }()
		// Until up.svc.test passed and, reporting, a record came after that.
		deadline := time.Now().Add(30 * time.Second)
		var after string
		for time.Now().Before(deadline) {
			out := logs.String()
			if i := strings.Index(out, ready); i >= 0 {
				after = out[i:]
				if every < 0 || strings.Contains(after, `pending="nodb.svc.test: NXDOMAIN`) {
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		out := logs.String()
		if every < 0 {
			if strings.Contains(out, "still waiting") {
				t.Errorf("ReportEvery %v: reported:\n%s", every, out)
			}
			continue
		}
		i := strings.Index(after, `pending="nodb.svc.test: NXDOMAIN`)
		if i < 0 {
			t.Fatalf("no still-waiting record naming nodb.svc.test and its NXDOMAIN after up.svc.test passed:\n%s", out)
		}
		line := after[strings.LastIndex(after[:i], "\n")+1:]
		line = line[:strings.IndexByte(line, '\n')]
		if !strings.Contains(line, still) || !strings.Contains(line, "NXDOMAIN from "+e.srv.Addr) {
			t.Errorf("the record does not say what the pending target saw: %s", line)
		}
		if strings.Contains(line, "up.svc.test") {
			t.Errorf("the record names a target that passed: %s", line)
		}
	}
}
