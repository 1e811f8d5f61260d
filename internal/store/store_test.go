package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/taskkit/taskkit/internal/store/zktest"
)

// backend opens fresh stores of one kind; reopen opens the same one again.
type backend struct {
	name string
	// fresh returns the spec of a new, empty store.
	fresh func(t *testing.T, n string) string
}

func backends(t *testing.T) []backend {
	bolt := backend{"bolt", func(t *testing.T, n string) string {
		return "file:" + filepath.Join(t.TempDir(), "sub", "state.db")
	}}
	out := []backend{bolt}
	if _, _, ok := zktest.Available(); !ok {
		t.Run("zookeeper", func(t *testing.T) { t.Skip(zktest.Skip) }) // seen by CI, not only logged
		return out
	}
	srv := zktest.Start(t)
	out = append(out, backend{"zookeeper", func(t *testing.T, n string) string {
		return srv.URL("/test/" + strings.ReplaceAll(t.Name(), "/", "_") + n)
	}})
	return out
}

// testSession is the tests' ZooKeeper session timeout, the default. The
// client gives up on a connection silent for 2/3 of it and fails the
// request in flight ("zk: connection closed"): with 1 s, a ZooKeeper
// stalled 667 ms on a loaded machine failed TestStore and
// TestCrashBetweenWrites. No test here waits for a session to expire.
const testSession = 5 * time.Second

// testConnect is the tests' wait for a first session: on a loaded machine
// a ZooKeeper just started (its JIT still cold) took more than the
// default 15 s to open one. It is a deadline, not something checked.
const testConnect = time.Minute

func open(t *testing.T, spec string) Store {
	t.Helper()
	return openWith(t, spec, Options{SessionTimeout: testSession})
}

