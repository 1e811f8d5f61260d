package testenv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

func TestParseIsolation(t *testing.T) {
	for _, tc := range []struct {
		list    string
		cgroups bool
		err     string
	}{
		{DefaultIsolation, false, ""},
		{"", false, ""},
		{"cgroups/cpu", true, ""},
		{" posix/mem , cgroups/cpu ,", true, ""},
		{"cgroups/mem", false, `unknown or unsupported isolator "cgroups/mem"`},
		{"posix/cpu,filesystem/linux", false, `unknown or unsupported isolator "filesystem/linux"`},
	} {
		t.Run(tc.list, func(t *testing.T) {
			got, err := parseIsolation(tc.list)
			if (err == nil) != (tc.err == "") || err != nil && !strings.HasPrefix(err.Error(), tc.err) || got != tc.cgroups {
				t.Errorf("parseIsolation(%q) = %v, %v; want %v, %q", tc.list, got, err, tc.cgroups, tc.err)
			}
		})
	}
}

func TestCPUShares(t *testing.T) {
	for _, tc := range []struct {
		cpus float64
		want uint64
	}{{0, 2}, {0.001, 2}, {0.1, 102}, {0.85, 870}, {1, 1024}, {1.85, 1894}, {4, 4096}} {
		if got := cpuShares(tc.cpus); got != tc.want {
			t.Errorf("cpuShares(%v) = %d, want %d", tc.cpus, got, tc.want)
		}
	}
}

// TestCgroupsCPUUnusable: a hierarchy testenv cannot make its cgroup in
// fails Start with an error naming Isolation (the command line's
// --isolation) and the path, leaving nothing in the hierarchy. Fake
// hierarchies: no root needed.
func TestCgroupsCPUUnusable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, h string)
		want  string // in the error, after "Isolation: cgroups/cpu: "; %s is the hierarchy
	}{
		{"no cpu controller", func(t *testing.T, h string) {}, "no cgroup v1 cpu controller mounted at %s/cpu"},
		{"cgroup v2", func(t *testing.T, h string) {
			writeTestFile(t, filepath.Join(h, "cgroup.controllers"), "cpu io memory\n")
		},
			"%s is a cgroup v2 (unified) hierarchy, and testenv implements cgroups/cpu for cgroup v1 only (cpu.shares; not cgroup v2's cpu.weight): " +
				"use the isolation posix/cpu,posix/mem (the default, which isolates nothing), or a host with the cgroup v1 cpu controller mounted at %s/cpu " +
				"(booted with systemd.unified_cgroup_hierarchy=0)"},
		{"root is not a directory", func(t *testing.T, h string) {
			writeTestFile(t, filepath.Join(h, "cpu", "cpu.shares"), "1024\n")
			writeTestFile(t, filepath.Join(h, "cpu", "mesos"), "")
		}, "creating cgroup %s/cpu/mesos/testenv-"},
		{"not a cpu cgroup", func(t *testing.T, h string) { writeTestFile(t, filepath.Join(h, "cpu", "cpu.shares"), "1024\n") },
			"writing %s/cpu/mesos/testenv-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := t.TempDir()
			tc.setup(t, h)
			before := snapshot(t, h)
			_, err := tryStartCluster(t, Config{Isolation: "cgroups/cpu", CgroupsHierarchy: h})
			var fe *FieldError
			want := "Isolation: cgroups/cpu: " + strings.ReplaceAll(tc.want, "%s", h)
			if !errors.As(err, &fe) || fe.Field != "Isolation" || errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
				t.Errorf("Start: %v; want a FieldError of Isolation (not ErrConfig) with %q", err, want)
			}
			if after := snapshot(t, h); !slices.Equal(slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before))) {
				t.Errorf("left in the hierarchy: %q, was %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
		})
	}
}

func writeTestFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// needCPUCgroups skips the test unless this machine's cgroup v1 cpu
// hierarchy is there and writable (root).
func needCPUCgroups(t *testing.T) {
	t.Helper()
	cpu := filepath.Join(DefaultCgroupsHierarchy, "cpu")
	if _, err := os.Stat(filepath.Join(cpu, "cpu.shares")); err != nil {
		t.Skipf("no cgroup v1 cpu controller mounted at %s: %v", cpu, err)
	}
	probe := filepath.Join(cpu, fmt.Sprintf("taskkit-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Skipf("the cgroup v1 cpu hierarchy at %s is not writable: %v", cpu, err)
	}
	if err := os.Remove(probe); err != nil {
		t.Fatal(err)
	}
}

var cgroupRoots atomic.Int64

// cgroupsConfig is a cgroups/cpu cluster's Config under a cgroups root of
// the test's own (nested if asked), which must be gone once every cluster
// of the test has stopped.
func cgroupsConfig(t *testing.T, nested bool) Config {
	t.Helper()
	top := fmt.Sprintf("taskkit-test-%d-%d", os.Getpid(), cgroupRoots.Add(1))
	root := top
	if nested {
		root += "/mesos"
	}
	dir := filepath.Join(DefaultCgroupsHierarchy, "cpu", top)
	// Registered before the test starts any cluster: runs after they
	// stopped.
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %s left behind", dir)
			removeCgroupTree(dir)
		}
	})
	return Config{Isolation: "posix/cpu,posix/mem,cgroups/cpu", CgroupsRoot: root, AllocationInterval: 50 * time.Millisecond}
}

// removeCgroupTree removes cgroup dir and those under it.
func removeCgroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir)
}

// readCgroup reads control file name of cgroup dir, trimmed.
func readCgroup(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// containerCgroup is the cgroup of executor eid's container and its
// executor's pid.
func containerCgroup(t *testing.T, cl *Cluster, fid, eid string) (string, int) {
	t.Helper()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, a := range cl.agents {
		if e := a.executors[fid+"/"+eid]; e != nil && e.p != nil {
			return filepath.Join(cl.cpu.dir, e.containerID), e.p.pid
		}
	}
	t.Fatalf("no running executor %s", eid)
	return "", 0
}

func gone(p string) func() bool {
	return func() bool { _, err := os.Stat(p); return errors.Is(err, os.ErrNotExist) }
}

// TestCgroupsCPUExecutorShares follows the cgroups/cpu isolator
// (CpuSubsystemProcess::update) for an executor's container: its
// cpu.shares are 1024 per cpu of the executor and its tasks — both task
// groups' — set at launch, raised when a task group is added to the
// running executor and lowered when a task ends; its process is in it; it
// is removed once the executor is killed.
func TestCgroupsCPUExecutorShares(t *testing.T) {
	needCPUCgroups(t)
	cl := startCluster(t, cgroupsConfig(t, true))
	s := subscribe(t, cl, frameworkInfo("cgroups"), protoCodec)
	o := s.offers()[0]
	ei := testExecutorInfo(t, "cg-exec") // 0.1 cpus
	ei.FrameworkID = &mesos.FrameworkID{Value: s.FrameworkID}
	task := func(id string, cpus float64) mesos.TaskInfo {
		ti := execTask(id, o, nil, "run")
		ti.Command = &mesos.CommandInfo{}
		ti.Resources = []mesos.Resource{resources.NewCPUs(cpus).Resource, resources.NewMemory(16).Resource}
		return ti
	}
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, task("g1", 0.5), task("g2", 0.25))}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
	s.updateAck("g1", mesos.TASK_RUNNING)
	s.updateAck("g2", mesos.TASK_RUNNING)
	cg, pid := containerCgroup(t, cl, s.FrameworkID, "cg-exec")
	if got := readCgroup(t, cg, "cpu.shares"); got != "870" { // (0.1 + 0.5 + 0.25) × 1024
		t.Errorf("cpu.shares = %s, want 870", got)
	}
	if procs := strings.Fields(readCgroup(t, cg, "cgroup.procs")); !slices.Contains(procs, strconv.Itoa(pid)) {
		t.Errorf("executor %d not in %s/cgroup.procs: %v", pid, cg, procs)
	}

	o = s.offers()[0]
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, task("g3", 1))}.WithOffers(o.ID)).With(calls.RefuseSeconds(0)))
	s.updateAck("g3", mesos.TASK_RUNNING)
	if got := readCgroup(t, cg, "cpu.shares"); got != "1894" { // + 1
		t.Errorf("after a second task group: cpu.shares = %s, want 1894", got)
	}

	s.MustCall(calls.Kill("g1", o.AgentID.Value))
	s.updateAck("g1", mesos.TASK_KILLED)
	if got := readCgroup(t, cg, "cpu.shares"); got != "1382" { // - 0.5
		t.Errorf("after g1 ended: cpu.shares = %s, want 1382", got)
	}

	if err := cl.KillExecutor(s.FrameworkID, "cg-exec"); err != nil {
		t.Fatal(err)
	}
	s.updateAck("g2", mesos.TASK_FAILED)
	s.updateAck("g3", mesos.TASK_FAILED)
	eventually(t, "the killed executor's cgroup removed", gone(cg))
}

