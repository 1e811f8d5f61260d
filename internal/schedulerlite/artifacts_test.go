package schedulerlite

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestMissingArtifacts: the service's own files the artifacts directory
// lacks, in the spec's order; a directory of that name is no file to serve.
func TestMissingArtifacts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.tgz"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names, want []string
	}{
		{nil, nil},
		{[]string{"a.tgz"}, nil},
		{[]string{"b.tgz"}, []string{"b.tgz"}},
		{[]string{"b.tgz", "a.tgz", "c.zip"}, []string{"b.tgz", "c.zip"}},
		{[]string{"d"}, []string{"d"}},
	} {
		if got := missingArtifacts(dir, tc.names); !slices.Equal(got, tc.want) {
			t.Errorf("missingArtifacts(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}

// lockedWriter collects what a logger writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestStartWarnsOfMissingServiceArtifact: a file svc.yml fetches from
// {{ARTIFACTS_URL}} that the artifacts directory lacks (the example's
// hello-world.tar.gz next to binaries built without make build) is named
// at start, before any task fails to fetch it; one that is there is not.
func TestStartWarnsOfMissingServiceArtifact(t *testing.T) {
	dir := t.TempDir()
	artifacts := filepath.Join(dir, "bin")
	if err := os.Mkdir(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range append(slices.Clone(Toolkit), "present.tar.gz") {
		if err := os.WriteFile(filepath.Join(artifacts, a), []byte(a), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svc := filepath.Join(dir, "svc.yml")
	if err := os.WriteFile(svc, []byte(`name: arts
pods:
  p:
    count: 1
    uris:
      - "{{ARTIFACTS_URL}}/present.tar.gz"
      - "{{ARTIFACTS_URL}}/absent.tar.gz"
    tasks:
      t: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs lockedWriter
	// No master answers on port 1: the scheduler keeps trying until the
	// test stops it, and the warning is logged before Start returns.
	_, stop := startInstance(t, Options{
		SpecPath: svc, Master: "http://127.0.0.1:1", State: "file:" + filepath.Join(dir, "state.db"),
		APIListen: "127.0.0.1:0", ArtifactsDir: artifacts,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	stop()
	out := logs.String()
	if !strings.Contains(out, "level=WARN msg=\"artifact missing; svc.yml fetches it from ARTIFACTS_URL") || !strings.Contains(out, "artifact=absent.tar.gz") {
		t.Errorf("no warning naming absent.tar.gz:\n%s", out)
	}
	if strings.Contains(out, "artifact=present.tar.gz") {
		t.Errorf("a warning names present.tar.gz, which is there:\n%s", out)
	}
}
