package dnswait

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/taskkit/taskkit/internal/dial"
	"github.com/taskkit/taskkit/internal/probe"
)

// ErrTimeout is in the chain of the error Wait returns when its deadline
// (Config.Timeout, or a deadline of the context) passed with targets still
// pending. Map it to the "wait timed out" exit code.
var ErrTimeout = errors.New("wait timed out")

// ErrCanceled is in the chain of the error Wait returns when its context was
// canceled (a signal, for example) with targets still pending. The context's
// cause is in the chain too.
var ErrCanceled = errors.New("wait canceled")

// DefaultAttemptTimeout bounds one attempt at one target when
// Config.AttemptTimeout is zero: one lookup of a name (every nameserver
// gets its turn within it, see NextServerDelay), one connection, one HTTP
// request with its whole body. It is 20 s, healthd's --timeout and Mesos' HTTP check
// timeout_seconds default (mesos.proto HealthCheck, CheckInfo), so an
// endpoint healthd calls healthy passes a wait too, and an ordinary answer
// (a slow first request, a body of some megabytes) is never cut; a target
// that hangs is still asked again after it.
const DefaultAttemptTimeout = 20 * time.Second

// MaxQueriesPerSecond is the most DNS queries per second Wait sends for one
// name to one server, counting A and AAAA separately, over any one-second
// window. Wait enforces it whatever the Backoff says.
const MaxQueriesPerSecond = 20

// maxPollsPerSecond is MaxQueriesPerSecond over the two queries (A, AAAA) of
// one poll.
const maxPollsPerSecond = MaxQueriesPerSecond / 2

// rateWindow is the window maxPollsPerSecond is enforced over: a poll starts
// no sooner than rateWindow after the end of the poll maxPollsPerSecond
// before it. As every query of a poll is sent between its start and its end,
// the queries of any maxPollsPerSecond+1 polls in a row are sent over more
// than rateWindow, however late the scheduler runs a poll's goroutines. The
// margin over a second is for the network's jitter between sending and
// arriving.
const rateWindow = time.Second + 50*time.Millisecond

// Backoff shapes the pause between two attempts at one target: the n-th pause
// is Initial*Factor^n, capped at Max, then multiplied by a random factor in
// [1-Jitter, 1+Jitter] so that many tasks started together do not poll in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	Jitter  float64
}

// DefaultBackoff is used when Config.Backoff is the zero value: 50 ms growing
// by a quarter per attempt to 150 ms, ±20%. A record is then seen about 75 ms
// (p50) after it appears, however late that is — Mesos-DNS publishes a task
// only at its next refresh, seconds after launch — at 13 queries per second per
// name (A and AAAA) while waiting, under MaxQueriesPerSecond. A larger Max
// (bootstrap's -resolve-max-interval) trades detection latency for load:
// the SDK's fixed 1 s poll detects in ~500 ms (p50) at 2 queries per second.
var DefaultBackoff = Backoff{Initial: 50 * time.Millisecond, Max: 150 * time.Millisecond, Factor: 1.25, Jitter: 0.2}

// pause returns the jittered pause after attempt n (0-based).
func (b Backoff) pause(n int) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Factor, float64(n))
	if b.Max > 0 && d > float64(b.Max) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*rand.Float64()-1)
	}
	return time.Duration(d)
}

// Config says what Wait waits for. The zero value waits for nothing.
type Config struct {
	// Hosts must each resolve to at least one A or AAAA address.
	Hosts []string
	// SelfName, when set, must resolve to a set of addresses that contains
	// SelfIP (other addresses, of either family, are fine). A Hosts entry
	// equal to SelfName is checked once, as the self name.
	SelfName string
	// SelfIP is the task's IP (see TaskIP); required with SelfName.
	SelfIP netip.Addr
	// Targets are the -wait URLs (see ParseTarget).
	Targets []Target

	// Resolvers are "ip[:port]" DNS servers (see ParseResolvers) used instead
	// of the nameservers of ResolvConfPath; the file's search list and ndots
	// still apply when it can be read.
	Resolvers []string
	// ResolvConfPath defaults to DefaultResolvConf; HostsPath to DefaultHosts.
	// The hosts file is consulted before DNS on every attempt.
	ResolvConfPath string
	HostsPath      string

	// Timeout is the deadline for everything; 0 means no deadline of Wait's
	// own: wait until everything passes or ctx ends.
	Timeout time.Duration
	// AttemptTimeout bounds one attempt at one target — one lookup, one
	// connection, one HTTP request from its connect to the end of its body
	// — after which the target is asked again (after its pause); 0 means
	// DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// AttemptTimeoutName names the setting of AttemptTimeout (a flag, say)
	// in the message of an attempt it cut short; empty names none.
	AttemptTimeoutName string
	// RootCAs are the certificate authorities https targets' certificates
	// must chain to; nil means the system roots (a pool holding the system
	// roots and more trusts both).
	RootCAs *x509.CertPool
	// Backoff; the zero value means DefaultBackoff.
	Backoff Backoff
	// ReportEvery is how often a long wait logs what is still pending (an
	// Info record "still waiting" naming each target and what it saw
	// last), so that a task's stderr does not stay silent for the whole
	// deadline; 0 means DefaultReportEvery, a negative value never.
	ReportEvery time.Duration
}

