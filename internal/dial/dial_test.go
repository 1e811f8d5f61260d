package dial

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/dial/dialtest"
)

// TestRace is the regression table of one kind of fault: a dial that gives
// one address the whole deadline while another would answer
// (letsencrypt/boulder#2897, field case 03). Each row resolves a name to
// some live, refusing and silent (SYN-dropping) loopback addresses and dials
// it under a 2 s deadline.
func TestRace(t *testing.T) {
	const (
		live    = "live"
		refused = "refused"
		silent  = "silent"
	)
	tests := []struct {
		name    string
		addrs   []string // kind@ip, in resolver order
		wantOK  bool
		wantIn  []string // in the error
		maxTime time.Duration
	}{
		{"silent first, live second", []string{silent + "@127.0.0.2", live + "@127.0.0.1"}, true, nil, time.Second},
		{"two silent, then live", []string{silent + "@127.0.0.2", silent + "@127.0.0.3", live + "@127.0.0.1"}, true, nil, 1500 * time.Millisecond},
		{"refused first moves on at once", []string{refused + "@127.0.0.4", live + "@127.0.0.1"}, true, nil, 200 * time.Millisecond},
		{"dual stack: silent IPv6, live IPv4", []string{silent + "@::1", live + "@127.0.0.1"}, true, nil, time.Second},
		{"dual stack: silent IPv4, live IPv6", []string{silent + "@127.0.0.2", live + "@::1"}, true, nil, time.Second},
		{"all refused: each named", []string{refused + "@127.0.0.4", refused + "@127.0.0.5"}, false,
			[]string{"127.0.0.4:PORT: connection refused", "127.0.0.5:PORT: connection refused"}, time.Second},
		{"all silent: each named as pending, not the resolver", []string{silent + "@127.0.0.2", silent + "@127.0.0.3"}, false,
			[]string{"timed out", "127.0.0.2:PORT: no answer", "127.0.0.3:PORT: no answer"}, 2500 * time.Millisecond},
		{"silent and refused", []string{silent + "@127.0.0.2", refused + "@127.0.0.4"}, false,
			[]string{"127.0.0.2:PORT: no answer", "127.0.0.4:PORT: connection refused"}, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One port for every address, as one name with several records.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := uint16(ln.Addr().(*net.TCPAddr).Port)
			ln.Close()
			var ips []netip.Addr
			for _, a := range tt.addrs {
				kind, s, _ := strings.Cut(a, "@")
				ip := netip.MustParseAddr(s)
				ips = append(ips, ip)
				ap := netip.AddrPortFrom(ip, port)
				switch kind {
				case live:
					l, err := net.Listen("tcp", ap.String())
					if err != nil {
						t.Skipf("cannot listen on %s here: %v", ap, err)
					}
					defer l.Close()
					go func() {
						for {
							c, err := l.Accept()
							if err != nil {
								return
							}
							c.Close()
						}
					}()
				case silent:
					dialtest.Blackhole(t, ap)
				}
			}
			d := &Dialer{Resolve: func(context.Context, string) ([]netip.Addr, error) { return ips, nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("dual.test", strconv.Itoa(int(port))))
			took := time.Since(start)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("dial failed: %v", err)
				}
				c.Close()
			} else {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("error %T %v, want *Error", err, err)
				}
				for _, w := range tt.wantIn {
					w = strings.ReplaceAll(w, "PORT", strconv.Itoa(int(port)))
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "DNS") || strings.Contains(err.Error(), "resolv") {
					t.Errorf("error blames the resolver: %v", err)
				}
			}
			if took > tt.maxTime {
				t.Errorf("took %v, want at most %v", took, tt.maxTime)
			}
		})
	}
}

func TestResolverErrorPassesThrough(t *testing.T) {
	want := errors.New("NXDOMAIN from 10.0.0.2:53")
	d := &Dialer{Resolve: func(context.Context, string) ([]netip.Addr, error) { return nil, want }}
	_, err := d.DialContext(context.Background(), "tcp", "x.test:80")
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want the resolver's", err)
	}
}

func TestInterleave(t *testing.T) {
	in := []netip.Addr{
		netip.MustParseAddr("::1"), netip.MustParseAddr("::2"), netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::3"), netip.MustParseAddr("10.0.0.2"),
	}
	var got []string
	for _, a := range interleave(in) {
		got = append(got, a.String())
	}
	if want := "::1 10.0.0.1 ::2 10.0.0.2 ::3"; strings.Join(got, " ") != want {
		t.Errorf("interleave = %v, want %s", got, want)
	}
}

func TestLiteralRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := (&Dialer{}).DialContext(context.Background(), "tcp", addr)
	if err == nil || err.Error() != addr+": connection refused" {
		t.Errorf("error %v, want %q", err, addr+": connection refused")
	}
}
