package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/execstop"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

func TestCheckLauncher(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // in the error; "" for none
	}{
		{"", ""},
		{"linux", ""},
		{"posix", ""},
		{"Linux", `unknown launcher "Linux" (testenv has linux and posix)`},
		{"windows", `unknown launcher "windows"`},
	} {
		err := checkLauncher(tc.in)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkLauncher(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	_, err := tryStartCluster(t, Config{Launcher: "systemd"})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "Launcher" || !errors.Is(err, ErrConfig) {
		t.Errorf("Start with Launcher systemd: %v, want a FieldError of Launcher matching ErrConfig", err)
	}
}

// TestLinuxLauncherUnavailable: the linux launcher needs root and a cgroup
// v1 freezer hierarchy; without, the default is posix, and linux asked for
// is an error naming Launcher and why, with nothing started or left in the
// hierarchy. Fake hierarchies and uids: no root needed.
func TestLinuxLauncherUnavailable(t *testing.T) {
	v2 := t.TempDir()
	writeTestFile(t, filepath.Join(v2, "cgroup.controllers"), "cpu io memory\n")
	notMounted := t.TempDir()
	writeTestFile(t, filepath.Join(notMounted, "freezer", "cgroup.procs"), "")
	for _, tc := range []struct {
		name      string
		hierarchy string
		euid      int
		want      string
	}{
		{"not root", DefaultCgroupsHierarchy, 1000, "testenv is not running as root (effective uid 1000): only root can move processes into cgroups"},
		{"cgroup v2", v2, 0, v2 + " is a cgroup v2 (unified) hierarchy, and testenv's linux launcher needs the cgroup v1 freezer controller mounted at " + v2 + "/freezer"},
		{"not mounted", notMounted, 0, "no cgroup v1 freezer controller mounted at " + notMounted + "/freezer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := linuxLauncherUnavailable(tc.hierarchy, tc.euid)
			if err == nil || err.Error() != tc.want {
				t.Errorf("linuxLauncherUnavailable: %v, want %q", err, tc.want)
			}
			if tc.euid != os.Geteuid() {
				return
			}
			if l, why := DefaultLauncher(tc.hierarchy); l != LauncherPosix || why == nil || why.Error() != tc.want {
				t.Errorf("DefaultLauncher: %q (%v), want posix (%s)", l, why, tc.want)
			}
			before := snapshot(t, tc.hierarchy)
			_, err = tryStartCluster(t, Config{Launcher: LauncherLinux, CgroupsHierarchy: tc.hierarchy})
			var fe *FieldError
			want := "Launcher: linux: " + tc.want + " (the posix launcher works anywhere"
			if !errors.As(err, &fe) || fe.Field != "Launcher" || errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), want) {
				t.Errorf("Start: %v; want a FieldError of Launcher (not ErrConfig) with %q", err, want)
			}
			if after := snapshot(t, tc.hierarchy); !slices.Equal(slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before))) {
				t.Errorf("left in the hierarchy: %q, was %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
			cl := startCluster(t, Config{CgroupsHierarchy: tc.hierarchy})
			if cl.Launcher() != LauncherPosix {
				t.Errorf("default launcher %q, want posix", cl.Launcher())
			}
		})
	}
}

// TestUpLauncher: "testenv up --launcher" (or TESTENV_LAUNCHER) that is
// not linux or posix is a usage error; linux where it cannot run exits 1
// naming the flag or variable and why, having started nothing.
func TestUpLauncher(t *testing.T) {
	h := t.TempDir()
	for _, tc := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{nil, []string{"--launcher", "systemd"}, ExitUsage, `--launcher: unknown launcher "systemd" (testenv has linux and posix)`},
		{nil, []string{"--launcher", "linux", "--cgroups-hierarchy", h}, ExitRuntime,
			"--launcher: linux: no cgroup v1 freezer controller mounted at " + h + "/freezer (the posix launcher works anywhere"},
		{[]string{"TESTENV_LAUNCHER=linux", "TESTENV_CGROUPS_HIERARCHY=" + h}, nil, ExitRuntime,
			"TESTENV_LAUNCHER: linux: no cgroup v1 freezer controller mounted at " + h + "/freezer"},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			code, out, errOut := runUp(t, tc.env, append(tc.args, "--env-file", "none")...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, `msg="testenv up"`) {
				t.Errorf("exit %d (want %d), stdout %q (want none), stderr without %q or with a cluster up:\n%s", code, tc.code, out, tc.want, errOut)
			}
		})
	}
}

