// Package buildinfo holds the version stamped into every taskkit binary and
// formats the line each binary prints for --version.
//
// Release builds set Version with
//
//	-ldflags "-X github.com/taskkit/taskkit/internal/buildinfo.Version=v1.2.3"
//
// Development builds report "dev" plus the VCS revision Go embedded, if any
// (or the one set in Revision).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version; "dev" unless set at link time.
var Version = "dev"

// Revision is the VCS revision when the build did not embed one (go build
// -buildvcs=false, or GOFLAGS saying so); scripts/dist.sh sets it at link
// time with -X github.com/taskkit/taskkit/internal/buildinfo.Revision=<rev>.
var Revision = ""

// String returns the --version line for the named binary, for example
// "bootstrap v1.2.3 (rev 1a2b3c4, go1.24.0 linux/amd64)".
func String(binary string) string {
	rev := "unknown"
	if len(Revision) >= 7 {
		rev = Revision[:7]
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				rev = s.Value[:7]
			}
		}
	}
	return fmt.Sprintf("%s %s (rev %s, %s %s/%s)", binary, Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
