package devbuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestBuildStoppedLeavesNothing: a build stopped by its context once the go
// command is at work (its $WORK made, a go-build* directory) returns the
// context's error and leaves nothing in $TMPDIR: the go command, killed,
// cannot remove its $WORK, so Build keeps it in a directory of its own.
func TestBuildStoppedLeavesNothing(t *testing.T) {
	root, err := SourceRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once a go-build* directory exists anywhere under tmp.
	working := make(chan struct{})
	go func() { // owned by the test: ends at the cancel, or the deadline
		defer close(working)
		deadline := time.Now().Add(2 * time.Minute)
		for ctx.Err() == nil && time.Now().Before(deadline) {
			found := false
			filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "go-build") {
					found = true
					return filepath.SkipAll
				}
				return nil
			})
			if found {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	err = Build(ctx, Options{Root: root, Dir: filepath.Join(t.TempDir(), "out"), Packages: []string{"./bootstrap", "./healthd"}})
	cancel()
	<-working
	if err == nil {
		t.Skip("the build finished before it could be stopped")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in $TMPDIR after a stopped build: %v", left)
	}
}
