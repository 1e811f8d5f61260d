package hostsfile_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/hostsfile"
)

// FuzzHosts looks names up in fuzzed hosts files. Properties:
//   - the addresses found are distinct, without zones, IPv4 unmapped;
//   - a line "192.0.2.77 name" appended to the file adds that address to
//     what the name finds (last, unless found already), wherever the
//     file's last line ended: no earlier line can hide a later one;
//   - at most 16 MiB allocated per check of a file over 64 KiB (two
//     lookups and a copy of the file).
func FuzzHosts(f *testing.F) {
	for _, s := range []struct{ hosts, name string }{
		{"127.0.0.1 localhost\n::1 localhost ip6-localhost\n", "localhost"},
		{"10.0.0.1 web.svc.test web # comment\n10.0.0.2\tWEB.svc.test.\n", "web.svc.test."},
		{"# only a comment\nnot-an-ip web\nfe80::1%eth0 web\n::ffff:10.0.0.9 web\n", "web"},
		{strings.Repeat("x", 70<<10) + "\n10.0.0.1 web\n", "web"},
		{"10.0.0.1 web\r\n10.0.0.1 web\n", "web"},
	} {
		f.Add([]byte(s.hosts), s.name)
	}
	f.Fuzz(func(t *testing.T, hosts []byte, name string) {
		if len(hosts) > 64<<10 {
			fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}.Check(t, "Lookup", func() { checkHosts(t, hosts, name) })
			return
		}
		checkHosts(t, hosts, name)
	})
}

func checkHosts(t *testing.T, hosts []byte, name string) {
	got := hostsfile.Lookup(hosts, name)
	for i, a := range got {
		if a.Zone() != "" || a.Is4In6() || slices.Contains(got[:i], a) {
			t.Fatalf("found %v, zoned, mapped or repeated", a)
		}
	}
	bare := strings.TrimSuffix(name, ".")
	if bare == "" || strings.ContainsAny(bare, "#") || strings.IndexFunc(bare, unicode.IsSpace) >= 0 {
		return // a name no line can hold
	}
	const extra = "192.0.2.77"
	more := append(append(slices.Clip(hosts), '\n'), extra+" "+name+"\n"...)
	want := got
	if a := netip.MustParseAddr(extra); !slices.Contains(got, a) {
		want = append(slices.Clone(got), a)
	}
	if after := hostsfile.Lookup(more, name); !slices.Equal(after, want) {
		t.Fatalf("with %q appended, %q finds %.200v, want %.200v", extra+" "+name, name, after, want)
	}
}

// TestHostsBudget looks names up in 1 MiB hosts files: many short lines,
// one long line, within 16 MiB allocated (two lookups each).
func TestHostsBudget(t *testing.T) {
	b := fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}
	for name, hosts := range map[string][]byte{
		"lines":     fuzzcheck.Sized([]byte("10.0.0.1 a.svc.test b.svc.test # c\n"), fuzzcheck.MiB),
		"long line": append(fuzzcheck.Sized([]byte("10.0.0.1 a "), fuzzcheck.MiB), '\n'),
	} {
		c := b.Check(t, name, func() { checkHosts(t, hosts, "web.svc.test") })
		t.Logf("%s: %v", name, c)
	}
}

// TestHostsLongLine is the regression test of the fault FuzzHosts found:
// hosts files were read with a bufio.Scanner, which stops at the first
// line over 64 KiB, so every name on a later line was not found there
// and was asked of DNS instead. Lines of any length are read now.
func TestHostsLongLine(t *testing.T) {
	for _, n := range []int{64<<10 - 1, 64 << 10, 1 << 20} {
		hosts := "# " + strings.Repeat("x", n) + "\n10.0.0.1 web.svc.test\n"
		if got := hostsfile.Lookup([]byte(hosts), "web.svc.test"); fmt.Sprint(got) != "[10.0.0.1]" {
			t.Errorf("after a %d-byte line: %v, want [10.0.0.1]", n, got)
		}
	}
}