// cpuCgroupOf is the cpu controller's cgroup in a /proc/PID/cgroup text.
func cpuCgroupOf(text string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "cpu") {
			return f[2]
		}
	}
	return ""
}

// TestCgroupsCPUCommandTask: a command task's container (the task's cpus
// and the command executor's 0.1) is its cgroup from the program's first
// instruction — the shell's first command reads its own cgroup — and the
// cgroup is removed once the task is killed.
func TestCgroupsCPUCommandTask(t *testing.T) {
	needCPUCgroups(t)
	cfg := cgroupsConfig(t, false)
	cl := startCluster(t, cfg)
	s := subscribe(t, cl, frameworkInfo("cgroups-cmd"), jsonCodec)
	o := s.offers()[0]
	out := filepath.Join(t.TempDir(), "cgroup")
	s.launch(o, commandTask("cat", o, "cat /proc/$$/cgroup > "+out+".tmp && mv "+out+".tmp "+out+"; exec sleep 600"))
	s.updateAck("cat", mesos.TASK_STARTING)
	run := s.updateAck("cat", mesos.TASK_RUNNING)
	cid := run.GetContainerStatus().GetContainerID().GetValue()
	cg := filepath.Join(cl.cpu.dir, cid)
	eventually(t, "the task's output", func() bool { _, err := os.Stat(out); return err == nil })
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "/" + cfg.CgroupsRoot + "/" + filepath.Base(cl.cpu.dir) + "/" + cid
	if got := cpuCgroupOf(string(b)); got != want {
		t.Errorf("the task's first command ran in cpu cgroup %q, want %q:\n%s", got, want, b)
	}
	if got := readCgroup(t, cg, "cpu.shares"); got != "204" { // (0.1 + 0.1) × 1024
		t.Errorf("cpu.shares = %s, want 204", got)
	}
	pid := strconv.Itoa(int(run.GetContainerStatus().GetExecutorPID()))
	if procs := strings.Fields(readCgroup(t, cg, "cgroup.procs")); !slices.Contains(procs, pid) {
		t.Errorf("cgroup.procs = %q, without the task's pid %s", procs, pid)
	}
	s.MustCall(calls.Kill("cat", o.AgentID.Value))
	s.updateAck("cat", mesos.TASK_KILLED)
	eventually(t, "the killed task's cgroup removed", gone(cg))
}

// startStoppable starts a cluster of cfg in a work dir of its own, with a
// short StopGrace, that the test stops with cancel (then Wait) before its
// end, or t's cleanup does.
func startStoppable(t *testing.T, cfg Config) (*Cluster, context.CancelFunc) {
	t.Helper()
	cfg.WorkDir = t.TempDir()
	cfg.StopGrace = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cl.Wait() })
	return cl, cancel
}

