package dnswait_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/logging"
)

// TestAttemptTimeout is the regression table of one kind of fault: an HTTP
// wait whose verdict depended on how fast a server that is up answers,
// through a hidden per-attempt cap (2 s, no setting): an endpoint answering
// 200 after 2.5 s, or a body of some megabytes, never passed, however long
// the deadline. An attempt is bounded by Config.AttemptTimeout (default
// DefaultAttemptTimeout, healthd's 20 s); an answer within it passes, and one
// it cuts short says so, with the limit and its setting.
func TestAttemptTimeout(t *testing.T) {
	tests := []struct {
		name  string
		path  string        // /late: the status after 300 ms (2500 ms for /later); /slow-body: a body over 300 ms
		limit time.Duration // Config.AttemptTimeout; 0 = the default
		want  string        // "" = passes; else in the pending error
	}{
		{"late answer within the limit", "/late", time.Second, ""},
		{"slow body within the limit", "/slow-body", time.Second, ""},
		{"late answer over the limit", "/late", 100 * time.Millisecond,
			"attempt timed out after 100ms (-attempt-limit): timed out"},
		{"slow body over the limit", "/slow-body", 100 * time.Millisecond,
			"attempt timed out after 100ms (-attempt-limit): timed out reading the body after HTTP 200 OK ("},
		{"answer after 2.5 s, default limit", "/later", 0, ""},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pause := func(d time.Duration) bool {
			select {
			case <-time.After(d):
				return true
			case <-r.Context().Done():
				return false
			}
		}
		switch r.URL.Path {
		case "/late":
			pause(300 * time.Millisecond)
		case "/later":
			pause(2500 * time.Millisecond)
		case "/slow-body":
			w.Header().Set("Content-Length", "300000")
			for i := 0; i < 10; i++ {
				w.Write(make([]byte, 30000))
				w.(http.Flusher).Flush()
				if !pause(30 * time.Millisecond) {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := dnswait.Config{
				Targets:            targets(t, srv.URL+tt.path),
				AttemptTimeout:     tt.limit,
				AttemptTimeoutName: "-attempt-limit",
				Timeout:            10 * time.Second,
			}
			if tt.want != "" {
				cfg.Timeout = time.Second
			}
			err := dnswait.Wait(context.Background(), cfg, logging.Discard())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("wait failed: %v", err)
			case tt.want == "":
			case err == nil || !errors.Is(err, dnswait.ErrTimeout):
				t.Fatalf("err = %v, want a timeout", err)
			case !strings.Contains(err.Error(), tt.want):
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
