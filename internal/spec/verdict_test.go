package spec

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wantPrefix starts the golden lines at the end of a verdict file: one per
// problem, "<rule>: <problem>", warnings included.
const wantPrefix = "# want: "

// sdkVerdict reads a spec's first line, "# SDK: accepted (...)" or
// "# SDK: rejected (...)", as the probes in ../shared/sdk-probes and the
// cases in testdata/verdicts start.
var sdkVerdict = regexp.MustCompile(`^# SDK: (accepted|rejected)\b`)

// verdictOf parses text as svc.yml (templates read from dir) and returns
// "accepted" or "rejected" and every problem as "<rule>: <problem>".
func verdictOf(t *testing.T, text []byte, dir string) (string, []string) {
	t.Helper()
	l, err := Parse(text, Options{Dir: dir})
	var ps Problems
	verdict := "accepted"
	switch {
	case err == nil:
		ps = l.Warnings
	case errors.As(err, &ps):
		verdict = "rejected"
	default:
		t.Fatalf("not a list of problems: %v", err)
	}
	var lines []string
	for _, p := range ps {
		if p.Rule == "" {
			t.Errorf("problem without a rule: %v", p)
		}
		lines = append(lines, p.Rule+": "+p.Error())
	}
	return verdict, lines
}

// TestVerdicts loads every testdata/verdicts/*.yml, shapes of the SDK's
// valid-*.yml and invalid-*.yml specs (DefaultServiceSpecTest) and of the
// probes. The first line says what the SDK does with it, and scheduler-lite
// must agree, except where the line says "scheduler-lite rejects" (a field it
// does not implement, a name it cannot store). The "# want:" lines at the
// end are the problems reported (go test -update rewrites them). Together
// the cases must exercise every validator.
func TestVerdicts(t *testing.T) {
	files, err := filepath.Glob("testdata/verdicts/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no verdict cases: %v", err)
	}
	rules := map[string]bool{}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yml"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			first, _, _ := strings.Cut(text, "\n")
			m := sdkVerdict.FindStringSubmatch(first)
			if m == nil {
				t.Fatalf("first line %q does not give the SDK's verdict", first)
			}
			want := m[1]
			if strings.Contains(first, "scheduler-lite rejects") {
				want = "rejected"
			}
			verdict, got := verdictOf(t, b, filepath.Dir(f))
			if verdict != want {
				t.Errorf("verdict %s, want %s:\n%s", verdict, want, strings.Join(got, "\n"))
			}
			if verdict == "rejected" && len(got) == 0 {
				t.Error("rejected without a problem")
			}
			for _, g := range got {
				rules[strings.SplitN(g, ":", 2)[0]] = true
			}
			body, golden := splitWant(text)
			if *update {
				var b strings.Builder
				b.WriteString(strings.TrimRight(body, "\n") + "\n")
				for _, g := range got {
					b.WriteString(wantPrefix + g + "\n")
				}
				if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.Join(got, "\n") != strings.Join(golden, "\n") {
				t.Errorf("problems differ from the %q lines (go test -update):\ngot:\n%s\nwant:\n%s", wantPrefix, strings.Join(got, "\n"), strings.Join(golden, "\n"))
			}
		})
	}
	for _, v := range validators {
		if !rules[v.Name] && !transitions[v.Name] && !volumeTransitions[v.Name] && v.Name != resourceSetTransition {
			t.Errorf("no case in testdata/verdicts exercises validator %s", v.Name)
		}
	}
	for _, r := range []string{"decode", "ConfigTemplateReader"} {
		if !rules[r] {
			t.Errorf("no case in testdata/verdicts exercises %s", r)
		}
	}
}

// splitWant splits a verdict file into the spec and its golden lines.
func splitWant(text string) (string, []string) {
	var body []string
	var want []string
	for _, l := range strings.Split(text, "\n") {
		if w, ok := strings.CutPrefix(l, wantPrefix); ok {
			want = append(want, w)
		} else {
			body = append(body, l)
		}
	}
	return strings.Join(body, "\n"), want
}

// probesDir holds the probes, next to the worktrees (not in the
// repository); testdata/verdicts has the same shapes for CI.
const probesDir = "../../../shared/sdk-probes"

// sourceVerdicts are the probes whose first line disagrees with the SDK's
// source, and what the source does.
var sourceVerdicts = map[string]string{}

// TestProbes loads every probe in ../shared/sdk-probes and checks the SDK's
// verdict given on its first line (or by sourceVerdicts). A rejected probe
// must name the field of each problem.
func TestProbes(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(probesDir, "*.yml"))
	if len(files) == 0 {
		t.Skipf("no probes in %s (the directory lives next to the worktrees; testdata/verdicts has the same shapes)", probesDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			m := sdkVerdict.FindStringSubmatch(first)
			if m == nil {
				t.Fatalf("first line %q does not give the SDK's verdict", first)
			}
			want := m[1]
			if v, ok := sourceVerdicts[filepath.Base(f)]; ok {
				want = v
			}
			verdict, got := verdictOf(t, b, t.TempDir())
			if verdict != want {
				t.Errorf("verdict %s, want %s:\n%s", verdict, want, strings.Join(got, "\n"))
			}
			if verdict == "rejected" {
				for _, g := range got {
					if !regexp.MustCompile(`^\w+: [a-z]`).MatchString(g) {
						t.Errorf("problem names no field: %s", g)
					}
				}
			}
		})
	}
}
