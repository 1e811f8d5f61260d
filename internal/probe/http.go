package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taskkit/taskkit/internal/dial"
)

// UserAgent is sent with every HTTP check.
const UserAgent = "taskkit"

// HTTPPolicy is how an HTTP check behaves. Every field is explicit so that
// each user of the prober — healthd, the executor's checks, bootstrap's
// waits — says what it wants. Whatever the policy, the verdict follows one
// rule: the status decides (200–399 healthy); the body is read to its end
// within the check's time, and only its first BodyLimit bytes are kept for
// display; a body that stalls past the deadline is a timeout (unhealthy),
// however much of it had arrived.
type HTTPPolicy struct {
	// MaxRedirects is how many redirects are followed; 0 follows none, and a
	// 3xx is then the answer (healthy).
	MaxRedirects int
	// VerifyTLS verifies an https server's certificate against RootCAs;
	// false accepts any certificate (the check proves the server answers,
	// not who it is).
	VerifyTLS bool
	// RootCAs are the certificate authorities VerifyTLS trusts; nil means
	// the system roots.
	RootCAs *x509.CertPool
	// BodyLimit is how much of the body Result.Output keeps; 0 means
	// MaxOutput. It never shortens what is read.
	BodyLimit int
	// Timeout bounds one check besides its context's deadline; 0 leaves the
	// context's alone.
	Timeout time.Duration
	// Dial connects to host:port; nil means a dial.Dialer (addresses raced,
	// system resolver).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// CheckPolicy is the policy of health and readiness checks, healthd's and
// the executor's: Mesos runs them as curl -L -k, following redirects
// (curl's limit is 50; 10 here, as Go and Kubernetes) and not verifying
// certificates, as Marathon and Kubernetes do too.
var CheckPolicy = HTTPPolicy{MaxRedirects: 10}

// HTTP GETs a URL with an HTTPPolicy, on net/http. Proxies from the
// environment are not used and every check opens a fresh connection. A
// password in the URL is sent as basic authentication and never shown.
type HTTP struct {
	url    *url.URL
	policy HTTPPolicy
	client *http.Client
}

// errTooManyRedirects ends a check that met more redirects than its policy
// follows.
var errTooManyRedirects = errors.New("too many redirects")

// NewHTTP returns an HTTP prober for rawURL, which must be an absolute
// http:// or https:// URL with a host. The error does not repeat a password.
func NewHTTP(rawURL string, p HTTPPolicy) (*HTTP, error) {
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
	if p.BodyLimit <= 0 {
		p.BodyLimit = MaxOutput
	}
	dialer := p.Dial
	if dialer == nil {
		dialer = (&dial.Dialer{}).DialContext
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            recordDials(dialer),
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: !p.VerifyTLS, RootCAs: p.RootCAs}, //nolint:gosec // a policy choice, see HTTPPolicy
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	h := &HTTP{url: u, policy: p}
	h.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if p.MaxRedirects == 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > p.MaxRedirects {
				return errTooManyRedirects
			}
			return nil
		},
	}
	return h, nil
}

// String returns the URL with any password masked.
func (h *HTTP) String() string { return h.url.Redacted() }

// Probe performs one GET, following redirects as the policy says.
func (h *HTTP) Probe(ctx context.Context) Result {
	if ctx.Err() != nil {
		return TimedOut(ctx)
	}
	if h.policy.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.policy.Timeout)
		defer cancel()
	}
	rec := &dialRecord{}
	rec.deadline, _ = ctx.Deadline()
	req, err := http.NewRequestWithContext(context.WithValue(ctx, dialRecordKey{}, rec), http.MethodGet, h.url.String(), nil)
	if err != nil {
		return Result{Status: Error, Reason: h.mask(err.Error()), ExitCode: -1}
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		return h.failed(ctx, err, rec)
	}
	defer resp.Body.Close()
	// The status line is the server's text: kept on one line.
	res := Result{Status: Unhealthy, Reason: "HTTP " + oneLine(resp.Status), ExitCode: -1, StatusCode: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		res.Status = Healthy
	}
	// The whole body, within the deadline; only the first BodyLimit bytes
	// are kept.
	body := capture{limit: h.policy.BodyLimit}
	_, err = io.Copy(&body, resp.Body)
	body.result(&res)
	if err != nil {
		if ctx.Err() != nil {
			to := TimedOut(ctx)
			res.Status, res.Reason = to.Status, fmt.Sprintf("%s reading the body after %s (%d bytes in)", to.Reason, res.Reason, body.n)
		} else {
			res.Status, res.Reason = Unhealthy, fmt.Sprintf("reading the body after %s: %s", res.Reason, h.mask(err.Error()))
		}
	}
	return res
}

