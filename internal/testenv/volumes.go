package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gogo/protobuf/proto"
	mesos "github.com/mesos/mesos-go/api/v1/lib"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// This file is what an agent's host keeps across agent restarts, and the
// persistent volumes on it.
//
// Each agent index is a host with its own work directory,
// <WorkDir>/agents/<index> (Mesos' agent --work_dir), that outlives the
// agent process: KillAgent then RestartAgent is a host reboot, and the
// new agent (a new agent ID, as Mesos gives after a reboot) comes back
// with the host's checkpointed resources — its dynamic reservations and
// persistent volumes — and its MOUNT disks, and the volumes' data is
// still there:
//
//	<WorkDir>/agents/<index>/volumes/roles/<role>/<persistence id>
//	                                            a volume on the root disk
//	                                            ('/' in a role becomes ' ')
//	<WorkDir>/agents/<index>/mounts/volume<N>   MOUNT disk N (Config.DiskMounts);
//	                                            a volume on it is its root
//
// The agent creates a volume's directory when CREATE is applied and
// removes it (a MOUNT disk's contents, not its root) when DESTROY is
// (Slave::syncCheckpointedResources in src/slave/slave.cpp). As Mesos'
// posix filesystem isolator does without a mount namespace
// (src/slave/containerizer/mesos/isolators/filesystem/posix.cpp), a
// container's sandbox gets a symlink <sandbox>/<container_path> to every
// volume its executor and live tasks use, and loses it once none does;
// container paths that are absolute or hold a '/' are skipped, as there.
// taskkit's executor links each task sandbox (tasks/<id>/<container_path>)
// to the executor's link, as Mesos' default executor does with a
// SANDBOX_PATH volume of type PARENT.

// agentHost is one agent index's host.
type agentHost struct {
	// dir is the host's work directory.
	dir string
	// root is dir, opened (and made) from the work dir's handle when the
	// host's first agent starts, before any task runs: every volume and
	// MOUNT disk directory is made, moved and removed from it without
	// following a link (package sandboxfs). A task reaches its volume's
	// parents — and so the host's directory and the work dir — through
	// its volume link's "..", and must not get the agent to create or
	// remove a directory elsewhere by renaming one of them. Closed when
	// the cluster has stopped.
	root *sandboxfs.Dir
	// mounts are the MOUNT disks, unreserved.
	mounts res
	// checkpointed are the dynamic reservations and persistent volumes
	// (Mesos: <work_dir>/meta/resources/resources_and_operations.state).
	checkpointed res
}

// hostLocked returns agent index's host, creating its directories and
// MOUNT disks the first time.
func (c *Cluster) hostLocked(index int) (*agentHost, error) {
	if h := c.hosts[index]; h != nil {
		return h, nil
	}
	rel := path.Join("agents", strconv.Itoa(index))
	root, err := c.work.root.MkdirAll(rel, 0o755)
	if err != nil {
		return nil, fmt.Errorf("testenv: agent %d: %w", index, err)
	}
	h := &agentHost{dir: filepath.Join(c.cfg.WorkDir, filepath.FromSlash(rel)), root: root}
	for i, size := range c.cfg.DiskMounts {
		mount := path.Join("mounts", "volume"+strconv.Itoa(i))
		md, err := root.MkdirAll(mount, 0o755)
		if err != nil {
			root.Close()
			return nil, fmt.Errorf("testenv: MOUNT disk of agent %d: %w", index, err)
		}
		md.Close()
		d := scalarResource("disk", size)
		d.Disk = &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
			Type:  mesos.Resource_DiskInfo_Source_MOUNT,
			Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: strPtr(filepath.Join(h.dir, filepath.FromSlash(mount)))},
		}}
		h.mounts = append(h.mounts, d)
	}
	if c.hosts == nil {
		c.hosts = map[int]*agentHost{}
	}
	c.hosts[index] = h
	return h, nil
}

