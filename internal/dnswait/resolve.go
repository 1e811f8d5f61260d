package dnswait

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/taskkit/taskkit/internal/hostsfile"
)

// DefaultResolvConf and DefaultHosts are the files read when Config leaves
// ResolvConfPath and HostsPath empty.
const (
	DefaultResolvConf = "/etc/resolv.conf"
	DefaultHosts      = "/etc/hosts"
)

// ParseResolvers parses a comma-separated resolver list "ip[:port],..." (the
// -resolvers flag): IPv4 "10.0.0.2", "10.0.0.2:5353", IPv6 "fd00::2" or
// "[fd00::2]:5353". The port defaults to 53. It returns "ip:port" addresses.
// An empty string gives an empty list.
func ParseResolvers(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		addr, err := parseResolver(f)
		if err != nil {
			return nil, fmt.Errorf("resolver %q: %w", f, err)
		}
		out = append(out, addr)
	}
	return out, nil
}

func parseResolver(s string) (string, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return "", errors.New("want ip or ip:port (IPv6 with a port as [ip]:port)")
	}
	if ap.Port() == 0 {
		return "", errors.New("port 0")
	}
	return ap.String(), nil
}

// Nameserver timing, after glibc's resolver (resolv.conf(5), res_send.c):
// a server gets DefaultServerTimeout, or resolv.conf's "options timeout:N"
// (N seconds, 1 to MaxServerTimeout), to answer one question. A wait asks
// again on every poll, so it moves on sooner than glibc: when a server has
// not answered within NextServerDelay (less when the attempt could not give
// every server that), the next one is asked too, while the first may still
// answer; a server that fails (SERVFAIL, REFUSED, a refused connection)
// hands over at once. The first definite answer (addresses, NXDOMAIN, no
// records) wins.
const (
	DefaultServerTimeout = 5 * time.Second  // glibc's RES_TIMEOUT
	MaxServerTimeout     = 30 * time.Second // glibc's RES_MAXRETRANS
	NextServerDelay      = time.Second
)

// resolver looks names up in the hosts file, then with miekg/dns against a
// fixed list of servers, honouring the search list, ndots, timeout and
// rotate of resolv.conf.
type resolver struct {
	servers   []string
	search    []string
	ndots     int
	hostsPath string
	// queryTimeout bounds one question to one server; nextAfter is how
	// long a server has before the next one is asked too (0: queryTimeout).
	queryTimeout, nextAfter time.Duration
	// rotate starts each question at the next server in turn (resolv.conf
	// "options rotate"); turn counts the questions.
	rotate bool
	turn   atomic.Uint32
}

func newResolver(cfg *Config) (*resolver, error) {
	r := &resolver{hostsPath: cfg.HostsPath, queryTimeout: DefaultServerTimeout, ndots: 1}
	if r.hostsPath == "" {
		r.hostsPath = DefaultHosts
	}
	rcPath := cfg.ResolvConfPath
	if rcPath == "" {
		rcPath = DefaultResolvConf
	}
	cc, err := dns.ClientConfigFromFile(rcPath)
	switch {
	case err == nil:
		r.search, r.ndots = cc.Search, cc.Ndots
		r.queryTimeout = min(time.Duration(cc.Timeout)*time.Second, MaxServerTimeout)
		r.rotate = hasRotate(rcPath)
		for _, s := range cc.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
		}
	case len(cfg.Resolvers) == 0:
		return nil, fmt.Errorf("reading resolvers from %s: %w", rcPath, err)
	}
	// Explicit resolvers replace the file's servers; its search list, ndots
	// and options still apply.
	if len(cfg.Resolvers) > 0 {
		r.servers = r.servers[:0]
		for _, s := range cfg.Resolvers {
			addr, err := parseResolver(s)
			if err != nil {
				return nil, fmt.Errorf("resolver %q: %w", s, err)
			}
			r.servers = append(r.servers, addr)
		}
	}
	if len(r.servers) == 0 {
		return nil, fmt.Errorf("reading resolvers from %s: no nameserver lines", rcPath)
	}
	// Every server is asked within one attempt, however many there are.
	attempt := cfg.AttemptTimeout
	if attempt <= 0 {
		attempt = DefaultAttemptTimeout
	}
	r.queryTimeout = min(r.queryTimeout, attempt)
	r.nextAfter = min(r.queryTimeout, NextServerDelay, attempt/time.Duration(len(r.servers)))
	return r, nil
}

