package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/dial"
)

func TestCapture(t *testing.T) {
	euro := "€" // 3 bytes
	tests := []struct {
		name      string
		writes    []string
		want      string
		truncated bool
	}{
		{"empty", nil, "", false},
		{"small", []string{"a", "b"}, "ab", false},
		{"exact", []string{strings.Repeat("x", MaxOutput)}, strings.Repeat("x", MaxOutput), false},
		{"over in one", []string{strings.Repeat("x", MaxOutput+1)}, strings.Repeat("x", MaxOutput), true},
		{"over in many", []string{strings.Repeat("x", MaxOutput-1), "yz", "more"}, strings.Repeat("x", MaxOutput-1) + "y", true},
		{"cut rune dropped", []string{strings.Repeat("x", MaxOutput-1) + euro}, strings.Repeat("x", MaxOutput-1), true},
		{"invalid utf8 replaced", []string{"a\xffb"}, "a\uFFFDb", false},
		// Found by FuzzHTTP: each replacement character is 3 bytes for 1, so
		// an output of MaxOutput bytes with invalid ones grew past the limit.
		{"replacements kept within the limit", []string{strings.Repeat("a\xff", MaxOutput/2)}, strings.Repeat("a\uFFFD", MaxOutput/4), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c capture
			for _, w := range tt.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			var res Result
			c.result(&res)
			got, truncated := res.Output, res.Truncated
			if got != tt.want || truncated != tt.truncated {
				t.Fatalf("output = %q (%d bytes), %v; want %d bytes, %v", got[:min(len(got), 20)], len(got), truncated, len(tt.want), tt.truncated)
			}
		})
	}
}

// TestMaskedBeforeCut: a check's output is masked before it is cut to its
// limit, so a credential straddling the cut is masked from the context
// that identifies it (repro t55/07).
func TestMaskedBeforeCut(t *testing.T) {
	const secret = "hunter2222longsecret" // a learned value
	mask := func(s string) string {
		s = strings.ReplaceAll(s, secret, "********")
		// A stand-in for redact's URL rule: the password before an '@'.
		return regexp.MustCompile(`(://[^:@\s]+:)[^@\s]+@`).ReplaceAllString(s, "${1}********@")
	}
	pad := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name      string
		writes    []string
		want      string // the masked output's tail
		truncated bool
		never     string
	}{
		{"URL password across the cut", []string{pad(4070) + " postgres://app:s3cretpassw0rd@db/app: connection failed\n"},
			" postgres://app:********@d", true, "s3cret"},
		{"learned secret across the cut", []string{pad(4090) + " " + secret + "\n"}, " *****", true, "hunter"},
		{"secret whole before the cut", []string{"pw " + secret + " ok\n"}, "pw ******** ok\n", false, "hunter"},
		// Masking shrinks the text by 1200 bytes, which pulls the
		// read-ahead's own cut (inside the password, before its '@') into
		// the kept 4 KiB: that token is dropped.
		{"read-ahead cut inside a token", []string{strings.Repeat(secret+" ", 100) + pad(3001) + " postgres://app:s3cretpassw0rd@db/app"},
			"xxx ", true, "s3c"},
		{"no read-ahead needed", []string{"short"}, "short", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c capture
			for _, w := range tt.writes {
				c.Write([]byte(w))
			}
			var res Result
			c.result(&res)
			m := res.Masked(mask)
			if !strings.HasSuffix(m.Output, tt.want) || m.Truncated != tt.truncated || len(m.Output) > MaxOutput {
				t.Errorf("Masked: ...%q (%d bytes), truncated %v; want ...%q, %v", m.Output[max(0, len(m.Output)-40):], len(m.Output), m.Truncated, tt.want, tt.truncated)
			}
			if tt.never != "" && strings.Contains(m.Output, tt.never) {
				t.Errorf("Masked output shows %q", tt.never)
			}
		})
	}
}

func TestTimedOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()
	if r := TimedOut(ctx); r.Status != Unhealthy || r.Reason != "timed out" {
		t.Fatalf("deadline: %+v", r)
	}
	ctx2, cancel2 := context.WithCancelCause(context.Background())
	cancel2(errors.New("shutting down"))
	if r := TimedOut(ctx2); r.Status != Unhealthy || r.Reason != "stopped: shutting down" {
		t.Fatalf("cancel: %+v", r)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Healthy: "healthy", Unhealthy: "unhealthy", Error: "error", 9: "Status(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s, want)
		}
	}
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// readWatch is an HTTPPolicy.Dial that watches what the check reads: it
// closes reached once got holds for the bytes read so far, so a test can
// start a check's timeout once the check has everything a stalling server
// sent. A timeout from the start of the check also timed connecting, the
// request and the response head, and a loaded machine made checks time
// out before they got to the stall (TestBodyRule, 500 ms).
type readWatch struct {
	got     func(read []byte) bool
	reached chan struct{}
	once    sync.Once
	mu      sync.Mutex
	read    []byte
}