// agentResourcesLocked returns the total resources of a new agent at
// index: the configured cpus, mem, disk, ports, MOUNT disks and static
// reservations, with the host's checkpointed reservations and volumes
// applied (applyCheckpointedResources in src/common/resources_utils.cpp);
// and the configured resources alone, which an agent's AgentInfo carries
// (Slave::initialize sets info.resources from the flags only,
// src/slave/slave.cpp).
func (c *Cluster) agentResourcesLocked(index int) (total, configured res, h *agentHost, err error) {
	h, err = c.hostLocked(index)
	if err != nil {
		return nil, nil, nil, err
	}
	static, err := parseReserved(c.cfg.Reserved)
	if err != nil {
		return nil, nil, nil, err
	}
	ports := c.ports
	for _, r := range static {
		if r.Name == "ports" {
			ports = (&mesos.Value_Ranges{Range: ports}).Subtract(r.Ranges).GetRange()
		}
	}
	configured = res{
		scalarResource("cpus", c.cfg.CPUs),
		scalarResource("mem", c.cfg.Mem),
		scalarResource("disk", c.cfg.Disk),
		rangesResource("ports", ports),
	}.add(h.mounts).add(static)
	total = configured
	for _, x := range h.checkpointed {
		// What the checkpointed resource was made of: the agent's own
		// resource, unreserved or statically reserved.
		stripped := *proto.Clone(&x).(*mesos.Resource)
		if x.IsDynamicallyReserved() {
			stripped.Reservations = nil
			if first := x.Reservations[0]; first.GetType() == mesos.Resource_ReservationInfo_STATIC {
				stripped.Reservations = []mesos.Resource_ReservationInfo{first}
			}
		}
		if x.IsPersistentVolume() {
			stripped = stripVolume(stripped)
		}
		if !total.contains(res{stripped}) {
			return nil, nil, nil, fmt.Errorf("testenv: agent %d: incompatible agent resources: %s does not contain %s", index, describe(total), describe(res{stripped}))
		}
		total = total.sub(res{stripped}).add(res{x})
	}
	return total, configured, h, nil
}

// checkpointLocked records agent a's reservations and volumes on its host
// and brings the volumes on disk in line: new volumes get their
// directory, destroyed ones lose their data.
func (c *Cluster) checkpointLocked(a *agent) {
	h := a.host
	old := h.checkpointed
	h.checkpointed = a.total.checkpointed()
	oldPaths, newPaths := h.volumePaths(old), h.volumePaths(h.checkpointed)
	for p, v := range newPaths {
		if _, ok := oldPaths[p]; ok {
			continue
		}
		// As the Mesos agent, an existing directory is taken as it is (a
		// MOUNT disk's root always exists).
		if err := h.makeVolumeDir(&v); err != nil {
			c.log.Error("creating a persistent volume", "agent", a.id, "path", p, "err", err)
		}
	}
	for p, v := range oldPaths {
		if _, ok := newPaths[p]; ok {
			continue
		}
		c.log.Info("deleting persistent volume", "agent", a.id, "id", v.Disk.Persistence.ID, "path", p)
		if err := c.removeVolumeLocked(h, &v); err != nil {
			c.log.Error("deleting a persistent volume", "agent", a.id, "path", p, "err", err)
		}
	}
}

// makeVolumeDir creates volume v's directory (see volumeRel) from the
// host's handle, never through a link in place of a directory.
func (h *agentHost) makeVolumeDir(v *mesos.Resource) error {
	rel, _ := h.volumeRel(v)
	if rel == "" {
		return nil
	}
	d, err := h.root.MkdirAll(rel, 0o755)
	if err != nil {
		return err
	}
	return d.Close()
}

// removeVolumeLocked deletes a destroyed volume's data: the directory is
// moved into the host's trash at once (a rename), so that a volume
// created again at the same path starts empty, and removed from there by
// a goroutine the cluster owns. A MOUNT disk keeps its (empty) root. The
// volume, the trash and the removal are all reached from the host's
// handle without following a link (package sandboxfs, os.Root): a task
// can reach its volume's parents, and must not get the agent to move a
// directory from elsewhere into its trash, nor to remove one elsewhere by
// putting a link in place of the trash.
func (c *Cluster) removeVolumeLocked(h *agentHost, v *mesos.Resource) error {
	rel, mount := h.volumeRel(v)
	if rel == "" {
		return nil
	}
	trash, err := h.root.MkdirAll("trash", 0o755)
	if err != nil {
		return err
	}
	defer trash.Close()
	id := mesosx.NewID()
	if err := h.root.Rename(rel, trash, id); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if mount {
		if err := h.makeVolumeDir(v); err != nil {
			return err
		}
	}
	// An os.Root on the trash directory itself (its descriptor's
	// /proc/self/fd path), not on its path.
	r, err := os.OpenRoot(trash.FDPath())
	if err != nil {
		return err
	}
	remove := func() {
		_ = r.RemoveAll(id)
		r.Close()
	}
	if !c.goLocked(remove) {
		remove()
	}
	return nil
}

// volumePath is where volume v lives on host h
// (paths::getPersistentVolumePath in src/slave/paths.cpp), or "" (see
// volumeRel).
func (h *agentHost) volumePath(v *mesos.Resource) string {
	rel, _ := h.volumeRel(v)
	if rel == "" {
		return ""
	}
	return filepath.Join(h.dir, filepath.FromSlash(rel))
}

