// Package sandboxpath names where the fetcher puts a CommandInfo URI in a
// sandbox, as the Mesos fetcher does (src/launcher/fetcher.cpp,
// docs/fetcher.md: the URI's last path element, or output_file relative to
// the sandbox), and confines relative names to their directory. It holds
// nothing else, so its fuzz target (FuzzOutputName) runs in a test binary
// of its own: Go's fuzzing engine clears, copies and compares every
// coverage counter of the test binary for each execution, and
// internal/fetcher links mesos-go's generated protobuf code.
package sandboxpath

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// ErrOutside is wrapped by the error for a name that is absolute or leaves
// its directory (the sandbox, or an archive's directory).
var ErrOutside = errors.New("outside the sandbox")

// OutputName returns where a fetched URI goes, relative to the sandbox,
// slash-separated: without outputFile (the URI's output_file; "" when
// unset), the last element of uri's path (of the URI's path component for
// a URI with a scheme, of uri itself otherwise), failing with an error
// that says to set output_file when that names no file ("/", "." or
// ".."); with outputFile, outputFile cleaned, failing with an error naming
// it when it names the sandbox itself or, wrapping ErrOutside, when it is
// absolute or leaves the sandbox.
func OutputName(uri, outputFile string) (string, error) {
	if outputFile == "" {
		p := uri
		if pu, err := url.Parse(uri); err == nil && pu.Scheme != "" {
			p = pu.Path
		}
		name := path.Base(p)
		// ".." too: "/x/.." or "/%2e%2e" (decoded) ends in no file.
		if name == "." || name == ".." || name == "/" || name == "" {
			return "", errors.New("URI has no file name; set output_file")
		}
		return name, nil
	}
	clean, err := Confined(filepath.ToSlash(outputFile))
	if err != nil {
		return "", fmt.Errorf("output_file %q: %w", outputFile, err)
	}
	if clean == "." {
		return "", fmt.Errorf("output_file %q names the sandbox itself", outputFile)
	}
	return clean, nil
}

// Confined returns the slash-separated relative name cleaned (path.Clean)
// and fails, wrapping ErrOutside, when it is absolute or leaves its
// directory ("..", or a name starting "../" once cleaned).
func Confined(name string) (string, error) {
	if path.IsAbs(name) {
		return "", fmt.Errorf("absolute path: %w", ErrOutside)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("leaves the directory: %w", ErrOutside)
	}
	return clean, nil
}
