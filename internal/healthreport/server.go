package healthreport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// Limits of the HTTP server.
const (
	// requestTimeout bounds reading a request and writing its answer.
	requestTimeout = 5 * time.Second
	// maxRequestHead bounds the request line and headers.
	maxRequestHead = 16 << 10
	// maxConns bounds the connections served at once; more wait in the
	// listen backlog.
	maxConns = 64
)

// Serve answers HTTP/1.x requests on ln with Handle until ctx is done, then
// closes ln and every open connection and returns. Every answer closes its
// connection; a request has requestTimeout to arrive and be answered.
//
// It is a deliberately small HTTP/1.1 server — request line and headers,
// no bodies, no keep-alive — instead of net/http, which alone would take
// healthd's binary past its size goal.
func (r *Reporter) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	sem := make(chan struct{}, maxConns)
	var backoff time.Duration
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		conn, err := ln.Accept()
		if err != nil {
			<-sem
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accepting: %w", err)
			}
			// EMFILE and friends pass; back off instead of giving up.
			if backoff = min(max(2*backoff, 5*time.Millisecond), time.Second); !sleepCtx(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.serveConn(ctx, conn)
		}()
	}
}

// sleepCtx waits d; it reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *Reporter) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // shutting down: drop it
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(conn, maxRequestHead)))
	line, err := tp.ReadLine()
	if err != nil {
		return
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(proto, "HTTP/1.") {
		writeResponse(conn, "", Response{400, "text/plain; charset=utf-8", []byte("bad request\n"), ""})
		return
	}
	if _, err := tp.ReadMIMEHeader(); err != nil {
		writeResponse(conn, "", Response{400, "text/plain; charset=utf-8", []byte("bad request headers\n"), ""})
		return
	}
	path, _, _ := strings.Cut(target, "?")
	if i := strings.Index(path, "://"); i >= 0 { // absolute form
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		} else {
			path = "/"
		}
	}
	writeResponse(conn, method, r.Handle(method, path))
}

var statusText = map[int]string{200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}

func writeResponse(w io.Writer, method string, resp Response) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n",
		resp.Code, statusText[resp.Code], resp.ContentType, len(resp.Body))
	if resp.Allow != "" {
		fmt.Fprintf(&b, "Allow: %s\r\n", resp.Allow)
	}
	b.WriteString("\r\n")
	if method != "HEAD" {
		b.Write(resp.Body)
	}
	_, _ = io.WriteString(w, b.String())
}
