package schedulerlite

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/plan"
)

// sdkShapes is one service holding the shapes the SDK accepts and
// scheduler-lite used to refuse (issue 19; internal/spec/testdata/verdicts
// has each on its own): an upper-case pod with a pod-level user, a task
// name with '_', a resource set with cpus and a volume shared by two tasks
// that run in separate steps and share a discovery prefix (the second is
// ready once it finds what the first wrote in the volume: one reservation
// for both), "- default: []" steps,
// commands in bash syntax (trap ... SIGTERM, [[ ]]), and a secret without
// env-key, which is a file at its path, mode 0400 (the task checks both,
// the content by its SHA-256).
const sdkShapes = `name: sdk-shapes
pods:
  Keyspace-A:
    count: 1
    user: nobody
    secrets:
      keytab:
        secret: cassandra/keytab
    tasks:
      init_system_keyspaces:
        goal: ONCE
        cmd: 'trap "exit 1" SIGTERM; [[ $(stat -c %a cassandra/keytab) == 400 && $(sha256sum < cassandra/keytab | cut -c1-16) == 63e7bd065b3c83fe ]]'
        cpus: 0.05
        memory: 16
  journal:
    count: 2
    resource-sets:
      journal-resources:
        cpus: 0.05
        volume: {path: journal-data, type: ROOT, size: 10}
    tasks:
      format:
        goal: ONCE
        cmd: 'if [[ $POD_INSTANCE_INDEX == [0-9] ]]; then echo formatted > journal-data/format; fi'
        resource-set: journal-resources
        discovery:
          prefix: journal
      node:
        goal: RUNNING
        cmd: 'terminated() { exit 0; }; trap terminated SIGTERM; sleep 600 & wait'
        readiness-check: {cmd: grep -qx formatted journal-data/format, interval: 1, delay: 0, timeout: 5}
        resource-set: journal-resources
        discovery:
          prefix: journal
  node:
    count: 2
    tasks:
      server:
        cmd: exec sleep 600
        cpus: 0.05
        memory: 16
      seed:
        goal: ONCE
        cmd: echo seeded
        cpus: 0.05
        memory: 16
plans:
  deploy:
    phases:
      keyspace:
        pod: Keyspace-A
      journal:
        pod: journal
        steps:
          - default: [[format], [node]]
      servers:
        pod: node
        steps:
          - default: [[server]]
      seed:
        pod: node
        steps:
          - 0: [[seed]]
          - default: []
`

// TestSDKShapesDeploy deploys sdkShapes on the local cluster to COMPLETE:
// every shape the spec accepts also runs.
func TestSDKShapesDeploy(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc.yml")
	if err := os.WriteFile(svc, []byte(sdkShapes), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(filepath.Join(secrets, "cassandra"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "cassandra", "keytab"), []byte("keytab-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := Start(ctx, Options{
		SpecPath: svc, Master: "local", LocalAgents: 2, LocalWorkDir: filepath.Join(dir, "work"),
		Checkpoint: true, ArtifactsDir: artifacts, SecretsDir: secrets,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := in.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	// Through the API only, as an operator sees it.
	waitFor(t, "deploy COMPLETE", 90*time.Second, func() bool {
		var v plan.View
		return getJSON(t, in.APIURL+"/v1/plans/deploy", &v) == 200 && v.Status == plan.Complete
	})
	for pod, want := range map[string]string{
		"Keyspace-A-0": "init_system_keyspaces:FINISHED",
		"journal-1":    "format:FINISHED node:RUNNING",
		"node-0":       "seed:FINISHED server:RUNNING",
		"node-1":       "server:RUNNING",
	} {
		var st struct {
			Tasks []struct{ Name, Status string }
		}
		if code := getJSON(t, in.APIURL+"/v1/pod/"+pod+"/status", &st); code != 200 {
			t.Fatalf("%s: status %d", pod, code)
		}
		var got []string
		for _, task := range st.Tasks {
			got = append(got, strings.TrimPrefix(task.Name, pod+"-")+":"+task.Status)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %s, want %s", pod, strings.Join(got, " "), want)
		}
	}
	// The secret file's value never reaches an API answer.
	for _, url := range []string{in.APIURL + "/v1/pod/Keyspace-A-0/info", in.Cluster.MasterURL() + "/state"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "keytab-value") || strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("keytab-value"))) {
			t.Errorf("%s shows the secret", url)
		}
	}
}
