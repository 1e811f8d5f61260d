package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// UserAgent is sent with every HTTP check.
const UserAgent = "taskkit-healthd"

// HTTP GETs a URL: healthy when the final status, after following up to 10
// redirects, is 200–399. As in Mesos, Marathon and Kubernetes, HTTPS
// certificates are not verified (the check proves the server answers, not
// who it is), proxies from the environment are not used, and every check
// opens a fresh connection. Use NewHTTP to build one.
type HTTP struct {
	url    *url.URL
	client *http.Client
}

// NewHTTP returns an HTTP prober for rawURL, which must be an absolute
// http:// or https:// URL with a host.
func NewHTTP(rawURL string) (*HTTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid URL %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid URL %q: no host", u.Redacted())
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{KeepAlive: -1}).DialContext,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // health checks do not authenticate the server
		DisableKeepAlives:   true,
		DisableCompression:  true,
		MaxIdleConnsPerHost: -1,
	}
	return &HTTP{url: u, client: &http.Client{Transport: tr}}, nil
}

// String returns the URL with any password masked.
func (h *HTTP) String() string { return h.url.Redacted() }

// Probe performs one GET.
func (h *HTTP) Probe(ctx context.Context) Result {
	if ctx.Err() != nil {
		return TimedOut(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url.String(), nil)
	if err != nil {
		return Result{Status: Error, Reason: err.Error(), ExitCode: -1}
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return TimedOut(ctx)
		}
		return Result{Status: Unhealthy, Reason: h.netReason(err), ExitCode: -1}
	}
	defer resp.Body.Close()
	var out capture
	_, copyErr := io.Copy(&out, io.LimitReader(resp.Body, MaxOutput+1))
	res := Result{Status: Unhealthy, Reason: "HTTP " + resp.Status, ExitCode: -1}
	res.Output, res.Truncated = out.output()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		res.Status = Healthy
	}
	if copyErr != nil && ctx.Err() != nil {
		// The status line arrived in time; the body did not. A timeout is a
		// failure whatever the status said.
		to := TimedOut(ctx)
		res.Status, res.Reason = to.Status, to.Reason+" reading the body after "+res.Reason
	}
	return res
}

// netReason turns a client error into a reason without the URL (which may
// hold a password) and without Go's "Get \"...\": " prefix.
func (h *HTTP) netReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return strings.ReplaceAll(err.Error(), h.url.String(), h.url.Redacted())
}

// TCP connects to an address: healthy when the connection is accepted.
type TCP struct {
	// Addr is host:port.
	Addr string
}

// NewTCP returns a TCP prober for addr, which must be host:port.
func NewTCP(addr string) (*TCP, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return nil, fmt.Errorf("invalid address %q: want host:port", addr)
	}
	return &TCP{Addr: addr}, nil
}

// Probe dials once and closes the connection.
func (t *TCP) Probe(ctx context.Context) Result {
	if ctx.Err() != nil {
		return TimedOut(ctx)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		if ctx.Err() != nil {
			return TimedOut(ctx)
		}
		return Result{Status: Unhealthy, Reason: err.Error(), ExitCode: -1}
	}
	reason := "connected to " + conn.RemoteAddr().String()
	_ = conn.Close()
	return Result{Status: Healthy, Reason: reason, ExitCode: -1}
}