// TestCgroupsCPUTwoClusters: two clusters under one cgroups root each have
// their own directory; the first to stop removes its own (and its running
// container's) and leaves the other's and the root it is in; the second
// removes the rest (cgroupsConfig checks).
func TestCgroupsCPUTwoClusters(t *testing.T) {
	needCPUCgroups(t)
	cfg := cgroupsConfig(t, false)
	type run struct {
		cl     *Cluster
		cancel context.CancelFunc
		cg     string
	}
	var runs []run
	for i := range 2 {
		cl, cancel := startStoppable(t, cfg)
		s := subscribe(t, cl, frameworkInfo(fmt.Sprint("two-", i)), protoCodec)
		o := s.offers()[0]
		s.launch(o, commandTask("sleep", o, "exec sleep 600"))
		s.updateAck("sleep", mesos.TASK_STARTING)
		st := s.updateAck("sleep", mesos.TASK_RUNNING)
		runs = append(runs, run{cl, cancel, filepath.Join(cl.cpu.dir, st.GetContainerStatus().GetContainerID().GetValue())})
	}
	if runs[0].cl.cpu.dir == runs[1].cl.cpu.dir {
		t.Fatalf("both clusters in %s", runs[0].cl.cpu.dir)
	}
	runs[0].cancel()
	runs[0].cl.Wait()
	if !gone(runs[0].cl.cpu.dir)() {
		t.Errorf("the stopped cluster's cgroup %s is left", runs[0].cl.cpu.dir)
	}
	if procs := readCgroup(t, runs[1].cg, "cgroup.procs"); procs == "" {
		t.Errorf("the running cluster's task is no longer in %s", runs[1].cg)
	}
	runs[1].cancel()
	runs[1].cl.Wait()
	if !gone(runs[1].cl.cpu.dir)() {
		t.Errorf("the second cluster's cgroup %s is left", runs[1].cl.cpu.dir)
	}
}

