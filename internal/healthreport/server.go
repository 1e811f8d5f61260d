package healthreport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Limits of the HTTP server.
const (
	// requestTimeout bounds reading a request and writing its answer.
	requestTimeout = 5 * time.Second
	// maxRequestHead bounds the request line and headers.
	maxRequestHead = 16 << 10
	// shutdownTimeout bounds how long Serve waits for requests in flight
	// once ctx is done.
	shutdownTimeout = 2 * time.Second
)

// ServeHTTP answers a request with Handle.
func (r *Reporter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	resp := r.Handle(req.Method, req.URL.Path)
	h := w.Header()
	h.Set("Content-Type", resp.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	h.Set("Cache-Control", "no-store")
	if resp.Allow != "" {
		h.Set("Allow", resp.Allow)
	}
	w.WriteHeader(resp.Code)
	if req.Method != http.MethodHead {
		_, _ = w.Write(resp.Body)
	}
}

// Serve answers HTTP requests on ln with Handle (net/http) until ctx is
// done, then closes ln, lets requests in flight finish for a moment, and
// returns. A request has requestTimeout to arrive and be answered; idle
// connections are not kept.
func (r *Reporter) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: requestTimeout,
		ReadTimeout:       requestTimeout,
		WriteTimeout:      requestTimeout,
		MaxHeaderBytes:    maxRequestHead,
		ErrorLog:          nil,
	}
	srv.SetKeepAlivesEnabled(false)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() { // owned by Serve: ends before Serve returns
		defer close(stopped)
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	<-stopped
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