// DefaultReportEvery is Config.ReportEvery's default.
const DefaultReportEvery = 30 * time.Second

// Pending is a target that had not passed when Wait gave up.
type Pending struct {
	Name     string // host name or URL (password masked)
	LastSeen string // what the last attempt saw, e.g. "NXDOMAIN from 10.0.0.2:53"
}

// PendingError is the error Wait returns when it stops with targets pending.
// errors.Is(err, ErrTimeout) or errors.Is(err, ErrCanceled) tells why.
type PendingError struct {
	Pending []Pending     // in the order of Config (self name, hosts, targets)
	Elapsed time.Duration // time spent waiting
	reason  error         // ErrTimeout or ErrCanceled
	cause   error         // context.Cause of the caller's context, if any
}

// Error names every pending target and what was last seen for it.
func (e *PendingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v after %v; %d still pending: ", e.reason, e.Elapsed.Round(time.Millisecond), len(e.Pending))
	for i, p := range e.Pending {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Name + ": " + p.LastSeen)
	}
	return b.String()
}

// Unwrap returns ErrTimeout or ErrCanceled, and the context's cause.
func (e *PendingError) Unwrap() []error {
	if e.cause == nil || e.cause == e.reason {
		return []error{e.reason}
	}
	return []error{e.reason, e.cause}
}

// item is one thing to wait for.
type item struct {
	name string
	chk  checker
	// state, guarded by waiter.mu
	done     bool
	lastSeen string
}

// notYet is the last-seen text of a target whose first attempt has not ended.
const notYet = "no answer yet (first attempt still running)"

// Wait waits, in parallel and under one deadline, until every host resolves,
// the self name resolves to a set containing the self IP, and every target
// answers. It returns nil when all passed; a *PendingError naming every target
// still pending when the deadline passes or ctx ends; another error when cfg
// is invalid (nothing was waited for then). log receives one Info record per
// target when it passes, a "still waiting" Info record every
// Config.ReportEvery naming what is pending, and Debug records when what a
// target shows changes; nil discards them. Every goroutine Wait starts has ended when it returns.
func Wait(ctx context.Context, cfg Config, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	items, err := cfg.items()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	start := time.Now()
	parent := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.Timeout, ErrTimeout)
		defer cancel()
	}
	timeout := "none"
	if cfg.Timeout > 0 {
		timeout = cfg.Timeout.String()
	}
	log.Info("waiting", "targets", len(items), "timeout", timeout)

	backoff := cfg.Backoff
	if backoff == (Backoff{}) {
		backoff = DefaultBackoff
	}
	attempt := cfg.AttemptTimeout
	if attempt <= 0 {
		attempt = DefaultAttemptTimeout
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			poll(ctx, it, &mu, backoff, attempt, cfg.AttemptTimeoutName, start, log)
		}()
	}
	every := cfg.ReportEvery
	if every == 0 {
		every = DefaultReportEvery
	}
	polled := make(chan struct{})
	var reporter sync.WaitGroup
	if every > 0 {
		reporter.Add(1)
		go func() { // owned by Wait: ends when the polls have, before Wait returns
			defer reporter.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-polled:
					return
				case <-tick.C:
					mu.Lock()
					var pending []string
					for _, it := range items {
						if !it.done {
							pending = append(pending, it.name+": "+it.lastSeen)
						}
					}
					mu.Unlock()
					if len(pending) > 0 {
						log.Info("still waiting", "after", time.Since(start).Round(time.Second), "pending", strings.Join(pending, "; "))
					}
				}
			}
		}()
	}
	wg.Wait()
	close(polled)
	reporter.Wait()

	var pending []Pending
	for _, it := range items {
		if !it.done {
			pending = append(pending, Pending{Name: it.name, LastSeen: it.lastSeen})
		}
	}
	if len(pending) == 0 {
		return nil
	}
	e := &PendingError{Pending: pending, Elapsed: time.Since(start), reason: ErrCanceled, cause: context.Cause(parent)}
	if errors.Is(context.Cause(ctx), ErrTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded) || (ctx.Err() == nil && expired(ctx)) {
		e.reason = ErrTimeout
	}
	return e
}