// hasRotate reports whether the resolv.conf at path says "options rotate"
// (miekg/dns parses the other options).
func hasRotate(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	rotate := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "options" && slices.Contains(f[1:], "rotate") {
			rotate = true
		}
	}
	return rotate
}

// candidates returns the fully qualified names to try for name, in order.
func (r *resolver) candidates(name string) []string {
	cc := dns.ClientConfig{Search: r.search, Ndots: r.ndots}
	return cc.NameList(name)
}

// lookup resolves name to its A and AAAA addresses. On failure the error says
// what was seen (for example "NXDOMAIN from 127.0.0.1:53"); it is meant for a
// person, and the caller keeps polling.
func (r *resolver) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	cands := r.candidates(name)
	// /etc/hosts first, for the name and each search-list expansion. A hosts
	// file that cannot be read counts as empty, as in the C library.
	if hosts, err := os.ReadFile(r.hostsPath); err == nil {
		for _, c := range append([]string{name}, cands...) {
			if addrs := hostsfile.Lookup(hosts, c); len(addrs) > 0 {
				return addrs, nil
			}
		}
	}
	var outcomes []string
	for _, c := range cands {
		addrs, outcome := r.query(ctx, c)
		if len(addrs) > 0 {
			return addrs, nil
		}
		outcomes = append(outcomes, outcome)
		if expired(ctx) { // the attempt ended: say what was seen so far
			break
		}
	}
	return nil, errors.New(summarize(cands[:len(outcomes)], outcomes))
}

// summarize turns per-candidate outcomes into one line: "X" for a single
// name, "X (tried a., b.)" when every name saw the same, else "a.: X; b.: Y".
func summarize(cands, outcomes []string) string {
	if len(outcomes) == 1 {
		return outcomes[0]
	}
	same := true
	for _, o := range outcomes[1:] {
		same = same && o == outcomes[0]
	}
	if same {
		return fmt.Sprintf("%s (tried %s)", outcomes[0], strings.Join(cands, ", "))
	}
	parts := make([]string, len(cands))
	for i := range cands {
		parts[i] = cands[i] + ": " + outcomes[i]
	}
	return strings.Join(parts, "; ")
}

// query asks the servers for the A and AAAA records of fqdn, in order (from
// the next in turn with rotate): each gets nextAfter before the next one is
// asked too, a failing one (an error, SERVFAIL, REFUSED) hands over at once,
// and each may answer until its queryTimeout. The first definite answer
// wins: addresses, NXDOMAIN or no records. It returns the addresses found,
// or what each server asked did, in the order asked ("no answer from
// 10.0.0.2:53 in 5s, NXDOMAIN from 10.0.0.3:53").
func (r *resolver) query(ctx context.Context, fqdn string) ([]netip.Addr, string) {
	first := 0
	if r.rotate {
		first = int(r.turn.Add(1)-1) % len(r.servers)
	}
	next := r.nextAfter
	if next <= 0 {
		next = r.queryTimeout
	}
	qctx, cancel := context.WithCancel(ctx)
	type answer struct {
		i        int // the server's position in the order asked
		addrs    []netip.Addr
		outcome  string
		definite bool
	}
	answers := make(chan answer, len(r.servers))
	outcomes := make([]string, len(r.servers))
	askedAt := make([]time.Time, len(r.servers))
	asked, pending := 0, 0
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	ask := func(i int) {
		server := r.servers[(first+i)%len(r.servers)]
		askedAt[i] = time.Now()
		asked, pending = asked+1, pending+1
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs, outcome, definite := r.ask(qctx, server, fqdn)
			answers <- answer{i, addrs, outcome, definite}
		}()
	}
	seen := func() string { // what each server asked did, in order
		var out []string
		for i := range asked {
			o := outcomes[i]
			if o == "" {
				o = fmt.Sprintf("no answer from %s in %v", r.servers[(first+i)%len(r.servers)], time.Since(askedAt[i]).Round(100*time.Millisecond))
			}
			out = append(out, o)
		}
		return strings.Join(out, ", ")
	}
	ask(0)
	timer := time.NewTimer(next)
	defer timer.Stop()
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			outcomes[a.i] = a.outcome
			if len(a.addrs) > 0 {
				return a.addrs, ""
			}
			if a.definite {
				return nil, seen()
			}
			if asked < len(r.servers) { // a failing server hands over at once
				ask(asked)
				timer.Reset(next)
			}
		case <-timer.C:
			if asked < len(r.servers) {
				ask(asked)
				timer.Reset(next)
			}
		}
	}
	return nil, seen()
}

