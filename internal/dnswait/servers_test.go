package dnswait_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/dnswait/dnstest"
	"github.com/taskkit/taskkit/internal/logging"
)

// TestNameserverFailover is the regression table of one kind of fault: one
// nameserver that never answers, refuses or fails starved the others, as
// every question gave it the whole attempt and asked the servers after it
// only then (repro h48/01: -resolvers dead,live never resolved, and said
// only "context deadline exceeded"). A server has NextServerDelay (or its
// resolv.conf timeout, when shorter) before the next one is asked too, a
// failing one hands over at once, and a wait that cannot pass names what
// each server did.
func TestNameserverFailover(t *testing.T) {
	tests := []struct {
		name    string
		servers []string // silent (never answers), closed (port refuses), refused (REFUSED), servfail, live
		options string   // resolv.conf options line
		target  string   // "" = the host web.svc.test; else a tcp:// target on it
		record  bool     // the live server has web.svc.test
		want    []string // nil = passes; else in the pending error ({silent} etc.: the server's address)
	}{
		{name: "silent first", servers: []string{"silent", "live"}, record: true},
		{name: "silent first, tcp target", servers: []string{"silent", "live"}, target: "tcp", record: true},
		{name: "two silent first", servers: []string{"silent", "silent2", "live"}, record: true},
		{name: "closed port first", servers: []string{"closed", "live"}, record: true},
		{name: "REFUSED first", servers: []string{"refused", "live"}, record: true},
		{name: "SERVFAIL first", servers: []string{"servfail", "live"}, record: true},
		{name: "silent first, resolv.conf timeout:1", servers: []string{"silent", "live"}, options: "options timeout:1", record: true},
		{name: "silent first, rotate", servers: []string{"silent", "live"}, options: "options rotate", record: true},
		{name: "nothing has the name: each server named", servers: []string{"silent", "closed", "refused", "live"},
			want: []string{"web.svc.test: no answer from {silent} in ", ", connection refused by {closed}, REFUSED from {refused}, NXDOMAIN from {live}"}},
		{name: "tcp target, nothing has the name", servers: []string{"silent", "live"}, target: "tcp",
			want: []string{"web.svc.test: no answer from {silent} in ", "s, NXDOMAIN from {live}"}},
		{name: "only silent servers, timeout:1", servers: []string{"silent", "silent2"}, options: "options timeout:1",
			// The time each took is as measured (1s, or 1.1s on a loaded
			// machine): the servers and what they did are the point.
			want: []string{"web.svc.test: no answer from {silent} in 1", "s, no answer from {silent2} in 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			e := newEnv(t, "nameserver 127.0.0.1\n"+tt.options+"\n")
			live := e.srv
			if tt.record {
				live.Set("web.svc.test", "127.0.0.1")
			}
			addrs := map[string]string{"live": live.Addr}
			var resolvers []string
			for _, kind := range tt.servers {
				var addr string
				switch kind {
				case "live":
					addr = live.Addr
				case "silent", "silent2":
					pc, err := net.ListenPacket("udp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { pc.Close() })
					addr = pc.LocalAddr().String()
				case "closed":
					pc, err := net.ListenPacket("udp", "127.0.0.1:0")
					if err != nil {
						t.Fatal(err)
					}
					addr = pc.LocalAddr().String()
					pc.Close()
				case "refused", "servfail":
					srv, err := dnstest.Start()
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(srv.Close)
					rcode := dns.RcodeRefused
					if kind == "servfail" {
						rcode = dns.RcodeServerFailure
					}
					srv.SetRcode("web.svc.test", rcode)
					addr = srv.Addr
				}
				addrs[kind] = addr
				resolvers = append(resolvers, addr)
			}
			cfg := e.base
			cfg.Resolvers = resolvers
			if tt.target == "tcp" {
				cfg.Targets = targets(t, "tcp://web.svc.test:"+listening(t))
			} else {
				cfg.Hosts = []string{"web.svc.test"}
			}
			cfg.Timeout = 10 * time.Second
			if tt.want != nil {
				cfg.Timeout = 2500 * time.Millisecond
			}
			start := time.Now()
			err := dnswait.Wait(context.Background(), cfg, logging.Discard())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("wait failed: %v", err)
				}
				// Were the live server never asked, the wait would end
				// failed at cfg.Timeout (10 s); asked after one or two
				// head starts of NextServerDelay, it passes in ~1-2 s.
				if took := time.Since(start); took > 7*time.Second {
					t.Errorf("took %v: the live server was not asked after the failing one", took)
				}
				return
			}
			if err == nil {
				t.Fatal("wait passed")
			}
			for _, w := range tt.want {
				for k, v := range addrs {
					w = strings.ReplaceAll(w, "{"+k+"}", v)
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks\n%s", err, w)
				}
			}
			if strings.Contains(err.Error(), "deadline exceeded") {
				t.Errorf("error hides what the servers did: %v", err)
			}
		})
	}
}

// listening returns the port of a loopback listener that accepts until the
// test ends.
func listening(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go acceptAll(ln)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestRotate: with resolv.conf's "options rotate" each question starts at
// the next server in turn (glibc's round robin); without it, at the first.
func TestRotate(t *testing.T) {
	for _, tt := range []struct {
		options    string
		wantSecond int // questions (A and AAAA) the second server gets for two names
	}{
		{"", 0},
		{"options rotate", 2},
	} {
		t.Run("options="+tt.options, func(t *testing.T) {
			e := newEnv(t, "nameserver 127.0.0.1\n"+tt.options+"\n")
			second, err := dnstest.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(second.Close)
			for _, s := range []*dnstest.Server{e.srv, second} {
				s.Set("a.svc.test", "10.0.0.1")
				s.Set("b.svc.test", "10.0.0.2")
			}
			cfg := e.base
			cfg.Resolvers = []string{e.srv.Addr, second.Addr}
			cfg.Hosts = []string{"a.svc.test", "b.svc.test"}
			cfg.Timeout = 10 * time.Second
			if err := dnswait.Wait(context.Background(), cfg, logging.Discard()); err != nil {
				t.Fatal(err)
			}
			if got, first := len(second.Queries("")), len(e.srv.Queries("")); got != tt.wantSecond || first != 4-tt.wantSecond {
				t.Errorf("servers got %d and %d questions, want %d and %d", first, got, 4-tt.wantSecond, tt.wantSecond)
			}
		})
	}
}
