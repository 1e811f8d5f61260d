package schedulerlite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// localSpec needs what a bare local cluster does not offer: a MOUNT disk,
// an agent attribute its placement names, and resources statically
// reserved for slave_public.
const localSpec = `name: localflags
pods:
  disk:
    count: 1
    placement: '[["rack", "IS", "r1"]]'
    tasks:
      t:
        goal: RUNNING
        cmd: "echo ok > data/out && exec sleep 600"
        cpus: 0.1
        memory: 16
        volume: {path: data, type: MOUNT, size: 50}
  public:
    count: 1
    pre-reserved-role: slave_public
    tasks:
      t: {goal: RUNNING, cmd: exec sleep 600, cpus: 0.2, memory: 16}
`

// TestLocalClusterFlags: --local-disk-mount, --local-attribute and
// --local-reserved give the embedded cluster what a service of MOUNT
// volumes, placement rules and a pre-reserved role needs, and its deploy
// completes. Without them it cannot place a pod (checked first, briefly).
func TestLocalClusterFlags(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	svc := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(svc, []byte(localSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(timeout string, extra ...string) (int, string) {
		args := append([]string{"scheduler-lite", "--master", "local", "--local-agents", "1", "--artifacts-dir", artifacts,
			"--api-listen", "127.0.0.1:0", "--exit-after-deploy", "--deploy-timeout", timeout}, extra...)
		var out, errb bytes.Buffer
		code := Run(context.Background(), append(args, svc), os.Environ(), nil, &out, &errb)
		return code, errb.String()
	}
	if code, _ := run("10s"); code != ExitRuntime {
		t.Errorf("without the local flags: exit %d, want %d (the deploy cannot complete)", code, ExitRuntime)
	}
	start := time.Now()
	code, stderr := run("2m", "--local-disk-mount", "64", "--local-attribute", "rack=r1",
		"--local-reserved", "cpus(slave_public):0.5;mem(slave_public):128;disk(slave_public):512")
	if code != ExitOK {
		t.Fatalf("with the local flags: exit %d after %s, stderr:\n%s", code, time.Since(start).Round(time.Second), stderr)
	}
}