// needFreezer skips the test unless the linux launcher can run here.
func needFreezer(t *testing.T) {
	t.Helper()
	if err := linuxLauncherUnavailable(DefaultCgroupsHierarchy, os.Geteuid()); err != nil {
		t.Skipf("the linux launcher cannot run on this machine: %v", err)
	}
}

// freezerConfig is a linux launcher cluster's Config under a cgroups root
// of the test's own, which must be gone from the freezer hierarchy once
// every cluster of the test has stopped.
func freezerConfig(t *testing.T) Config {
	t.Helper()
	root := fmt.Sprintf("taskkit-test-%d-%d", os.Getpid(), cgroupRoots.Add(1))
	dir := filepath.Join(DefaultCgroupsHierarchy, "freezer", root)
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %s left behind", dir)
			removeCgroupTree(dir)
		}
	})
	return Config{Launcher: LauncherLinux, CgroupsRoot: root, AllocationInterval: 50 * time.Millisecond}
}

// daemonize is a shell command that starts a daemon — setsid, in a
// session of its own, its parent gone at once: a double fork — that
// writes its pid to pidFile, then waits for it to be written.
func daemonize(pidFile string) string {
	return fmt.Sprintf("(setsid sh -c 'echo $$ > %[1]s.tmp && mv %[1]s.tmp %[1]s && exec sleep 600' </dev/null >/dev/null 2>&1 &); "+
		"while [ ! -s %[1]s ]; do sleep 0.02; done", pidFile)
}

