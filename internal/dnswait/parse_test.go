package dnswait_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/dnswait"
)

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in       string
		kind     dnswait.Kind
		addr     string
		wantErr  string
		noLeakOf string
	}{
		{in: "tcp://db:5432", kind: dnswait.KindTCP, addr: "db:5432"},
		{in: "tcp://[fd00::1]:80", kind: dnswait.KindTCP, addr: "[fd00::1]:80"},
		{in: "TCP://db:5432/", kind: dnswait.KindTCP, addr: "db:5432"},
		{in: "http://web:8080/health?x=1", kind: dnswait.KindHTTP, addr: "http://web:8080/health?x=1"},
		{in: "https://web/", kind: dnswait.KindHTTPS, addr: "https://web/"},
		{in: "file:///tmp/ready", kind: dnswait.KindFile, addr: "/tmp/ready"},
		{in: "file://localhost/tmp/ready", kind: dnswait.KindFile, addr: "/tmp/ready"},
		{in: "unix:///run/app.sock", kind: dnswait.KindUnix, addr: "/run/app.sock"},
		{in: "tcp://db", wantErr: `wait target "tcp://db": want tcp://host:port`},
		{in: "tcp://::1:5432", wantErr: `wait target "tcp://::1:5432": an IPv6 address goes in brackets: tcp://[::1]:5432`},
		{in: "tcp://fd00::7:80", wantErr: "tcp://[fd00::7]:80"},
		{in: "http://fd00::7:8080/health", wantErr: "invalid port"}, // url.Parse refuses this one itself
		// An address without a port: its last group is no port, and the
		// hint named an address that is not one ([2001:db8:], [:]).
		{in: "tcp://2001:db8::1", wantErr: `an IPv6 address goes in brackets, with a port: tcp://[2001:db8::1]:PORT`},
		{in: "tcp://::1", wantErr: `an IPv6 address goes in brackets, with a port: tcp://[::1]:PORT`},
		{in: "tcp://u:s3cret@2001:db8::1", wantErr: `tcp://[2001:db8::1]:PORT`, noLeakOf: "s3cret"},
		{in: "tcp://db::x:80", wantErr: `an IPv6 address goes in brackets: tcp://[ADDRESS]:PORT`}, // no address either way: no guess
		{in: "http://u:s3cret@fd00::7:8080/", wantErr: `"http://u:xxxxx@fd00::7:8080/"`, noLeakOf: "s3cret"},
		{in: "http://[fd00::7]/health", kind: dnswait.KindHTTP, addr: "http://[fd00::7]/health"},
		{in: "tcp://db:0", wantErr: `bad port "0"`},
		{in: "tcp://db:99999", wantErr: `bad port`},
		{in: "tcp://db:5432/path", wantErr: "only host:port"},
		{in: "http:///health", wantErr: "missing host"},
		{in: "file://tmp/ready", wantErr: "three slashes"},
		{in: "unix://", wantErr: "want unix:///absolute/path"},
		{in: "db:5432", wantErr: `wait target "db:5432": missing scheme: for a host and port, write tcp://db:5432`},
		{in: "10.0.0.7:5432", wantErr: "write tcp://10.0.0.7:5432"},
		{in: "[fd00::1]:80", wantErr: "write tcp://[fd00::1]:80"},
		{in: "db:http", wantErr: `unsupported scheme "db"`}, // no port number: no guess
		{in: "/tmp/x", wantErr: "missing scheme"},
		{in: "ftp://x/", wantErr: `unsupported scheme "ftp"`},
		{in: "http://u:s3cret@web:bad/", wantErr: `"http://u:xxxxx@web:bad/"`, noLeakOf: "s3cret"},
		{in: "http://u:s3cret@web/x", kind: dnswait.KindHTTP, addr: "http://u:s3cret@web/x", noLeakOf: "s3cret"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := dnswait.ParseTarget(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if tc.noLeakOf != "" && strings.Contains(err.Error(), tc.noLeakOf) {
					t.Fatalf("error leaks %q: %v", tc.noLeakOf, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.kind || got.Addr != tc.addr {
				t.Fatalf("got %q %q, want %q %q", got.Kind, got.Addr, tc.kind, tc.addr)
			}
			if tc.noLeakOf != "" && strings.Contains(got.String(), tc.noLeakOf) {
				t.Fatalf("String() leaks %q: %s", tc.noLeakOf, got)
			}
		})
	}
}

func TestParseResolvers(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "10.0.0.2", want: "10.0.0.2:53"},
		{in: "10.0.0.2:5353, fd00::2 ,[fd00::3]:54", want: "10.0.0.2:5353 [fd00::2]:53 [fd00::3]:54"},
		{in: "", want: ""},
		{in: "dns.example", wantErr: `resolver "dns.example"`},
		{in: "10.0.0.2:0", wantErr: "port 0"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := dnswait.ParseResolvers(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestTaskIP(t *testing.T) {
	ifaces := func(cidrs ...string) func() ([]net.Addr, error) {
		return func() ([]net.Addr, error) {
			var out []net.Addr
			for _, c := range cidrs {
				ip, n, err := net.ParseCIDR(c)
				if err != nil {
					return nil, err
				}
				n.IP = ip
				out = append(out, n)
			}
			return out, nil
		}
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		addrs    func() ([]net.Addr, error)
		want     string
		wantFrom string
		wantErr  string
	}{
		{"container IP wins", map[string]string{"MESOS_CONTAINER_IP": "10.1.0.5", "LIBPROCESS_IP": "10.0.0.5"}, ifaces("10.9.0.1/24"), "10.1.0.5", "MESOS_CONTAINER_IP", ""},
		{"libprocess next", map[string]string{"LIBPROCESS_IP": "10.0.0.5"}, ifaces("10.9.0.1/24"), "10.0.0.5", "LIBPROCESS_IP", ""},
		{"empty var is unset", map[string]string{"MESOS_CONTAINER_IP": "", "LIBPROCESS_IP": "fd00::5"}, nil, "fd00::5", "LIBPROCESS_IP", ""},
		{"interface skips loopback and link-local", nil, ifaces("127.0.0.1/8", "::1/128", "fe80::1/64", "169.254.1.1/16", "10.9.0.1/24", "10.9.1.1/24"), "10.9.0.1", "interface", ""},
		{"interface v6", nil, ifaces("127.0.0.1/8", "fd00::7/64"), "fd00::7", "interface", ""},
		{"bad variable", map[string]string{"MESOS_CONTAINER_IP": "nope", "LIBPROCESS_IP": "10.0.0.5"}, nil, "", "", `MESOS_CONTAINER_IP="nope"`},
		{"only loopback", nil, ifaces("127.0.0.1/8"), "", "", "no task IP"},
		{"interface error", nil, func() ([]net.Addr, error) { return nil, errors.New("boom") }, "", "", "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip, from, err := dnswait.TaskIP(dnswait.TaskIPSource{
				Getenv:         func(k string) string { return tc.env[k] },
				InterfaceAddrs: tc.addrs,
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ip.String() != tc.want || from != tc.wantFrom {
				t.Fatalf("got %v from %q (%v), want %s from %s", ip, from, err, tc.want, tc.wantFrom)
			}
		})
	}
}