// poll attempts it until it passes or ctx ends, pausing per backoff and never
// sending the queries of more than maxPollsPerSecond attempts in any
// one-second window (see rateWindow).
func poll(ctx context.Context, it *item, mu *sync.Mutex, b Backoff, attemptTimeout time.Duration, setting string, start time.Time, log *slog.Logger) {
	var recent [maxPollsPerSecond]time.Time // end times of the last attempts, ring
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for n := 0; ; n++ {
		now := time.Now()
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		detail, err := it.chk.check(actx)
		cut := expired(actx)
		cancel()
		recent[n%len(recent)] = time.Now()
		if err == nil {
			mu.Lock()
			it.done = true
			mu.Unlock()
			log.Info("ready", "target", it.name, "seen", detail, "after", time.Since(start).Round(time.Millisecond))
			return
		}
		if expired(ctx) {
			// The attempt was cut short by the end of the wait: keep what the
			// previous attempt saw, which is what a person wants to read, or,
			// when this was the first, what it saw until then (each address
			// still silent, say).
			mu.Lock()
			if it.lastSeen == notYet {
				it.lastSeen = err.Error()
			}
			mu.Unlock()
			return
		}
		seen := err.Error()
		if cut {
			seen = attemptCut(attemptTimeout, setting, seen)
		}
		mu.Lock()
		changed := it.lastSeen != seen
		it.lastSeen = seen
		mu.Unlock()
		if changed {
			log.Debug("pending", "target", it.name, "seen", seen)
		}

		next := now.Add(b.pause(n))
		if oldest := recent[(n+1)%len(recent)]; !oldest.IsZero() && next.Before(oldest.Add(rateWindow)) {
			next = oldest.Add(rateWindow)
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// attemptCut is what an attempt that its time limit ended saw: "attempt
// timed out after 20s (-flag): timed out reading the body after HTTP 200 OK
// (2400000 bytes in)".
func attemptCut(limit time.Duration, setting, seen string) string {
	s := "attempt timed out after " + limit.String()
	if setting != "" {
		s += " (" + setting + ")"
	}
	return s + ": " + seen
}

// items validates cfg and builds the list of things to wait for.
func (cfg Config) items() ([]*item, error) {
	if len(cfg.Hosts) == 0 && cfg.SelfName == "" && len(cfg.Targets) == 0 {
		return nil, nil
	}
	if cfg.SelfName != "" && !cfg.SelfIP.IsValid() {
		return nil, fmt.Errorf("self-resolve of %s: no task IP to compare with", cfg.SelfName)
	}
	var r *resolver
	needDNS := len(cfg.Hosts) > 0 || cfg.SelfName != ""
	for _, t := range cfg.Targets {
		needDNS = needDNS || t.Kind == KindTCP || t.Kind == KindHTTP || t.Kind == KindHTTPS
	}
	if needDNS {
		var err error
		if r, err = newResolver(&cfg); err != nil {
			return nil, err
		}
	}
	var items []*item
	seen := map[string]bool{}
	add := func(name string, c checker) {
		items = append(items, &item{name: name, chk: c, lastSeen: notYet})
	}
	norm := func(h string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), ".")) }
	if cfg.SelfName != "" {
		seen[norm(cfg.SelfName)] = true
		add(cfg.SelfName, hostCheck{r: r, name: cfg.SelfName, want: cfg.SelfIP.Unmap()})
	}
	for _, h := range cfg.Hosts {
		if strings.TrimSpace(h) == "" {
			return nil, errors.New("empty host name")
		}
		if seen[norm(h)] {
			continue
		}
		seen[norm(h)] = true
		add(strings.TrimSpace(h), hostCheck{r: r, name: strings.TrimSpace(h)})
	}
	var d *dial.Dialer
	if r != nil {
		d = newDialer(r)
	}
	for _, t := range cfg.Targets {
		switch t.Kind {
		case KindTCP:
			add(t.String(), tcpCheck{addr: t.Addr, d: d})
		case KindHTTP, KindHTTPS:
			p, err := probe.NewHTTP(t.Addr, waitPolicy(d, cfg.RootCAs))
			if err != nil {
				return nil, fmt.Errorf("wait target %q: %w", t.String(), err)
			}
			add(t.String(), httpCheck{p: p})
		case KindFile:
			add(t.String(), fileCheck{path: t.Addr})
		case KindUnix:
			add(t.String(), unixCheck{path: t.Addr})
		default:
			return nil, fmt.Errorf("wait target %q: not built by ParseTarget", t.String())
		}
	}
	return items, nil
}

// hostCheck resolves name; with want set, it passes only when want is among
// the addresses.
type hostCheck struct {
	r    *resolver
	name string
	want netip.Addr
}

func (c hostCheck) check(ctx context.Context) (string, error) {
	addrs, err := c.r.lookup(ctx, c.name)
	if err != nil {
		return "", err
	}
	if c.want.IsValid() {
		found := false
		for _, a := range addrs {
			found = found || a == c.want
		}
		if !found {
			return "", fmt.Errorf("resolves to %s, want %s", formatAddrs(addrs), c.want)
		}
	}
	return "resolves to " + formatAddrs(addrs), nil
}

// expired reports whether ctx has ended or its deadline has passed (a
// context reports a passed deadline only once its timer has fired, a moment
// later; an attempt that failed in that moment was cut short all the same).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
