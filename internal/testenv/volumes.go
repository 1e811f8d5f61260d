package testenv

import (
	"fmt"
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
	h := &agentHost{dir: filepath.Join(c.cfg.WorkDir, "agents", strconv.Itoa(index))}
	for i, size := range c.cfg.DiskMounts {
		root := filepath.Join(h.dir, "mounts", "volume"+strconv.Itoa(i))
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, fmt.Errorf("testenv: MOUNT disk of agent %d: %w", index, err)
		}
		d := scalarResource("disk", size)
		d.Disk = &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
			Type:  mesos.Resource_DiskInfo_Source_MOUNT,
			Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: strPtr(root)},
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
		if err := makeVolumeDir(h.volumeDir(&v)); err != nil {
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

// makeVolumeDir creates a volume's directory rel under base (see
// volumeDir), never through a link in place of a directory below base.
func makeVolumeDir(base, rel string) error {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	if rel == "" {
		return nil
	}
	d, err := sandboxfs.Open(base)
	if err != nil {
		return err
	}
	defer d.Close()
	vd, err := d.MkdirAll(rel, 0o755)
	if err != nil {
		return err
	}
	return vd.Close()
}

// removeVolumeLocked deletes a destroyed volume's data: the directory is
// moved into the host's trash at once (a rename), so that a volume
// created again at the same path starts empty, and removed from there by
// a goroutine the cluster owns. A MOUNT disk keeps its (empty) root. The
// directories below the host's directory or the disk's root are reached
// without following a link (package sandboxfs): a task can reach its
// volume's parents, and must not get the agent to move a directory from
// elsewhere into its trash.
func (c *Cluster) removeVolumeLocked(h *agentHost, v *mesos.Resource) error {
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		return err
	}
	top, err := sandboxfs.Open(h.dir)
	if err != nil {
		return err
	}
	defer top.Close()
	trash, err := top.MkdirAll("trash", 0o755)
	if err != nil {
		return err
	}
	defer trash.Close()
	id := mesosx.NewID()
	dest := filepath.Join(trash.Name(), id)
	base, rel := h.volumeDir(v)
	if rel == "" { // a MOUNT disk's root: configured, trusted
		if err := os.Rename(base, dest); err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if err := os.Mkdir(base, 0o755); err != nil {
			return err
		}
	} else {
		d, err := sandboxfs.Open(base)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		err = d.Rename(rel, trash, id)
		d.Close()
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if !c.goLocked(func() { _ = os.RemoveAll(dest) }) {
		return os.RemoveAll(dest)
	}
	return nil
}

// volumePath is where volume v lives on host h
// (paths::getPersistentVolumePath in src/slave/paths.cpp).
func (h *agentHost) volumePath(v *mesos.Resource) string {
	base, rel := h.volumeDir(v)
	if base == "" {
		return ""
	}
	return filepath.Join(base, filepath.FromSlash(rel))
}

// volumeDir is volumePath split in two: a directory the agent trusts (the
// host's directory, a PATH or MOUNT disk's root) and the slash-separated
// path of the volume below it, "" for a MOUNT disk (its root is the
// volume). base is "" for a disk of an unknown source type.
func (h *agentHost) volumeDir(v *mesos.Resource) (base, rel string) {
	role := strings.ReplaceAll(v.ReservationRole(), "/", " ")
	id := v.Disk.Persistence.ID
	src := v.Disk.Source
	if src == nil {
		return h.dir, path.Join("volumes", "roles", role, id)
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(h.dir, p)
	}
	switch src.GetType() {
	case mesos.Resource_DiskInfo_Source_PATH:
		return abs(src.GetPath().GetRoot()), path.Join("volumes", "roles", role, id)
	case mesos.Resource_DiskInfo_Source_MOUNT:
		return abs(src.GetMount().GetRoot()), ""
	}
	return "", ""
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
// executor's sandbox loses the links of the volumes it no longer uses.
func (c *Cluster) releaseTaskLocked(t *task) {
	t.released = true
	t.agent.used = t.agent.used.sub(t.res)
	if e := t.exec; e != nil && e.state != execTerminated {
		if err := c.syncLinksLocked(e, nil); err != nil {
			c.log.Error("updating the volumes of a container", "executor", e.info.ExecutorID.Value, "err", err)
		}
	}
}
