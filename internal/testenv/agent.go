package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/fetcher"
	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/rlimit"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

const (
	sigKill = syscall.SIGKILL
	sigTerm = syscall.SIGTERM

	defaultKillGrace     = 3 * time.Second
	defaultShutdownGrace = 5 * time.Second
)

// startAgentLocked starts agent number index (a restart reuses the index,
// IP and port but gets a new agent ID).
func (c *Cluster) startAgentLocked(index int) (*agent, error) {
	ip := c.cfg.agentIP(index)
	port := c.cfg.AgentPort
	for _, old := range c.agents {
		if old.index == index {
			port = old.port
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil && c.cfg.AgentPort != 0 {
		// The fixed agent port is held on this agent's address.
		return nil, fmt.Errorf("testenv: agent %d: %w", index, fieldErr("AgentPort", err))
	}
	if err != nil {
		return nil, fmt.Errorf("testenv: agent %d listen on %s: %w", index, ip, err)
	}
	total, configured, host, err := c.agentResourcesLocked(index)
	if err != nil {
		ln.Close()
		return nil, err
	}
	id := c.newAgentIDLocked()
	a := &agent{
		id:         id,
		index:      index,
		ip:         ip,
		port:       ln.Addr().(*net.TCPAddr).Port,
		total:      total,
		used:       newRes(),
		zone:       c.cfg.Zones[index%len(c.cfg.Zones)],
		region:     c.cfg.Region,
		active:     true,
		ln:         ln,
		executors:  map[string]*executor{},
		dir:        filepath.Join(c.cfg.WorkDir, "slaves", id),
		registered: time.Now(),
		host:       host,
		fetcher: &fetcher.Fetcher{
			CacheDir: filepath.Join(c.cfg.WorkDir, "fetch-cache", ip),
			CacheAll: c.cfg.CacheAllURIs,
		},
		secrets: redact.NewShared(redact.Default()),
	}
	names := make([]string, 0, len(c.cfg.Attributes))
	for k := range c.cfg.Attributes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a.attrs = append(a.attrs, mesos.Attribute{Name: k, Type: mesos.TEXT, Text: &mesos.Value_Text{Value: c.cfg.Attributes[k]}})
	}
	a.info = a.newProtoInfo(configured)
	// Made and opened from the work dir's handle (held since Start,
	// before any task ran), never through a link a task put in place of
	// slaves: a restarted agent's directory is made after tasks ran.
	if a.root, err = c.work.root.MkdirAll(path.Join("slaves", id), 0o755); err != nil {
		ln.Close()
		return nil, fmt.Errorf("testenv: agent dir: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/executor", c.executorAPI(a))
	mux.HandleFunc("/slave(1)/api/v1/executor", c.executorAPI(a))
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	c.serve(a.srv, ln)
	c.agents = append(c.agents, a)
	c.agentByID[id] = a
	c.log.Info("agent registered", "agent", id, "ip", ip, "port", a.port)
	c.allocateLocked()
	return a, nil
}

func (a *agent) domain() *mesos.DomainInfo {
	return &mesos.DomainInfo{FaultDomain: &mesos.DomainInfo_FaultDomain{
		Region: mesos.DomainInfo_FaultDomain_RegionInfo{Name: a.region},
		Zone:   mesos.DomainInfo_FaultDomain_ZoneInfo{Name: a.zone},
	}}
}

func (a *agent) endpoint() string { return net.JoinHostPort(a.ip, strconv.Itoa(a.port)) }

func (a *agent) infoLocked() AgentInfo {
	return AgentInfo{ID: a.id, Index: a.index, IP: a.ip, Hostname: a.ip, Endpoint: a.endpoint(),
		Zone: a.zone, Region: a.region, Active: a.active}
}

// newProtoInfo is the agent's AgentInfo, built once when it starts: as in
// Mesos its resources are the configured ones (flags, MOUNT disks, static
// reservations), not the dynamic reservations and volumes made since
// (info.resources in Slave::initialize, src/slave/slave.cpp). Built per
// executor SUBSCRIBE under the cluster lock it cost a copy of every
// reservation on the agent, the lock's longest hold while a big launch's
// executors subscribed.
func (a *agent) newProtoInfo(configured res) mesos.AgentInfo {
	port := int32(a.port)
	id := mesos.AgentID{Value: a.id}
	return mesos.AgentInfo{Hostname: a.ip, Port: &port, Resources: configured.proto(false, ""),
		Attributes: append([]mesos.Attribute(nil), a.attrs...), ID: &id, Domain: a.domain()}
}

// protoInfo is the agent's AgentInfo (see newProtoInfo): shared, never
// modified.
func (a *agent) protoInfo() mesos.AgentInfo { return a.info }

// procsLocked lists the agent's live processes.
func (a *agent) procsLocked() []*proc {
	var out []*proc
	for _, e := range a.executors {
		if e.p != nil && !e.p.exited() {
			out = append(out, e.p)
		}
	}
	return out
}

func (a *agent) closeStreamsLocked() {
	for _, e := range a.executors {
		if e.stream != nil {
			e.stream.close()
		}
	}
}

// sandboxDir creates and opens an executor run's sandbox with Mesos'
// layout, <agent dir>/frameworks/<fid>/executors/<eid>/runs/<cid>, and
// points runs/latest at it. Everything is reached from the agent's
// directory handle (agent.root) without following a link (package
// sandboxfs): an earlier run of the executor, or any task of the agent,
// whose processes can change the directories around their sandbox, may
// have replaced runs, or the agent directory itself, with a link to a
// directory outside; the launch then fails naming it, or happens in the
// agent's directory wherever it was moved, rather than creating the
// sandbox outside.
func sandboxDir(a *agent, fid, eid, cid string) (*sandboxfs.Dir, error) {
	runs, err := a.root.MkdirAll(path.Join("frameworks", fid, "executors", eid, "runs"), 0o755)
	if err != nil {
		return nil, err
	}
	defer runs.Close()
	sb, err := runs.MkdirAll(cid, 0o755)
	if err != nil {
		return nil, err
	}
	// latest is a convenience for people reading the work directory: a
	// failure to update it fails nothing.
	_ = runs.Remove("latest")
	_ = runs.Symlink(cid, "latest")
	return sb, nil
}

// openSandboxLocked opens executor e's sandbox (see sandboxDir) again.
func openSandboxLocked(e *executor) (*sandboxfs.Dir, error) {
	rel, err := filepath.Rel(e.agent.dir, e.dir)
	if err != nil {
		return nil, err
	}
	return e.agent.root.OpenDir(filepath.ToSlash(rel))
}

// launchLocked puts validated tasks on agent a: a command task gets the
// built-in command executor; other tasks go to their executor, started if
// needed.
func (c *Cluster) launchLocked(fw *framework, a *agent, role string, ei *mesos.ExecutorInfo, infos []mesos.TaskInfo, group bool) {
	var tasks []*task
	for _, ti := range infos {
		r, _ := parseResources(ti.Resources)
		r = r.unallocated()
		t := &task{info: ti, fw: fw, agent: a, role: role, state: mesos.TASK_STAGING, res: r}
		fw.tasks[ti.TaskID.Value] = t
		a.used = a.used.add(r)
		tasks = append(tasks, t)
	}
	if group {
		for _, t := range tasks {
			t.group = tasks
		}
	}
	if ei == nil {
		t := tasks[0]
		cmd := *t.info.Command
		e := &executor{
			agent: a, fw: fw, command: true, containerID: mesosx.NewID(), tasks: map[string]*task{t.id(): t},
			info: mesos.ExecutorInfo{
				Type: mesos.ExecutorInfo_CUSTOM, ExecutorID: mesos.ExecutorID{Value: t.id()},
				FrameworkID: &mesos.FrameworkID{Value: fw.id}, Command: &cmd,
				Name:   strPtr("Command Executor (Task: " + t.id() + ") (Command: sh -c '" + truncate(cmd.GetValue(), 40) + "')"),
				Source: strPtr(t.id()),
			},
			launchedAt: time.Now(),
		}
		e.launch, e.cancelLaunch = context.WithCancel(c.ctx)
		t.exec = e
		t.delivered = true
		a.executors[fw.id+"/"+t.id()] = e
		if !c.goLocked(func() { c.runCommandTask(e, t) }) {
			return
		}
		return
	}
	key := fw.id + "/" + ei.ExecutorID.Value
	e := a.executors[key]
	if e == nil || e.state == execTerminated {
		info := *ei
		if info.FrameworkID == nil {
			info.FrameworkID = &mesos.FrameworkID{Value: fw.id}
		}
		er, _ := parseResources(info.Resources)
		er = er.unallocated()
		e = &executor{agent: a, fw: fw, info: info, role: role, containerID: mesosx.NewID(), tasks: map[string]*task{},
			res: er, charged: true, launchedAt: time.Now()}
		e.launch, e.cancelLaunch = context.WithCancel(c.ctx)
		a.used = a.used.add(er)
		a.executors[key] = e
		c.goLocked(func() { c.startExecutor(e) })
	}
	for _, t := range tasks {
		t.exec = e
		e.tasks[t.id()] = t
	}
	item := launchItem{tasks: tasks, group: group}
	if e.state == execRunning && e.stream != nil {
		c.deliverLocked(e, item)
	} else {
		e.queued = append(e.queued, item)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (c *Cluster) deliverLocked(e *executor, item launchItem) {
	for _, t := range item.tasks {
		t.delivered = true
	}
	err := c.syncLinksLocked(e, nil)
	if err == nil {
		err = c.updateCgroupLocked(e)
	}
	if err != nil {
		for _, t := range item.tasks {
			c.statusUpdateLocked(t, c.newStatus(t, mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_CONTAINER_UPDATE_FAILED,
				"Failed to update resources of container: "+err.Error()))
		}
		return
	}
	if item.group {
		g := mesos.TaskGroupInfo{}
		for _, t := range item.tasks {
			g.Tasks = append(g.Tasks, t.info)
		}
		e.stream.push(&execpb.Event{Type: execpb.Event_LAUNCH_GROUP, LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: g}})
		return
	}
	e.stream.push(&execpb.Event{Type: execpb.Event_LAUNCH, Launch: &execpb.Event_Launch{Task: item.tasks[0].info}})
}

// executorEnvLocked is the environment of an executor (or a command task):
// the agent's own environment without inherited MESOS_ and LIBPROCESS_
// variables, the Mesos executor variables, then the CommandInfo's.
func (c *Cluster) executorEnvLocked(e *executor, dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MESOS_") || strings.HasPrefix(kv, "LIBPROCESS_") {
			continue
		}
		env = append(env, kv)
	}
	a := e.agent
	grace := defaultShutdownGrace
	if e.info.ShutdownGracePeriod != nil {
		grace = time.Duration(e.info.ShutdownGracePeriod.Nanoseconds)
	}
	checkpoint := e.fw.info.GetCheckpoint()
	cp, httpCmd := "0", "0"
	if checkpoint {
		cp = "1"
	}
	if e.command {
		httpCmd = "1"
	}
	env = append(env,
		"MESOS_FRAMEWORK_ID="+e.fw.id,
		"MESOS_EXECUTOR_ID="+e.info.ExecutorID.Value,
		"MESOS_DIRECTORY="+dir,
		"MESOS_SANDBOX="+dir,
		"MESOS_AGENT_ENDPOINT="+a.endpoint(),
		"MESOS_SLAVE_ID="+a.id,
		"MESOS_SLAVE_PID=slave(1)@"+a.endpoint(),
		"MESOS_CHECKPOINT="+cp,
		"MESOS_HTTP_COMMAND_EXECUTOR="+httpCmd,
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="+mesosx.FormatDuration(grace),
		"LIBPROCESS_PORT=0",
		// On Mesos the agent fetches a task group's URIs through its cache;
		// here taskkit's executor fetches them, through the same cache.
		"TASKKIT_FETCHER_CACHE_DIR="+a.fetcher.CacheDir,
	)
	if checkpoint {
		env = append(env, "MESOS_RECOVERY_TIMEOUT=15mins", "MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs")
	}
	if !e.command {
		// Mesos' agent tells an executor nothing of its
		// --executor_registration_timeout (executorEnvironment in
		// src/slave/slave.cpp sets no such variable): it destroys one that
		// has not subscribed in time. taskkit's executor bounds its first
		// subscription by EXECUTOR_REGISTRATION_TIMEOUT (its
		// --registration-timeout), so that it gives up when the agent
		// would, not a minute in.
		env = append(env, "EXECUTOR_REGISTRATION_TIMEOUT="+c.cfg.ExecutorRegistrationTimeout.String())
	} else {
		env = append(env, "MESOS_TASK_ID="+e.info.ExecutorID.Value, "MESOS_CONTAINER_IP="+a.ip)
	}
	return append(env, mesosx.CommandEnv(e.info.Command)...)
}

// executorBinary finds taskkit's executor for DEFAULT executors.
func (c *Cluster) executorBinary() (string, error) {
	if c.cfg.ExecutorPath != "" {
		if _, err := os.Stat(c.cfg.ExecutorPath); err != nil {
			return "", fmt.Errorf("executor binary %s: %w", c.cfg.ExecutorPath, err)
		}
		return c.cfg.ExecutorPath, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "executor")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath("executor"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("taskkit executor binary not found: set Config.ExecutorPath (testenv --executor), put 'executor' next to the testenv binary or on PATH")
}

// ExecutorBinary reports where the cluster finds taskkit's executor for
// DEFAULT executors, or why it cannot.
func (c *Cluster) ExecutorBinary() (string, error) { return c.executorBinary() }

// prepareSandboxLocked creates executor e's sandbox (sandboxDir) and links
// its volumes into it, and returns it open (the caller closes it) and its
// path.
func (c *Cluster) prepareSandboxLocked(e *executor) (*sandboxfs.Dir, string, error) {
	sb, err := sandboxDir(e.agent, e.fw.id, e.info.ExecutorID.Value, e.containerID)
	if err != nil {
		return nil, "", err
	}
	e.dir = sb.Name()
	return sb, e.dir, c.syncLinksLocked(e, sb)
}

// learnSecrets teaches the agent's redactor the secret values of a command
// it launches: its SECRET variables and the values of its secret-looking
// ones (redact.Redactor.LearnEnv), as taskkit's executor learns each task's
// (internal/executor startTask), so that a status the agent builds from an
// error, such as a fetch failure naming a URI that carries one, shows none.
func (a *agent) learnSecrets(cmd *mesos.CommandInfo) {
	a.secrets.LearnEnv(mesosx.CommandEnv(cmd))
	for _, v := range mesosx.SecretValues(cmd) {
		a.secrets.LearnValue(v)
	}
}

// startExecutor fetches an executor's URIs and starts its process. It runs
// in a goroutine owned by the cluster.
func (c *Cluster) startExecutor(e *executor) {
	c.mu.Lock()
	a := e.agent
	sb, dir, err := c.prepareSandboxLocked(e)
	if sb != nil {
		defer sb.Close()
	}
	var uris []mesos.CommandInfo_URI
	if e.info.Command != nil {
		uris = e.info.Command.URIs
	}
	c.mu.Unlock()
	a.learnSecrets(e.info.Command)
	if err == nil {
		err = a.fetcher.Fetch(e.launch, uris, sb.FDPath())
	}
	e.cancelLaunch()
	spec := procSpec{sandbox: sb}
	if err == nil {
		if e.info.Type == mesos.ExecutorInfo_DEFAULT {
			var bin string
			bin, err = c.executorBinary()
			spec.value, spec.args = bin, []string{bin}
		} else {
			cmd := e.info.Command
			spec.shell = cmd.Shell == nil || *cmd.Shell
			spec.value, spec.args = cmd.GetValue(), cmd.Arguments
		}
		spec.limits, err = containerLimits(e.info.Container)
	}
	c.mu.Lock()
	if err == nil {
		spec.env = c.executorEnvLocked(e, dir)
		spec.cgroup, spec.freezer, err = c.containerCgroupsLocked(e)
	}
	c.mu.Unlock()
	// Fork and exec outside the cluster lock: hundreds of executors starting
	// at once must not stall every master and agent call behind them.
	var p *proc
	if err == nil {
		p, err = startProc(spec)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p != nil && (c.stopping || e.state == execTerminated || e.shutdown) {
		// Stopped or shut down while it started: it never ran for anyone.
		p.signal(syscall.SIGKILL)
		if !c.goLocked(p.wait) {
			p.wait() // stopping: reap it here; SIGKILLed, it is gone at once
		}
		p = nil
	}
	if c.stopping || e.state == execTerminated {
		return
	}
	if e.shutdown {
		c.executorGoneLocked(e, nil, mesos.TASK_KILLED, mesos.REASON_EXECUTOR_TERMINATED, "Executor was shut down before it started")
		return
	}
	if errors.Is(err, rlimit.ErrSet) {
		c.executorGoneLocked(e, nil, mesos.TASK_FAILED, mesos.REASON_EXECUTOR_TERMINATED, "Executor terminated: "+err.Error())
		return
	}
	if err != nil {
		c.executorGoneLocked(e, nil, mesos.TASK_FAILED, mesos.REASON_CONTAINER_LAUNCH_FAILED, a.secrets.String("Failed to launch container: "+err.Error()))
		return
	}
	e.p = p
	// The executor may have subscribed already (it ran while the lock was
	// free): never move it back from running.
	if e.state == execLaunching {
		e.state = execRegistering
		e.launchedAt = time.Now()
	}
	c.log.Debug("executor started", "executor", e.info.ExecutorID.Value, "pid", p.pid, "agent", a.id)
	c.goLocked(func() {
		p.wait()
		c.mu.Lock()
		defer c.mu.Unlock()
		state, reason, msg := mesos.TASK_FAILED, mesos.REASON_EXECUTOR_TERMINATED, "Executor terminated"
		if e.timedOut {
			reason, msg = mesos.REASON_EXECUTOR_REGISTRATION_TIMEOUT, "Executor did not register within "+mesosx.FormatDuration(c.cfg.ExecutorRegistrationTimeout)
		} else if e.shutdown {
			state = mesos.TASK_KILLED
		}
		ws := p.waitStatus()
		c.executorGoneLocked(e, &ws, state, reason, msg)
	})
}

// executorGoneLocked handles the end of a custom executor: its live tasks
// get state/reason from the agent, the framework gets a FAILURE event, its
// resources are released.
func (c *Cluster) executorGoneLocked(e *executor, waitStatus *int32, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	if e.state == execTerminated {
		return
	}
	e.state = execTerminated
	if e.stream != nil {
		e.stream.close()
		e.stream = nil
	}
	e.queued = nil
	a := e.agent
	if e.charged {
		e.charged = false
		a.used = a.used.sub(e.res)
	}
	ids := make([]string, 0, len(e.tasks))
	for id := range e.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := e.tasks[id]
		if t.removed || mesosx.IsTerminal(t.state) {
			continue
		}
		c.statusUpdateLocked(t, c.newStatus(t, state, mesos.SOURCE_AGENT, reason, msg))
	}
	key := e.fw.id + "/" + e.info.ExecutorID.Value
	if a.executors[key] == e {
		delete(a.executors, key)
	}
	if !e.command && !e.fw.removed && a.active {
		eid := e.info.ExecutorID
		aid := mesos.AgentID{Value: a.id}
		e.fw.send(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{
			AgentID: &aid, ExecutorID: &eid, Status: waitStatus}})
	}
	c.log.Debug("executor terminated", "executor", e.info.ExecutorID.Value, "agent", a.id, "reason", reason.String())
	c.allocateLocked()
}

// runCommandTask is the command executor for one task: fetch, STARTING,
// run, RUNNING, then FINISHED/FAILED/KILLED. It runs in a goroutine owned
// by the cluster.
func (c *Cluster) runCommandTask(e *executor, t *task) {
	c.mu.Lock()
	a, fw := e.agent, e.fw
	sb, dir, err := c.prepareSandboxLocked(e)
	// The sandbox stays open until the task's process has started.
	closeSandbox := func() {
		if sb != nil {
			sb.Close()
			sb = nil
		}
	}
	defer closeSandbox()
	cmd := t.info.Command
	c.mu.Unlock()
	a.learnSecrets(cmd)
	if err == nil {
		err = a.fetcher.Fetch(e.launch, cmd.URIs, sb.FDPath())
	}
	e.cancelLaunch()

	c.mu.Lock()
	if c.stopping || e.state == execTerminated || t.removed {
		c.mu.Unlock()
		return
	}
	finish := func(state mesos.TaskState, src mesos.TaskStatus_Source, reason mesos.TaskStatus_Reason, msg string) {
		e.state = execTerminated
		if !t.removed && !mesosx.IsTerminal(t.state) {
			st := c.newStatus(t, state, src, reason, msg)
			if src == mesos.SOURCE_EXECUTOR {
				// The command executor's fresh update (createTaskStatus,
				// src/launcher/executor.cpp): an empty check_status, and
				// healthy=false after a kill for failed health checks
				// (reaped).
				st.CheckStatus = emptyCheckStatus(t)
				if state == mesos.TASK_KILLED && t.killedByHealthCheck {
					st.Healthy = new(bool)
				}
			}
			c.statusUpdateLocked(t, st)
		}
		if t.removed {
			delete(a.executors, fw.id+"/"+e.info.ExecutorID.Value)
		}
	}
	if t.killing {
		finish(mesos.TASK_KILLED, mesos.SOURCE_EXECUTOR, noReason, "Task killed before it started")
		c.mu.Unlock()
		return
	}
	if err != nil {
		finish(mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_CONTAINER_LAUNCH_FAILED, a.secrets.String("Failed to launch container: "+err.Error()))
		c.mu.Unlock()
		return
	}
	// The task's rlimits are its container's (the command executor's):
	// Mesos cannot start that container with invalid ones.
	limits, err := containerLimits(t.info.Container)
	if err != nil {
		finish(mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_EXECUTOR_TERMINATED, "Executor terminated: "+err.Error())
		c.mu.Unlock()
		return
	}
	cg, fz, err := c.containerCgroupsLocked(e)
	if err != nil {
		finish(mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_CONTAINER_LAUNCH_FAILED, a.secrets.String("Failed to launch container: "+err.Error()))
		c.mu.Unlock()
		return
	}
	c.statusUpdateLocked(t, c.commandStatus(t, mesos.TASK_STARTING, ""))
	spec := procSpec{sandbox: sb, env: c.executorEnvLocked(e, dir),
		shell: cmd.Shell == nil || *cmd.Shell, value: cmd.GetValue(), args: cmd.Arguments, limits: limits, cgroup: cg, freezer: fz}
	p, err := startProc(spec)
	closeSandbox()
	if errors.Is(err, rlimit.ErrSet) {
		finish(mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_EXECUTOR_TERMINATED, "Executor terminated: "+err.Error())
		c.mu.Unlock()
		return
	}
	if err != nil {
		finish(mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, noReason, "Failed to launch task: "+err.Error())
		c.mu.Unlock()
		return
	}
	t.p, e.p = p, p
	e.state = execRunning
	c.statusUpdateLocked(t, c.commandStatus(t, mesos.TASK_RUNNING, ""))
	stopChecks := c.startCommandChecksLocked(e, t, spec.env)
	if d := mesosx.MaxCompletionTime(&t.info); d > 0 {
		c.goLocked(func() { c.enforceMaxCompletionTime(t, p, d) })
	}
	c.mu.Unlock()

	p.wait()
	stopChecks()

	c.mu.Lock()
	defer c.mu.Unlock()
	if e.state == execTerminated {
		return
	}
	msg, ok := describeExit(p.state)
	switch {
	case t.killedByMaxCompletion:
		finish(mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, mesos.REASON_MAX_COMPLETION_TIME_REACHED, msg)
	case t.killedByUs:
		finish(mesos.TASK_KILLED, mesos.SOURCE_EXECUTOR, noReason, msg)
	case ok:
		finish(mesos.TASK_FINISHED, mesos.SOURCE_EXECUTOR, noReason, msg)
	default:
		finish(mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, noReason, msg)
	}
}

// enforceMaxCompletionTime is the command executor's taskCompletionTimer
// (src/launcher/executor.cpp, taskCompletionTimeout): a task whose process
// is still running d after it started is killed with a zero grace period
// (SIGTERM, then SIGKILL at once), whatever its kill policy, without
// TASK_KILLING, and ends TASK_FAILED with REASON_MAX_COMPLETION_TIME_REACHED
// (runCommandTask). A kill before that (KILL, SHUTDOWN, a health check's)
// cancels it; a KILL after it changes nothing. It runs in a goroutine owned
// by the cluster, until the process ends, the time is up or the cluster
// stops.
func (c *Cluster) enforceMaxCompletionTime(t *task, p *proc, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return
	case <-c.ctx.Done():
		return
	case <-timer.C:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	if c.stopping || t.removed || t.killing || t.exec == nil || t.exec.state == execTerminated {
		return
	}
	c.log.Debug("killing a task that exceeded its max completion time", "task", t.id(), "max_completion_time", mesosx.FormatDuration(d))
	t.killing, t.killedByUs, t.killedByMaxCompletion = true, true, true
	t.stopChecksLocked()
	c.signalWithGraceLocked(p, 0)
}

// commandStatus is an executor-sourced status of a command task with its
// container status (container ID, the agent's IP, the process ID).
func (c *Cluster) commandStatus(t *task, state mesos.TaskState, msg string) mesos.TaskStatus {
	st := c.newStatus(t, state, mesos.SOURCE_EXECUTOR, noReason, msg)
	e := t.exec
	cs := &mesos.ContainerStatus{
		ContainerID:  &mesos.ContainerID{Value: e.containerID},
		NetworkInfos: []mesos.NetworkInfo{{IPAddresses: []mesos.NetworkInfo_IPAddress{{IPAddress: strPtr(t.agent.ip)}}}},
	}
	if t.p != nil {
		pid := uint32(t.p.pid)
		cs.ExecutorPID = &pid
	}
	st.ContainerStatus = cs
	st.CheckStatus = emptyCheckStatus(t)
	return st
}

// killLocked kills a task: the command executor signals the process group
// (SIGTERM, then SIGKILL after the grace period); a custom executor gets a
// KILL event; a task not yet delivered to its executor ends
// TASK_KILLED/REASON_TASK_KILLED_DURING_LAUNCH with its whole group.
func (c *Cluster) killLocked(t *task, policy *mesos.KillPolicy) {
	e := t.exec
	if e == nil || e.state == execTerminated {
		return
	}
	if e.command {
		if t.killing {
			return
		}
		t.killing = true
		if t.p == nil {
			// Still launching: its fetch is aborted, and runCommandTask
			// sees killing before it would start the process.
			e.cancelLaunch()
			return
		}
		t.killedByUs = true
		t.stopChecksLocked()
		if t.fw.hasCap(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) {
			c.statusUpdateLocked(t, c.commandStatus(t, mesos.TASK_KILLING, ""))
		}
		c.signalWithGraceLocked(t.p, killGrace(policy, t.info.KillPolicy))
		return
	}
	if !t.delivered {
		for i, item := range e.queued {
			found := false
			for _, x := range item.tasks {
				if x == t {
					found = true
				}
			}
			if !found {
				continue
			}
			e.queued = append(e.queued[:i:i], e.queued[i+1:]...)
			// Slave::killTask's words (src/slave/slave.cpp).
			msg := "Killed before delivery to the executor"
			if item.group {
				msg = "A task within the task group was killed before delivery to the executor"
			}
			for _, x := range item.tasks {
				c.statusUpdateLocked(x, c.newStatus(x, mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH, msg))
			}
			break
		}
		return
	}
	ev := &execpb.Event{Type: execpb.Event_KILL, Kill: &execpb.Event_Kill{TaskID: t.info.TaskID, KillPolicy: policy}}
	if e.stream != nil {
		e.stream.push(ev)
		return
	}
	// The executor is disconnected: like the Mesos agent, keep the KILL
	// for when it subscribes again.
	e.kills = append(e.kills, ev)
}

func killGrace(policies ...*mesos.KillPolicy) time.Duration {
	for _, p := range policies {
		if p != nil && p.GracePeriod != nil {
			return time.Duration(p.GracePeriod.Nanoseconds)
		}
	}
	return defaultKillGrace
}

// signalWithGraceLocked sends SIGTERM to p's group and SIGKILL after grace
// if it is still alive.
func (c *Cluster) signalWithGraceLocked(p *proc, grace time.Duration) {
	p.signal(sigTerm)
	c.goLocked(func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			p.signal(sigKill)
		case <-c.ctx.Done():
		}
	})
}

