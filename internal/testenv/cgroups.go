package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Isolation is what Mesos' agent flag --isolation selects; testenv
// implements these isolators (src/slave/containerizer/mesos/
// containerizer.cpp lists Mesos' own):
//
//	posix/cpu, posix/mem  Mesos' default: nothing is isolated; containers
//	                      are plain processes (what testenv always did)
//	cgroups/cpu           every container gets a cgroup of the cpu
//	                      controller whose cpu.shares follow its cpus
//	                      (cgroups.go)
const (
	IsolatorPosixCPU   = "posix/cpu"
	IsolatorPosixMem   = "posix/mem"
	IsolatorCgroupsCPU = "cgroups/cpu"

	// DefaultIsolation is Mesos' default --isolation.
	DefaultIsolation = IsolatorPosixCPU + "," + IsolatorPosixMem
	// DefaultCgroupsHierarchy and DefaultCgroupsRoot are Mesos' defaults
	// of --cgroups_hierarchy and --cgroups_root.
	DefaultCgroupsHierarchy = "/sys/fs/cgroup"
	DefaultCgroupsRoot      = "mesos"
)

// The cgroups/cpu isolator's constants
// (src/slave/containerizer/mesos/isolators/cgroups/constants.hpp):
// cpu.shares is max(minCPUShares, cpus × cpuSharesPerCPU), truncated.
const (
	cpuSharesPerCPU = 1024
	minCPUShares    = 2
	// commandExecutorCPUs is the cpus Mesos adds to a command task's
	// container for its command executor (DEFAULT_EXECUTOR_CPUS,
	// src/slave/constants.hpp; Slave::getExecutorInfo).
	commandExecutorCPUs = 0.1
	// cgroupDestroyTimeout bounds killing a container's processes and
	// removing its cgroup.
	cgroupDestroyTimeout = 10 * time.Second
	// clusterDirPrefix starts the name of a cluster's cgroup directory,
	// testenv-<master ID>.
	clusterDirPrefix = "testenv-"
)

// parseIsolation checks a comma-separated --isolation list and reports
// whether it selects cgroups/cpu. Empty items are skipped, as Mesos
// tokenizes the flag.
func parseIsolation(list string) (cgroupsCPU bool, err error) {
	for _, name := range strings.Split(list, ",") {
		switch name = strings.TrimSpace(name); name {
		case "", IsolatorPosixCPU, IsolatorPosixMem:
		case IsolatorCgroupsCPU:
			cgroupsCPU = true
		default:
			return false, fmt.Errorf("unknown or unsupported isolator %q (testenv has %s, %s and %s)",
				name, IsolatorPosixCPU, IsolatorPosixMem, IsolatorCgroupsCPU)
		}
	}
	return cgroupsCPU, nil
}

// checkCgroupsRoot checks a --cgroups_root: a relative path of names,
// without "." or "..".
func checkCgroupsRoot(root string) error {
	if root == "" || path.IsAbs(root) || path.Clean(root) != root || root == "." || strings.HasPrefix(root, "../") || root == ".." || strings.Contains(root, "/../") {
		return fmt.Errorf("%q is not a relative cgroup path such as %q", root, DefaultCgroupsRoot)
	}
	return nil
}

// cpuShares is the cpu.shares of a container with cpus cpus
// (CpuSubsystemProcess::update).
func cpuShares(cpus float64) uint64 {
	s := uint64(cpus * cpuSharesPerCPU)
	if s < minCPUShares {
		s = minCPUShares
	}
	return s
}

// cpuIsolator is the cgroups/cpu isolator of one cluster. Its containers'
// cgroups are under its clusterCgroup in the cpu controller's hierarchy,
// <hierarchy>/cpu/<root>/testenv-<master ID>. Only cgroup v1 is
// supported: a hierarchy that is a cgroup v2 mount (it has
// cgroup.controllers) is refused at Start, saying why and what works
// instead. cgroup v2's cpu.weight is not implemented because it could not
// be tested: taskkit's build machines mount the cpu controller in a v1
// hierarchy, and a cgroup v2 mounted beside it gets no cpu controller.
type cpuIsolator struct {
	*clusterCgroup
}

