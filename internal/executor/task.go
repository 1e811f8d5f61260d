package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"golang.org/x/sys/unix"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/sandboxfs"
	"github.com/taskkit/taskkit/internal/supervise"
)

// EssentialLabel is the TaskInfo label that marks a task whose failure
// must not kill the rest of its group: essential=false (the DC/OS SDK's
// `essential: false`).
const EssentialLabel = "essential"

// defaultPath is a task's PATH when its environment has none, as the Mesos
// containerizer sets it.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TasksDir is the directory of task sandboxes under the executor sandbox:
// each task runs in TasksDir/<task-id>, with its stdout and stderr there.
const TasksDir = "tasks"

// task is the executor's record of one task. It is owned by the event
// loop; the goroutines around it (launch, wait, checks) only post messages.
type task struct {
	info      mesos.TaskInfo
	group     *group
	essential bool
	dir       string
	env       []string
	container mesos.ContainerID

	proc      *supervise.Process // nil until started
	launching bool               // the launch goroutine has not reported yet
	killing   bool               // KILL, SHUTDOWN, group rule or health threshold
	killGrace time.Duration      // grace of the pending kill
	unhealthy bool               // killed for failing its health check
	overdue   bool               // killed for running past max_completion_time
	terminal  bool               // a terminal update was sent
	acked     bool               // the agent acknowledged one of its updates

	// completeBy is when the task must have ended, its start plus its
	// max_completion_time (zero: no limit); the event loop's timer is
	// armed for it (nextDeadline) and housekeep kills the task after it.
	completeBy time.Time

	// cancelLaunch ends the launch in progress (its URI fetch) when the
	// task is killed before its process started; nil once it reported.
	cancelLaunch context.CancelFunc

	last       *mesos.TaskStatus // latest update, the base of health and check updates
	checkType  *mesos.CheckInfo_Type
	stopChecks context.CancelFunc
}

// group is a LAUNCH_GROUP's tasks: one failing kills the others.
type group struct {
	tasks   []*task
	killing bool
}

func (t *task) id() string { return t.info.TaskID.Value }

// live reports whether the task has not reached a terminal state.
func (t *task) live() bool { return !t.terminal }

// isEssential reads the essential label; anything but "false" is essential.
func isEssential(ti *mesos.TaskInfo) bool {
	if ti.Labels == nil {
		return true
	}
	for _, l := range ti.Labels.Labels {
		if l.Key == EssentialLabel && strings.EqualFold(strings.TrimSpace(l.GetValue()), "false") {
			return false
		}
	}
	return true
}

// killGrace picks the grace period: the KILL's policy, else the task's,
// else DefaultKillGrace.
func killGrace(policies ...*mesos.KillPolicy) time.Duration {
	for _, p := range policies {
		if p != nil && p.GracePeriod != nil {
			return max(time.Duration(p.GracePeriod.Nanoseconds), 0)
		}
	}
	return DefaultKillGrace
}

// validTaskDir rejects task IDs that are not a single path element.
func validTaskDir(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("task ID %q cannot name a sandbox directory", id)
	}
	return nil
}

