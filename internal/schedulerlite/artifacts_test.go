package schedulerlite

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/testenv"
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

// TestWarnsOfTestenvWithoutItsDNS: against a testenv (a real one, in
// process) whose env file was not loaded (no TESTENV_DNS_ADDR), the
// scheduler warns at start that its tasks will not resolve their names,
// and says how to fix it; with TESTENV_DNS_ADDR, or with resolvers set by
// hand, it does not. A master that is not a testenv is never one.
func TestWarnsOfTestenvWithoutItsDNS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := testenv.Start(ctx, testenv.Config{Agents: 1, AgentPort: 0, WorkDir: t.TempDir(), StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-cl.Done() }()
	mesos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"build_date":"2020-01-01","version":"1.11.0"}`) // a Mesos master's /version
	}))
	defer mesos.Close()
	if !masterIsTestenv(ctx, cl.MasterURL()) || masterIsTestenv(ctx, mesos.URL) || masterIsTestenv(ctx, "http://127.0.0.1:1") {
		t.Fatalf("masterIsTestenv: testenv %v, Mesos %v, nothing %v", masterIsTestenv(ctx, cl.MasterURL()), masterIsTestenv(ctx, mesos.URL), masterIsTestenv(ctx, "http://127.0.0.1:1"))
	}
	artifacts, svc := toolkitService(t, "dns")
	dir := t.TempDir()
	const warn = "the master is a testenv whose DNS this scheduler does not know (TESTENV_DNS_ADDR unset)"
	for i, tc := range []struct {
		master string
		env    []string
		warned bool
	}{
		{cl.MasterURL(), nil, true},
		{cl.MasterURL(), []string{"TESTENV_DNS_ADDR=127.0.0.1:53"}, false},
		{cl.MasterURL(), []string{"TASKCFG_ALL_BOOTSTRAP_RESOLVERS=127.0.0.1:53"}, false},
		{mesos.URL, nil, false},
	} {
		var logs lockedWriter
		_, stop := startInstance(t, Options{
			SpecPath: svc, Master: tc.master, Env: tc.env, State: "file:" + filepath.Join(dir, fmt.Sprint(i), "state.db"),
			APIListen: "127.0.0.1:0", ArtifactsDir: artifacts, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		})
		stop()
		if got := strings.Contains(logs.String(), warn); got != tc.warned {
			t.Errorf("master %s, env %v: warned %v, want %v:\n%s", tc.master, tc.env, got, tc.warned, logs.String())
		}
	}
}

// TestTestenvWorkDir: the work dir of the testenv the master is, from its
// env file's lines; nothing without them, for another master, or for a
// work dir that is gone (a cluster stopped since).
func TestTestenvWorkDir(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		master string
		env    map[string]string
		want   string
	}{
		{"http://127.0.0.1:5050", map[string]string{"TESTENV_SANDBOX_ROOT": dir, "TESTENV_MASTER_ADDR": "127.0.0.1:5050"}, dir},
		{"http://127.0.0.1:5051", map[string]string{"TESTENV_SANDBOX_ROOT": dir, "TESTENV_MASTER_ADDR": "127.0.0.1:5050"}, ""},
		{"http://127.0.0.1:5050", map[string]string{"TESTENV_SANDBOX_ROOT": dir}, ""},
		{"http://127.0.0.1:5050", map[string]string{"TESTENV_MASTER_ADDR": "127.0.0.1:5050"}, ""},
		{"http://127.0.0.1:5050", map[string]string{"TESTENV_SANDBOX_ROOT": filepath.Join(dir, "gone"), "TESTENV_MASTER_ADDR": "127.0.0.1:5050"}, ""},
	} {
		if got := testenvWorkDir(tc.master, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("testenvWorkDir(%s, %v) = %q, want %q", tc.master, tc.env, got, tc.want)
		}
	}
}

// TestStateGoesWithTheTestenv: against a testenv whose env file is loaded,
// the default state store is a file in the cluster's work dir, not
// ./scheduler-lite-state, which a later cluster would find with agents it
// never has.
func TestStateGoesWithTheTestenv(t *testing.T) {
	t.Chdir(t.TempDir()) // where ./scheduler-lite-state would be
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := testenv.Start(ctx, testenv.Config{Agents: 1, AgentPort: 0, WorkDir: t.TempDir(), StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-cl.Done() }()
	artifacts, svc := toolkitService(t, "kept")
	addr := strings.TrimPrefix(cl.MasterURL(), "http://")
	_, stop := startInstance(t, Options{
		SpecPath: svc, Master: cl.MasterURL(), APIListen: "127.0.0.1:0", ArtifactsDir: artifacts,
		Env: []string{"TESTENV_DNS_ADDR=" + cl.DNSAddr(), "TESTENV_MASTER_ADDR=" + addr, "TESTENV_SANDBOX_ROOT=" + cl.WorkDir()},
	})
	stop()
	if _, err := os.Stat(filepath.Join(cl.WorkDir(), "scheduler-lite-state", "kept", "state.db")); err != nil {
		t.Errorf("no state in the testenv's work dir: %v", err)
	}
	if _, err := os.Stat("scheduler-lite-state"); !os.IsNotExist(err) {
		t.Errorf("./scheduler-lite-state made: %v", err)
	}
}

// toolkitService makes a directory of stand-ins for the toolkit's
// binaries (artifacts) and the svc.yml of a service named name with no
// instance to deploy.
func toolkitService(t *testing.T, name string) (artifacts, svc string) {
	t.Helper()
	dir := t.TempDir()
	artifacts = filepath.Join(dir, "bin")
	if err := os.Mkdir(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range Toolkit {
		if err := os.WriteFile(filepath.Join(artifacts, a), []byte(a), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	svc = filepath.Join(dir, "svc.yml")
	if err := os.WriteFile(svc, []byte("name: "+name+"\npods:\n  p:\n    count: 0\n    tasks:\n      t: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return artifacts, svc
}
