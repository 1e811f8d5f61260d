//go:build linux

package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"

	"github.com/taskkit/taskkit/internal/supervise"
)

// The cost of a command check over the bare fork/exec of the same command:
// compare BenchmarkCommandProbe with BenchmarkBareForkExec.

func BenchmarkCommandProbe(b *testing.B) {
	c := &Command{Line: "true"}
	ctx := context.Background()
	for b.Loop() {
		if r := c.Probe(ctx); r.Status != Healthy {
			b.Fatal(r.Reason)
		}
	}
}

// BenchmarkBareForkExec runs the same `sh -c true` (the same shell) with
// os/exec and no output capture, process group, or group kill.
func BenchmarkBareForkExec(b *testing.B) {
	shell, _ := supervise.ShellCommand("")
	for b.Loop() {
		if err := exec.Command(shell, "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareForkExecCaptured adds what a fair comparison needs: combined
// output captured (os/exec's copying goroutine).
func BenchmarkBareForkExecCaptured(b *testing.B) {
	shell, _ := supervise.ShellCommand("")
	for b.Loop() {
		if _, err := exec.Command(shell, "-c", "true").CombinedOutput(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTTPProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	h, err := NewHTTP(srv.URL, CheckPolicy)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if r := h.Probe(ctx); r.Status != Healthy {
			b.Fatal(r.Reason)
		}
	}
}

func BenchmarkTCPProbe(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
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
	p := &TCP{Addr: ln.Addr().String()}
	ctx := context.Background()
	for b.Loop() {
		if r := p.Probe(ctx); r.Status != Healthy {
			b.Fatal(r.Reason)
		}
	}
}