// mergeEnv returns base with over's entries replacing those of the same
// key, in base's order followed by new keys.
func mergeEnv(base, over []string) []string {
	if len(over) == 0 {
		return base
	}
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// allocationRole is the role the task's resources were allocated to.
func allocationRole(ti *mesos.TaskInfo, fw *mesos.FrameworkInfo) string {
	for _, r := range ti.Resources {
		if r.AllocationInfo != nil && r.AllocationInfo.Role != nil {
			return *r.AllocationInfo.Role
		}
	}
	for _, r := range ti.Resources {
		if r.Role != nil && *r.Role != "" {
			return *r.Role
		}
	}
	if fw != nil {
		if roles := fw.GetRoles(); len(roles) > 0 {
			return roles[0]
		}
		if r := fw.GetRole(); r != "" {
			return r
		}
	}
	return "*"
}

// taskEnv is a task's environment: its CommandInfo's variables plus
// MESOS_SANDBOX, MESOS_CONTAINER_IP and MESOS_ALLOCATION_ROLE (and a
// default PATH when it has none).
func taskEnv(ti *mesos.TaskInfo, dir, containerIP, role string) []string {
	env := mergeEnv([]string{"PATH=" + defaultPath}, mesosx.CommandEnv(ti.Command))
	return mergeEnv(env, []string{
		"MESOS_SANDBOX=" + dir,
		"MESOS_CONTAINER_IP=" + containerIP,
		"MESOS_ALLOCATION_ROLE=" + role,
	})
}

// lookEnv returns the value of key in env.
func lookEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// commandSpec is how a task's CommandInfo runs: `sh -c value` in the task
// shell (mesosx.ShellCommand: bash when installed) when shell (the
// default), else value exec'd with arguments (argv[0] included), found on
// the task's PATH.
func commandSpec(ci *mesos.CommandInfo, env []string, dir string) (supervise.Spec, error) {
	if ci == nil {
		return supervise.Spec{}, errors.New("task has no command")
	}
	if ci.Shell == nil || *ci.Shell {
		if ci.GetValue() == "" {
			return supervise.Spec{}, errors.New("shell command has no value")
		}
		path, args := mesosx.ShellCommand(ci.GetValue())
		return supervise.Spec{Path: path, Args: args, Env: env, Dir: dir}, nil
	}
	value := ci.GetValue()
	if value == "" {
		return supervise.Spec{}, errors.New("command has no value")
	}
	path, err := lookPath(value, lookEnv(env, "PATH"), dir)
	if err != nil {
		return supervise.Spec{}, err
	}
	args := ci.Arguments
	if len(args) == 0 {
		args = []string{value}
	}
	return supervise.Spec{Path: path, Args: args, Env: env, Dir: dir}, nil
}

// lookPath finds an executable as execvp would, with the task's PATH;
// relative paths with a slash, and PATH entries that are relative, are
// relative to the task's directory dir, the process's working directory.
// A relative result stays relative (with a slash: "./app", "bin/app") so
// that the process resolves it in its own working directory, which
// spawnTask gives through the directory it holds open, never by dir's
// name.
func lookPath(file, pathEnv, dir string) (string, error) {
	isExec := func(p string) bool {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		st, err := os.Stat(p)
		return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
	}
	if strings.Contains(file, "/") {
		if !isExec(file) {
			return "", fmt.Errorf("%s: not an executable file", file)
		}
		return file, nil
	}
	for _, d := range filepath.SplitList(pathEnv) {
		p := filepath.Join(d, file)
		if !strings.Contains(p, "/") {
			p = "./" + p // an empty or "." entry: the task's directory
		}
		if isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in PATH", file)
}

// exitMessage describes how a task's process ended, as Mesos words it
// ("Command " + WSTRINGIFY(status), src/common/status_utils.hpp: the
// signal's strsignal(3) text, " (core dumped)" when it dumped core).
func exitMessage(st supervise.Status) string {
	if st.Signal != 0 {
		name := st.Signal.String()
		if name != "" {
			name = strings.ToUpper(name[:1]) + name[1:]
		}
		if st.CoreDumped {
			name += " (core dumped)"
		}
		return "Command terminated with signal " + name
	}
	return fmt.Sprintf("Command exited with status %d", st.Code)
}

// openTaskDir creates (if need be) and opens the sandbox of task id,
// TasksDir/<id> under the executor sandbox sb, failing rather than
// following a link in place of either directory.
func openTaskDir(sb *sandboxfs.Dir, id string) (*sandboxfs.Dir, error) {
	return sb.MkdirAll(TasksDir+"/"+id, 0o755)
}

// linkVolumes makes the persistent volumes a task's resources name visible
// in its sandbox td, as Mesos' default executor asks with a SANDBOX_PATH
// volume of type PARENT for each (src/launcher/default_executor.cpp) and
// the volume/sandbox_path isolator provides without a mount namespace: a
// symlink <task sandbox>/<container_path> to <executor
// sandbox>/<container_path>, where the agent has linked (or mounted) the
// volume itself. The task's own SANDBOX_PATH volumes of type PARENT (the
// SDK's view of a pod's volumes, held by the executor) get the same link,
// to <executor sandbox>/<sandbox_path.path>; as the isolator does
// (src/slave/containerizer/mesos/isolators/volume/sandbox_path.cpp), a
// source that does not exist (lstat: a link there counts) is created first,
// a directory with its missing parents, mode 0755, through sb, the executor
// sandbox, so never through a link (one in the way fails the launch). A
// missing disk volume is not created: the agent puts it there, and an
// empty directory in its place would take the task's data. An absolute
// container path needs a mount namespace and fails the launch, as it does
// there.
func linkVolumes(ti *mesos.TaskInfo, sb, td *sandboxfs.Dir) error {
	type link struct {
		src    string // path in the executor's sandbox
		create bool   // a SANDBOX_PATH source, created when missing
	}
	links := map[string]link{} // container path → source
	var order []string
	add := func(cp string, l link) {
		if _, seen := links[cp]; !seen {
			order = append(order, cp)
		}
		links[cp] = l
	}
	for _, r := range ti.Resources {
		if v := r.GetDisk().GetVolume(); v != nil {
			add(v.ContainerPath, link{src: v.ContainerPath})
		}
	}
	for _, v := range ti.GetContainer().GetVolumes() {
		if src := v.GetSource(); src.GetType() == mesos.Volume_Source_SANDBOX_PATH && src.GetSandboxPath().GetType() == mesos.Volume_Source_SandboxPath_PARENT {
			add(v.ContainerPath, link{src: src.GetSandboxPath().GetPath(), create: true})
		}
	}
	for _, cp := range order {
		l := links[cp]
		if filepath.IsAbs(cp) || filepath.IsAbs(l.src) || !filepath.IsLocal(l.src) {
			return fmt.Errorf("volume at %q: an absolute container path needs a mount namespace (Mesos' 'linux' launcher and 'filesystem/linux' isolator), and the parent's path must be inside its sandbox", cp)
		}
		if l.create {
			if err := createSource(sb, l.src); err != nil {
				return fmt.Errorf("volume at %q: creating its source in the executor sandbox: %w", cp, err)
			}
		}
		target := filepath.Join(sb.Name(), l.src)
		if cur, err := td.Readlink(cp); err == nil && cur == target {
			continue
		}
		if err := td.Symlink(target, cp); err != nil {
			return fmt.Errorf("linking volume %q into the task sandbox: %w", cp, err)
		}
	}
	return nil
}

// createSource creates the directory rel under sb, and its missing parents,
// unless something (a link included) is already there; a link on the way
// fails.
func createSource(sb *sandboxfs.Dir, rel string) error {
	// Readlink is lstat here: it fails with ENOENT only when nothing is
	// at rel, succeeds on a link, and fails otherwise (EINVAL) on a file
	// or directory; a link among rel's parents fails it (ErrSymlink).
	_, err := sb.Readlink(rel)
	switch {
	case err == nil || errors.Is(err, unix.EINVAL):
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	d, err := sb.MkdirAll(rel, 0o755)
	if err != nil {
		return err
	}
	return d.Close()
}

// writeSecretVolumes writes a task's SECRET volumes into its sandbox: each
// value at its container_path, read-only (mode 0400), as Mesos' volume/secret
// isolator provides them (without a mount namespace: a file rather than a
// tmpfs mount). The SDK delivers a pod secret without env-key so. A secret
// by reference needs a secret store, and an absolute path or one leaving the
// sandbox a mount namespace: both fail the launch. Values never reach an
// error or a log.
func writeSecretVolumes(ti *mesos.TaskInfo, td *sandboxfs.Dir) error {
	for _, v := range ti.GetContainer().GetVolumes() {
		src := v.GetSource()
		if src.GetType() != mesos.Volume_Source_SECRET {
			continue
		}
		cp := v.ContainerPath
		sec := src.GetSecret()
		switch {
		case sec.GetType() != mesos.Secret_VALUE || sec.GetValue() == nil:
			return fmt.Errorf("secret volume at %q: only secrets given by value are supported (there is no secret store)", cp)
		case cp == "" || filepath.IsAbs(cp) || !filepath.IsLocal(cp):
			return fmt.Errorf("secret volume at %q: the path must stay inside the sandbox (no mount namespace)", cp)
		}
		if d := filepath.Dir(cp); d != "." {
			sub, err := td.MkdirAll(d, 0o700)
			if err != nil {
				return fmt.Errorf("secret volume at %q: %w", cp, err)
			}
			sub.Close()
		}
		f, err := td.OpenFile(cp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
		if err != nil {
			return fmt.Errorf("secret volume at %q: %w", cp, err)
		}
		_, err = f.Write(sec.GetValue().GetData())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("secret volume at %q: writing it failed", cp)
		}
	}
	return nil
}

// parentDeath is the signal every task process gets if the executor dies.
const parentDeath = syscall.SIGKILL

// commandFromData decodes a CommandInfo (protobuf) from a task's data, or
// returns nil.
func commandFromData(data []byte) *mesos.CommandInfo {
	if len(data) == 0 {
		return nil
	}
	var ci mesos.CommandInfo
	if err := ci.Unmarshal(data); err != nil || ci.GetValue() == "" {
		return nil
	}
	return &ci
}
