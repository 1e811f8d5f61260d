package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
)

// fuzzMaxBytes is the -template-max-bytes the fuzzed renders run with.
const fuzzMaxBytes = 64 << 10

// outsideMarker is the content of a file beside the partials directory; no
// render may print it.
const outsideMarker = "OUTSIDE-THE-TEMPLATE-DIRECTORY"

// partialsDir makes a template directory with partials of every kind the
// package documents (plain, including itself, including each other,
// dotted names, a symbolic link out) and a file outside it.
func partialsDir(tb testing.TB) string {
	tb.Helper()
	root := tb.TempDir()
	dir := filepath.Join(root, "templates")
	files := map[string]string{
		"header":          "# {{TASK_NAME}} on {{PORT_HTTP}}\n",
		"footer.mustache": "{{#ON}}on{{/ON}}{{^ON}}off{{/ON}}\n",
		"loop":            "x{{> loop}}",
		"ping":            "{{> pong}}",
		"pong.stache":     "{{> ping}}",
		"big":             strings.Repeat("0123456789abcdef", fuzzMaxBytes/64),
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		tb.Fatal(err)
	}
	files["sub/part"] = "{{a.b}}"
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "secret"), []byte(outsideMarker), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "secret"), filepath.Join(dir, "evil")); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// FuzzText renders fuzzed mustache texts with fuzzed environments (entries
// separated by newlines) and the partials of partialsDir, within
// fuzzMaxBytes. The corpus starts from every golden case. Properties:
//   - a parse, read or limit error, never a panic;
//   - nothing from outside the template directory is printed;
//   - what renders is bounded by the bytes of template text rendered
//     (fuzzMaxBytes at most: the template and every partial inclusion)
//     times the longest value printed (HTML escaping at most quintuples a
//     value, a tag of one-character delimiters is three bytes): the
//     limit bounds the output, not just the file sizes;
//   - every miss names a variable absent from the environment, once;
//   - rendering again gives the same text and misses.
func FuzzText(f *testing.F) {
	paths, _ := filepath.Glob("testdata/golden/*.txt")
	for _, p := range paths {
		g := readGolden(f, p)
		f.Add(g.sections["template"], strings.TrimSuffix(g.sections["env"], "\n"))
	}
	f.Add("{{> header}}{{> footer}}{{> sub/part}}", "TASK_NAME=web-0\nPORT_HTTP=80\na.b=c\nON=false")
	f.Add("{{> loop}}", "")
	f.Add("{{> ping}}", "")
	f.Add("{{> evil}}{{> ../secret}}", "")
	f.Add("{{> big}}{{> big}}", "")
	f.Add("{{=<% %>=}}<% A %><%={{ }}=%>{{A}}", "A=<&>")
	dir := partialsDir(f)
	f.Fuzz(func(t *testing.T, text, env string) {
		checkText(t, dir, text, strings.Split(env, "\n"))
	})
}

func checkText(t *testing.T, dir, text string, env []string) {
	opts := TextOptions{PartialsDir: dir, MaxBytes: fuzzMaxBytes}
	out, misses, err := Text(text, env, opts)
	if strings.Contains(out, outsideMarker) {
		t.Fatalf("printed a file from outside the template directory: %q", text)
	}
	if err != nil {
		if out != "" {
			t.Fatalf("output %q with error %v", out, err)
		}
		return
	}
	longest := 1
	for _, kv := range env {
		if _, v, ok := strings.Cut(kv, "="); ok {
			longest = max(longest, len(v))
		}
	}
	if limit := 2 * fuzzMaxBytes * longest; len(out) > limit {
		t.Fatalf("%d bytes of template text rendered %d bytes with values of at most %d bytes (limit %d)", len(text), len(out), longest, limit)
	}
	// The environment is flat: a name is set when a variable has exactly
	// that name ("TASK_NAME.=" sets a dotted path, not TASK_NAME).
	set := map[string]bool{}
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); ok {
			set[k] = true
		}
	}
	seen := map[string]bool{}
	for _, name := range misses.Variables {
		if seen[name] {
			t.Fatalf("miss %q reported twice: %q", name, misses.Variables)
		}
		seen[name] = true
		if set[name] && !strings.Contains(name, ".") {
			t.Fatalf("miss %q is in the environment", name)
		}
	}
	out2, misses2, err := Text(text, env, opts)
	if err != nil || out2 != out || strings.Join(misses2.Variables, ",") != strings.Join(misses.Variables, ",") || strings.Join(misses2.Partials, ",") != strings.Join(misses.Partials, ",") {
		t.Fatalf("second render differs: %q %v %v, then %q %v %v", out, misses, nil, out2, misses2, err)
	}
}

// TestTextBudget renders 1 MiB texts within 128 MiB allocated (mustache's
// parse tree takes up to about 80 bytes per byte of dense tags): plain text,
// variables, sections, and partials included over and over (each
// inclusion counts toward the limit, so the last one is refused).
func TestTextBudget(t *testing.T) {
	dir := partialsDir(t)
	b := fuzzcheck.Budget{Alloc: 128 * fuzzcheck.MiB}
	for name, text := range map[string]string{
		"text":      string(fuzzcheck.Sized([]byte("plain text\n"), fuzzcheck.MiB)),
		"variables": string(fuzzcheck.Sized([]byte("{{A}}{{{B}}}{{C.D}}"), fuzzcheck.MiB)),
		"sections":  string(fuzzcheck.Sized([]byte("{{#A}}{{^B}}x{{/B}}{{/A}}"), fuzzcheck.MiB)),
	} {
		c := b.Check(t, name, func() {
			_, _, err := Text(text, []string{"A=<a>", "B=b", "C.D=d"}, TextOptions{PartialsDir: dir, MaxBytes: 2 * fuzzcheck.MiB})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
		t.Logf("%s: %v", name, c)
	}
}

// TestPartialInclusionsCountTowardTheLimit is the regression test of the
// fault FuzzText's output bound found: a partial read once but included
// many times made a text within -template-max-bytes render thousands of
// times that many bytes (10,000 inclusions of a 1 MiB partial: 10 GiB).
// Every inclusion counts now.
func TestPartialInclusionsCountTowardTheLimit(t *testing.T) {
	dir := partialsDir(t)
	text := strings.Repeat("{{> big}}", 3) // big is a quarter of fuzzMaxBytes
	out, _, err := Text(text, nil, TextOptions{PartialsDir: dir, MaxBytes: fuzzMaxBytes})
	if err != nil || len(out) != 3*fuzzMaxBytes/4 {
		t.Fatalf("three inclusions within the limit: %d bytes, %v", len(out), err)
	}
	text = strings.Repeat("{{> big}}", 5)
	out, _, err = Text(text, nil, TextOptions{PartialsDir: dir, MaxBytes: fuzzMaxBytes})
	if err == nil || !strings.Contains(err.Error(), "-template-max-bytes") {
		t.Fatalf("five inclusions over the limit: %d bytes, %v", len(out), err)
	}
	if _, _, err := Text("{{> loop}}", nil, TextOptions{PartialsDir: dir}); !errors.Is(err, ErrPartialLimit) {
		t.Fatalf("without a limit, a partial including itself: %v", err)
	}
}
