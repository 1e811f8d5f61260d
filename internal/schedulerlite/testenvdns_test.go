package schedulerlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testenv"
)

// TestTestenvResolvers: the DNS address scheduler-lite hands its tasks
// (as TASKCFG_ALL_BOOTSTRAP_RESOLVERS) when it runs against a testenv
// whose env file is loaded, and nothing on DC/OS, against another master,
// or when the operator names the resolvers.
func TestTestenvResolvers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		master string
		env    map[string]string
		want   string
	}{
		{"DC/OS: no TESTENV_ variable", "http://leader.mesos:5050", nil, ""},
		{"testenv's env file", "http://127.0.0.1:5050", map[string]string{"TESTENV_DNS_ADDR": "127.0.0.1:41234", "TESTENV_MASTER_ADDR": "127.0.0.1:5050"}, "127.0.0.1:41234"},
		{"the DNS address alone", "http://127.0.0.1:5050", map[string]string{"TESTENV_DNS_ADDR": "127.0.0.1:41234"}, "127.0.0.1:41234"},
		{"another master than the env file's", "http://10.0.0.7:5050", map[string]string{"TESTENV_DNS_ADDR": "127.0.0.1:41234", "TESTENV_MASTER_ADDR": "127.0.0.1:5050"}, ""},
		{"resolvers named by the operator", "http://127.0.0.1:5050", map[string]string{"TESTENV_DNS_ADDR": "127.0.0.1:41234", "TESTENV_MASTER_ADDR": "127.0.0.1:5050", "TASKCFG_ALL_BOOTSTRAP_RESOLVERS": "10.0.0.2:53"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testenvResolvers(tc.master, func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("testenvResolvers = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSeparateTestenvTasksResolve: scheduler-lite started against a testenv
// it did not start, with the env file's variables (testenv.md's "Running
// it"), deploys a task whose bootstrap waits for its own name: it must ask
// testenv's DNS (the host's resolvers answer NXDOMAIN, and bootstrap would
// wait out -resolve-timeout while the deploy sits at 204).
func TestSeparateTestenvTasksResolve(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	cl := cluster(t, testenv.Config{Agents: 1, DNSListen: "127.0.0.1:0"})
	spec := specFile(t, `name: sep-dns
pods:
  hello:
    count: 1
    tasks:
      server:
        goal: RUNNING
        cmd: "./bootstrap -resolve-timeout 20s && touch resolved && exec sleep 600"
        cpus: 0.05
        memory: 32
`)
	env := []string{
		"MESOS_MASTER=" + cl.MasterURL(),
		testenv.EnvMasterAddr + "=" + cl.MasterAddr(),
		testenv.EnvDNSAddr + "=" + cl.DNSAddr(),
		"TESTENV_SANDBOX_ROOT=" + cl.WorkDir(),
	}
	in, stop := startInstance(t, Options{SpecPath: spec, Env: env, Master: cl.MasterURL(), State: "file:" + filepath.Join(t.TempDir(), "state.db"), APIListen: "127.0.0.1:0", ArtifactsDir: artifacts})
	defer stop()
	waitFor(t, "bootstrap to resolve hello-0-server", 45*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves/*/frameworks/*/executors/*/runs/*/tasks/*/resolved"))
		return len(m) > 0
	})
	waitFor(t, "deploy COMPLETE", 30*time.Second, func() bool { return in.Sched.PlanStatus(plan.Deploy) == plan.Complete })
}
