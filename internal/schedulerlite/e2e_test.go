package schedulerlite

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/taskkit/taskkit/internal/devbuild"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testenv"
)

// artifacts is a directory with the toolkit binaries and the hello-world
// tarball, built once for the package's tests.
var artifacts string

// runtimeDir is the tests' $XDG_RUNTIME_DIR: the schedulers they start
// register there for the commands' --name (internal/servicecli), never in
// the user's own, where a demo of the same name may be running.
var runtimeDir string

// TestMain builds the binaries once for the package's tests.
//
// Tests that start a cluster of their own call t.Parallel: testenv gives
// each cluster its own agent address block, ports and directories, each
// scheduler gets its own state, API port and log, and a test's variables
// go to its scheduler's process only. go test runs -parallel of them at
// once (GOMAXPROCS by default, 2 on CI's 2 cores): their waits for offers,
// kills and restarts overlap. At load average 40 on a 2-core machine the
// tests after the build took 567 s so, against 805 s one by one. A test
// that sets the process's environment (t.Setenv) runs alone, before them.
func TestMain(m *testing.M) {
	code := func() int {
		if _, err := exec.LookPath("go"); err != nil {
			fmt.Println("skipping: no go command to build the binaries")
			return 0
		}
		dir, err := os.MkdirTemp("", "schedulerlite-test-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		runtimeDir = filepath.Join(dir, "run")
		if err := os.Mkdir(runtimeDir, 0o700); err != nil {
			panic(err)
		}
		os.Setenv("XDG_RUNTIME_DIR", runtimeDir)
		root, err := devbuild.SourceRoot()
		if err != nil {
			panic(err)
		}
		pkgs := slices.Concat(devbuild.Toolkit, []string{"./examples/hello-world/server", "./scheduler-lite"})
		// The build's deadline, longer than devbuild's 5 min: two such
		// builds at once on a loaded 2-core machine overran that.
		if err := devbuild.Build(context.Background(), devbuild.Options{Root: root, Dir: dir, Packages: pkgs, Timeout: 8 * time.Minute}); err != nil {
			fmt.Println(err)
			return 1
		}
		cmd := exec.Command("tar", "czf", filepath.Join(dir, "hello-world.tar.gz"), "server", "-C", filepath.Join(root, "examples/hello-world/scripts"), "check-up")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Printf("tar: %v %s\n", err, out)
			return 1
		}
		artifacts = dir
		return m.Run()
	}()
	os.Exit(code)
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sandboxFile finds a file in the sandbox of the newest run of a task.
func sandboxFile(t *testing.T, work, task, name string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(work, "slaves/*/frameworks/*/executors/*/runs/*/tasks/hello-world__"+task+"__*", name))
	var newest string
	var mt time.Time
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.ModTime().After(mt) {
			newest, mt = m, st.ModTime()
		}
	}
	if newest == "" {
		t.Fatalf("no %s in a sandbox of %s", name, task)
	}
	return newest
}

func taskID(t *testing.T, api, pod string) (string, string) {
	var st struct {
		Tasks []struct{ ID, Name, Status string }
	}
	getJSON(t, api+"/v1/pod/"+pod+"/status", &st)
	if len(st.Tasks) == 0 {
		return "", ""
	}
	return st.Tasks[0].ID, st.Tasks[0].Status
}