// failed turns a request error into a Result: a timeout when the context
// ended (naming what each address did when the dial was cut short), else
// what went wrong.
func (h *HTTP) failed(ctx context.Context, err error, rec *dialRecord) Result {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL: the check names it, password masked
	}
	// net/http lets a dial outlive the request that started it (for a later
	// request to use); cancel it, so no dial outlives its probe.
	h.client.CloseIdleConnections()
	if ctx.Err() != nil {
		// The dial, bounded by the same deadline, says what each address
		// did.
		return timedOutDialing(ctx, rec.wait())
	}
	reason := err.Error()
	var de *dial.Error
	switch {
	case errors.Is(err, errTooManyRedirects):
		reason = fmt.Sprintf("stopped after %d redirects", h.policy.MaxRedirects)
	case errors.As(err, &de):
		reason = de.Error()
	}
	return Result{Status: Unhealthy, Reason: h.mask(reason), ExitCode: -1}
}

// oneLine returns s, or, when s holds control characters (a bare CR is
// allowed in an HTTP reason phrase) or is not valid UTF-8, s with those
// escaped as Go quotes them ("\r", "\x00"), so that a Reason built from
// what a server sent stays one line of text.
func oneLine(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// mask hides the URL's password in text.
func (h *HTTP) mask(s string) string {
	if h.url.User == nil {
		return s
	}
	return strings.ReplaceAll(s, h.url.String(), h.url.Redacted())
}

// TCP connects to an address: healthy when the connection is accepted. A
// host name's addresses are raced (package dial).
type TCP struct {
	// Addr is host:port.
	Addr string
	// Dial connects; nil means a dial.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
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
	d := t.Dial
	if d == nil {
		d = (&dial.Dialer{}).DialContext
	}
	conn, err := d(ctx, "tcp", t.Addr)
	if err != nil {
		if ctx.Err() != nil {
			return timedOutDialing(ctx, err)
		}
		return Result{Status: Unhealthy, Reason: err.Error(), ExitCode: -1}
	}
	reason := "connected to " + conn.RemoteAddr().String()
	_ = conn.Close()
	return Result{Status: Healthy, Reason: reason, ExitCode: -1}
}

// timedOutDialing is the Result of a check whose context ended while err's
// dial was under way: "timed out connecting to db:80 (10.0.0.2:80: no
// answer; 10.0.0.1:80: not tried)".
func timedOutDialing(ctx context.Context, err error) Result {
	res := TimedOut(ctx)
	var de *dial.Error
	if errors.As(err, &de) {
		res.Reason += " connecting to " + de.Address + " (" + de.Attempted() + ")"
	}
	return res
}

// dialRecordKey carries a probe's *dialRecord in its request's context,
// which net/http passes (values only) to the dial.
type dialRecordKey struct{}

// dialRecord keeps the error of the last dial a probe made, and the
// probe's deadline, which net/http does not pass on to the dial.
type dialRecord struct {
	deadline time.Time
	mu       sync.Mutex
	pending  int
	err      error
}

// recordDials wraps d so that each dial's outcome lands in the probe's
// dialRecord.
func recordDials(d func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		rec, _ := ctx.Value(dialRecordKey{}).(*dialRecord)
		if rec == nil {
			return d(ctx, network, addr)
		}
		if !rec.deadline.IsZero() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, rec.deadline)
			defer cancel()
		}
		rec.mu.Lock()
		rec.pending++
		rec.mu.Unlock()
		conn, err := d(ctx, network, addr)
		rec.mu.Lock()
		rec.pending--
		rec.err = err
		rec.mu.Unlock()
		return conn, err
	}
}

// dialWaitLimit bounds how long a timed-out probe waits for its canceled
// dial to report (it returns within microseconds of the cancel).
const dialWaitLimit = 200 * time.Millisecond

// wait returns the last dial's error once no dial is under way.
func (r *dialRecord) wait() error {
	deadline := time.Now().Add(dialWaitLimit)
	for {
		r.mu.Lock()
		pending, err := r.pending, r.err
		r.mu.Unlock()
		if pending == 0 || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}
