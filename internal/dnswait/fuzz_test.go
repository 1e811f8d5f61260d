package dnswait

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/miekg/dns"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
)

// answerServer answers every DNS query, over UDP and TCP on one loopback
// port, with the bytes it holds, the query's ID written over their first
// two. An answer longer than a UDP answer may be (512 bytes without EDNS)
// goes over UDP as a bare truncated header, so the client asks again over
// TCP and gets all of it. It keeps what it sent since the answer was set:
// the ID changes what a message means (a compression pointer to offset 0
// reads it as a name).
type answerServer struct {
	addr   string
	answer atomic.Pointer[[]byte]
	pc     net.PacketConn
	ln     net.Listener
	wg     sync.WaitGroup

	mu   sync.Mutex
	sent []sentReply
}

// sentReply is one reply an answerServer sent.
type sentReply struct {
	msg []byte
	udp bool
}

// set makes answer the reply to every query from now on.
func (s *answerServer) set(answer []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer.Store(&answer)
	s.sent = nil
}

// replies returns what the server sent since the answer was set.
func (s *answerServer) replies() []sentReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

func startAnswerServer(tb testing.TB) *answerServer {
	tb.Helper()
	s := &answerServer{}
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		s.pc, s.ln, s.addr = pc, ln, pc.LocalAddr().String()
		break
	}
	if s.pc == nil {
		tb.Fatal("no port free for both UDP and TCP")
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	tb.Cleanup(func() { s.pc.Close(); s.ln.Close(); s.wg.Wait() })
	return s
}

// reply is the answer to the query q: the held bytes with q's ID.
func (s *answerServer) reply(q []byte, udp bool) []byte {
	a := *s.answer.Load()
	if len(q) < 2 {
		return nil
	}
	if udp && len(a) > dns.MinMsgSize {
		return []byte{q[0], q[1], 0x82, 0, 0, 0, 0, 0, 0, 0, 0, 0} // QR, TC
	}
	out := append([]byte(nil), a...)
	copy(out, q[:min(2, len(out))])
	s.mu.Lock()
	s.sent = append(s.sent, sentReply{out, udp})
	s.mu.Unlock()
	return out
}

func (s *answerServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.pc.WriteTo(s.reply(buf[:n], true), from)
	}
}

func (s *answerServer) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			var n [2]byte
			for {
				if _, err := c.Read(n[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(n[:]))
				if _, err := c.Read(q); err != nil {
					return
				}
				a := s.reply(q, false)
				c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...))
			}
		}()
	}
}

// FuzzAnswer answers the A and AAAA queries of a lookup with fuzzed DNS
// messages (over TCP when they are longer than UDP allows). Properties:
//   - the lookup ends within its query timeout;
//   - it finds exactly the A and AAAA addresses of the answer section, as
//     miekg/dns unpacks the message (IPv4-mapped IPv6 kept as IPv6), and
//     fails when there are none or the message does not unpack;
//   - its error is one line of text;
//   - at most 16 MiB allocated per answer (a DNS message is at most
//     64 KiB: the budget test's size).
func FuzzAnswer(f *testing.F) {
	for _, rrs := range [][]string{
		{"web.svc.test. 0 IN A 10.0.0.1"},
		{"web.svc.test. 0 IN AAAA fd00::1", "web.svc.test. 0 IN A 10.0.0.2"},
		{"web.svc.test. 0 IN CNAME real.svc.test.", "real.svc.test. 0 IN A 10.0.0.3"},
		{"web.svc.test. 0 IN AAAA ::ffff:10.0.0.4"},
		{"web.svc.test. 0 IN TXT \"not an address\""},
		{},
	} {
		for _, rcode := range []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeServerFailure} {
			f.Add(answerOf(f, rcode, false, rrs...))
		}
		f.Add(answerOf(f, dns.RcodeSuccess, true, rrs...))
	}
	many := make([]string, 40) // over 512 bytes: answered over TCP
	for i := range many {
		many[i] = fmt.Sprintf("web.svc.test. 0 IN A 10.0.1.%d", i)
	}
	f.Add(answerOf(f, dns.RcodeSuccess, false, many...))
	f.Add([]byte{0, 0, 0x81})
	srv := startAnswerServer(f)
	f.Fuzz(func(t *testing.T, answer []byte) {
		if len(answer) > dns.MaxMsgSize {
			return
		}
		if len(answer) > 4<<10 {
			fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}.Check(t, "lookup", func() { checkAnswer(t, srv, answer) })
			return
		}
		checkAnswer(t, srv, answer)
	})
}

// answerOf packs an answer to web.svc.test. holding the records rrs.
func answerOf(tb testing.TB, rcode int, truncated bool, rrs ...string) []byte {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion("web.svc.test.", dns.TypeA)
	m.Response, m.Rcode, m.Truncated, m.Compress = true, rcode, truncated, true
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func checkAnswer(t *testing.T, srv *answerServer, answer []byte) {
	const timeout = 2 * time.Second
	srv.set(answer)
	r := &resolver{servers: []string{srv.addr}, ndots: 1, hostsPath: "/nonexistent/hosts", queryTimeout: timeout}
	start := time.Now()
	got, err := r.lookup(context.Background(), "web.svc.test")
	if d := time.Since(start); d > timeout+2*time.Second {
		t.Fatalf("the lookup took %v, past its query timeout of %v", d, timeout)
	}
	// What the client can have read: every reply that unpacks, except one
	// over UDP saying it is truncated (asked again over TCP).
	var want []netip.Addr
	for _, r := range srv.replies() {
		m := new(dns.Msg)
		if m.Unpack(r.msg) != nil || r.udp && m.Truncated {
			continue
		}
		for _, rr := range m.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(rr.A); ok {
					want = append(want, a.Unmap())
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(rr.AAAA); ok {
					want = append(want, a)
				}
			}
		}
	}
	if formatAddrs(got) != formatAddrs(want) {
		t.Fatalf("found %.200s (error %v), the answer holds %.200s", formatAddrs(got), err, formatAddrs(want))
	}
	if (err == nil) != (len(want) > 0) {
		t.Fatalf("found %.200s with error %v", formatAddrs(got), err)
	}
	if err != nil && strings.IndexFunc(err.Error(), unicode.IsControl) >= 0 {
		t.Fatalf("the error is not one line: %q", err)
	}
}

// TestAnswerBudget answers with the largest messages DNS carries (64 KiB,
// over TCP): thousands of addresses, and compression pointers each
// naming a long name again, within 16 MiB allocated.
func TestAnswerBudget(t *testing.T) {
	srv := startAnswerServer(t)
	var many []string
	for i := 0; len(many)*16 < dns.MaxMsgSize-1024; i++ {
		many = append(many, fmt.Sprintf("web.svc.test. 0 IN A 10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	b := fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}
	for name, answer := range map[string][]byte{
		"addresses": answerOf(t, dns.RcodeSuccess, false, many...),
		"garbage":   fuzzcheck.Sized([]byte{0xc0, 0x0c, 0, 1, 0, 1}, dns.MaxMsgSize-1),
	} {
		c := b.Check(t, name, func() { checkAnswer(t, srv, answer) })
		t.Logf("%s (%d bytes): %v", name, len(answer), c)
	}
}