// shutdownExecutorLocked handles the SHUTDOWN call.
func (c *Cluster) shutdownExecutorLocked(fw *framework, agentID, eid string) {
	a := c.agentByID[agentID]
	if a == nil {
		return
	}
	if e := a.executors[fw.id+"/"+eid]; e != nil {
		c.shutdownExecLocked(e)
	}
}

// shutdownExecLocked shuts an executor down: SHUTDOWN event, then SIGKILL
// after its shutdown grace period (5s unless ExecutorInfo says otherwise).
func (c *Cluster) shutdownExecLocked(e *executor) {
	if e.state == execTerminated || e.shutdown {
		return
	}
	e.shutdown = true
	if e.p == nil {
		e.cancelLaunch() // still launching: abort its fetch
	}
	if e.command {
		for _, t := range e.tasks {
			c.killLocked(t, nil)
		}
		return
	}
	grace := defaultShutdownGrace
	if e.info.ShutdownGracePeriod != nil {
		grace = time.Duration(e.info.ShutdownGracePeriod.Nanoseconds)
	}
	switch {
	case e.stream != nil:
		e.stream.push(&execpb.Event{Type: execpb.Event_SHUTDOWN})
		p := e.p
		if p == nil {
			// Subscribed before its process was recorded (the SUBSCRIBE won
			// the race with startExecutor's fork): startExecutor sees
			// e.shutdown and kills the process as soon as it has it.
			return
		}
		c.goLocked(func() {
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-p.done:
			case <-t.C:
				p.signal(sigKill)
			case <-c.ctx.Done():
			}
		})
	case e.p != nil:
		e.p.signal(sigKill)
	}
}
