package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// UserAgent is sent with every HTTP check.
const UserAgent = "taskkit-healthd"

// MaxRedirects is how many redirects an HTTP check follows.
const MaxRedirects = 10

// maxHeaderBytes bounds the status line and headers of a response.
const maxHeaderBytes = 64 << 10

// HTTP GETs a URL: healthy when the final status, after following up to
// MaxRedirects redirects, is 200–399. As in Mesos, Marathon and Kubernetes,
// HTTPS certificates are not verified (the check proves the server answers,
// not who it is); as in Kubernetes, proxies from the environment are not
// used; every check opens a fresh connection. A password in the URL is sent as basic
// authentication and never shown.
//
// It speaks HTTP/1.1 itself instead of using net/http, which alone would
// take healthd's binary past its size goal; it reads only the status, the
// headers it needs and the first MaxOutput bytes of the body.
type HTTP struct {
	url *url.URL
}

// NewHTTP returns an HTTP prober for rawURL, which must be an absolute
// http:// or https:// URL with a host.
func NewHTTP(rawURL string) (*HTTP, error) {
	u, err := parseHTTPURL(rawURL)
	if err != nil {
		return nil, err
	}
	return &HTTP{url: u}, nil
}

func parseHTTPURL(rawURL string) (*url.URL, error) {
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
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid URL %q: no host", u.Redacted())
	}
	return u, nil
}

// String returns the URL with any password masked.
func (h *HTTP) String() string { return h.url.Redacted() }

// Probe performs one GET, following redirects.
func (h *HTTP) Probe(ctx context.Context) Result {
	if ctx.Err() != nil {
		return TimedOut(ctx)
	}
	u := h.url
	for redirects := 0; ; redirects++ {
		resp, err := get(ctx, u)
		if err != nil {
			if ctx.Err() != nil {
				return TimedOut(ctx)
			}
			return Result{Status: Unhealthy, Reason: strings.ReplaceAll(err.Error(), u.String(), u.Redacted()), ExitCode: -1}
		}
		if loc := resp.location; loc != "" && isRedirect(resp.code) {
			if redirects == MaxRedirects {
				return Result{Status: Unhealthy, Reason: fmt.Sprintf("stopped after %d redirects", MaxRedirects), ExitCode: -1}
			}
			next, err := u.Parse(loc)
			if err == nil {
				next, err = parseHTTPURL(next.String())
			}
			if err != nil {
				return Result{Status: Unhealthy, Reason: fmt.Sprintf("HTTP %s: bad redirect: %v", resp.status, err), ExitCode: -1}
			}
			if next.User == nil && next.Host == u.Host && next.Scheme == u.Scheme {
				next.User = u.User // same origin: keep the credentials; never downgrade them to http
			}
			u = next
			continue
		}
		res := Result{Status: Unhealthy, Reason: "HTTP " + resp.status, ExitCode: -1, StatusCode: resp.code}
		res.Output, res.Truncated = resp.body.output()
		if resp.code >= 200 && resp.code < 400 {
			res.Status = Healthy
		}
		if resp.bodyErr != nil && ctx.Err() != nil {
			// The status arrived in time, the body did not: a timeout is a
			// failure whatever the status said.
			to := TimedOut(ctx)
			res.Status, res.Reason = to.Status, to.Reason+" reading the body after "+res.Reason
		}
		return res
	}
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

type response struct {
	code     int
	status   string // "200 OK"
	location string
	body     capture
	bodyErr  error
}

// get performs one HTTP/1.1 GET on a fresh connection.
func get(ctx context.Context, u *url.URL) (*response, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// Unblock every read and write once ctx is done (and only then, so that
	// an I/O error always means ctx.Err() is set when it is a timeout).
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if u.Scheme == "https" {
		cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // health checks do not authenticate the server
		if net.ParseIP(host) == nil {
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}

	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n", u.RequestURI(), u.Host, UserAgent)
	if u.User != nil {
		pw, _ := u.User.Password()
		fmt.Fprintf(&req, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw)))
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, fmt.Errorf("sending the request: %w", err)
	}

	br := bufio.NewReader(conn)
	hr := textproto.NewReader(bufio.NewReader(io.LimitReader(br, maxHeaderBytes)))
	var (
		resp = &response{}
		hdr  textproto.MIMEHeader
	)
	for {
		line, err := hr.ReadLine()
		if err != nil {
			return nil, fmt.Errorf("reading the response: %w", noEOF(err))
		}
		proto, status, ok := strings.Cut(line, " ")
		code, cerr := strconv.Atoi(status[:min(3, len(status))])
		if !ok || !strings.HasPrefix(proto, "HTTP/1.") || cerr != nil || code < 100 || code > 999 {
			return nil, fmt.Errorf("malformed HTTP response %q", line[:min(len(line), 64)])
		}
		if hdr, err = hr.ReadMIMEHeader(); err != nil {
			return nil, fmt.Errorf("reading the response headers: %w", noEOF(err))
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // 100 Continue, 103 Early Hints: the real response follows
		}
		resp.code, resp.status = code, strings.TrimSpace(status)
		break
	}
	resp.location = hdr.Get("Location")
	if resp.code == 204 || resp.code == 304 {
		return resp, nil
	}
	// The header reader may have buffered part of the body.
	body := io.MultiReader(hr.R, br)
	switch {
	case strings.EqualFold(hdr.Get("Transfer-Encoding"), "chunked"):
		body = &chunked{r: bufio.NewReader(body)}
	case hdr.Get("Content-Length") != "":
		n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed Content-Length %q", hdr.Get("Content-Length"))
		}
		body = io.LimitReader(body, n)
	}
	_, err = io.Copy(&resp.body, io.LimitReader(body, MaxOutput+1))
	resp.bodyErr = err
	return resp, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// chunked decodes a chunked transfer-encoded body, ignoring extensions and
// trailers.
type chunked struct {
	r    *bufio.Reader
	left int64
	done bool
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, noEOF(err)
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("malformed chunk size %q", size)
		}
		if n == 0 {
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		_, err = c.r.Discard(2) // CRLF after the chunk
	}
	return n, noEOF(err)
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
