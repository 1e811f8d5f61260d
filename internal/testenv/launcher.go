package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	sysunix "golang.org/x/sys/unix"
)

// Launcher is what the Mesos agent's flag --launcher selects: how the
// containerizer starts a container's process and how it destroys the
// container (src/slave/flags.cpp; src/slave/containerizer/mesos/
// launcher.cpp and linux_launcher.cpp).
//
//	linux  every container gets its own cgroup v1 freezer cgroup, which
//	       its process is born in, so everything it starts is in it,
//	       wherever it moves in the process tree (setsid, a double fork);
//	       destroying the container freezes the cgroup, SIGKILLs every
//	       process in it, thaws it and removes it (LinuxLauncherProcess::
//	       destroy → cgroups::destroy, src/linux/cgroups.cpp), so nothing
//	       escapes
//	posix  the container is its process tree: destroying it SIGKILLs the
//	       process's group and session (SubprocessLauncher::destroy,
//	       os::killtree); a process that left the session and was
//	       re-parented (a daemon) escapes, as under Mesos
//
// Mesos' default is linux when the agent runs as root with the freezer
// controller (LinuxLauncher::available), posix otherwise; so is testenv's
// (DefaultLauncher).
const (
	LauncherLinux = "linux"
	LauncherPosix = "posix"
)

// DefaultLauncher is the launcher a cluster with an empty Config.Launcher
// uses, as Mesos' agent picks its --launcher: LauncherLinux when testenv
// runs as root and a cgroup v1 freezer hierarchy is mounted, writable, at
// <hierarchy>/freezer; LauncherPosix otherwise, with why (nil for linux).
func DefaultLauncher(hierarchy string) (launcher string, whyNotLinux error) {
	if err := linuxLauncherUnavailable(hierarchy, os.Geteuid()); err != nil {
		return LauncherPosix, err
	}
	return LauncherLinux, nil
}

// checkLauncher checks a Config.Launcher: empty (the default), linux or
// posix.
func checkLauncher(l string) error {
	switch l {
	case "", LauncherLinux, LauncherPosix:
		return nil
	}
	return fmt.Errorf("unknown launcher %q (testenv has %s and %s)", l, LauncherLinux, LauncherPosix)
}

// linuxLauncherUnavailable says why the linux launcher cannot run under
// hierarchy for a process of effective uid euid, or nil.
func linuxLauncherUnavailable(hierarchy string, euid int) error {
	if euid != 0 {
		return fmt.Errorf("testenv is not running as root (effective uid %d): only root can move processes into cgroups", euid)
	}
	fz := filepath.Join(hierarchy, "freezer")
	if _, err := os.Stat(filepath.Join(hierarchy, "cgroup.controllers")); err == nil {
		return fmt.Errorf("%s is a cgroup v2 (unified) hierarchy, and testenv's %s launcher needs the cgroup v1 freezer controller mounted at %s",
			hierarchy, LauncherLinux, fz)
	}
	if !freezerMounted(fz) {
		return fmt.Errorf("no cgroup v1 freezer controller mounted at %s", fz)
	}
	if err := sysunix.Access(fz, sysunix.W_OK); err != nil {
		return fmt.Errorf("the freezer hierarchy %s is not writable: %w", fz, err)
	}
	return nil
}

// freezerMounted reports whether dir (symbolic links resolved) is the
// mount point of a cgroup v1 hierarchy with the freezer controller, as
// /proc/self/mountinfo lists it.
func freezerMounted(dir string) bool {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mount-point options [optional...] - type source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 || tail[0] != "cgroup" || unescapeMount(fields[4]) != dir {
			continue
		}
		if slices.Contains(strings.Split(tail[2], ","), "freezer") {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownFreezerCgroup is the freezer cgroup testenv runs in, as an absolute
// path under the freezer mount fz (/proc/self/cgroup).
func ownFreezerCgroup(fz string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "freezer") {
			return filepath.Join(fz, filepath.FromSlash(parts[2])), nil
		}
	}
	return "", errors.New("/proc/self/cgroup lists no freezer cgroup")
}

// freezerLauncher is the linux launcher of one cluster: its containers'
// freezer cgroups are under its clusterCgroup in the freezer hierarchy,
// <hierarchy>/freezer/<root>/testenv-<master ID>/<container ID>.
type freezerLauncher struct {
	*clusterCgroup
	// home is testenv's own freezer cgroup, which a thread that forked a
	// container's process in the container's cgroup goes back to.
	home string
}

