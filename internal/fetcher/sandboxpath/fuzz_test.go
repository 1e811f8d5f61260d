package sandboxpath_test

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/fetcher/sandboxpath"
)

// FuzzOutputName names the file of fuzzed URIs and output_file values,
// as every fetch does before it writes. Properties:
//   - a name is relative, clean, and neither the sandbox itself nor
//     outside it;
//   - without output_file, it is the last element of the URI's path, and
//     an error says to set output_file;
//   - with output_file, it is output_file cleaned, and an output_file
//     that leaves the sandbox (absolute, or climbing above it at some
//     element: leavesDir) is refused with an error wrapping ErrOutside;
//     no other error wraps it.
func FuzzOutputName(f *testing.F) {
	for _, s := range [][2]string{
		{"http://example.com/app.tar.gz", ""},
		{"https://user:pw@example.com:8443/a/b/c.zip?x=1#frag", ""},
		{"file:///opt/app/bin/run", "bin/run"},
		{"/opt/app.tgz", "../app.tgz"},
		{"http://example.com/", "/etc/passwd"},
		{"http://example.com/a/..", "./a/../b"},
		{"hdfs://nn:8020/x", "."},
		{"http://[::1]:80/%2e%2e", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, value, output string) {
		name, err := sandboxpath.OutputName(value, output)
		if leaves := output != "" && leavesDir(output); leaves != errors.Is(err, sandboxpath.ErrOutside) {
			t.Fatalf("output_file %q (leaves the sandbox: %v): error %v, want ErrOutside exactly when it leaves", output, leaves, err)
		}
		if err != nil {
			if output == "" && !strings.Contains(err.Error(), "output_file") {
				t.Fatalf("URI %q: the error does not say to set output_file: %v", value, err)
			}
			if output != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", output)) {
				t.Fatalf("output_file %q: the error does not name it: %v", output, err)
			}
			return
		}
		if _, cerr := sandboxpath.Confined(name); cerr != nil || name == "." || path.Clean(name) != name {
			t.Fatalf("URI %q, output_file %q: name %q", value, output, name)
		}
		if output != "" && name != path.Clean(filepath.ToSlash(output)) {
			t.Fatalf("output_file %q named %q", output, name)
		}
		if output == "" && strings.Contains(name, "/") {
			t.Fatalf("URI %q named %q, not its last element", value, name)
		}
	})
}

// leavesDir reports whether the slash-separated name is absolute or climbs
// above its directory at some point, walking its elements (the fuzz
// target's oracle, independent of path.Clean).
func leavesDir(name string) bool {
	if strings.HasPrefix(name, "/") {
		return true
	}
	depth := 0
	for _, el := range strings.Split(name, "/") {
		switch el {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// TestOutputNameOfDirectoryURIs is the regression test of the fault
// FuzzOutputName found: a URI whose path ends in ".." (written so, or
// escaped as %2e%2e) was named "..", the sandbox's parent, which os.Root
// then refused with an error that did not say why. Such a URI names no
// file: output_file must be set.
func TestOutputNameOfDirectoryURIs(t *testing.T) {
	for value, want := range map[string]string{
		"http://example.com/a/..":       "",
		"http://example.com/%2e%2e":     "",
		"https://example.com/x/%2E%2E":  "",
		"file:///":                      "",
		"http://example.com":            "",
		"http://example.com/a/../b.tgz": "b.tgz",
		"http://example.com/%2e%2e.tgz": "...tgz",
	} {
		name, err := sandboxpath.OutputName(value, "")
		if want == "" && (err == nil || !strings.Contains(err.Error(), "set output_file")) || want != "" && name != want {
			t.Errorf("%s: %q, %v; want %q", value, name, err, want)
		}
	}
}
