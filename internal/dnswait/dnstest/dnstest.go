// Package dnstest runs a small authoritative DNS server on loopback for tests
// and benchmarks: github.com/miekg/dns serving UDP and TCP on the same
// 127.0.0.1 port, answering A and AAAA queries from a record table that can be
// changed while the server runs.
//
// A name with no records gets NXDOMAIN; a name with records of the other family
// only gets NOERROR with an empty answer (NODATA); a name given an rcode with
// SetRcode gets that rcode (SERVFAIL, for example). Names are case-insensitive
// and may be given with or without the trailing dot.
//
// Every query is logged with its arrival time, so tests can count how often a
// client asked for a name.
//
//	srv, err := dnstest.Start()
//	if err != nil { t.Fatal(err) }
//	defer srv.Close()
//	srv.Set("web-0.svc.test", "10.0.0.1", "fd00::1")
//	// point a resolver at srv.Addr
package dnstest

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// TTL is the time to live of every answer, in seconds. It is 0 so that no
// cache between client and server could hide a change.
const TTL = 0

// Query is one question the server received.
type Query struct {
	Name string    // lower-case, fully qualified
	Type uint16    // dns.TypeA, dns.TypeAAAA, ...
	Net  string    // "udp" or "tcp"
	At   time.Time // arrival time
}

// Server is a running DNS server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the "127.0.0.1:port" the server listens on, for UDP and TCP.
	Addr string

	udp, tcp *dns.Server
	served   sync.WaitGroup

	mu      sync.Mutex
	records map[string][]netip.Addr
	rcodes  map[string]int
	queries []Query            // all, oldest first
	byName  map[string][]Query // the same, per name
}

// Start listens on a free 127.0.0.1 port (UDP and TCP) and serves until Close.
func Start() (*Server, error) {
	// Find a port free for both protocols: take a UDP port, then try TCP on it.
	for attempt := 0; attempt < 20; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		return serve(pc, ln), nil
	}
	return nil, fmt.Errorf("dnstest: no free port for both udp and tcp on 127.0.0.1")
}

func serve(pc net.PacketConn, ln net.Listener) *Server {
	s := &Server{
		Addr:    pc.LocalAddr().String(),
		records: map[string][]netip.Addr{},
		rcodes:  map[string]int{},
		byName:  map[string][]Query{},
	}
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.handle), NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: ln, Handler: dns.HandlerFunc(s.handle), NotifyStartedFunc: notify}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			_ = srv.ActivateAndServe() // returns when Close shuts it down
		}()
	}
	<-started
	<-started
	return s
}

// Close stops the server and waits for its goroutines to end.
func (s *Server) Close() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
	s.served.Wait()
}

func key(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// Set replaces the records of name with addrs (IPv4 addresses answer A
// queries, IPv6 addresses AAAA queries) and clears any rcode set for it.
// Set with no addresses is Remove. It panics on an address that does not parse,
// as that is a bug in the test.
func (s *Server) Set(name string, addrs ...string) {
	parsed := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		parsed = append(parsed, netip.MustParseAddr(a))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rcodes, key(name))
	if len(parsed) == 0 {
		delete(s.records, key(name))
		return
	}
	s.records[key(name)] = parsed
}

// Remove deletes the records and rcode of name, so it gets NXDOMAIN again.
func (s *Server) Remove(name string) { s.Set(name) }

// SetRcode makes every query for name answer with rcode (for example
// dns.RcodeServerFailure) until Set or Remove is called for it.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcodes[key(name)] = rcode
}

// Queries returns the queries received so far for name, oldest first; an
// empty name returns every query.
func (s *Server) Queries(name string) []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		return slices.Clone(s.queries)
	}
	return slices.Clone(s.byName[key(name)])
}

func (s *Server) handle(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := key(q.Name)
	netw := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		netw = "tcp"
	}

	s.mu.Lock()
	rec := Query{Name: name, Type: q.Qtype, Net: netw, At: time.Now()}
	s.queries = append(s.queries, rec)
	s.byName[name] = append(s.byName[name], rec)
	rcode, hasRcode := s.rcodes[name]
	addrs := s.records[name]
	s.mu.Unlock()

	switch {
	case hasRcode:
		m.Rcode = rcode
	case len(addrs) == 0:
		m.Rcode = dns.RcodeNameError
	default:
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: TTL}
		for _, a := range addrs {
			switch {
			case q.Qtype == dns.TypeA && a.Is4():
				hdr.Rrtype = dns.TypeA
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			case q.Qtype == dns.TypeAAAA && a.Is6() && !a.Is4In6():
				hdr.Rrtype = dns.TypeAAAA
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			}
		}
	}
	_ = w.WriteMsg(m)
}
