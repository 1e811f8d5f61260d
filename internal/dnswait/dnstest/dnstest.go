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
// client asked for a name. A UDP query's arrival time is the kernel's receive
// timestamp (SO_TIMESTAMPNS), taken on loopback while the client's send runs:
// when the machine is loaded and the server reads its queue late, the queries
// it then reads together still keep the times they were sent at.
//
//	srv, err := dnstest.Start()
//	if err != nil { t.Fatal(err) }
//	defer srv.Close()
//	srv.Set("web-0.svc.test", "10.0.0.1", "fd00::1")
//	// point a resolver at srv.Addr
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TTL is the time to live of every answer, in seconds. It is 0 so that no
// cache between client and server could hide a change.
const TTL = 0

// Query is one question the server received.
type Query struct {
	Name string    // lower-case, fully qualified
	Type uint16    // dns.TypeA, dns.TypeAAAA, ...
	Net  string    // "udp" or "tcp"
	At   time.Time // arrival time: the kernel's receive timestamp over UDP, the read's time over TCP
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
	arrived map[udpKey]time.Time
}

// udpKey names one UDP query between its read, which knows its kernel
// timestamp, and its handling: the client's address and the message ID.
type udpKey struct {
	from string
	id   uint16
}

// Start listens on a free 127.0.0.1 port (UDP and TCP) and serves until Close.
func Start() (*Server, error) {
	// Find a port free for both protocols: take a UDP port, then try TCP on it.
	for attempt := 0; attempt < 20; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		if err := stampReceives(pc.(*net.UDPConn)); err != nil {
			pc.Close()
			return nil, fmt.Errorf("dnstest: turning on receive timestamps (SO_TIMESTAMPNS): %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		return serve(pc.(*net.UDPConn), ln), nil
	}
	return nil, fmt.Errorf("dnstest: no free port for both udp and tcp on 127.0.0.1")
}

func serve(pc *net.UDPConn, ln net.Listener) *Server {
	s := &Server{
		Addr:    pc.LocalAddr().String(),
		records: map[string][]netip.Addr{},
		rcodes:  map[string]int{},
		byName:  map[string][]Query{},
		arrived: map[udpKey]time.Time{},
	}
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: stampedConn{UDPConn: pc, s: s}, Handler: dns.HandlerFunc(s.handle), NotifyStartedFunc: notify}
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
	qs := slices.Clone(s.queries)
	if name != "" {
		qs = slices.Clone(s.byName[key(name)])
	}
	s.mu.Unlock()
	// Queries handled concurrently are logged in the order their handlers
	// ran; their times say when they came.
	slices.SortStableFunc(qs, func(a, b Query) int { return a.At.Compare(b.At) })
	return qs
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
	if k := (udpKey{w.RemoteAddr().String(), r.Id}); netw == "udp" {
		if at, ok := s.arrived[k]; ok {
			rec.At = at
			delete(s.arrived, k)
		}
	}
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

// stampedConn is the server's UDP socket with kernel receive timestamps
// (SO_TIMESTAMPNS) turned on: ReadFrom notes each message's timestamp for
// handle, which logs it as the query's arrival time. Where the kernel gives
// none, the read's time stands in.
type stampedConn struct {
	*net.UDPConn
	s *Server
}

// stampReceives turns SO_TIMESTAMPNS on for u and returns once the kernel
// stamps datagrams as they are sent. Linux enables that for the first socket
// asking only later, from a work queue (net_enable_timestamp); until then
// it stamps a datagram when it is read. So u gets probes from a socket of
// its own until one carries a stamp from before it was read; u must not be
// served yet.
func stampReceives(u *net.UDPConn) error {
	raw, err := u.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	probe, err := net.DialUDP("udp", nil, u.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return err
	}
	defer probe.Close()
	defer u.SetReadDeadline(time.Time{})
	b, oob := make([]byte, 16), make([]byte, stampSpace)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := probe.Write([]byte("probe")); err != nil {
			return err
		}
		sent := time.Now().Round(0) // the wall clock, as the kernel's stamp
		u.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, oobn, _, _, err := u.ReadMsgUDP(b, oob)
		if err != nil {
			return fmt.Errorf("reading a probe: %w", err)
		}
		if at, ok := kernelStamp(oob[:oobn]); ok && !at.After(sent) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("datagrams still stamped when read, not when sent, after 10 s")
		}
		time.Sleep(10 * time.Millisecond) // the work queue's turn
	}
}

// stampSpace is the room a receive timestamp takes among a datagram's
// control messages.
var stampSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// kernelStamp is the SCM_TIMESTAMPNS among a datagram's control messages.
func kernelStamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}

// ReadFrom implements net.PacketConn for miekg/dns's reader.
func (c stampedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	oob := make([]byte, stampSpace)
	n, oobn, _, from, err := c.ReadMsgUDP(b, oob)
	if err != nil {
		return n, nil, err
	}
	at, ok := kernelStamp(oob[:oobn])
	if !ok {
		at = time.Now()
	}
	if n >= 2 {
		c.s.mu.Lock()
		c.s.arrived[udpKey{from.String(), uint16(b[0])<<8 | uint16(b[1])}] = at
		c.s.mu.Unlock()
	}
	return n, from, nil
}
