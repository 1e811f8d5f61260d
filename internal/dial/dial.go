// Package dial connects to host:port when the host has several addresses by
// racing them, as RFC 8305 ("Happy Eyeballs Version 2") describes, so that
// one address that never answers cannot use up the time meant for the
// others:
//
//   - the host is resolved through the Dialer's resolver (an IP literal is
//     not resolved);
//   - the addresses are interleaved by family, starting with the family of
//     the first one (RFC 8305 section 4);
//   - the first attempt starts at once; each next one starts when the
//     previous attempt fails or AttemptDelay (250 ms, section 5) has passed,
//     whichever comes first; the first connection wins and the others are
//     abandoned;
//   - when every attempt failed, or the context ended first, the error (an
//     *Error) names each address and what happened to it: its error, "no
//     answer" for an attempt still pending when time ran out, "not tried"
//     for one never started. A resolver that answered is never blamed.
//
// Go's own net.Dialer races only across families and gives addresses of one
// family the remaining time in turn, so two A records of which the first
// drops SYNs leave the second untried within a short deadline; package dial
// is what every taskkit probe and wait dials with.
package dial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// DefaultAttemptDelay is RFC 8305's recommended Connection Attempt Delay.
const DefaultAttemptDelay = 250 * time.Millisecond

// Resolver returns the addresses of host. Errors say what the resolver saw
// (for example "NXDOMAIN from 10.0.0.2:53").
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// SystemResolver resolves with the Go resolver (/etc/hosts, then the
// nameservers of /etc/resolv.conf).
func SystemResolver(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, fmt.Errorf("%s: no such host", host)
		}
		return nil, err
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// Dialer races the addresses of a host. The zero value uses SystemResolver
// and DefaultAttemptDelay.
type Dialer struct {
	// Resolve resolves host names; nil means SystemResolver.
	Resolve Resolver
	// AttemptDelay is how long an attempt runs alone before the next one
	// starts beside it; 0 means DefaultAttemptDelay.
	AttemptDelay time.Duration
}

// Attempt is what happened to one address.
type Attempt struct {
	// Addr is the address dialled.
	Addr netip.AddrPort
	// Started is false when the dial ended before this address's turn.
	Started bool
	// Err is the address's error; nil for an attempt still pending when the
	// dial ended.
	Err error
}

// String describes the attempt: "10.0.0.1:80: connection refused".
func (a Attempt) String() string {
	switch {
	case !a.Started:
		return a.Addr.String() + ": not tried"
	case a.Err == nil:
		return a.Addr.String() + ": no answer"
	}
	return a.Addr.String() + ": " + Describe(a.Err)
}

// Error is a failed dial: every address was tried and failed, or the
// context ended first.
type Error struct {
	// Address is the host:port asked for.
	Address string
	// Attempts are the addresses in the order they were to be tried.
	Attempts []Attempt
	// Cause is the context's error when it ended the dial, else nil.
	Cause error
}

// Error names the address asked for, then each address tried and what
// happened to it: "dual.test:80: timed out: 10.0.0.2:80: no answer;
// 10.0.0.1:80: not tried".
func (e *Error) Error() string { return e.Address + ": " + e.Outcome() }

// Outcome is Error without the address asked for: what each address did,
// after "timed out: " when the context ended the dial.
func (e *Error) Outcome() string {
	if e.Cause != nil {
		return "timed out: " + e.Attempted()
	}
	return e.Attempted()
}

// Attempted lists what each address did: "10.0.0.2:80: no answer;
// 10.0.0.1:80: connection refused" (for one address that is the address
// asked for, only what it did).
func (e *Error) Attempted() string {
	parts := make([]string, len(e.Attempts))
	for i, a := range e.Attempts {
		parts[i] = a.String()
	}
	if len(parts) == 1 && strings.HasPrefix(parts[0], e.Address+": ") {
		return strings.TrimPrefix(parts[0], e.Address+": ")
	}
	return strings.Join(parts, "; ")
}

// Timeout reports whether the context ended the dial.
func (e *Error) Timeout() bool { return e.Cause != nil }

// Temporary is false; it is there for net.Error.
func (e *Error) Temporary() bool { return false }