// newFreezerLauncher makes the cluster's freezer cgroup directory, named
// name, or says why it cannot. Nothing is left behind on failure.
func newFreezerLauncher(hierarchy, root, name string, log *slog.Logger) (*freezerLauncher, error) {
	if err := linuxLauncherUnavailable(hierarchy, os.Geteuid()); err != nil {
		return nil, err
	}
	fz := filepath.Join(hierarchy, "freezer")
	home, err := ownFreezerCgroup(fz)
	if err != nil {
		return nil, fmt.Errorf("finding testenv's own freezer cgroup: %w", err)
	}
	cc, err := newClusterCgroup(fz, root, name, log, destroyFreezerCgroup)
	if err != nil {
		return nil, err
	}
	// A freezer cgroup has freezer.state: this proves the directory is one.
	if _, err := readFreezerState(cc.dir); err != nil {
		cc.close()
		return nil, err
	}
	return &freezerLauncher{clusterCgroup: cc, home: home}, nil
}

// create makes container containerID's freezer cgroup.
func (l *freezerLauncher) create(containerID string) (*freezerCgroup, error) {
	fc := &freezerCgroup{l: l, path: filepath.Join(l.dir, containerID)}
	if err := os.Mkdir(fc.path, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup %s: %w", fc.path, pathErr(err))
	}
	return fc, nil
}

// freezerCgroup is one container's freezer cgroup (the linux launcher).
type freezerCgroup struct {
	l    *freezerLauncher
	path string
}

// start runs start on a goroutine locked to an OS thread of its own;
// start calls its argument (in place of fork) to fork the container's
// process from that thread, which does it with the thread in the
// container's cgroup: the process is born in it, as Mesos' launcher puts
// the child in its freezer cgroup before it execs (LinuxLauncherProcess::
// fork's parent hook), before it can start any process of its own. A
// thread of a cgroup v1 hierarchy can be moved alone (its tid written to
// tasks), and a child starts in its forking thread's cgroups; the Go
// runtime never starts a thread from a locked one (it asks its template
// thread), so no other thread of testenv lands in the cgroup. The thread
// goes back to testenv's own cgroup right after the fork; if it cannot,
// the forked process is killed and reaped, and the thread is ended with
// its goroutine instead of being used again.
func (fc *freezerCgroup) start(start func(fork func(func() (int, error)) (int, error)) (int, error)) (int, error) {
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		discard := false
		tid := strconv.Itoa(sysunix.Gettid())
		fork := func(fork func() (int, error)) (int, error) {
			if err := writeCgroupFile(fc.path, "tasks", tid); err != nil {
				return 0, err
			}
			pid, err := fork()
			if berr := writeCgroupFile(fc.l.home, "tasks", tid); berr != nil {
				discard = true
				if err == nil {
					killAndReap(pid)
					pid, err = 0, fmt.Errorf("moving testenv's thread back to its own cgroup: %w", berr)
				}
			}
			return pid, err
		}
		pid, err := start(fork)
		if !discard {
			runtime.UnlockOSThread()
		}
		done <- result{pid, err}
	}()
	r := <-done
	return r.pid, r.err
}

// killAndReap SIGKILLs child pid and reaps it.
func killAndReap(pid int) {
	_ = sysunix.Kill(pid, sysunix.SIGKILL)
	var ws sysunix.WaitStatus
	for {
		if _, err := sysunix.Wait4(pid, &ws, 0, nil); err != sysunix.EINTR {
			return
		}
	}
}

// destroy destroys the container's cgroup (destroyFreezerCgroup).
func (fc *freezerCgroup) destroy() { destroyFreezerCgroup(fc.l.log, fc.path) }

// freezeWait bounds one wait for a cgroup to reach FROZEN: a process in
// uninterruptible sleep can keep it FREEZING. Its processes are killed
// anyway, then it is thawed and frozen again (as Mesos' TasksKiller
// retries after FREEZE_RETRY_INTERVAL).
const freezeWait = 100 * time.Millisecond

