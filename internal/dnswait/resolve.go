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

// resolver looks names up in the hosts file, then with miekg/dns against a
// fixed list of servers, honouring the search list and ndots of resolv.conf.
type resolver struct {
	servers      []string
	search       []string
	ndots        int
	hostsPath    string
	queryTimeout time.Duration
}

func newResolver(cfg *Config) (*resolver, error) {
	r := &resolver{hostsPath: cfg.HostsPath, queryTimeout: cfg.AttemptTimeout, ndots: 1}
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
		for _, s := range cc.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
		}
	case len(cfg.Resolvers) == 0:
		return nil, fmt.Errorf("reading resolvers from %s: %w", rcPath, err)
	}
	// Explicit resolvers replace the file's servers; its search list and ndots
	// still apply.
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
	return r, nil
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
		if expired(ctx) { // the attempt ended, not the server's fault
			return nil, context.DeadlineExceeded
		}
		outcomes = append(outcomes, outcome)
	}
	return nil, errors.New(summarize(cands, outcomes))
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

// query asks the servers in order for the A and AAAA records of fqdn, moving
// to the next server on SERVFAIL, REFUSED or a network error. It returns the
// addresses found, or a description of the last outcome.
func (r *resolver) query(ctx context.Context, fqdn string) ([]netip.Addr, string) {
	var outcome string
	for _, server := range r.servers {
		var (
			wg       sync.WaitGroup
			res      [2][]netip.Addr
			rcodes   [2]int
			errs     [2]error
			qtypes   = [2]uint16{dns.TypeA, dns.TypeAAAA}
			definite = true
		)
		for i, qt := range qtypes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], rcodes[i], errs[i] = r.exchange(ctx, server, fqdn, qt)
			}()
		}
		wg.Wait()
		addrs := append(res[0], res[1]...)
		if len(addrs) > 0 {
			return addrs, ""
		}
		// Describe the most telling outcome: an error or a failure rcode beats
		// NXDOMAIN, which beats NODATA.
		outcome = ""
		for i := range qtypes {
			switch {
			case errs[i] != nil:
				outcome = fmt.Sprintf("%s querying %s", errs[i], server)
				definite = false
			case rcodes[i] != dns.RcodeSuccess && rcodes[i] != dns.RcodeNameError:
				outcome = fmt.Sprintf("%s from %s", dns.RcodeToString[rcodes[i]], server)
				definite = false
			}
			if !definite {
				break
			}
		}
		if definite {
			if rcodes[0] == dns.RcodeNameError || rcodes[1] == dns.RcodeNameError {
				outcome = "NXDOMAIN from " + server
			} else {
				outcome = "no A or AAAA records from " + server
			}
			return nil, outcome
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, outcome
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
	in, _, err := c.ExchangeContext(qctx, m, server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(qctx, m, server)
	}
	if err != nil {
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() {
			return nil, 0, errors.New("timeout")
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
