// Package hostsfile looks names up in a hosts file (hosts(5), /etc/hosts):
// one entry a line, an IP address then the canonical name and its aliases,
// separated by blanks; "#" starts a comment that runs to the end of the
// line. It is dnswait's first source for every name, before DNS, and holds
// nothing else, so its fuzz target (FuzzHosts) runs in a test binary of its
// own: Go's fuzzing engine clears, copies and compares every coverage
// counter of the test binary for each execution, and dnswait links
// miekg/dns, probe and dial (its tests more: 56,548 counters against 6,754).
package hostsfile

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
)

// Lookup returns the addresses the hosts file content hosts gives name, in
// file order, each once: every line that holds the name counts, not only
// the first. Names match case-insensitively (as glibc compares them), a
// trailing dot ignored on either side ("web.svc." is "web.svc").
// Addresses are returned without their zone and IPv4-mapped IPv6 as IPv4.
// A line whose first field is not an IP address, or that has no name, is
// skipped; lines of any length are read (a bufio.Scanner stopped at the
// first line over 64 KiB, hiding every line after it). Lookup never fails:
// a name no line holds finds nothing (nil).
func Lookup(hosts []byte, name string) []netip.Addr {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	var out []netip.Addr
	for b := range bytes.Lines(hosts) {
		line := string(b)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		ip = ip.WithZone("").Unmap()
		for _, h := range f[1:] {
			if strings.ToLower(strings.TrimSuffix(h, ".")) == name && !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
	}
	return out
}