// Unwrap returns the attempts' errors and the context's.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, a := range e.Attempts {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// Describe shortens the common dial errors to what a person needs:
// "connection refused", "no answer", "network unreachable"; others as
// they are.
func Describe(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "address not available"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "no answer"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// DialContext connects to addr (host:port) on network ("tcp", "tcp4" or
// "tcp6"), racing the host's addresses. A resolver error is returned as it
// is, prefixed with the host; a dial error is an *Error.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := net.LookupPort(network, portStr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, perr := netip.ParseAddr(host); perr == nil {
		ips = []netip.Addr{ip.Unmap()}
	} else {
		resolve := d.Resolve
		if resolve == nil {
			resolve = SystemResolver
		}
		if ips, err = resolve(ctx, host); err != nil {
			return nil, err
		}
	}
	ips = filterFamily(network, ips)
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s: no %s address", host, network)
	}
	targets := make([]netip.AddrPort, len(ips))
	for i, ip := range interleave(ips) {
		targets[i] = netip.AddrPortFrom(ip, uint16(port))
	}
	return d.race(ctx, network, addr, targets)
}

func filterFamily(network string, ips []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		switch {
		case network == "tcp4" && !ip.Is4(), network == "tcp6" && !ip.Is6():
			continue
		}
		out = append(out, ip)
	}
	return out
}

// interleave orders addresses by alternating families, starting with the
// first address's family, keeping each family's own order.
func interleave(ips []netip.Addr) []netip.Addr {
	var first, second []netip.Addr
	for _, ip := range ips {
		if ip.Is4() == ips[0].Is4() {
			first = append(first, ip)
		} else {
			second = append(second, ip)
		}
	}
	out := make([]netip.Addr, 0, len(ips))
	for i := 0; i < len(first) || i < len(second); i++ {
		if i < len(first) {
			out = append(out, first[i])
		}
		if i < len(second) {
			out = append(out, second[i])
		}
	}
	return out
}

type result struct {
	i    int
	conn net.Conn
	err  error
}

// race dials targets as the package documentation describes.
func (d *Dialer) race(ctx context.Context, network, addr string, targets []netip.AddrPort) (net.Conn, error) {
	delay := d.AttemptDelay
	if delay <= 0 {
		delay = DefaultAttemptDelay
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	attempts := make([]Attempt, len(targets))
	for i, t := range targets {
		attempts[i].Addr = t
	}
	results := make(chan result, len(targets))
	next, pending := 0, 0
	start := func() {
		i := next
		next++
		pending++
		attempts[i].Started = true
		go func() { // ends when its dial ends; rctx ends it at the latest
			var nd net.Dialer
			c, err := nd.DialContext(rctx, network, targets[i].String())
			results <- result{i, c, err}
		}()
	}
	start()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				cancel()
				go drain(results, pending) // close the losers' late connections
				return r.conn, nil
			}
			// A timeout can only be ctx's deadline (the socket's deadline may
			// fire a moment before ctx says so): the attempt was pending.
			if ctx.Err() != nil || isTimeout(r.err) {
				return nil, d.ended(ctx, cancel, addr, attempts, results, pending)
			}
			attempts[r.i].Err = r.err
			if next < len(targets) {
				start()
				timer.Reset(delay)
			} else if pending == 0 {
				return nil, &Error{Address: addr, Attempts: attempts}
			}
		case <-timer.C:
			if next < len(targets) {
				start()
				timer.Reset(delay)
			}
		case <-ctx.Done():
			return nil, d.ended(ctx, cancel, addr, attempts, results, pending)
		}
	}
}

// ended finishes a race that ctx ended: it waits for the pending attempts
// and keeps those cut short as pending ("no answer"), not as "operation
// canceled".
func (d *Dialer) ended(ctx context.Context, cancel context.CancelFunc, addr string, attempts []Attempt, results <-chan result, pending int) error {
	cancel()
	for ; pending > 0; pending-- {
		r := <-results
		if r.conn != nil {
			r.conn.Close()
		} else if !errors.Is(r.err, context.Canceled) && !errors.Is(r.err, context.DeadlineExceeded) && !isTimeout(r.err) {
			attempts[r.i].Err = r.err
		}
	}
	cause := context.Cause(ctx)
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return &Error{Address: addr, Attempts: attempts, Cause: cause}
}

// drain closes connections that won after the race was decided.
func drain(results <-chan result, n int) {
	for ; n > 0; n-- {
		if r := <-results; r.conn != nil {
			r.conn.Close()
		}
	}
}