func newReadWatch(got func(read []byte) bool) *readWatch {
	return &readWatch{got: got, reached: make(chan struct{})}
}

func (w *readWatch) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&dial.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, w: w}, nil
}

type watchedConn struct {
	net.Conn
	w *readWatch
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.mu.Lock()
	c.w.read = append(c.w.read, p[:n]...)
	if c.w.got(c.w.read) {
		c.w.once.Do(func() { close(c.w.reached) })
	}
	c.w.mu.Unlock()
	return n, err
}

// timeoutAfter is a check's context that times out d after reached is
// closed (cause context.DeadlineExceeded, as its deadline would), or after
// 30 s if it never is.
func timeoutAfter(t *testing.T, reached <-chan struct{}, d time.Duration) context.Context {
	ctx, cancel := context.WithCancelCause(withTimeout(t, 30*time.Second))
	t.Cleanup(func() { cancel(nil) })
	go func() { // owned by the test: ends with ctx, at the latest in its cleanup
		select {
		case <-reached:
		case <-ctx.Done():
			return
		}
		select {
		case <-time.After(d):
			cancel(context.DeadlineExceeded)
		case <-ctx.Done():
		}
	}()
	return ctx
}

func TestHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != UserAgent {
			w.WriteHeader(http.StatusBadRequest)
		}
		fmt.Fprint(w, "fine")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/notmodified", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "db down", http.StatusServiceUnavailable) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("b", 3*MaxOutput)) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "part%d ", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "hunter2" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "welcome")
	})
	var plainURL string
	mux.HandleFunc("/tohttp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plainURL+"/ok", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.URL.RawQuery) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/slowbody", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "start")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	plainURL = srv.URL
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()

	tests := []struct {
		name       string
		url        string
		timeout    time.Duration
		want       Status
		reason     string // substring
		output     string
		truncated  bool
		notInWords string
	}{
		{"ok", srv.URL + "/ok", 10 * time.Second, Healthy, "HTTP 200 OK", "fine", false, ""},
		{"redirect followed", srv.URL + "/redirect", 10 * time.Second, Healthy, "HTTP 200 OK", "fine", false, ""},
		{"204", srv.URL + "/nocontent", 10 * time.Second, Healthy, "HTTP 204", "", false, ""},
		{"304 is healthy", srv.URL + "/notmodified", 10 * time.Second, Healthy, "HTTP 304", "", false, ""},
		{"418", srv.URL + "/teapot", 10 * time.Second, Unhealthy, "HTTP 418", "", false, ""},
		{"503 with body", srv.URL + "/down", 10 * time.Second, Unhealthy, "HTTP 503 Service Unavailable", "db down\n", false, ""},
		{"big body truncated", srv.URL + "/big", 10 * time.Second, Healthy, "HTTP 200", strings.Repeat("b", MaxOutput), true, ""},
		{"redirect loop", srv.URL + "/loop", 10 * time.Second, Unhealthy, "stopped after 10 redirects", "", false, ""},
		{"hang times out", srv.URL + "/hang", 200 * time.Millisecond, Unhealthy, "timed out", "", false, ""},
		{"slow body times out", srv.URL + "/slowbody", 200 * time.Millisecond, Unhealthy, "timed out reading the body after HTTP 200 OK", "start", false, ""},
		{"refused", closedURL, 10 * time.Second, Unhealthy, "connection refused", "", false, ""},
		{"chunked body decoded", srv.URL + "/chunked", 10 * time.Second, Healthy, "HTTP 200", "part0 part1 part2 ", false, ""},
		{"basic auth from the URL", strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/auth", 10 * time.Second, Healthy, "HTTP 200", "welcome", false, "hunter2"},
		{"wrong password", strings.Replace(srv.URL, "http://", "http://user:nope@", 1) + "/auth", 10 * time.Second, Unhealthy, "HTTP 401 Unauthorized", "who are you\n", false, ""},
		{"query sent", srv.URL + "/query?a=1&b=2", 10 * time.Second, Healthy, "HTTP 200", "a=1&b=2", false, ""},
		{"https redirect to http", tlsSrv.URL + "/tohttp", 10 * time.Second, Healthy, "HTTP 200", "fine", false, ""},
		{"https not verified", tlsSrv.URL + "/ok", 10 * time.Second, Healthy, "HTTP 200", "fine", false, ""},
		{"password masked", strings.Replace(closedURL, "http://", "http://user:hunter2@", 1), 10 * time.Second, Unhealthy, "refused", "", false, "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy, ctx := CheckPolicy, withTimeout(t, tt.timeout)
			if strings.HasSuffix(tt.url, "/slowbody") { // the timeout runs from the body's start
				w := newReadWatch(func(read []byte) bool { return bytes.Contains(read, []byte("start")) })
				policy.Dial, ctx = w.Dial, timeoutAfter(t, w.reached, tt.timeout)
			}
			h, err := NewHTTP(tt.url, policy)
			if err != nil {
				t.Fatal(err)
			}
			got := h.Probe(ctx)
			if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) || got.Output != tt.output || got.Truncated != tt.truncated || got.ExitCode != -1 {
				t.Fatalf("got %v %q output %q truncated %v exit %d; want %v %q output %q truncated %v",
					got.Status, got.Reason, got.Output[:min(len(got.Output), 40)], got.Truncated, got.ExitCode, tt.want, tt.reason, tt.output[:min(len(tt.output), 40)], tt.truncated)
			}
			if code, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(got.Reason, "HTTP ") + " x")[0]); strings.HasPrefix(got.Reason, "HTTP ") && got.StatusCode != code {
				t.Fatalf("StatusCode %d, reason %q", got.StatusCode, got.Reason)
			}
			if tt.notInWords != "" && (strings.Contains(got.Reason, tt.notInWords) || strings.Contains(h.String(), tt.notInWords)) {
				t.Fatalf("reason %q or String %q leaks %q", got.Reason, h.String(), tt.notInWords)
			}
		})
	}
}

