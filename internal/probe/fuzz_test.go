package probe

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
)

// fuzzPassword is in the checked URL's userinfo; the answer never
// carries it unless the fuzzer put it there.
const fuzzPassword = "s3cret-Pr0be-pw"

// answering is a Dial that connects, in memory, to a server writing
// answer whatever the request (after reading its head), then closing.
// Close ends every connection it made.
type answering struct {
	answer []byte
	mu     sync.Mutex
	conns  []net.Conn
}

func (a *answering) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	client, server := net.Pipe()
	a.mu.Lock()
	a.conns = append(a.conns, client, server)
	a.mu.Unlock()
	go func() {
		defer server.Close()
		br := bufio.NewReader(server)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		server.Write(a.answer)
	}()
	return client, nil
}

func (a *answering) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.conns {
		c.Close()
	}
}

// FuzzHTTP answers an HTTP check with fuzzed bytes (status line, headers,
// body, redirects), under the checks' policy. Properties:
//   - the check ends within its timeout, with a reason of one line of
//     valid UTF-8 (no control characters);
//   - healthy only when the final status is 2xx or 3xx (StatusCode), and
//     then unless its body failed;
//   - Output is valid UTF-8 of at most the body limit;
//   - neither Reason nor Output holds the URL's password (unless the
//     answer did);
//   - at most 8 MiB allocated per answer (the body is read to its end but
//     only its first BodyLimit bytes are kept).
func FuzzHTTP(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\ndown",
		"HTTP/1.1 302 Found\r\nLocation: /other\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 301 Moved\r\nLocation: http://elsewhere.test:8080/x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
		"HTTP/1.0 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n\xff\xfe invalid UTF-8 \xc3",
		"garbage\r\n\r\n",
		"HTTP/1.1 999 Whatever\r\n\r\n",
	} {
		f.Add([]byte(s), 2)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"+strings.Repeat("é", 3000)), 0)
	f.Fuzz(func(t *testing.T, answer []byte, redirects int) {
		b := fuzzcheck.Budget{Alloc: 8 * fuzzcheck.MiB}
		if len(answer) > 64<<10 {
			b.Check(t, "Probe", func() { checkHTTP(t, answer, redirects) })
			return
		}
		checkHTTP(t, answer, redirects)
	})
}

func checkHTTP(t *testing.T, answer []byte, redirects int) {
	const timeout = 5 * time.Second
	a := &answering{answer: answer}
	defer a.Close()
	p := CheckPolicy
	p.MaxRedirects = max(0, redirects%4)
	p.Timeout, p.Dial, p.BodyLimit = timeout, a.Dial, 1024
	h, err := NewHTTP("http://user:"+fuzzPassword+"@probe.test:8080/health", p)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := h.Probe(context.Background())
	if d := time.Since(start); d > timeout+2*time.Second {
		t.Fatalf("the check took %v, past its timeout", d)
	}
	if strings.IndexFunc(res.Reason, unicode.IsControl) >= 0 || !utf8.ValidString(res.Reason) {
		t.Fatalf("reason is not one line of text: %q", res.Reason)
	}
	healthy := res.StatusCode >= 200 && res.StatusCode < 400
	if res.Status == Healthy && !healthy || res.Status != Healthy && healthy && !strings.Contains(res.Reason, "body") {
		t.Fatalf("%v with status code %d (%s)", res.Status, res.StatusCode, res.Reason)
	}
	if !utf8.ValidString(res.Output) || len(res.Output) > p.BodyLimit {
		t.Fatalf("output of %d bytes (limit %d), valid UTF-8: %v", len(res.Output), p.BodyLimit, utf8.ValidString(res.Output))
	}
	if !bytes.Contains(answer, []byte(fuzzPassword)) && (strings.Contains(res.Reason, fuzzPassword) || strings.Contains(res.Output, fuzzPassword)) {
		t.Fatalf("the password shows: %q %q", res.Reason, res.Output)
	}
}

// TestHTTPBudget answers checks with 1 MiB bodies within 8 MiB allocated.
func TestHTTPBudget(t *testing.T) {
	b := fuzzcheck.Budget{Alloc: 8 * fuzzcheck.MiB}
	for name, answer := range map[string][]byte{
		"plain":   append([]byte("HTTP/1.1 200 OK\r\n\r\n"), fuzzcheck.Sized([]byte("x"), fuzzcheck.MiB)...),
		"chunked": append([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), append(fuzzcheck.Sized([]byte("1\r\nx\r\n"), fuzzcheck.MiB), "0\r\n\r\n"...)...),
		"headers": append(append([]byte("HTTP/1.1 200 OK\r\n"), fuzzcheck.Sized([]byte("X-A: b\r\n"), 60<<10)...), "\r\nok"...),
	} {
		c := b.Check(t, name, func() { checkHTTP(t, answer, 0) })
		t.Logf("%s: %v", name, c)
	}
}