// readPid waits for pidFile and reads the pid in it.
func readPid(t *testing.T, pidFile string) int {
	t.Helper()
	var pid int
	eventually(t, "the daemon's pid in "+pidFile, func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil && !isZombie(pid) }

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// killOnCleanup kills pid at the end of the test and waits (bounded) for
// it to be gone, before its cluster's check for leaked processes.
func killOnCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(waitLong); alive(pid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestLauncherDaemonizedTask: a command task's process that daemonized
// (setsid and a double fork: out of the task's process group and session,
// re-parented) is killed when the task ends with the linux launcher, as
// Mesos' linux launcher destroys the container's freezer cgroup; its
// container's cgroup is removed, and no thread of testenv was ever left in
// it. With the posix launcher it outlives the task, as under Mesos'.
func TestLauncherDaemonizedTask(t *testing.T) {
	for _, launcher := range []string{LauncherLinux, LauncherPosix} {
		t.Run(launcher, func(t *testing.T) {
			cfg := Config{Launcher: LauncherPosix}
			if launcher == LauncherLinux {
				needFreezer(t)
				cfg = freezerConfig(t)
			}
			cl := startCluster(t, cfg)
			if cl.Launcher() != launcher {
				t.Fatalf("launcher %q, want %q", cl.Launcher(), launcher)
			}
			s := subscribe(t, cl, frameworkInfo("daemon-"+launcher), protoCodec)
			o := s.offers()[0]
			pidFile := filepath.Join(t.TempDir(), "pid")
			s.launch(o, commandTask("daemonizer", o, daemonize(pidFile)+"; sleep 0.2; exit 1"))
			s.updateAck("daemonizer", mesos.TASK_STARTING)
			s.updateAck("daemonizer", mesos.TASK_RUNNING)
			pid := readPid(t, pidFile)
			killOnCleanup(t, pid)
			var container string
			if launcher == LauncherLinux {
				container = filepath.Join(cl.freezer.dir, containerOf(t, cl, s.FrameworkID, "daemonizer"))
				if procs := readCgroup(t, container, "cgroup.procs"); !slices.Contains(strings.Fields(procs), strconv.Itoa(pid)) {
					t.Errorf("the daemon %d is not in its container's cgroup %s (%s)", pid, container, procs)
				}
				if tasks := readCgroup(t, container, "tasks"); slices.ContainsFunc(strings.Fields(tasks), isOwnThread) {
					t.Errorf("a thread of testenv is in the container's cgroup %s: %s", container, tasks)
				}
			}
			s.updateAck("daemonizer", mesos.TASK_FAILED)
			if launcher == LauncherPosix {
				time.Sleep(300 * time.Millisecond)
				if !alive(pid) {
					t.Errorf("the daemon %d is gone with the posix launcher, which kills its process group and session only", pid)
				}
				return
			}
			eventually(t, "the daemon killed with its task", func() bool { return !alive(pid) })
			eventually(t, "the container's cgroup removed", gone(container))
		})
	}
}

// containerOf is the container ID of the executor of task tid.
func containerOf(t *testing.T, cl *Cluster, fid, tid string) string {
	t.Helper()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, a := range cl.agents {
		for _, e := range a.executors {
			if e.fw.id == fid && e.tasks[tid] != nil {
				return e.containerID
			}
		}
	}
	t.Fatalf("no executor of task %s", tid)
	return ""
}

// isOwnThread reports whether tid is a thread of this process.
func isOwnThread(tid string) bool {
	_, err := os.Stat("/proc/self/task/" + tid)
	return err == nil
}

// TestLinuxLauncherPodDaemon: the tasks of a pod are processes of its
// executor's container (not nested containers): a daemon one task left
// lives while the pod's other tasks keep the executor running, and dies
// when the executor ends.
func TestLinuxLauncherPodDaemon(t *testing.T) {
	needFreezer(t)
	cfg := freezerConfig(t)
	cfg.ExecutorPath = buildExecutor(t)
	cl := startCluster(t, cfg)
	s := subscribe(t, cl, frameworkInfo("pod-daemon"), protoCodec)
	o := s.offers()[0]
	ei := mesos.ExecutorInfo{
		Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "pod"},
		FrameworkID: &mesos.FrameworkID{Value: s.FrameworkID},
		Resources:   []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	d, l := commandTask("d", o, daemonize(pidFile)), commandTask("l", o, "sleep 600")
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, d, l)}.WithOffers(o.ID)))
	for _, id := range []string{"d", "l"} {
		s.updateAck(id, mesos.TASK_STARTING)
		s.updateAck(id, mesos.TASK_RUNNING)
	}
	pid := readPid(t, pidFile)
	killOnCleanup(t, pid)
	s.updateAck("d", mesos.TASK_FINISHED)
	time.Sleep(300 * time.Millisecond)
	if !alive(pid) {
		t.Fatalf("the daemon %d of task d died while task l keeps the executor running", pid)
	}
	s.MustCall(calls.Kill("l", ""))
	s.updateAck("l", mesos.TASK_KILLED)
	eventually(t, "the daemon killed with its executor", func() bool { return !alive(pid) })
}