// TestHelloWorld deploys the example on a local cluster and checks it from
// the outside and from inside the tasks.
func TestHelloWorld(t *testing.T) {
	t.Parallel() // a cluster of its own: see TestMain
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	work := t.TempDir()
	in, err := Start(ctx, Options{
		SpecPath: "../../examples/hello-world/svc.yml", Env: []string{"HELLO_GREETING=Bonjour"},
		Master: "local", LocalAgents: 3, LocalWorkDir: work, Checkpoint: true, ArtifactsDir: artifacts,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := in.APIURL
	defer func() {
		cancel()
		if err := in.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
		// Nothing may be left running in the cluster's sandboxes.
		procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
		for _, p := range procs {
			if d, err := os.Readlink(p); err == nil && strings.HasPrefix(d, work) {
				t.Errorf("process %s still runs in %s", p, d)
			}
		}
	}()

	waitFor(t, "deploy COMPLETE", 90*time.Second, func() bool { return in.Sched.PlanStatus(plan.Deploy) == plan.Complete })
	var v plan.View
	if code := getJSON(t, api+"/v1/plans/deploy", &v); code != 200 || v.Status != plan.Complete {
		t.Fatalf("plan: %d %+v", code, v)
	}
	var names []string
	getJSON(t, api+"/v1/plans", &names)
	if strings.Join(names, ",") != "deploy,recovery,greet" {
		t.Errorf("plans %v", names)
	}
	if code := getJSON(t, api+"/v1/plans/nope", nil); code != 404 {
		t.Errorf("unknown plan: %d", code)
	}
	var health map[string]int
	if code := getJSON(t, api+"/v1/health", &health); code != 200 || health["value"] != 200 {
		t.Errorf("health %d %v", code, health)
	}
	var fid []string
	getJSON(t, api+"/v1/state/frameworkId", &fid)
	if len(fid) != 1 || fid[0] == "" {
		t.Fatalf("framework ID %v", fid)
	}

	t.Run("config rendered in the task", func(t *testing.T) {
		b, err := os.ReadFile(sandboxFile(t, work, "hello-0-server", "hello.conf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"greeting=Bonjour", "name=hello-0-server.hello-world.autoip.dcos.thisdcos.directory", "instance=0", "listen=" + agentBlock(in.Cluster)} {
			if !strings.Contains(string(b), want) {
				t.Errorf("hello.conf lacks %q:\n%s", want, b)
			}
		}
	})

	t.Run("TLS files verify", func(t *testing.T) {
		crt, _ := os.ReadFile(sandboxFile(t, work, "hello-0-server", "server.crt"))
		ca, _ := os.ReadFile(sandboxFile(t, work, "hello-0-server", "server.ca"))
		key, _ := os.ReadFile(sandboxFile(t, work, "hello-0-server", "server.key"))
		blk, _ := pem.Decode(crt)
		if blk == nil || len(key) == 0 {
			t.Fatal("no certificate or key")
		}
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "hello-0-server.hello-world.autoip.dcos.thisdcos.directory"}); err != nil {
			t.Errorf("verify: %v", err)
		}
		if !strings.Contains(strings.Join(leaf.DNSNames, ","), "hello.hello-world.l4lb.thisdcos.directory") || leaf.Subject.CommonName != "hello-0-server-hello-world" {
			t.Errorf("SANs %v CN %q", leaf.DNSNames, leaf.Subject.CommonName)
		}
		st, _ := os.Stat(sandboxFile(t, work, "hello-0-server", "server.key"))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("key mode %v", st.Mode())
		}
	})

	t.Run("DNS name resolves", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("hello-0-server.hello-world.autoip.dcos.thisdcos.directory.", dns.TypeA)
		r, err := dns.Exchange(m, in.Cluster.DNSAddr())
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("DNS: %v %v", err, r)
		}
		if a := r.Answer[0].(*dns.A).A.String(); !strings.HasPrefix(a, agentBlock(in.Cluster)) {
			t.Errorf("A %s", a)
		}
	})

	t.Run("endpoints and pod info", func(t *testing.T) {
		var ep struct {
			DNS, Address []string
			VIP          string
		}
		if code := getJSON(t, api+"/v1/endpoints/https", &ep); code != 200 || len(ep.Address) != 2 || ep.VIP != "hello.hello-world.l4lb.thisdcos.directory:443" {
			t.Errorf("endpoint %d %+v", code, ep)
		}
		resp, err := http.Get(api + "/v1/pod/hello-0/info")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || bytes.Contains(b, []byte("PRIVATE KEY")) || bytes.Contains(b, []byte("BEGIN CERTIFICATE")) || !bytes.Contains(b, []byte("********")) {
			t.Errorf("pod info %d leaks or lacks masking:\n%.500s", resp.StatusCode, b)
		}
		if code := getJSON(t, api+"/v1/pod/nope-0/status", nil); code != 404 {
			t.Errorf("unknown pod %d", code)
		}
	})

	t.Run("unneeded offers declined", func(t *testing.T) {
		waitFor(t, "a decline", 20*time.Second, func() bool { return in.Sched.Metrics().Counter("offers.declined") > 0 })
		resp, err := http.Get(api + "/v1/metrics/prometheus")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(b, []byte("scheduler_lite_offers_declined_total")) || !bytes.Contains(b, []byte("scheduler_lite_offers_process_seconds{quantile=\"0.5\"}")) {
			t.Errorf("prometheus:\n%s", b)
		}
	})

	t.Run("killed task relaunched", func(t *testing.T) {
		id, _ := taskID(t, api, "hello-0")
		var exec string
		for _, f := range in.Cluster.State().Frameworks {
			for _, tk := range f.Tasks {
				if tk.ID == id {
					exec = tk.ExecutorID
				}
			}
		}
		if err := in.Cluster.KillExecutor(fid[0], exec); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a new hello-0 task RUNNING", 60*time.Second, func() bool {
			nid, st := taskID(t, api, "hello-0")
			return nid != id && st == "RUNNING"
		})
	})

	t.Run("pod restart", func(t *testing.T) {
		id, _ := taskID(t, api, "hello-1")
		code, body := post(t, api+"/v1/pod/hello-1/restart", "")
		if code != 200 || !strings.Contains(body, "hello-1-server") {
			t.Fatalf("restart %d %s", code, body)
		}
		waitFor(t, "a new hello-1 task RUNNING", 60*time.Second, func() bool {
			nid, st := taskID(t, api, "hello-1")
			return nid != id && st == "RUNNING"
		})
		if code, _ := post(t, api+"/v1/pod/hello-1/explode", ""); code != 404 {
			t.Errorf("unknown pod command %d", code)
		}
	})

	t.Run("sidecar plan with parameters", func(t *testing.T) {
		if code, body := post(t, api+"/v1/plans/greet/start", `{"GREET_NAME":"e2e"}`); code != 200 {
			t.Fatalf("start %d %s", code, body)
		}
		waitFor(t, "greet COMPLETE", 60*time.Second, func() bool { return in.Sched.PlanStatus("greet") == plan.Complete })
		b, _ := os.ReadFile(sandboxFile(t, work, "world-0-greet", "greet.txt"))
		if string(b) != "hello, e2e\n" {
			t.Errorf("greet.txt %q", b)
		}
		if code, _ := post(t, api+"/v1/plans/greet/start", `[1]`); code != 400 {
			t.Errorf("bad body %d", code)
		}
		if code, _ := post(t, api+"/v1/plans/deploy/continue", ""); code != 208 {
			t.Errorf("no-op continue %d", code)
		}
	})
}

// TestInvalidSpecFailsFast runs the command on a broken svc.yml.
func TestInvalidSpecFailsFast(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "svc.yml")
	os.WriteFile(bad, []byte("name: x\npods:\n  hello:\n    count: 1\n    tasks:\n      server:\n        cmd: true\n        cpus: 1\n        memory: 1\n        gpus: 1\n"), 0o644)
	var out, errb bytes.Buffer
	start := time.Now()
	code := Run(context.Background(), []string{"scheduler-lite", "--master", "local", "--artifacts-dir", artifacts, bad}, os.Environ(), nil, &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), "pods.hello.tasks.server.gpus: not supported") {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// agentBlock is the "127.x.y." prefix of the cluster's agent addresses.
func agentBlock(cl *testenv.Cluster) string {
	ip := cl.Agents()[0].IP
	return ip[:strings.LastIndex(ip, ".")+1]
}