// clusterCgroup is a cluster's own directory in one cgroup v1
// controller's hierarchy, dir, <hierarchy>/<controller>/<root>/
// testenv-<master ID>, made at Start and removed at stop; its
// containers' cgroups are in it, named by container ID. The cgroups/cpu
// isolator has one in the cpu hierarchy, the linux launcher one in the
// freezer hierarchy (launcher.go).
//
// A running cluster holds an flock(2) on its directory (lock, open on
// it), which the kernel drops when the process exits, even by SIGKILL: a
// directory named as a cluster's (clusterDirName) whose lock can be taken
// belongs to no live testenv, and the next cluster to start under the
// same root removes it (removeStale).
type clusterCgroup struct {
	log      *slog.Logger
	root     string // <hierarchy>/<controller>/<root>
	dir      string
	lock     *os.File // dir, flocked while the cluster runs
	madeRoot []string // the directories of root this cluster made, outermost first
	// destroy kills every process left in the container cgroup at path
	// and removes it; a failure is logged.
	destroy func(log *slog.Logger, path string)
}

// clusterDirName matches the name of a cluster's cgroup directory,
// testenv-<master ID>, the master ID being a version 4 UUID as
// mesosx.NewID makes them: only such directories are ever taken for a
// stale cluster's.
var clusterDirName = regexp.MustCompile(`^` + clusterDirPrefix + `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// lockCgroupDir opens cgroup directory dir and takes an exclusive
// flock(2) on it without waiting: nil, nil when another process holds it.
func lockCgroupDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return f, nil
}

// removeStale removes the cluster directories under iso.root that no live
// cluster holds — left by a testenv killed with SIGKILL, which could not
// remove its own — after killing what is left in their containers'
// cgroups, as a Mesos agent destroys the orphan containers it finds when
// it recovers (MesosContainerizerProcess::recover). It takes each one's
// lock first, so a cluster still running keeps its own, and two clusters
// starting at once never both remove one. Directories not named as a
// cluster's (clusterDirName) are never touched. It reports how many it
// removed; a failure to remove one is logged.
func (iso *clusterCgroup) removeStale() int {
	entries, _ := os.ReadDir(iso.root)
	n := 0
	for _, e := range entries {
		if !e.IsDir() || !clusterDirName.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(iso.root, e.Name())
		lock, err := lockCgroupDir(dir)
		if lock == nil {
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				iso.log.Warn("not removing a cluster's cgroup", "path", dir, "err", err.Error())
			}
			continue // a live cluster's, or just removed by another
		}
		stale := &clusterCgroup{log: iso.log, dir: dir, destroy: iso.destroy}
		stale.removeContainers()
		err = os.Remove(dir)
		lock.Close()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			iso.log.Error("removing a stale cluster's cgroup", "path", dir, "err", err.Error())
			continue
		}
		iso.log.Info("removed the cgroup of a cluster that is no longer running", "path", dir)
		n++
	}
	return n
}

// newCPUIsolator makes the cluster's cgroup directory, named name, or
// says why it cannot: no cpu controller mounted at <hierarchy>/cpu, a
// cgroup v2 hierarchy, or a directory that cannot be made (not root, a
// read-only hierarchy). Nothing is left behind on failure.
func newCPUIsolator(hierarchy, root, name string, log *slog.Logger) (*cpuIsolator, error) {
	if _, err := os.Stat(filepath.Join(hierarchy, "cgroup.controllers")); err == nil {
		return nil, fmt.Errorf("%s is a cgroup v2 (unified) hierarchy, and testenv implements %s for cgroup v1 only "+
			"(cpu.shares; not cgroup v2's cpu.weight): use the isolation %s (the default, which isolates nothing), "+
			"or a host with the cgroup v1 cpu controller mounted at %s (booted with systemd.unified_cgroup_hierarchy=0)",
			hierarchy, IsolatorCgroupsCPU, DefaultIsolation, filepath.Join(hierarchy, "cpu"))
	}
	cpu := filepath.Join(hierarchy, "cpu")
	if _, err := os.Stat(filepath.Join(cpu, "cpu.shares")); err != nil {
		return nil, fmt.Errorf("no cgroup v1 cpu controller mounted at %s (no %s): %w", cpu, filepath.Join(cpu, "cpu.shares"), pathErr(err))
	}
	cc, err := newClusterCgroup(cpu, root, name, log, destroyCPUCgroup)
	if err != nil {
		return nil, err
	}
	iso := &cpuIsolator{cc}
	// Writing the shares proves the directory is a usable cpu cgroup.
	if err := writeCgroupFile(iso.dir, "cpu.shares", strconv.FormatUint(cpuSharesPerCPU, 10)); err != nil {
		_ = os.Remove(iso.dir)
		iso.lock.Close()
		iso.removeRoot()
		return nil, err
	}
	return iso, nil
}

// newClusterCgroup makes the cluster's directory, named name, under
// <controller>/<root>, controller being the mount point of a cgroup v1
// hierarchy, after removing the directories there of clusters that no
// longer run (removeStale). Nothing is left behind on failure.
func newClusterCgroup(controller, root, name string, log *slog.Logger, destroy func(*slog.Logger, string)) (*clusterCgroup, error) {
	iso := &clusterCgroup{log: log, root: filepath.Join(controller, filepath.FromSlash(root)), destroy: destroy}
	iso.dir = filepath.Join(iso.root, name)
	// Another cluster stopping may remove a root it made between our
	// making (or finding) it and making our directory in it: try again.
	for try := 0; ; try++ {
		made, err := mkdirAllCgroup(controller, root)
		if err != nil {
			iso.madeRoot = append(iso.madeRoot, made...)
			iso.removeRoot()
			return nil, fmt.Errorf("creating cgroup %s: %w", iso.root, pathErr(err))
		}
		if len(made) == 0 {
			// Made by a testenv: by one still running (the last of them
			// to stop removes it), or by one killed, whose directory goes
			// now. Only what holds nothing else is taken for testenv's.
			swept := iso.removeStale()
			if onlyClusterDirs(iso.root) || swept > 0 && isEmptyDir(iso.root) {
				made = []string{iso.root}
			}
		}
		iso.madeRoot = append(iso.madeRoot, made...)
		err = iso.makeDir()
		if err == nil {
			return iso, nil
		}
		if !errors.Is(err, os.ErrNotExist) || try == 5 {
			iso.removeRoot()
			return nil, fmt.Errorf("creating cgroup %s: %w", iso.dir, pathErr(err))
		}
	}
}

// makeDir makes the cluster's directory and locks it. Another cluster
// starting may take it for a stale one between the two, lock it and
// remove it (removeStale): then it is an os.ErrNotExist error, to try
// again.
func (iso *clusterCgroup) makeDir() error {
	if err := os.Mkdir(iso.dir, 0o755); err != nil {
		return err
	}
	lock, err := lockCgroupDir(iso.dir)
	if err == nil && lock == nil {
		err = fmt.Errorf("creating cgroup %s: taken for a stale one by another testenv: %w", iso.dir, os.ErrNotExist)
	}
	if err != nil {
		_ = os.Remove(iso.dir)
		return err
	}
	// Removed before the lock was taken: the lock is on a directory that
	// is gone, and iso.dir, if it is there, is not it.
	fi, statErr := os.Stat(iso.dir)
	li, lockErr := lock.Stat()
	if statErr != nil || lockErr != nil || !os.SameFile(fi, li) {
		lock.Close()
		return fmt.Errorf("creating cgroup %s: removed by another testenv: %w", iso.dir, os.ErrNotExist)
	}
	iso.lock = lock
	return nil
}

// isEmptyDir reports whether cgroup dir has no child cgroups.
func isEmptyDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() {
			return false
		}
	}
	return true
}

// mkdirAllCgroup makes base/rel and its missing parents and returns the
// directories it made, outermost first.
func mkdirAllCgroup(base, rel string) (made []string, err error) {
	dir := base
	for _, name := range strings.Split(rel, "/") {
		dir = filepath.Join(dir, name)
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			made = append(made, dir)
		case errors.Is(err, os.ErrExist):
		default:
			return made, err
		}
	}
	return made, nil
}

// onlyClusterDirs reports whether cgroup dir has children and all are
// testenv clusters' directories.
func onlyClusterDirs(dir string) bool {
	entries, err := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if !clusterDirName.MatchString(e.Name()) {
			return false
		}
		n++
	}
	return err == nil && n > 0
}

// removeRoot removes the directories of <hierarchy>/cpu/<root> this
// cluster made (or found holding only other clusters' directories),
// innermost first, while no other cluster's directory is in them (rmdir of
// a cgroup with children fails, and stops it). A root that held anything
// else when the cluster started (a Mesos agent's containers) is left.
func (iso *clusterCgroup) removeRoot() {
	for i := len(iso.madeRoot) - 1; i >= 0; i-- {
		if os.Remove(iso.madeRoot[i]) != nil {
			return
		}
	}
}

// close removes what is left of the cluster's cgroups (every container's
// is removed when it ends: this finds any whose removal failed), then the
// cluster's directory and the root if it made it. It is called once every
// process of the cluster has been reaped.
func (iso *clusterCgroup) close() {
	iso.removeContainers()
	if err := os.Remove(iso.dir); err != nil {
		iso.log.Error("removing the cluster's cgroup", "path", iso.dir, "err", err.Error())
	}
	iso.lock.Close() // after the removal: no other cluster takes it for stale
	iso.removeRoot()
}

// removeContainers destroys every container cgroup in the cluster's
// directory: kills what is left in it and removes it.
func (iso *clusterCgroup) removeContainers() {
	entries, _ := os.ReadDir(iso.dir)
	for _, e := range entries {
		if e.IsDir() {
			iso.destroy(iso.log, filepath.Join(iso.dir, e.Name()))
		}
	}
}

// create makes container containerID's cgroup with the shares of cpus.
func (iso *cpuIsolator) create(containerID string, cpus float64) (*cpuCgroup, error) {
	cg := &cpuCgroup{iso: iso, path: filepath.Join(iso.dir, containerID)}
	if err := os.Mkdir(cg.path, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup %s: %w", cg.path, pathErr(err))
	}
	if err := cg.update(cpus); err != nil {
		cg.destroy()
		return nil, err
	}
	return cg, nil
}

// cpuCgroup is one container's cgroup. Its methods are safe for
// concurrent use; after destroy, update does nothing.
type cpuCgroup struct {
	iso  *cpuIsolator
	path string

	mu     sync.Mutex
	shares uint64
	gone   bool
}

// update sets cpu.shares from the container's cpus (its executor's and
// its live tasks'); unchanged shares are not written again.
func (cg *cpuCgroup) update(cpus float64) error {
	cg.mu.Lock()
	defer cg.mu.Unlock()
	shares := cpuShares(cpus)
	if cg.gone || shares == cg.shares {
		return nil
	}
	if err := writeCgroupFile(cg.path, "cpu.shares", strconv.FormatUint(shares, 10)); err != nil {
		return err
	}
	cg.shares = shares
	cg.iso.log.Debug("updated cpu.shares", "cgroup", cg.path, "shares", shares, "cpus", cpus)
	return nil
}

// add moves process pid into the cgroup: testenv calls it while the
// process is held at its exec (package execstop), so its program runs in
// the cgroup from its first instruction, as under Mesos' Linux launcher.
func (cg *cpuCgroup) add(pid int) error {
	return writeCgroupFile(cg.path, "cgroup.procs", strconv.Itoa(pid))
}

// destroy kills every process left in the cgroup (one that left its
// session or process group included, as Mesos' launcher destroys a
// container) and removes it, within cgroupDestroyTimeout; a failure is
// logged. It is called once the container's main process is reaped.
func (cg *cpuCgroup) destroy() {
	cg.mu.Lock()
	cg.gone = true
	cg.mu.Unlock()
	destroyCPUCgroup(cg.iso.log, cg.path)
}

// destroyCPUCgroup SIGKILLs the processes in the cgroup at path until it
// can be removed, within cgroupDestroyTimeout. testenv itself is never
// signalled.
func destroyCPUCgroup(log *slog.Logger, path string) {
	deadline := time.Now().Add(cgroupDestroyTimeout)
	for {
		for _, pid := range cgroupPids(path) {
			if pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		err := os.Remove(path)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			log.Error("removing a container's cgroup", "path", path, "err", err.Error())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cgroupPids lists the processes in the cgroup at path.
func cgroupPids(path string) []int {
	b, _ := os.ReadFile(filepath.Join(path, "cgroup.procs"))
	var out []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// writeCgroupFile writes value to the control file name of cgroup dir.
func writeCgroupFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, pathErr(err))
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", value, p, pathErr(err))
	}
	return nil
}

// pathErr is the system error of a *fs.PathError (its message names the
// path again), or err.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// containerCPUsLocked is the cpus of e's container: its executor's and
// those of its tasks that have not ended (queued ones included), as the
// Mesos agent sums them for the containerizer (Slave::launchExecutor,
// then containerizer->update when tasks are added or end); a command
// task's container adds its command executor's allowance.
func containerCPUsLocked(e *executor) float64 {
	cpus := e.res.scalar("cpus")
	if e.command {
		cpus += commandExecutorCPUs
	}
	for _, t := range e.tasks {
		if !t.released {
			cpus += t.res.scalar("cpus")
		}
	}
	return cpus
}

// createCgroupLocked makes the cgroup of e's container with cgroups/cpu
// (nil without), just before its process starts: the caller hands it to
// startProc, which destroys it when the process ends or fails to start.
func (c *Cluster) createCgroupLocked(e *executor) (*cpuCgroup, error) {
	if c.cpu == nil {
		return nil, nil
	}
	cg, err := c.cpu.create(e.containerID, containerCPUsLocked(e))
	if err != nil {
		return nil, err
	}
	e.cgroup = cg
	return cg, nil
}

// updateCgroupLocked sets the shares of e's cgroup to its container's
// cpus now (tasks were added to it, or ended).
func (c *Cluster) updateCgroupLocked(e *executor) error {
	if e.cgroup == nil {
		return nil
	}
	return e.cgroup.update(containerCPUsLocked(e))
}