// ask asks one server for the A and AAAA records of fqdn, in parallel. It
// returns the addresses found, or what the server did; definite says the
// answer stands (NXDOMAIN or no records) and no other server need be asked.
func (r *resolver) ask(ctx context.Context, server, fqdn string) (addrs []netip.Addr, outcome string, definite bool) {
	start := time.Now()
	var (
		wg     sync.WaitGroup
		res    [2][]netip.Addr
		rcodes [2]int
		errs   [2]error
		qtypes = [2]uint16{dns.TypeA, dns.TypeAAAA}
	)
	for i, qt := range qtypes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], rcodes[i], errs[i] = r.exchange(ctx, server, fqdn, qt)
		}()
	}
	wg.Wait()
	if addrs = append(res[0], res[1]...); len(addrs) > 0 {
		return addrs, "", true
	}
	// Describe the most telling outcome: an error or a failure rcode beats
	// NXDOMAIN, which beats NODATA.
	for i := range qtypes {
		switch {
		case errs[i] != nil && isTimeout(errs[i]):
			return nil, fmt.Sprintf("no answer from %s in %v", server, time.Since(start).Round(100*time.Millisecond)), false
		case errors.Is(errs[i], syscall.ECONNREFUSED):
			return nil, "connection refused by " + server, false
		case errs[i] != nil:
			return nil, fmt.Sprintf("%s querying %s", errs[i], server), false
		case rcodes[i] != dns.RcodeSuccess && rcodes[i] != dns.RcodeNameError:
			return nil, fmt.Sprintf("%s from %s", dns.RcodeToString[rcodes[i]], server), false
		}
	}
	if rcodes[0] == dns.RcodeNameError || rcodes[1] == dns.RcodeNameError {
		return nil, "NXDOMAIN from " + server, true
	}
	return nil, "no A or AAAA records from " + server, true
}

// exchange sends one question over UDP, retrying over TCP when the answer is
// truncated, and returns the addresses of the answer section (the server
// follows CNAMEs for us), the rcode, or a network error.
func (r *resolver) exchange(ctx context.Context, server, fqdn string, qtype uint16) ([]netip.Addr, int, error) {
	m := new(dns.Msg)
	m.SetQuestion(fqdn, qtype)
	m.RecursionDesired = true
	qctx, cancel := context.WithTimeout(ctx, r.queryTimeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.queryTimeout}
	in, err := exchangeOnce(qctx, c, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, err = exchangeOnce(qctx, c, m, server)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			err = errTimeout // the question's time, or the attempt's, ran out
		}
		return nil, 0, err
	}
	var addrs []netip.Addr
	for _, rr := range in.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(rr.A); ok {
				addrs = append(addrs, a.Unmap())
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(rr.AAAA); ok {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs, in.Rcode, nil
}

// exchangeOnce sends m to server and reads the answer. miekg/dns heeds only
// the context's deadline; the connection is also closed when ctx is
// canceled, so a question another server answered first ends at once.
func exchangeOnce(ctx context.Context, c *dns.Client, m *dns.Msg, server string) (*dns.Msg, error) {
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	in, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return in, err
}

// errTimeout is an exchange that got no answer in its time.
var errTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// formatAddrs renders addresses as "[a b]" in a stable order.
func formatAddrs(addrs []netip.Addr) string {
	s := slices.Clone(addrs)
	slices.SortFunc(s, func(a, b netip.Addr) int { return a.Compare(b) })
	s = slices.Compact(s)
	parts := make([]string, len(s))
	for i, a := range s {
		parts[i] = a.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}
