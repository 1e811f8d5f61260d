package buildinfo

import (
	"strings"
	"testing"
)

// TestString: the revision set at link time shows when the build embedded
// none (test binaries embed no VCS information), cut to 7 characters; a
// shorter one is not a revision.
func TestString(t *testing.T) {
	defer func(v, r string) { Version, Revision = v, r }(Version, Revision)
	for _, tt := range []struct{ version, revision, want string }{
		{"dev", "", "tool dev (rev unknown, "},
		{"v1.2.3", "0123456789ab", "tool v1.2.3 (rev 0123456, "},
		{"dev", "abc", "tool dev (rev unknown, "},
	} {
		Version, Revision = tt.version, tt.revision
		if got := String("tool"); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Version %q Revision %q: %q, want it to start %q", tt.version, tt.revision, got, tt.want)
		}
	}
}