// TestUpIsolation: "testenv up --isolation cgroups/cpu" runs with its
// cluster's cgroup and removes it when stopped; one that cannot make it
// exits 1 naming the flag or variable and the path, having started
// nothing.
func TestUpIsolation(t *testing.T) {
	h := t.TempDir()
	v2 := t.TempDir()
	writeTestFile(t, filepath.Join(v2, "cgroup.controllers"), "cpu io memory\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--isolation", "cgroups/cpu", "--cgroups-hierarchy", h},
			"--isolation: cgroups/cpu: no cgroup v1 cpu controller mounted at " + h + "/cpu"},
		{[]string{"TESTENV_ISOLATION=posix/cpu,cgroups/cpu", "TESTENV_CGROUPS_HIERARCHY=" + h}, nil,
			"TESTENV_ISOLATION: cgroups/cpu: no cgroup v1 cpu controller mounted at " + h + "/cpu"},
		{nil, []string{"--isolation", "cgroups/cpu", "--cgroups-hierarchy", v2},
			"testenv: --isolation: cgroups/cpu: " + v2 + " is a cgroup v2 (unified) hierarchy, and testenv implements cgroups/cpu for cgroup v1 only"},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			code, out, errOut := runUp(t, tc.env, append(tc.args, "--env-file", "none")...)
			if code != ExitRuntime || out != "" || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, `msg="testenv up"`) {
				t.Errorf("exit %d (want %d), stdout %q (want none), stderr without %q or with a cluster up:\n%s", code, ExitRuntime, out, tc.want, errOut)
			}
		})
	}

	t.Run("running", func(t *testing.T) {
		needCPUCgroups(t)
		root := cgroupsConfig(t, false).CgroupsRoot
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		p := startUp(t, ctx, "--isolation", "cgroups/cpu", "--cgroups-root", root, "--env-file", "none")
		if l := p.firstLine(waitLong); !strings.HasPrefix(l, "MESOS_MASTER=") {
			p.cmd.Cancel()
			_, errOut := p.wait()
			t.Fatalf("first line %q:\n%s", l, errOut)
		}
		dirs, _ := filepath.Glob(filepath.Join(DefaultCgroupsHierarchy, "cpu", root, clusterDirPrefix+"*"))
		if len(dirs) != 1 {
			t.Errorf("cluster cgroups %v, want one", dirs)
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code, errOut := p.wait(); code != ExitOK {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
	})

	// kill -9 leaves the cluster's cgroup; the next up under the root
	// removes it, and the root it then holds alone when it stops
	// (cgroupsConfig checks that nothing is left).
	t.Run("killed", func(t *testing.T) {
		needCPUCgroups(t)
		root := cgroupsConfig(t, false).CgroupsRoot
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		clusters := func() []string {
			dirs, _ := filepath.Glob(filepath.Join(DefaultCgroupsHierarchy, "cpu", root, clusterDirPrefix+"*"))
			return dirs
		}
		up := func() *upProc {
			p := startUp(t, ctx, "--isolation", "cgroups/cpu", "--cgroups-root", root, "--env-file", "none", "--work-dir", t.TempDir())
			if l := p.firstLine(waitLong); !strings.HasPrefix(l, "MESOS_MASTER=") {
				p.cmd.Cancel()
				_, errOut := p.wait()
				t.Fatalf("first line %q:\n%s", l, errOut)
			}
			return p
		}
		p := up()
		killed := clusters()
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		p.wait()
		if len(killed) != 1 || !slices.Equal(clusters(), killed) {
			t.Fatalf("after kill -9: cluster cgroups %v, want the killed one's %v", clusters(), killed)
		}
		p = up()
		if now := clusters(); len(now) != 1 || now[0] == killed[0] {
			t.Errorf("after the next up: cluster cgroups %v, want one, not the killed one's %s", now, killed[0])
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		code, errOut := p.wait()
		if code != ExitOK || !strings.Contains(errOut, "removed the cgroup of a cluster that is no longer running") {
			t.Errorf("exit %d, or the stale cgroup's removal not logged:\n%s", code, errOut)
		}
	})
}

// TestCgroupsCPUStaleClusters: a cluster starting under a cgroups root
// removes the directories of clusters that no longer run, killing what is
// left in their containers' cgroups (a process that had left its
// executor's session), and leaves a live cluster's directory (its lock
// held) and every directory not named as a cluster's.
func TestCgroupsCPUStaleClusters(t *testing.T) {
	needCPUCgroups(t)
	cfg := cgroupsConfig(t, false)
	root := filepath.Join(DefaultCgroupsHierarchy, "cpu", cfg.CgroupsRoot)
	stale := filepath.Join(root, clusterDirPrefix+"0b1e7f3a-5c2d-4e8f-9a6b-1c2d3e4f5a6b")
	live := filepath.Join(root, clusterDirPrefix+"7d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a")
	foreign := []string{filepath.Join(root, clusterDirPrefix+"mine"), filepath.Join(root, "other"),
		filepath.Join(root, clusterDirPrefix+"0B1E7F3A-5C2D-4E8F-9A6B-1C2D3E4F5A6B")}
	for _, d := range append([]string{root, stale, filepath.Join(stale, "container"), live}, foreign...) {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { removeCgroupTree(root) }) // before cgroupsConfig's check
	orphan, exited := orphanIn(t, filepath.Join(stale, "container"))
	holdLock(t, live) // as the live cluster holds it

	cl := startCluster(t, cfg)
	if !gone(stale)() {
		t.Errorf("the stale cluster's cgroup %s is left", stale)
	}
	select {
	case <-exited:
	case <-time.After(waitLong):
		t.Errorf("the process left in the stale cluster's container (pid %d) was not killed", orphan)
	}
	for _, d := range append([]string{live, cl.cpu.dir}, foreign...) {
		if gone(d)() {
			t.Errorf("%s was removed", d)
		}
	}
}

// TestCgroupsCPUStopRemovesAll: a cluster that stops normally leaves no
// cgroup (its containers', its own, the root it made) and no process of
// its containers, not even one that left its task's session.
func TestCgroupsCPUStopRemovesAll(t *testing.T) {
	needCPUCgroups(t)
	cl, cancel := startStoppable(t, cgroupsConfig(t, false)) // cgroupsConfig checks the root is gone
	s := subscribe(t, cl, frameworkInfo("stop-all"), protoCodec)
	o := s.offers()[0]
	pidFile := filepath.Join(t.TempDir(), "pid")
	s.launch(o, commandTask("escape", o, "setsid sleep 600 & echo $! > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+"; exec sleep 600"))
	s.updateAck("escape", mesos.TASK_STARTING)
	s.updateAck("escape", mesos.TASK_RUNNING)
	var pid int
	eventually(t, "the escaped process's pid", func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	dir := cl.cpu.dir
	cancel()
	cl.Wait()
	if !gone(dir)() {
		t.Errorf("the stopped cluster's cgroup %s is left", dir)
	}
	eventually(t, "the process that left its session killed", func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	})
}
