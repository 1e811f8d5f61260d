package main

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
)

// cancelOn is a stderr that cancels when a line holding word is written.
type cancelOn struct {
	mu     sync.Mutex
	b      strings.Builder
	word   string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(string(p), w.word) {
		w.cancel()
	}
	return len(p), nil
}

// TestInterruptedBuild: a Ctrl-C (main's signal context) once the build has
// begun stops it: exit 130, said on stderr, and nothing left in $TMPDIR
// (the artifacts directory was in it).
func TestInterruptedBuild(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelOn{word: "hello-world: building", cancel: cancel}
	var stdout strings.Builder
	code := run(ctx, nil, &stdout, stderr)
	if code != exitInterrupted || !strings.Contains(stderr.b.String(), "hello-world: interrupted: the build is stopped") {
		t.Errorf("exit %d (want %d), stderr:\n%s", code, exitInterrupted, stderr.b.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in $TMPDIR: %v", left)
	}
}

// TestHelpAndVersionBuildNothing: --help and --version answer at once,
// without the build (minutes the first time).
func TestHelpAndVersionBuildNothing(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for _, tc := range []struct{ arg, want string }{
		{"--help", "go run ./examples/hello-world [--keep-running] [scheduler-lite flags]"},
		{"--version", "scheduler-lite "},
	} {
		var stdout, stderr strings.Builder
		if code := run(context.Background(), []string{tc.arg}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), tc.want) || stderr.Len() > 0 {
			t.Errorf("%s: exit %d, stdout lacks %q or stderr not empty:\n%s\n%s", tc.arg, code, tc.want, stdout.String(), stderr.String())
		}
		if left, _ := os.ReadDir(os.Getenv("TMPDIR")); len(left) != 0 {
			t.Errorf("%s: made %v", tc.arg, left)
		}
	}
}
