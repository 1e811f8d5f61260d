package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/executor/config"

	"github.com/taskkit/taskkit/internal/fetcher"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// TestSandboxRenamedAway: the pod's tasks own the executor sandbox and can
// rename it and put a link to a directory outside in its place. A task
// launched after is still set up in the directory the executor was given,
// held open since Run began: its sandbox, stdout and stderr, secret file,
// PARENT volume source, fetched URI and its process's working directory.
// Nothing is written outside.
func TestSandboxRenamedAway(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	es := filepath.Join(root, "run")
	if err := os.Mkdir(es, 0o755); err != nil {
		t.Fatal(err)
	}
	e, artifact := launcher(t, es)

	// What an earlier task of the pod did.
	moved := es + ".moved"
	if err := os.Rename(es, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, es); err != nil {
		t.Fatal(err)
	}
	// The task sandbox's name leads there too, so a process started by
	// the path would run outside.
	if err := os.MkdirAll(filepath.Join(outside, TasksDir, "t2"), 0o755); err != nil {
		t.Fatal(err)
	}

	ti := &mesos.TaskInfo{
		TaskID:  mesos.TaskID{Value: "t2"},
		Command: &mesos.CommandInfo{Value: str("pwd -P > where"), URIs: []mesos.CommandInfo_URI{{Value: artifact}}},
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []mesos.Volume{
			{ContainerPath: "secret.txt", Mode: mesos.RO.Enum(), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SECRET,
				Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte("s3cr3t")}}}},
			{ContainerPath: "shared", Mode: mesos.RW.Enum(), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SANDBOX_PATH,
				SandboxPath: &mesos.Volume_Source_SandboxPath{Type: mesos.Volume_Source_SandboxPath_PARENT, Path: "shared"}}},
		}},
	}
	env := taskEnv(ti, filepath.Join(es, TasksDir, "t2"), "127.0.0.1", "*")
	p, td, err := e.spawnTask(context.Background(), ti, env)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	defer td.Close()
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		_ = p.Kill()
		t.Fatal("the task did not end")
	}
	var written []string
	_ = filepath.Walk(outside, func(path string, _ os.FileInfo, err error) error {
		if err == nil && path != outside && path != filepath.Join(outside, TasksDir) && path != filepath.Join(outside, TasksDir, "t2") {
			written = append(written, path)
		}
		return nil
	})
	if len(written) != 0 {
		t.Errorf("written outside the sandbox: %v", written)
	}
	dir := filepath.Join(moved, TasksDir, "t2")
	for _, f := range []string{"stdout", "stderr", "secret.txt", "artifact.txt", "where"} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err != nil {
			t.Errorf("not in the task sandbox: %v", err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(moved, "shared")); err != nil || !fi.IsDir() {
		t.Errorf("the PARENT volume's source: %v", err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "where")); strings.TrimSpace(string(b)) != real {
		t.Errorf("the task ran in %q, want %q", b, real)
	}
}

// TestLookPath: a command relative to the task's directory stays relative
// (with a slash), for the process to resolve in its working directory,
// the task sandbox the executor holds open, never through the sandbox's
// name; absolute PATH entries give absolute paths.
func TestLookPath(t *testing.T) {
	dir, bin := t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(dir, "app"), filepath.Join(dir, "sub", "tool"), filepath.Join(bin, "tool")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, path string
		want       string // "" means not found
	}{
		{"./app", "", "./app"},
		{"sub/tool", "", "sub/tool"},
		{"app", ":" + bin, "./app"},
		{"app", ".:" + bin, "./app"},
		{"tool", "sub:" + bin, "sub/tool"},
		{"tool", bin + ":sub", filepath.Join(bin, "tool")},
		{"./data", "", ""},
		{"app", bin, ""},
	} {
		got, err := lookPath(tc.file, tc.path, dir)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("lookPath(%q, PATH=%q) = %q, %v; want %q", tc.file, tc.path, got, err, tc.want)
		}
	}
}

// TestRunWithoutSandbox: Run opens the executor sandbox before anything
// else; one that cannot be opened ends Run at once with an error naming
// MESOS_SANDBOX and the path.
func TestRunWithoutSandbox(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	err := New(Input{Config: Config{Config: config.Config{Sandbox: missing, AgentEndpoint: "127.0.0.1:1"}}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "MESOS_SANDBOX") || !strings.Contains(err.Error(), missing) {
		t.Errorf("Run = %v, want an error naming MESOS_SANDBOX and %s", err, missing)
	}
}

// TestSpawnAfterKill: a task killed while its launch runs is not started
// even when its fetch completes (a local file is copied whatever the
// context): the launch fails with the context's error and no process ran.
func TestSpawnAfterKill(t *testing.T) {
	es := t.TempDir()
	e, artifact := launcher(t, es)
	ti := &mesos.TaskInfo{TaskID: mesos.TaskID{Value: "t"}, Command: &mesos.CommandInfo{Value: str("touch started"), URIs: []mesos.CommandInfo_URI{{Value: artifact}}}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, td, err := e.spawnTask(ctx, ti, taskEnv(ti, filepath.Join(es, TasksDir, "t"), "127.0.0.1", "*"))
	if p != nil {
		_ = p.Kill()
		<-p.Done()
		td.Close()
	}
	if !errors.Is(err, context.Canceled) || p != nil {
		t.Errorf("spawnTask after the kill = %v, %v; want no process and context.Canceled", p, err)
	}
	if _, err := os.Stat(filepath.Join(es, TasksDir, "t", "started")); err == nil {
		t.Error("the task's process ran")
	}
}

// launcher is an Executor that can launch tasks in the executor sandbox
// es, held open as Run holds it, and a local file for tasks to fetch.
func launcher(t *testing.T, es string) (*Executor, string) {
	t.Helper()
	artifact := filepath.Join(t.TempDir(), "artifact.txt")
	if err := os.WriteFile(artifact, []byte("fetched\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sb, err := sandboxfs.Open(es)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return &Executor{sandbox: sb, fetcher: &fetcher.Fetcher{}}, artifact
}
