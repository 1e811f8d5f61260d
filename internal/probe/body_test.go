package probe

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// stallServer answers every request with head and then the first n bytes
// of body, then stalls (or, with finish, sends the rest slowly but in time).
// It returns the server's URL.
func stallServer(t *testing.T, head string, body []byte, n int, finish time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for { // the request head
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				c.Write([]byte(head))
				c.Write(body[:n])
				if finish > 0 {
					time.Sleep(finish)
					c.Write(body[n:])
					return
				}
				<-stop
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// stallTimeout is TestBodyRule's check timeout, from the stall: the rest of
// a slow body (finish) must come within it.
const stallTimeout = time.Second

// TestBodyRule is the regression table of one kind of fault: an HTTP check
// whose verdict depends on how much body arrived before a stall
// (kubernetes/kubernetes#122948, field case 05). The status decides, the
// body is read to its end within the timeout, only its first KiBs are kept,
// and a body that stalls past the timeout is a timeout whatever its size —
// under every policy in use: healthd's and the executor's health checks
// (CheckPolicy), the executor's checks (no redirects), bootstrap's waits
// (no redirects, TLS verified), and a small BodyLimit.
func TestBodyRule(t *testing.T) {
	policies := map[string]HTTPPolicy{
		"health check": CheckPolicy,
		"mesos check":  {MaxRedirects: 0},
		"wait":         {MaxRedirects: 0, VerifyTLS: true},
		"small limit":  {MaxRedirects: 10, BodyLimit: 16},
	}
	body := []byte(strings.Repeat("0123456789abcdef", 8192)) // 128 KiB
	cl := func(status string, n int) string {
		return fmt.Sprintf("HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n", status, n)
	}
	const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	tests := []struct {
		name   string
		head   string
		body   []byte
		n      int           // bytes sent before the stall
		finish time.Duration // the rest follows after this (0: never)
		want   Status
		reason string
	}{
		{"stall before any body", cl("200 OK", len(body)), body, 0, 0, Unhealthy, "timed out reading the body after HTTP 200 OK"},
		{"stall after 100 bytes", cl("200 OK", len(body)), body, 100, 0, Unhealthy, "timed out reading the body after HTTP 200 OK"},
		{"stall one byte short of the display cap", cl("200 OK", len(body)), body, MaxOutput - 1, 0, Unhealthy, "timed out reading the body"},
		{"stall exactly at the display cap", cl("200 OK", len(body)), body, MaxOutput, 0, Unhealthy, "timed out reading the body"},
		{"stall one byte past the display cap", cl("200 OK", len(body)), body, MaxOutput + 1, 0, Unhealthy, "timed out reading the body"},
		{"stall after 5000 bytes", cl("200 OK", len(body)), body, 5000, 0, Unhealthy, "timed out reading the body"},
		{"stall after 64 KiB", cl("200 OK", len(body)), body, 64 << 10, 0, Unhealthy, "timed out reading the body"},
		{"chunked body stalls", chunkedHead, []byte("10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"), 30, 0, Unhealthy, "timed out reading the body"},
		{"503 whose body stalls", cl("503 Service Unavailable", len(body)), body, 5000, 0, Unhealthy, "timed out reading the body after HTTP 503"},
		{"slow body finishing in time", cl("200 OK", len(body)), body, 5000, 150 * time.Millisecond, Healthy, "HTTP 200 OK"},
		{"whole 128 KiB body", cl("200 OK", len(body)), body, len(body), 0, Healthy, "HTTP 200 OK"},
		{"whole body of an error", cl("500 Internal Server Error", len(body)), body, len(body), 0, Unhealthy, "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var wg sync.WaitGroup
			for pname, policy := range policies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// The timeout runs from the stall: once the check has
					// read the head and the n bytes.
					w := newReadWatch(func(read []byte) bool { return len(read) >= len(tt.head)+tt.n })
					policy.Dial = w.Dial
					h, err := NewHTTP(stallServer(t, tt.head, tt.body, tt.n, tt.finish), policy)
					if err != nil {
						t.Error(err)
						return
					}
					got := h.Probe(timeoutAfter(t, w.reached, stallTimeout))
					if got.Status != tt.want || !strings.Contains(got.Reason, tt.reason) {
						t.Errorf("%s: got %v %q, want %v %q", pname, got.Status, got.Reason, tt.want, tt.reason)
					}
					limit := policy.BodyLimit
					if limit == 0 {
						limit = MaxOutput
					}
					if len(got.Output) > limit || (tt.n > limit && (!got.Truncated || len(got.Output) != limit)) {
						t.Errorf("%s: output %d bytes (truncated %v), want the first %d", pname, len(got.Output), got.Truncated, min(tt.n, limit))
					}
				}()
			}
			wg.Wait()
		})
	}
}
