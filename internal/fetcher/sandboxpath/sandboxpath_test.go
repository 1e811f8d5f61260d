package sandboxpath_test

import (
	"errors"
	"testing"

	"github.com/taskkit/taskkit/internal/fetcher/sandboxpath"
)

// TestOutputName names URIs with and without output_file; an output_file
// that is absolute or leaves the sandbox is refused with ErrOutside.
func TestOutputName(t *testing.T) {
	for _, tc := range []struct {
		uri, output, want string
		outside           bool
	}{
		{"http://example.com/app.tar.gz?x=1#f", "", "app.tar.gz", false},
		{"/opt/app/run.sh", "", "run.sh", false},
		{"hdfs://nn:8020/a/b.jar", "", "b.jar", false},
		{"http://example.com/app.tgz", "conf/./x/../app.tgz", "conf/app.tgz", false},
		{"http://example.com/app.tgz", "../app.tgz", "", true},
		{"http://example.com/app.tgz", "/etc/passwd", "", true},
		{"http://example.com/app.tgz", "a/../..", "", true},
		{"http://example.com/app.tgz", "a/..", "", false},
	} {
		name, err := sandboxpath.OutputName(tc.uri, tc.output)
		if name != tc.want || errors.Is(err, sandboxpath.ErrOutside) != tc.outside || (tc.want == "") != (err != nil) {
			t.Errorf("%s, output_file %q: %q, %v; want %q (outside: %v)", tc.uri, tc.output, name, err, tc.want, tc.outside)
		}
	}
}