// openWith is open with o (its Service and ConnectTimeout set here).
func openWith(t *testing.T, spec string, o Options) Store {
	t.Helper()
	o.Service, o.ConnectTimeout = "svc", testConnect
	s, err := Open(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStore exercises every call on both backends, then reopens the store
// to check that everything survived.
func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			spec := b.fresh(t, "")
			s := open(t, spec)
			if id, err := s.FrameworkID(); err != nil || id != "" {
				t.Fatalf("empty store: %q %v", id, err)
			}
			if id, cfg, err := s.Target(); err != nil || id != "" || cfg != nil {
				t.Fatalf("empty target: %q %q %v", id, cfg, err)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(s.SetFrameworkID("fw-1"))
			must(s.SetTarget("cfg1", []byte("yaml")))
			must(s.PutTasks(map[string][]byte{"hello-0-server": []byte("info0"), "hello-1-server": []byte("info1")}))
			must(s.PutStatus("hello-0-server", []byte("running")))
			must(s.PutPlan("deploy", []byte(`{}`)))
			must(s.SetProperties(map[string][]byte{"ca.crt": []byte("c"), "ca.key": []byte("k"), "a/b": []byte("slash")}))
			if err := s.PutStatus("big", make([]byte, MaxValue+1)); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("large value: %v", err)
			}
			must(s.Close())

			s = open(t, spec)
			defer s.Close()
			if id, _ := s.FrameworkID(); id != "fw-1" {
				t.Errorf("framework ID %q", id)
			}
			if id, cfg, _ := s.Target(); id != "cfg1" || string(cfg) != "yaml" {
				t.Errorf("target %q %q", id, cfg)
			}
			// A new target keeps the old configuration until it is deleted.
			must(s.SetTarget("cfg2", []byte("yaml2")))
			if cs, err := s.Configurations(); err != nil || len(cs) != 2 || string(cs["cfg1"]) != "yaml" || string(cs["cfg2"]) != "yaml2" {
				t.Errorf("configurations %q %v", cs, err)
			}
			must(s.DeleteConfigurations("cfg1", "never-stored"))
			if cs, _ := s.Configurations(); len(cs) != 1 || cs["cfg2"] == nil {
				t.Errorf("configurations after delete %q", cs)
			}
			if id, cfg, _ := s.Target(); id != "cfg2" || string(cfg) != "yaml2" {
				t.Errorf("target %q %q", id, cfg)
			}
			tasks, _ := s.Tasks()
			if len(tasks) != 2 || string(tasks["hello-0-server"].Status) != "running" || tasks["hello-1-server"].Status != nil {
				t.Errorf("tasks %q", tasks)
			}
			// A relaunch replaces the info and keeps the last status until a new one.
			must(s.PutTasks(map[string][]byte{"hello-0-server": []byte("info0b")}))
			tasks, _ = s.Tasks()
			if string(tasks["hello-0-server"].Info) != "info0b" || string(tasks["hello-0-server"].Status) != "running" {
				t.Errorf("relaunch %q", tasks["hello-0-server"])
			}
			// A burst of statuses is one write; a status of a task not stored
			// yet creates its node (ZooKeeper).
			must(s.PutStatuses(map[string][]byte{"hello-0-server": []byte("r2"), "hello-1-server": []byte("s1"), "hello-2-server": []byte("s2")}))
			tasks, _ = s.Tasks()
			if string(tasks["hello-0-server"].Status) != "r2" || string(tasks["hello-1-server"].Status) != "s1" || string(tasks["hello-1-server"].Info) != "info1" {
				t.Errorf("statuses %q", tasks)
			}
			if err := s.PutStatuses(map[string][]byte{"hello-0-server": []byte("r3"), "big": make([]byte, MaxValue+1)}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("large status in a burst: %v", err)
			}
			if tasks, _ = s.Tasks(); string(tasks["hello-0-server"].Status) != "r2" {
				t.Errorf("a refused burst was half-written: %q", tasks["hello-0-server"].Status)
			}
			must(s.DeleteTasks("hello-1-server", "hello-2-server"))
			if tasks, _ = s.Tasks(); len(tasks) != 1 {
				t.Errorf("after delete %q", tasks)
			}
			if v, _ := s.Property("ca.key"); !bytes.Equal(v, []byte("k")) {
				t.Errorf("property %q", v)
			}
			if v, _ := s.Property("a/b"); string(v) != "slash" {
				t.Errorf("property with a slash %q", v)
			}
			if v, _ := s.Property("nope"); v != nil {
				t.Errorf("unset property %q", v)
			}
			if keys, err := s.PropertyKeys(); err != nil || strings.Join(keys, " ") != "a/b ca.crt ca.key" {
				t.Errorf("property keys %q %v", keys, err)
			}
			if p, _ := s.Plans(); string(p["deploy"]) != "{}" {
				t.Errorf("plans %q", p)
			}
			must(s.PutReservations(map[string][]byte{"hello-0": []byte("r0"), "hello-1": []byte("r1")}))
			must(s.PutReservations(map[string][]byte{"hello-0": []byte("r0b"), "hello-1": nil, "never-stored": nil}))
			if r, err := s.Reservations(); err != nil || len(r) != 1 || string(r["hello-0"]) != "r0b" {
				t.Errorf("reservations %q %v", r, err)
			}
			if err := s.PutReservations(map[string][]byte{"hello-0": []byte("r0c"), "big": make([]byte, MaxValue+1)}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("large reservation: %v", err)
			}
			must(s.SetFrameworkID(""))
			if id, _ := s.FrameworkID(); id != "" {
				t.Errorf("deleted framework ID %q", id)
			}
			must(s.Clear())
			if tasks, _ = s.Tasks(); len(tasks) != 0 {
				t.Error("clear")
			}
			if d := dump(t, s); d != "" {
				t.Errorf("after clear:\n%s", d)
			}
		})
	}
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := OpenBolt(path); err == nil {
		t.Fatal("a second open of a locked store succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	for _, spec := range []string{"etcd://x/y", "zk://", "zk:///x", "zk://h:1/a//b"} {
		if _, err := Open(spec, Options{ConnectTimeout: 100 * time.Millisecond}); err == nil {
			t.Errorf("%s accepted", spec)
		}
	}
	servers, root, err := ParseZK("zk://a:1,b/", "/group/my svc")
	if err != nil || strings.Join(servers, ",") != "a:1,b:2181" || root != "/dcos-service-group__my svc" {
		t.Errorf("ParseZK: %v %q %v", servers, root, err)
	}
	if _, err := Open("zk://127.0.0.1:1/x", Options{ConnectTimeout: 300 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Errorf("unreachable ZooKeeper: %v", err)
	}
}

// dump renders everything a store holds, one sorted line per value.
func dump(t *testing.T, s Store) string {
	t.Helper()
	var lines []string
	id, err := s.FrameworkID()
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		lines = append(lines, "FrameworkID="+id)
	}
	tid, cfg, err := s.Target()
	if err != nil {
		t.Fatal(err)
	}
	if tid != "" {
		lines = append(lines, "Target="+tid+":"+string(cfg))
	}
	tasks, err := s.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	for n, tk := range tasks {
		lines = append(lines, fmt.Sprintf("Task %s=%s/%s", n, tk.Info, tk.Status))
	}
	plans, err := s.Plans()
	if err != nil {
		t.Fatal(err)
	}
	for n, p := range plans {
		lines = append(lines, "Plan "+n+"="+string(p))
	}
	res, err := s.Reservations()
	if err != nil {
		t.Fatal(err)
	}
	for n, r := range res {
		lines = append(lines, "Reservation "+n+"="+string(r))
	}
	for _, k := range []string{"ca.crt", "ca.key"} {
		if v, err := s.Property(k); err != nil {
			t.Fatal(err)
		} else if v != nil {
			lines = append(lines, "Property "+k+"="+string(v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// writes is a scheduler's life in store calls: register, take a
// configuration, create the CA, launch a pod, see it run, save the plan,
// relaunch a task, see it run, drop a task, uninstall the framework ID.
var writes = []struct {
	name string
	do   func(Store) error
}{
	{"framework ID", func(s Store) error { return s.SetFrameworkID("fw-1") }},
	{"target", func(s Store) error { return s.SetTarget("cfg1", []byte("yaml")) }},
	{"CA", func(s Store) error {
		return s.SetProperties(map[string][]byte{"ca.crt": []byte("c"), "ca.key": []byte("k")})
	}},
	{"launch", func(s Store) error {
		return s.PutTasks(map[string][]byte{"hello-0-server": []byte("i0"), "hello-0-side": []byte("i0s")})
	}},
	{"status", func(s Store) error { return s.PutStatus("hello-0-server", []byte("RUNNING")) }},
	{"plan", func(s Store) error { return s.PutPlan("deploy", []byte(`{"a":1}`)) }},
	{"reservation", func(s Store) error { return s.PutReservations(map[string][]byte{"hello-0": []byte("r0")}) }},
	{"relaunch", func(s Store) error { return s.PutTasks(map[string][]byte{"hello-0-server": []byte("i1")}) }},
	{"status 2", func(s Store) error { return s.PutStatus("hello-0-server", []byte("RUNNING2")) }},
	{"target 2", func(s Store) error { return s.SetTarget("cfg2", []byte("yaml2")) }},
	{"delete", func(s Store) error { return s.DeleteTasks("hello-0-side") }},
	{"plan 2", func(s Store) error { return s.PutPlan("deploy", []byte(`{"a":2}`)) }},
	{"reservation released", func(s Store) error { return s.PutReservations(map[string][]byte{"hello-0": nil}) }},
	{"no framework ID", func(s Store) error { return s.SetFrameworkID("") }},
}

// TestCrashHelper is the child process of TestCrashBetweenWrites: it makes
// the first STORE_CRASH_K writes, then SIGKILLs itself.
func TestCrashHelper(t *testing.T) {
	spec := os.Getenv("STORE_CRASH_SPEC")
	if spec == "" {
		t.Skip("helper process only")
	}
	k, _ := strconv.Atoi(os.Getenv("STORE_CRASH_K"))
	s, err := Open(spec, Options{Service: "svc", SessionTimeout: testSession})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for _, w := range writes[:k] {
		if err := w.do(s); err != nil {
			fmt.Fprintln(os.Stderr, w.name, err)
			os.Exit(3)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Minute)
}

// TestCrashBetweenWrites kills a process (SIGKILL, nothing flushed or
// closed) after each prefix of a scheduler's writes, on both backends, and
// checks that a reopened store holds exactly the writes made before the
// crash.
func TestCrashBetweenWrites(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			// The expected state after k writes, from a store that did not crash.
			want := make([]string, len(writes)+1)
			ref := open(t, b.fresh(t, "-ref"))
			want[0] = dump(t, ref)
			for i, w := range writes {
				if err := w.do(ref); err != nil {
					t.Fatal(err)
				}
				want[i+1] = dump(t, ref)
			}
			ref.Close()
			for k := 0; k <= len(writes); k++ {
				spec := b.fresh(t, "-"+strconv.Itoa(k))
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
				cmd.Env = append(os.Environ(), "STORE_CRASH_SPEC="+spec, "STORE_CRASH_K="+strconv.Itoa(k))
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("helper after %d writes: %v\n%s", k, err, out)
				}
				s := open(t, spec)
				got := dump(t, s)
				s.Close()
				if got != want[k] {
					t.Errorf("crash after %d writes (last %q):\ngot:\n%s\nwant:\n%s", k, name(k), got, want[k])
				}
			}
		})
	}
}

func name(k int) string {
	if k == 0 {
		return "none"
	}
	return writes[k-1].name
}

// TestZKLeader checks the election: one leader at a time, the standby takes
// over when the leader closes its session (not when the session would
// have expired), and a leader whose election node disappeared can no
// longer write.
func TestZKLeader(t *testing.T) {
	srv := zktest.Start(t)
	spec := srv.URL("")
	// A session as long as the server allows (zktest: 60 s): had a's Close
	// left its session to expire, b would lead a minute after it, not
	// within the half of it the takeover is allowed on a loaded machine.
	const session = time.Minute
	opened := time.Now()
	a := openWith(t, spec, Options{SessionTimeout: session}).(*ZK)
	b := openWith(t, spec, Options{SessionTimeout: session}).(*ZK)
	defer b.Close()
	t.Logf("a and b opened in %s", time.Since(opened).Round(time.Millisecond))
	// Every wait's deadline; the checks are below.
	ctx, cancel := context.WithTimeout(context.Background(), 2*session)
	defer cancel()
	if a.Root() != "/dcos-service-svc" {
		t.Errorf("root %s", a.Root())
	}
	lostA, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bLeads := make(chan time.Time, 1)
	var lostB <-chan struct{}
	var bErr error
	go func() { // owned by the test: ends when b leads or ctx ends
		l, err := b.Lead(ctx)
		if err == nil {
			lostB = l
			bLeads <- time.Now()
		}
		bErr = err
		close(bLeads)
	}()
	select {
	case <-bLeads:
		t.Fatal("two leaders")
	case <-time.After(500 * time.Millisecond):
	}
	if err := a.SetFrameworkID("fw"); err != nil {
		t.Fatal(err)
	}
	closed := time.Now()
	a.Close()
	<-lostA
	took, ok := <-bLeads
	if !ok {
		t.Fatalf("b never led: %v", bErr)
	}
	if d := took.Sub(closed); d > session/2 {
		t.Errorf("takeover took %s, want well under the session timeout %s", d, session)
	} else {
		t.Logf("takeover took %s", d.Round(time.Millisecond))
	}
	if id, _ := b.FrameworkID(); id != "fw" {
		t.Errorf("framework ID %q", id)
	}
	// Delete b's election node behind its back: b loses the lead and its
	// writes fail.
	c, _, err := zk.Connect([]string{srv.Addr}, testSession, zk.WithLogger(zkLogger{b.log}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kids, _, err := c.Children(b.Root() + "/lock")
	if err != nil || len(kids) != 1 {
		t.Fatalf("election nodes %v %v", kids, err)
	}
	if err := c.Delete(b.Root()+"/lock/"+kids[0], -1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lostB:
	case <-ctx.Done():
		t.Fatal("b did not notice its lost leadership")
	}
	if err := b.SetFrameworkID("fw2"); !errors.Is(err, ErrLeadershipLost) {
		t.Errorf("write after losing the lead: %v", err)
	}
}

// TestRemove deletes each backend's store entirely.
func TestRemove(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			spec := b.fresh(t, "")
			s := open(t, spec)
			if l, ok := s.(Leader); ok {
				if _, err := l.Lead(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.SetFrameworkID("fw"); err != nil {
				t.Fatal(err)
			}
			if err := s.(Remover).Remove(); err != nil {
				t.Fatal(err)
			}
			switch s := s.(type) {
			case *Bolt:
				if _, err := os.Stat(s.path); !os.IsNotExist(err) {
					t.Errorf("file left: %v", err)
				}
			case *ZK:
				c, _, err := zk.Connect([]string{strings.TrimPrefix(strings.Split(spec, "/test")[0], "zk://")}, testSession, zk.WithLogger(zkLogger{s.log}))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if ok, _, err := c.Exists(s.Root()); err != nil || ok {
					t.Errorf("tree left: %v %v", ok, err)
				}
			}
		})
	}
}
