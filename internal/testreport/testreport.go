// Package testreport reads the event stream of `go test -json` (the format
// of cmd/test2json) and reports it the way CI needs: one line per package as
// it finishes, with its counts; the output of every failed test; every
// skipped test with its reason; and a last line "N passed, N failed, N
// skipped". It fails the run when a test failed, a package did not build, a
// result came from the test cache, or a test skipped because a tool is
// missing that CI installs (the skip messages of internal/testtools).
package testreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/taskkit/taskkit/internal/testtools"
)

// event is one line of `go test -json` (see `go doc cmd/test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// Skip is a skipped test and why.
type Skip struct {
	// Package and Test name it.
	Package, Test string
	// Reason is what the test logged before it skipped, trimmed.
	Reason string
	// Tool is the tool it requires (testtools' message), or "".
	Tool string
}

// Summary is what a run did. Counts include subtests.
type Summary struct {
	Passed, Failed, Skipped int
	// Skips lists the skipped tests in package and test order.
	Skips []Skip
	// FailedPackages lists packages that failed (a test, the build, or
	// the test binary itself).
	FailedPackages []string
	// Cached lists packages whose result came from the test cache.
	Cached []string
	// MissingTools lists the skips whose tool is one CI installs.
	MissingTools []Skip
}

// OK reports whether the run passes: no failure, no cached result, no
// skip for want of a tool CI installs.
func (s *Summary) OK() bool {
	return s.Failed == 0 && len(s.FailedPackages) == 0 && len(s.Cached) == 0 && len(s.MissingTools) == 0
}

type pkgCounts struct{ passed, failed, skipped int }

// maxOutput bounds the lines kept per running test; a failed test shows
// its last maxOutput lines.
const maxOutput = 200

// Read consumes the event stream r, writes one line per finished package
// and the output of failed tests to w as they come, and returns the
// summary. required names the tools CI installs. Lines that are not JSON
// events (a build error printed before any event) are copied to w.
func Read(r io.Reader, w io.Writer, required []string) (*Summary, error) {
	req := map[string]bool{}
	for _, t := range required {
		req[t] = true
	}
	s := &Summary{}
	counts := map[string]*pkgCounts{}
	output := map[string][]string{} // package + "\x00" + test → lines
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		key := e.Package + "\x00" + e.Test
		c := counts[e.Package]
		if c == nil {
			c = &pkgCounts{}
			counts[e.Package] = c
		}
		switch e.Action {
		case "output":
			if e.Test == "" && strings.Contains(e.Output, "(cached)") {
				s.Cached = append(s.Cached, e.Package)
			}
			out := append(output[key], e.Output)
			if len(out) > maxOutput {
				out = out[len(out)-maxOutput:]
			}
			output[key] = out
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "pass":
			if e.Test != "" {
				s.Passed++
				c.passed++
			} else {
				fmt.Fprintf(w, "ok    %-55s %s  %s\n", e.Package, c, elapsed(e.Elapsed))
			}
			delete(output, key)
		case "skip":
			if e.Test == "" {
				fmt.Fprintf(w, "ok    %-55s %s  %s\n", e.Package, c, elapsedOrNoTests(e.Elapsed, c))
				delete(output, key)
				continue
			}
			s.Skipped++
			c.skipped++
			sk := Skip{Package: e.Package, Test: e.Test, Reason: reason(output[key])}
			if m := testtools.SkipPattern.FindStringSubmatch(sk.Reason); m != nil {
				sk.Tool = m[1]
				if req[sk.Tool] {
					s.MissingTools = append(s.MissingTools, sk)
				}
			}
			s.Skips = append(s.Skips, sk)
			delete(output, key)
		case "fail":
			if e.Test != "" {
				s.Failed++
				c.failed++
				fmt.Fprintf(w, "--- FAIL: %s %s (%s)\n", e.Package, e.Test, elapsed(e.Elapsed))
				for _, l := range output[key] {
					fmt.Fprint(w, "    ", l)
				}
			} else {
				s.FailedPackages = append(s.FailedPackages, e.Package)
				if c.failed == 0 { // no test failed: the binary or the build did; show why
					for _, l := range output[key] {
						fmt.Fprint(w, "    ", l)
					}
				}
				fmt.Fprintf(w, "FAIL  %-55s %s  %s\n", e.Package, c, elapsed(e.Elapsed))
			}
			delete(output, key)
		}
	}
	sort.Slice(s.Skips, func(i, j int) bool {
		if s.Skips[i].Package != s.Skips[j].Package {
			return s.Skips[i].Package < s.Skips[j].Package
		}
		return s.Skips[i].Test < s.Skips[j].Test
	})
	return s, sc.Err()
}

func (c *pkgCounts) String() string {
	return fmt.Sprintf("%4d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
}

func elapsed(sec float64) string {
	return (time.Duration(sec * float64(time.Second))).Round(10 * time.Millisecond).String()
}

func elapsedOrNoTests(sec float64, c *pkgCounts) string {
	if c.passed+c.failed+c.skipped == 0 {
		return "(no tests)"
	}
	return elapsed(sec)
}

// reason is what a skipped test logged, without the "=== RUN" and "---
// SKIP" lines and the file:line prefixes' indentation.
func reason(lines []string) string {
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(out, " | ")
}

// Write writes the end of the report: every skipped test with its reason,
// what made the run fail, and the totals line.
func (s *Summary) Write(w io.Writer) {
	if len(s.Skips) > 0 {
		fmt.Fprintf(w, "\n== skipped tests (%d)\n", len(s.Skips))
		for _, sk := range s.Skips {
			fmt.Fprintf(w, "SKIP  %s %s: %s\n", sk.Package, sk.Test, sk.Reason)
		}
	}
	for _, sk := range s.MissingTools {
		fmt.Fprintf(w, "ERROR %s %s skipped for want of %s, which .ci/run installs\n", sk.Package, sk.Test, sk.Tool)
	}
	for _, p := range s.Cached {
		fmt.Fprintf(w, "ERROR %s: result from the test cache (run with -count=1)\n", p)
	}
	if len(s.FailedPackages) > 0 {
		fmt.Fprintf(w, "\nfailed packages: %s\n", strings.Join(s.FailedPackages, " "))
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
}