// rawServer answers every connection with reply (after reading the request
// head) and returns its URL.
func rawServer(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				var got []byte
				for !bytes.Contains(got, []byte("\r\n\r\n")) {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got = append(got, buf[:n]...)
				}
				_, _ = io.WriteString(c, reply)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func TestHTTPRawResponses(t *testing.T) {
	tests := []struct {
		name   string
		reply  string
		want   Status
		reason string
		output string
	}{
		{"no content length, read to close", "HTTP/1.1 200 OK\r\n\r\nbody until close", Healthy, "HTTP 200 OK", "body until close"},
		{"content length bounds the body", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbodyEXTRA", Healthy, "HTTP 200 OK", "body"},
		{"100 continue skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", Unhealthy, "HTTP 503 Busy", ""},
		{"HTTP/1.0", "HTTP/1.0 302 Found\r\n\r\n", Healthy, "HTTP 302 Found", ""},
		{"garbage", "SSH-2.0-OpenSSH_9.2\r\n\r\n", Unhealthy, "malformed HTTP response", ""},
		{"closed before the status", "", Unhealthy, "EOF", ""},
		{"closed inside the headers", "HTTP/1.1 200 OK\r\nContent-Le", Unhealthy, "malformed MIME header", ""},
		{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Unhealthy, "Content-Length", ""},
		{"body shorter than its length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", Unhealthy, "reading the body after HTTP 200 OK: unexpected EOF", "short"},
		{"bad redirect", "HTTP/1.1 302 Found\r\nLocation: ftp://elsewhere/\r\n\r\n", Unhealthy, "unsupported protocol scheme", ""},
		// Found by FuzzHTTP: net/http keeps a bare CR in the reason phrase,
		// which went into the one-line Reason as is.
		{"control characters in the status", "HTTP/1.1 200 O\rK\x00\xff\r\nContent-Length: 0\r\n\r\n", Healthy, `HTTP 200 O\rK\x00\xff`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHTTP(rawServer(t, tt.reply), CheckPolicy)
			if err != nil {
				t.Fatal(err)
			}
			got := h.Probe(withTimeout(t, 10*time.Second))
			if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) || got.Output != tt.output {
				t.Fatalf("got %v %q output %q; want %v %q output %q", got.Status, got.Reason, got.Output, tt.want, tt.reason, tt.output)
			}
		})
	}
}

func TestNewHTTPInvalid(t *testing.T) {
	for _, u := range []string{"ftp://example.com/", "localhost:8080/health", "http:///path", "http://[::1", "/health"} {
		t.Run(u, func(t *testing.T) {
			if _, err := NewHTTP(u, CheckPolicy); err == nil {
				t.Fatalf("NewHTTP(%q) succeeded", u)
			}
		})
	}
	if _, err := NewHTTP("http://u:hunter2@:80/x\x7f", CheckPolicy); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v should exist and not leak the password", err)
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name   string
		addr   string
		want   Status
		reason string
	}{
		{"open", ln.Addr().String(), Healthy, "connected to " + ln.Addr().String()},
		{"refused", closedAddr, Unhealthy, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewTCP(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			got := p.Probe(withTimeout(t, 10*time.Second))
			if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("got %v %q, want %v %q", got.Status, got.Reason, tt.want, tt.reason)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := (&TCP{Addr: ln.Addr().String()}).Probe(ctx); got.Status != Unhealthy {
		t.Fatalf("done context: %+v", got)
	}
	for _, bad := range []string{"localhost", "127.0.0.1:", ":::"} {
		if _, err := NewTCP(bad); err == nil {
			t.Errorf("NewTCP(%q) succeeded", bad)
		}
	}
}
