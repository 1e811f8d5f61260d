package schedulerlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/taskkit/taskkit/internal/plan"
)

// TestNamesNotDNSLabels deploys a service whose service, pod and task names
// have '_' and upper case (svc.yml allows them): bootstrap's default
// resolve host, testenv's DNS and the endpoints the API shows must spell the
// task's autoip name by one rule, so bootstrap resolves it and the task
// keeps running instead of failing after -resolve-timeout.
func TestNamesNotDNSLabels(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	work := t.TempDir()
	svc := filepath.Join(t.TempDir(), "svc.yml")
	spec := `name: Dns_Svc
pods:
  My_Pod:
    count: 1
    tasks:
      Srv_1:
        goal: RUNNING
        cmd: "./bootstrap -resolve-timeout 20s && touch resolved && exec sleep 600"
        cpus: 0.05
        memory: 32
        ports:
          web: {port: 0, advertise: true}
`
	if err := os.WriteFile(svc, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Start(ctx, Options{SpecPath: svc, Master: "local", LocalAgents: 1, LocalWorkDir: work, ArtifactsDir: artifacts})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := in.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	const host = "my-pod-0-srv-1.dns-svc.autoip.dcos.thisdcos.directory"

	waitFor(t, "bootstrap to resolve "+host, 45*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(work, "slaves/*/frameworks/*/executors/*/runs/*/tasks/*/resolved"))
		return len(m) > 0
	})
	waitFor(t, "deploy COMPLETE", 30*time.Second, func() bool { return in.Sched.PlanStatus(plan.Deploy) == plan.Complete })

	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(host), dns.TypeA)
	if r, err := dns.Exchange(m, in.Cluster.DNSAddr()); err != nil || len(r.Answer) == 0 {
		t.Errorf("DNS %s: %v %v", host, err, r)
	}
	var ep struct{ DNS []string }
	if code := getJSON(t, in.APIURL+"/v1/endpoints/web", &ep); code != 200 || len(ep.DNS) != 1 || !strings.HasPrefix(ep.DNS[0], host+":") {
		t.Errorf("endpoint web: %d %v, want %s:<port>", code, ep.DNS, host)
	}
}
