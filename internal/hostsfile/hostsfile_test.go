package hostsfile_test

import (
	"fmt"
	"testing"

	"github.com/taskkit/taskkit/internal/hostsfile"
)

func TestLookup(t *testing.T) {
	const hosts = "# comment\n127.0.0.1 localhost\n::1 localhost ip6-localhost\n" +
		"10.0.0.1 db.svc.test db # alias\nfd00::1 DB.svc.test.\n" +
		"not-an-ip db\n10.0.0.9\n fe80::1%eth0\tzoned\n::ffff:10.0.0.5 mapped\n10.0.0.1 db\r\n"
	for _, tc := range []struct{ name, want string }{
		{"localhost", "[127.0.0.1 ::1]"},
		{"ip6-localhost", "[::1]"},
		{"db.svc.test", "[10.0.0.1 fd00::1]"}, // both lines, file order
		{"DB.SVC.TEST.", "[10.0.0.1 fd00::1]"},
		{"db", "[10.0.0.1]"}, // two lines, one address
		{"zoned", "[fe80::1]"},
		{"mapped", "[10.0.0.5]"},
		{"alias", "[]"}, // in a comment
		{"comment", "[]"},
		{"10.0.0.9", "[]"}, // a line with no name
		{"missing", "[]"},
		{"", "[]"},
	} {
		if got := fmt.Sprint(hostsfile.Lookup([]byte(hosts), tc.name)); got != tc.want {
			t.Errorf("Lookup(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}