// volumeRel is volumePath relative to the host's directory,
// slash-separated: volumes/roles/<role>/<id> on the root disk, below a PATH
// disk's root, or a MOUNT disk's root itself (mount is then set). It is ""
// for a disk of an unknown source type or whose root is not below the
// host's directory (testenv makes every disk there).
func (h *agentHost) volumeRel(v *mesos.Resource) (rel string, mount bool) {
	role := strings.ReplaceAll(v.ReservationRole(), "/", " ")
	id := v.Disk.Persistence.ID
	src := v.Disk.Source
	if src == nil {
		return path.Join("volumes", "roles", role, id), false
	}
	below := func(root string) string {
		if filepath.IsAbs(root) {
			r, err := filepath.Rel(h.dir, root)
			if err != nil {
				return ""
			}
			root = r
		}
		if !filepath.IsLocal(root) {
			return ""
		}
		return filepath.ToSlash(filepath.Clean(root))
	}
	switch src.GetType() {
	case mesos.Resource_DiskInfo_Source_PATH:
		if root := below(src.GetPath().GetRoot()); root != "" {
			return path.Join(root, "volumes", "roles", role, id), false
		}
	case mesos.Resource_DiskInfo_Source_MOUNT:
		if root := below(src.GetMount().GetRoot()); root != "" && root != "." {
			return root, true
		}
	}
	return "", false
}

// volumePaths maps the paths of the volumes of rs to the volumes.
func (h *agentHost) volumePaths(rs res) map[string]mesos.Resource {
	out := map[string]mesos.Resource{}
	for _, v := range rs.volumes() {
		if p := h.volumePath(&v); p != "" {
			out[p] = v
		}
	}
	return out
}

// syncLinksLocked gives executor e's sandbox a symlink at each
// container_path of the volumes its executor and live tasks use, removes
// the links of volumes none of them uses any more, and replaces a link
// whose volume changed.
//
// sb is e's sandbox when the caller has it open; nil, it is opened again
// (openSandboxLocked) only if a link must change. Links are removed and
// made there, never through a link e's processes put in place of a
// directory.
func (c *Cluster) syncLinksLocked(e *executor, sb *sandboxfs.Dir) error {
	if e.dir == "" {
		return nil
	}
	var opened *sandboxfs.Dir
	defer func() {
		if opened != nil {
			opened.Close()
		}
	}()
	sandbox := func() (*sandboxfs.Dir, error) {
		if sb == nil {
			d, err := openSandboxLocked(e)
			if err != nil {
				return nil, err
			}
			sb, opened = d, d
		}
		return sb, nil
	}
	want := map[string]string{}
	add := func(rs res) {
		for _, v := range rs.volumes() {
			cp := v.Disk.Volume.ContainerPath
			if cp == "" || strings.Contains(cp, "/") || cp == "." || cp == ".." {
				c.log.Warn("not linking a persistent volume whose container path is absolute or nested (no mount namespace)",
					"executor", e.info.ExecutorID.Value, "container_path", cp)
				continue
			}
			want[cp] = e.agent.host.volumePath(&v)
		}
	}
	add(e.res)
	for _, t := range e.tasks {
		if !t.released {
			add(t.res)
		}
	}
	for cp, target := range e.links {
		if want[cp] == target {
			continue
		}
		d, err := sandbox()
		if err != nil {
			return err
		}
		if err := d.Remove(cp); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing the symlink of an unneeded persistent volume: %w", err)
		}
		delete(e.links, cp)
	}
	for cp, target := range want {
		if e.links[cp] == target {
			continue
		}
		d, err := sandbox()
		if err != nil {
			return err
		}
		if err := d.Symlink(target, cp); err != nil {
			return fmt.Errorf("symlinking persistent volume %s: %w", target, err)
		}
		if e.links == nil {
			e.links = map[string]string{}
		}
		e.links[cp] = target
	}
	return nil
}

// releaseTaskLocked gives a task's resources back to its agent; its
// executor's sandbox loses the links of the volumes it no longer uses and
// its cgroup the task's cpu shares.
func (c *Cluster) releaseTaskLocked(t *task) {
	t.released = true
	t.agent.used = t.agent.used.sub(t.res)
	if e := t.exec; e != nil && e.state != execTerminated {
		if err := c.syncLinksLocked(e, nil); err != nil {
			c.log.Error("updating the volumes of a container", "executor", e.info.ExecutorID.Value, "err", err)
		}
		if err := c.updateCgroupLocked(e); err != nil {
			c.log.Error("updating the cpu shares of a container", "executor", e.info.ExecutorID.Value, "err", err)
		}
	}
}
