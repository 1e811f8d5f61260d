package textdiff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/testtools"
)

func TestUnified(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"equal", "a\n", "a\n", ""},
		{"new file", "", "a\nb\n", "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"change middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
			"--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"},
		{"no trailing newline", "a", "b", "--- old\n+++ new\n@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unified("old", "new", tt.old, tt.new); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestAppliesWithPatch checks the diffs against patch(1) on many edits.
func TestAppliesWithPatch(t *testing.T) {
	testtools.Require(t, "patch", "patch")
	dir := t.TempDir()
	var old []string
	for i := 0; i < 200; i++ {
		old = append(old, fmt.Sprintf("line %d\n", i))
	}
	for seed := 1; seed <= 20; seed++ {
		var nw []string
		for i, l := range old {
			switch (i * seed) % 17 {
			case 0:
				continue
			case 1:
				nw = append(nw, "inserted\n", l)
			case 2:
				nw = append(nw, "changed "+l)
			default:
				nw = append(nw, l)
			}
		}
		o, n := strings.Join(old, ""), strings.Join(nw, "")
		f := filepath.Join(dir, "f")
		os.WriteFile(f, []byte(o), 0o644)
		cmd := exec.Command("patch", "-s", f)
		cmd.Stdin = strings.NewReader(Unified("f", "f", o, n))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("seed %d: patch: %v: %s", seed, err, out)
		}
		if got, _ := os.ReadFile(f); string(got) != n {
			t.Fatalf("seed %d: patched file differs", seed)
		}
	}
}

func TestLargeRewriteFallsBack(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 3*MaxEdits; i++ {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
	}
	d := Unified("x", "x", a.String(), b.String())
	if !strings.Contains(d, "-a0\n") || !strings.Contains(d, "+b0\n") {
		t.Fatal("fallback diff missing lines")
	}
}
