package dnswait

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/taskkit/taskkit/internal/dial"
	"github.com/taskkit/taskkit/internal/probe"
)

// Kind is the scheme of a wait target.
type Kind string

// The kinds of target ParseTarget accepts.
const (
	KindTCP   Kind = "tcp"   // tcp://host:port: a TCP connection is accepted
	KindHTTP  Kind = "http"  // http://...: a GET answers 2xx or 3xx
	KindHTTPS Kind = "https" // https://...: as http, over TLS with verification
	KindFile  Kind = "file"  // file:///path: the path exists (any type)
	KindUnix  Kind = "unix"  // unix:///path: a stream socket accepts a connection
)

// Target is one -wait URL, parsed. Build it with ParseTarget.
type Target struct {
	Kind Kind
	// Addr is "host:port" for tcp, the path for file and unix, and the whole
	// URL for http and https.
	Addr string
	url  *url.URL
}

// String returns the target's URL with any password masked, fit for logs and
// error messages.
func (t Target) String() string {
	if t.url == nil {
		return ""
	}
	return t.url.Redacted()
}

// ParseTarget parses a -wait URL: tcp://host:port, http(s)://host[:port]/...,
// file:///absolute/path or unix:///absolute/path. The error quotes the value
// (password masked) and says what is wrong with it.
func ParseTarget(s string) (Target, error) {
	bad := func(why string) (Target, error) {
		return Target{}, fmt.Errorf("wait target %q: %s", redactRaw(s), why)
	}
	if host, port, err := net.SplitHostPort(s); err == nil && host != "" && !strings.Contains(s, "/") && checkPort(port) == nil {
		// "db:5432" parses as scheme db, "10.0.0.7:5432" not at all.
		return bad("missing scheme: for a host and port, write tcp://" + s)
	}
	u, err := url.Parse(s)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the raw value, password included
		}
		return bad(err.Error())
	}
	t := Target{Kind: Kind(strings.ToLower(u.Scheme)), url: u}
	if !strings.HasPrefix(u.Host, "[") && strings.Count(u.Host, ":") > 1 {
		// url.Parse takes "::1:5432" for host "::1" and port "5432", and
		// the dial then fails ("too many colons") on every poll until the
		// deadline (vishnubob/wait-for-it#124: timeouts, not an error).
		// The hint names an address: "2001:db8::1" is one address with no
		// port, not [2001:db8:] and port 1.
		i := strings.LastIndexByte(u.Host, ':')
		host, port := u.Host[:i], u.Host[i+1:]
		switch {
		case net.ParseIP(host) != nil && checkPort(port) == nil:
			return bad(fmt.Sprintf("an IPv6 address goes in brackets: %s://[%s]:%s", u.Scheme, host, port))
		case net.ParseIP(u.Host) != nil:
			return bad(fmt.Sprintf("an IPv6 address goes in brackets, with a port: %s://[%s]:PORT", u.Scheme, u.Host))
		default:
			return bad(fmt.Sprintf("an IPv6 address goes in brackets: %s://[ADDRESS]:PORT", u.Scheme))
		}
	}
	switch t.Kind {
	case KindTCP:
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return bad("tcp target takes only host:port")
		}
		if u.Hostname() == "" || u.Port() == "" {
			return bad("want tcp://host:port")
		}
		if err := checkPort(u.Port()); err != nil {
			return bad(err.Error())
		}
		t.Addr = u.Host
	case KindHTTP, KindHTTPS:
		if u.Hostname() == "" {
			return bad("missing host")
		}
		if p := u.Port(); p != "" {
			if err := checkPort(p); err != nil {
				return bad(err.Error())
			}
		}
		t.Addr = u.String()
	case KindFile, KindUnix:
		if u.Host != "" && u.Host != "localhost" {
			return bad(fmt.Sprintf("want %s:///absolute/path (three slashes)", t.Kind))
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return bad(fmt.Sprintf("want %s:///absolute/path", t.Kind))
		}
		t.Addr = u.Path
	case "":
		return bad("missing scheme (want tcp://, http://, https://, file:// or unix://)")
	default:
		return bad(fmt.Sprintf("unsupported scheme %q (want tcp, http, https, file or unix)", u.Scheme))
	}
	return t, nil
}

func checkPort(p string) error {
	var n int
	if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != p {
		return fmt.Errorf("bad port %q", p)
	}
	return nil
}

// redactRaw masks the password of a URL that url.Parse rejected: whatever
// lies between "scheme://user:" and the last "@" of the authority.
func redactRaw(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	at := strings.LastIndexByte(auth, '@')
	colon := strings.IndexByte(auth, ':')
	if at < 0 || colon < 0 || colon > at {
		return s
	}
	return s[:i+3] + auth[:colon+1] + "xxxxx" + auth[at:] + rest[end:]
}

// checker runs one attempt at a target: a nil error means it passed, and
// detail says what passed (addresses, status); an error describes what was
// seen instead.
type checker interface {
	check(ctx context.Context) (detail string, err error)
}

// newDialer returns the dialer of tcp and http(s) targets: it resolves
// host names with the package's resolver (hosts file, then the configured
// DNS servers, so -resolvers applies to wait targets too) and races the
// addresses (package dial), so an address that never answers does not keep
// the others from being tried.
func newDialer(r *resolver) *dial.Dialer {
	return &dial.Dialer{Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
		addrs, err := r.lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
		return addrs, nil
	}}
}

type tcpCheck struct {
	addr string
	d    *dial.Dialer
}

func (c tcpCheck) check(ctx context.Context) (string, error) {
	conn, err := c.d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return "", describeNetErr(err)
	}
	defer conn.Close()
	return "connected to " + conn.RemoteAddr().String(), nil
}

type unixCheck struct{ path string }

func (c unixCheck) check(ctx context.Context) (string, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "unix", c.path)
	if err != nil {
		return "", describeNetErr(err)
	}
	defer conn.Close()
	return "connected", nil
}

type fileCheck struct{ path string }

func (c fileCheck) check(context.Context) (string, error) {
	fi, err := os.Stat(c.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", errors.New("does not exist")
		}
		return "", err
	}
	return "exists (" + fileKind(fi.Mode()) + ")", nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return m.Type().String()
}

// httpCheck GETs a URL with the one HTTP prober (package probe): a status
// of 200-399 passes (redirects are not followed: a 3xx already shows the
// server is up), https verifies the certificate against Config.RootCAs
// (the system roots by default), and the body is read to its end within
// the attempt.
type httpCheck struct {
	p *probe.HTTP
}

// waitPolicy is the HTTP policy of -wait targets: certificates verified
// against roots (nil: the system roots).
func waitPolicy(d *dial.Dialer, roots *x509.CertPool) probe.HTTPPolicy {
	return probe.HTTPPolicy{MaxRedirects: 0, VerifyTLS: true, RootCAs: roots, Dial: d.DialContext}
}

func (c httpCheck) check(ctx context.Context) (string, error) {
	r := c.p.Probe(ctx)
	if r.Status != probe.Healthy {
		return "", errors.New(r.Reason)
	}
	return r.Reason, nil
}

// describeNetErr shortens the common network errors to what a person needs.
// A dial's error lists what each address did, without repeating the target.
func describeNetErr(err error) error {
	var de *dial.Error
	switch {
	case errors.As(err, &de):
		return errors.New(de.Outcome())
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("connection refused")
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOENT):
		return errors.New("does not exist")
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return errors.New("timeout")
	}
	return err
}

func isTimeout(err error) bool {
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