// TestLinuxLauncherStale: a kill -9'd "testenv up" leaves its freezer
// cgroup; the next cluster under the root removes it, killing what is
// left in its containers' cgroups, and leaves a live cluster's and every
// directory not named as a cluster's.
func TestLinuxLauncherStale(t *testing.T) {
	needFreezer(t)
	cfg := freezerConfig(t)
	root := filepath.Join(DefaultCgroupsHierarchy, "freezer", cfg.CgroupsRoot)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	p := startUp(t, ctx, "--launcher", "linux", "--cgroups-root", cfg.CgroupsRoot, "--env-file", "none", "--work-dir", t.TempDir())
	if l := p.firstLine(waitLong); !strings.HasPrefix(l, "MESOS_MASTER=") {
		p.cmd.Cancel()
		_, errOut := p.wait()
		t.Fatalf("first line %q:\n%s", l, errOut)
	}
	killed, _ := filepath.Glob(filepath.Join(root, clusterDirPrefix+"*"))
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait()
	if len(killed) != 1 || gone(killed[0])() {
		t.Fatalf("after kill -9: cluster cgroups %v, want the killed one's left", killed)
	}
	// A process left in one of its containers, out of its session.
	container := filepath.Join(killed[0], "container")
	if err := os.Mkdir(container, 0o755); err != nil {
		t.Fatal(err)
	}
	orphan, exited := orphanIn(t, container)
	live := filepath.Join(root, clusterDirPrefix+"7d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a")
	foreign := filepath.Join(root, "other")
	for _, d := range []string{live, foreign} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { removeCgroupTree(root) }) // before freezerConfig's check
	holdLock(t, live)                            // as the live cluster holds it

	cl := startCluster(t, cfg)
	if !gone(killed[0])() {
		t.Errorf("the killed cluster's cgroup %s is left", killed[0])
	}
	select {
	case <-exited:
	case <-time.After(waitLong):
		t.Errorf("the process left in the killed cluster's container (pid %d) was not killed", orphan)
	}
	for _, d := range []string{live, foreign, cl.freezer.dir} {
		if gone(d)() {
			t.Errorf("%s was removed", d)
		}
	}
}

// orphanIn starts a process in a session of its own, as one that left
// its executor's, in cgroup dir; exited is closed once it has been
// reaped. It is killed at the end of the test.
func orphanIn(t *testing.T, dir string) (pid int, exited <-chan struct{}) {
	t.Helper()
	orphan := exec.Command("sleep", "600")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = orphan.Wait(); close(done) }()
	t.Cleanup(func() { _ = orphan.Process.Kill(); <-done })
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(orphan.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return orphan.Process.Pid, done
}

