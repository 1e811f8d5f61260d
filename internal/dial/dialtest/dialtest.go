// Package dialtest makes loopback addresses that never answer, for tests of
// code that must not wait on one address while another would answer.
package dialtest

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// Blackhole binds ap (port 0 picks one) with an accept queue of one and
// fills it, so that from then on the kernel drops every SYN to it and a
// connect hangs until its deadline — what an unroutable address or a
// firewall that drops packets does, on loopback. It returns the bound
// address; the sockets are closed when the test ends. It skips the test
// when the address cannot be bound (no IPv6 loopback, say).
func Blackhole(t testing.TB, ap netip.AddrPort) netip.AddrPort {
	t.Helper()
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	sa := func(p netip.AddrPort) unix.Sockaddr {
		if family == unix.AF_INET6 {
			return &unix.SockaddrInet6{Port: int(p.Port()), Addr: p.Addr().As16()}
		}
		return &unix.SockaddrInet4{Port: int(p.Port()), Addr: p.Addr().As4()}
	}
	ln, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("blackhole %s: socket: %v", ap, err)
	}
	t.Cleanup(func() { unix.Close(ln) })
	if err := unix.Bind(ln, sa(ap)); err != nil {
		t.Skipf("blackhole %s: cannot bind here: %v", ap, err)
	}
	if err := unix.Listen(ln, 0); err != nil {
		t.Fatalf("blackhole %s: listen: %v", ap, err)
	}
	got, err := unix.Getsockname(ln)
	if err != nil {
		t.Fatal(err)
	}
	switch s := got.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(ap.Addr(), uint16(s.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(ap.Addr(), uint16(s.Port))
	}
	for range 4 { // fill the accept queue (and the SYN backlog behind it)
		c, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(c) })
		_ = unix.Connect(c, sa(ap)) // EINPROGRESS
	}
	return ap
}
