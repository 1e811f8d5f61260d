package devbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildReportsFailures: a package that does not exist fails the build,
// naming it, after the progress said what was being built.
func TestBuildReportsFailures(t *testing.T) {
	root, err := SourceRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	var progress []string
	err = Build(context.Background(), Options{Root: root, Dir: t.TempDir(), Packages: []string{"./no-such-binary"}, Progress: func(m string) { progress = append(progress, m) }})
	if err == nil || !strings.Contains(err.Error(), "no-such-binary") {
		t.Errorf("Build: %v", err)
	}
	if len(progress) == 0 || !strings.Contains(progress[0], "building no-such-binary with one go build") {
		t.Errorf("progress %q", progress)
	}
	if len(Toolkit) != 4 || Toolkit[0] != "./bootstrap" {
		t.Errorf("Toolkit %v", Toolkit)
	}
}

// TestSourceRootOutside: outside the source tree, SourceRoot says so.
func TestSourceRootOutside(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := SourceRoot(); err == nil {
		t.Error("found a source root in a temporary directory")
	}
}
