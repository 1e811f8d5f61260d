package dnstest

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestArrivalIsTheSendTime: a UDP query the server reads late (here: its
// log is locked while the query waits in the socket's queue) is logged with
// the time it was sent, not the time it was read, so rate tests count what
// the client did and not when a loaded machine ran the server.
func TestArrivalIsTheSendTime(t *testing.T) {
	srv, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("udp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion("late.svc.test.", dns.TypeA)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}

	srv.mu.Lock() // the server reads the query, then waits for this
	before := time.Now()
	if _, err := c.Write(b); err != nil {
		srv.mu.Unlock()
		t.Fatal(err)
	}
	after := time.Now()
	time.Sleep(200 * time.Millisecond) // the server reads late: its read is after this
	srv.mu.Unlock()

	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Read(make([]byte, 512)); err != nil {
		t.Fatalf("no answer: %v", err)
	}
	qs := srv.Queries("late.svc.test")
	if len(qs) != 1 {
		t.Fatalf("queries %v", qs)
	}
	if at := qs[0].At; at.Before(before.Round(0)) || at.After(after.Round(0)) {
		t.Errorf("logged at %s, sent between %s and %s", at.Format(time.StampMicro), before.Format(time.StampMicro), after.Format(time.StampMicro))
	}
}