// destroyFreezerCgroup destroys a container's freezer cgroup at path as
// Mesos' cgroups::destroy does (TasksKiller): freeze it, so that no
// process in it can fork or move while they are listed, SIGKILL every
// process in it, thaw it so the signals are delivered, then remove it,
// all within cgroupDestroyTimeout; a failure is logged. Processes in it
// that are testenv's own children — orphans a subreaper testenv (testenv
// up) inherited — are reaped. testenv itself is never frozen or
// signalled: while one of its threads forks into the cgroup, it waits.
func destroyFreezerCgroup(log *slog.Logger, path string) {
	deadline := time.Now().Add(cgroupDestroyTimeout)
	self := os.Getpid()
	var children []int
	fail := func(err error) {
		writeFreezerState(path, "THAWED") // never leave it frozen
		log.Error("destroying a container's freezer cgroup", "path", path, "err", err.Error())
	}
	for {
		pids := cgroupPids(path)
		switch {
		case slices.Contains(pids, self):
		case len(pids) > 0:
			if err := freezeCgroup(path); err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					fail(err)
				}
				return
			}
			for _, pid := range cgroupPids(path) {
				if pid == self {
					continue
				}
				if parentOf(pid) == self && !slices.Contains(children, pid) {
					children = append(children, pid)
				}
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			if err := writeFreezerState(path, "THAWED"); err != nil && !errors.Is(err, os.ErrNotExist) {
				fail(err)
				return
			}
		}
		children = reapExited(children)
		if len(pids) == 0 {
			err := os.Remove(path)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if !errors.Is(err, syscall.EBUSY) {
				fail(err)
				return
			}
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("processes %v still in it after %s", cgroupPids(path), cgroupDestroyTimeout))
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// freezeCgroup freezes the cgroup at path, waiting at most freezeWait
// for it to be FROZEN; one that stays FREEZING is not an error.
func freezeCgroup(path string) error {
	if err := writeFreezerState(path, "FROZEN"); err != nil {
		return err
	}
	until := time.Now().Add(freezeWait)
	for {
		s, err := readFreezerState(path)
		if err != nil || s == "FROZEN" || time.Now().After(until) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

func writeFreezerState(path, state string) error {
	return writeCgroupFile(path, "freezer.state", state)
}

func readFreezerState(path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(path, "freezer.state"))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", filepath.Join(path, "freezer.state"), pathErr(err))
	}
	return strings.TrimSpace(string(b)), nil
}

// parentOf is the parent pid of process pid (/proc/<pid>/stat), or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// reapExited reaps those of testenv's children pids that have exited and
// returns the others.
func reapExited(pids []int) []int {
	left := pids[:0]
	for _, pid := range pids {
		var ws sysunix.WaitStatus
		got, err := sysunix.Wait4(pid, &ws, sysunix.WNOHANG, nil)
		if got == 0 && err == nil || err == sysunix.EINTR {
			left = append(left, pid)
		}
	}
	return left
}

// startLauncher sets the cluster's launcher up: Config.Launcher, or
// DefaultLauncher; with linux, the cluster's freezer cgroup directory.
// linux asked for but impossible is an error naming Launcher and why; by
// default, a freezer cgroup directory that cannot be made means posix.
func (c *Cluster) startLauncher() error {
	l := c.cfg.Launcher
	if l == "" {
		var why error
		if l, why = DefaultLauncher(c.cfg.CgroupsHierarchy); why != nil {
			c.logPosix(why)
		}
	}
	c.launcher = l
	if l != LauncherLinux {
		return nil
	}
	fz, err := newFreezerLauncher(c.cfg.CgroupsHierarchy, c.cfg.CgroupsRoot, clusterDirPrefix+c.masterID, c.log)
	if err != nil && c.cfg.Launcher == "" {
		// The default, where the hierarchy looked writable and is not (a
		// user namespace's root): posix, as where it is not mounted.
		c.launcher = LauncherPosix
		c.logPosix(err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("testenv: %w", fieldErr("Launcher", fmt.Errorf("%s: %w (the %s launcher works anywhere, but a process that leaves its container's session outlives the container)",
			LauncherLinux, err, LauncherPosix)))
	}
	c.freezer = fz
	c.log.Info("linux launcher", "cgroup", fz.dir)
	return nil
}

// logPosix says that the cluster has the posix launcher by default, and
// why not linux.
func (c *Cluster) logPosix(why error) {
	c.log.Info("posix launcher: a container's processes that leave its session and process group outlive it", "reason", why.Error())
}

// Launcher is the cluster's launcher, LauncherLinux or LauncherPosix
// (Config.Launcher, or the default it resolved to).
func (c *Cluster) Launcher() string { return c.launcher }

// containerCgroupsLocked makes the cgroups of e's container just before
// its process starts: its cpu cgroup with cgroups/cpu, its freezer cgroup
// with the linux launcher (each nil without). The caller hands them to
// startProc, which destroys them when the process ends or fails to start;
// on error none is left.
func (c *Cluster) containerCgroupsLocked(e *executor) (*cpuCgroup, *freezerCgroup, error) {
	cg, err := c.createCgroupLocked(e)
	if err != nil || c.freezer == nil {
		return cg, nil, err
	}
	fc, err := c.freezer.create(e.containerID)
	if err != nil {
		if cg != nil {
			cg.destroy()
		}
		return nil, nil, err
	}
	return cg, fc, nil
}