// holdLock takes the flock a running cluster holds on its cgroup
// directory dir, until the end of the test.
func holdLock(t *testing.T, dir string) {
	t.Helper()
	lock, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLauncherAcceptToRunning is BenchmarkAcceptToRunning with each
// launcher: what the linux launcher's freezer cgroup (made, the process
// forked into it, destroyed) adds to a command task's start.
func BenchmarkLauncherAcceptToRunning(b *testing.B) {
	for _, l := range []string{LauncherPosix, LauncherLinux} {
		b.Run(l, func(b *testing.B) {
			if l == LauncherLinux {
				if err := linuxLauncherUnavailable(DefaultCgroupsHierarchy, os.Geteuid()); err != nil {
					b.Skipf("the linux launcher cannot run on this machine: %v", err)
				}
			}
			benchAcceptToRunning(b, Config{Launcher: l, AllocationInterval: 50 * time.Millisecond})
		})
	}
}

// cpuTime is the CPU time (user and system) this process and its reaped
// children have used: on a busy machine a steadier measure than the wall
// time.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// BenchmarkContainerPlacement measures starting a process ("true") in a
// new container, reaping it and destroying the container (wall time, and
// CPU time of testenv and the process: cpu-µs/op), with each way
// of putting the process in its freezer cgroup before it can start any
// process of its own:
//
//	posix        no cgroup (the posix launcher), for reference
//	fork-thread  the forking thread is in the cgroup for the fork (what
//	             the linux launcher does)
//	exec-stop    the process held at its exec by ptrace (package execstop)
//	             and moved, as for rlimits and cgroups/cpu
//	after-start  moved once started: not before it could fork, so sound
//	             only if nothing in it may start a process before the
//	             agent takes its SUBSCRIBE (a command task cannot wait)
func BenchmarkContainerPlacement(b *testing.B) {
	if err := linuxLauncherUnavailable(DefaultCgroupsHierarchy, os.Geteuid()); err != nil {
		b.Skipf("the linux launcher cannot run on this machine: %v", err)
	}
	root := fmt.Sprintf("taskkit-bench-%d", os.Getpid())
	l, err := newFreezerLauncher(DefaultCgroupsHierarchy, root, clusterDirPrefix+mesosx.NewID(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer l.close()
	sys := func() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL} }
	for _, tc := range []struct {
		name  string
		start func(fc *freezerCgroup, cmd *exec.Cmd) error
	}{
		{"posix", func(_ *freezerCgroup, cmd *exec.Cmd) error { return cmd.Start() }},
		{"fork-thread", func(fc *freezerCgroup, cmd *exec.Cmd) error {
			_, err := fc.start(func(fork func(func() (int, error)) (int, error)) (int, error) {
				return fork(func() (int, error) {
					if err := cmd.Start(); err != nil {
						return 0, err
					}
					return cmd.Process.Pid, nil
				})
			})
			return err
		}},
		{"exec-stop", func(fc *freezerCgroup, cmd *exec.Cmd) error {
			_, err := execstop.Start(cmd.SysProcAttr, func() (int, error) {
				if err := cmd.Start(); err != nil {
					return 0, err
				}
				return cmd.Process.Pid, nil
			}, func(pid int) error { return writeCgroupFile(fc.path, "cgroup.procs", strconv.Itoa(pid)) })
			return err
		}},
		{"after-start", func(fc *freezerCgroup, cmd *exec.Cmd) error {
			if err := cmd.Start(); err != nil {
				return err
			}
			return writeCgroupFile(fc.path, "cgroup.procs", strconv.Itoa(cmd.Process.Pid))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				var fc *freezerCgroup
				if tc.name != "posix" {
					if fc, err = l.create(fmt.Sprintf("c-%d", i)); err != nil {
						b.Fatal(err)
					}
				}
				cmd := exec.Command("true")
				cmd.SysProcAttr = sys()
				if err := tc.start(fc, cmd); err != nil {
					b.Fatal(err)
				}
				_ = cmd.Wait()
				if fc != nil {
					fc.destroy()
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// TestUpNotRoot: "testenv up" run by a user other than root has the posix
// launcher, saying why not linux, and runs; with --launcher linux it
// exits 1 saying why. As root, it runs a copy of the test binary as
// nobody (uid 65534).
func TestUpNotRoot(t *testing.T) {
	var cred *syscall.Credential
	uid := os.Geteuid()
	if uid == 0 {
		uid = 65534
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	// A directory nobody can read and write, with a copy of this binary:
	// t.TempDir's parent is root's alone.
	dir, err := os.MkdirTemp("", "testenv-notroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	bin := filepath.Join(dir, "testenv.test")
	b, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(bin, b, 0o755)
	}
	if err == nil {
		err = os.Chmod(dir, 0o777)
	}
	if err != nil {
		t.Fatal(err)
	}
	why := fmt.Sprintf("testenv is not running as root (effective uid %d): only root can move processes into cgroups", uid)
	up := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := upCommand(ctx, nil, append(args, "--env-file", "none", "--work-dir", filepath.Join(dir, "work"))...)
		cmd.Path, cmd.Args[0] = bin, bin
		cmd.SysProcAttr.Credential = cred
		return cmd
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	p := startUpCommand(t, up(ctx))
	if l := p.firstLine(waitLong); !strings.HasPrefix(l, "MESOS_MASTER=") {
		p.cmd.Cancel()
		_, errOut := p.wait()
		t.Fatalf("first line %q:\n%s", l, errOut)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, errOut := p.wait(); code != ExitOK || !strings.Contains(errOut, "posix launcher") || !strings.Contains(errOut, why) {
		t.Errorf("exit %d (want %d), or the posix launcher and %q not logged:\n%s", code, ExitOK, why, errOut)
	}

	cmd := up(ctx, "--launcher", "linux")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	_ = cmd.Run()
	want := "--launcher: linux: " + why
	if code := cmd.ProcessState.ExitCode(); code != ExitRuntime || out.String() != "" || !strings.Contains(errOut.String(), want) {
		t.Errorf("--launcher linux: exit %d (want %d), stdout %q (want none), stderr without %q:\n%s", code, ExitRuntime, out.String(), want, errOut.String())
	}
}
