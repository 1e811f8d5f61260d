package dnswait_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/dial/dialtest"
	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/logging"
)

// TestWaitRacesAddresses is the regression table of one kind of fault: a
// wait whose attempt spends its whole budget on one address that never
// answers, so a name's live address is never tried
// (letsencrypt/boulder#2897, field case 03). A name resolves (through the
// test DNS server, as -resolvers would) to silent, refusing and live
// addresses; tcp:// and http:// waits must pass within a few attempts, and
// a wait that cannot pass must name each address and what it did, never the
// DNS server that answered.
func TestWaitRacesAddresses(t *testing.T) {
	tests := []struct {
		name   string
		scheme string   // tcp or http
		addrs  []string // kind@ip in DNS order: live, silent, refused
		pass   bool
		want   []string // in the pending error (PORT replaced)
	}{
		{"tcp: silent first", "tcp", []string{"silent@127.0.0.2", "live@127.0.0.1"}, true, nil},
		{"tcp: two silent first", "tcp", []string{"silent@127.0.0.2", "silent@127.0.0.3", "live@127.0.0.1"}, true, nil},
		{"tcp: silent IPv6, live IPv4", "tcp", []string{"silent@::1", "live@127.0.0.1"}, true, nil},
		{"tcp: silent IPv4, live IPv6", "tcp", []string{"silent@127.0.0.2", "live@::1"}, true, nil},
		{"http: silent first", "http", []string{"silent@127.0.0.2", "live@127.0.0.1"}, true, nil},
		{"http: refused first", "http", []string{"refused@127.0.0.4", "live@127.0.0.1"}, true, nil},
		{"tcp: nothing answers, each address named", "tcp", []string{"silent@127.0.0.2", "refused@127.0.0.4"}, false,
			[]string{"127.0.0.2:PORT: no answer", "127.0.0.4:PORT: connection refused"}},
		{"http: nothing answers, each address named", "http", []string{"silent@127.0.0.2", "silent@127.0.0.3"}, false,
			[]string{"127.0.0.2:PORT: no answer", "127.0.0.3:PORT: no answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := uint16(ln.Addr().(*net.TCPAddr).Port)
			ln.Close()
			var ips []string
			for _, a := range tt.addrs {
				kind, s, _ := strings.Cut(a, "@")
				ap := netip.AddrPortFrom(netip.MustParseAddr(s), port)
				ips = append(ips, s)
				switch kind {
				case "live":
					l, err := net.Listen("tcp", ap.String())
					if err != nil {
						t.Skipf("cannot listen on %s: %v", ap, err)
					}
					srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
					go srv.Serve(l)
					t.Cleanup(func() { srv.Close() })
				case "silent":
					dialtest.Blackhole(t, ap)
				}
			}
			e.srv.Set("multi.svc.test", ips...)
			cfg := e.base
			target := tt.scheme + "://multi.svc.test:" + strconv.Itoa(int(port))
			if tt.scheme == "http" {
				target += "/health"
			}
			cfg.Targets = targets(t, target)
			cfg.Timeout = 3 * time.Second
			if !tt.pass {
				cfg.Timeout = 2500 * time.Millisecond
			}
			start := time.Now()
			err = dnswait.Wait(context.Background(), cfg, logging.Discard())
			if tt.pass {
				if err != nil {
					t.Fatalf("wait failed: %v", err)
				}
				if took := time.Since(start); took > 1500*time.Millisecond {
					t.Errorf("took %v: the live address was not raced", took)
				}
				return
			}
			if err == nil {
				t.Fatal("wait passed")
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "PORT", strconv.Itoa(int(port)))
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), e.srv.Addr) || strings.Contains(err.Error(), "querying") {
				t.Errorf("error blames the DNS server, which answered: %v", err)
			}
		})
	}
}
