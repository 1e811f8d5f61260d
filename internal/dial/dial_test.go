package dial

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
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
// it under a deadline: 2 s where nothing answers, else one only a dial
// giving an address the whole deadline reaches. Each row's maxTime tells
// what it must do apart from the slower thing it must not (wait for the
// deadline, or for the AttemptDelay after a refusal) by seconds, so that a
// loaded machine does not fail it.
func TestRace(t *testing.T) {
	const (
		noAnswer = 2 * time.Second  // the deadline of the rows where nothing answers
		never    = 30 * time.Second // the deadline of the others
		slack    = 10 * time.Second // room for a loaded machine
	)
	const (
		live    = "live"
		refused = "refused"
		silent  = "silent"
	)
	tests := []struct {
		name    string
		addrs   []string // kind@ip, in resolver order
		wantOK  bool
		wantIn  []string      // in the error
		maxTime time.Duration // from the start of the dial
		delay   time.Duration // the Dialer's AttemptDelay; 0: the default (250 ms)
	}{
		// Live after silent ones: after an AttemptDelay each, not at the deadline.
		{"silent first, live second", []string{silent + "@127.0.0.2", live + "@127.0.0.1"}, true, nil, never - slack, 0},
		{"two silent, then live", []string{silent + "@127.0.0.2", silent + "@127.0.0.3", live + "@127.0.0.1"}, true, nil, never - slack, 0},
		// At once, not after an AttemptDelay of a whole deadline.
		{"refused first moves on at once", []string{refused + "@127.0.0.4", live + "@127.0.0.1"}, true, nil, never - slack, never},
		{"dual stack: silent IPv6, live IPv4", []string{silent + "@::1", live + "@127.0.0.1"}, true, nil, never - slack, 0},
		{"dual stack: silent IPv4, live IPv6", []string{silent + "@127.0.0.2", live + "@::1"}, true, nil, never - slack, 0},
		{"all refused: each named", []string{refused + "@127.0.0.4", refused + "@127.0.0.5"}, false,
			[]string{"127.0.0.4:PORT: connection refused", "127.0.0.5:PORT: connection refused"}, never - slack, 0},
		// At the deadline, not when the kernel gives up on the silent SYNs (minutes).
		{"all silent: each named as pending, not the resolver", []string{silent + "@127.0.0.2", silent + "@127.0.0.3"}, false,
			[]string{"timed out", "127.0.0.2:PORT: no answer", "127.0.0.3:PORT: no answer"}, noAnswer + slack, 0},
		{"silent and refused", []string{silent + "@127.0.0.2", refused + "@127.0.0.4"}, false,
			[]string{"127.0.0.2:PORT: no answer", "127.0.0.4:PORT: connection refused"}, noAnswer + slack, 0},
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
			d := &Dialer{Resolve: func(context.Context, string) ([]netip.Addr, error) { return ips, nil }, AttemptDelay: tt.delay}
			deadline := never
			if !tt.wantOK && slices.ContainsFunc(tt.addrs, func(a string) bool { return strings.HasPrefix(a, silent+"@") }) {
				deadline = noAnswer // nothing answers: the dial ends at it
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
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
