// Package mesostest runs a Mesos-compatible cluster inside a Go test: a
// master serving the v1 scheduler HTTP API, agents serving the v1 executor
// HTTP API, and a Mesos-DNS-like DNS server, all on loopback in the test's
// own process. Point a framework at MasterURL and it runs as it would
// against Mesos: offers, launches (command tasks, custom executors, task
// groups), status updates with acknowledgements, reconciliation, failover.
// Fault injection kills and restarts agents, kills executors and drops a
// framework's subscription stream.
//
//	func TestMyFramework(t *testing.T) {
//		cl := mesostest.New(t, mesostest.Options{Agents: 3})
//		sched := myframework.New(cl.MasterURL() + "/api/v1/scheduler")
//		...
//		if err := cl.KillAgent(cl.Agents()[0].ID); err != nil { ... }
//	}
//
// Any number of clusters run at once on one host (parallel tests, several
// packages under go test ./..., a cluster left running next to them): each
// takes its own /24 of loopback addresses (127.0.N.0) for its agents, its
// own master and DNS ports, and its own work directory, and its agents
// never offer a port another process holds on their address. Tasks should
// listen on their agent's address (the offer's hostname;
// $MESOS_CONTAINER_IP in command tasks), not on 0.0.0.0: every agent of
// every cluster shares the host's network.
//
// It needs Linux (127.0.0.0/8 all loopback, process groups, /proc). Tasks
// run as plain processes of the current user, without containers or
// resource limits; see docs/testenv.md in the taskkit repository for what
// is implemented and what is not. This package is the stable face of
// taskkit's testenv: it grows only by additions.
package mesostest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/testenv"
)

// Options configures a cluster. The zero value is one agent with 4 cpus,
// 8192 MB of memory, 16384 MB of disk and ports 1024-65535.
type Options struct {
	// Agents is the number of agents (1 to 250); 0 means 1.
	Agents int
	// CPUs, Mem (MB) and Disk (MB) are each agent's resources; 0 means 4
	// cpus, 8192 MB and 16384 MB.
	CPUs, Mem, Disk float64
	// Ports is each agent's ports resource as ranges, "31000-32000" or
	// "8000-8999,31000-32000"; empty means "1024-65535".
	Ports string
	// Attributes are text attributes every agent offers.
	Attributes map[string]string
	// DiskMounts are the sizes (MB) of MOUNT disks every agent has besides
	// Disk, e.g. []float64{2048, 1024}; none by default. Each is offered
	// whole, unreserved, as one disk resource with disk.source.type MOUNT
	// and disk.source.mount.root an absolute directory under WorkDir, as
	// Mesos offers a disk an operator declares in the agent's --resources
	// (see Mesos' docs/multiple-disk.md). A framework reserves it, creates
	// a persistent volume on it and launches on that volume as it would on
	// Mesos; a task cannot take part of it.
	DiskMounts []float64
	// Reserved are statically reserved resources every agent has besides
	// the unreserved ones, in the text of Mesos' agent --resources, each
	// with its role, separated by ';': "cpus(slave_public):2;
	// mem(slave_public):1024;ports(slave_public):[80-80,443-443]". Values
	// are scalars (cpus; mem and disk in MB), [BEGIN-END,...] ranges or
	// {a,b} sets; the role "*" is not a reservation. Reserved ports are
	// taken out of Ports. They are offered only to frameworks of that role
	// or of a sub-role ("slave_public/svc"), which may refine them with a
	// dynamic reservation (the SDK's pre-reserved-role) but never
	// unreserve them. None by default.
	Reserved string
	// ExecutorPath is taskkit's executor binary, which runs task groups
	// launched with a DEFAULT executor (LAUNCH_GROUP), as Mesos' default
	// executor would (go install github.com/taskkit/taskkit/executor).
	// Empty means "executor" on PATH; without one, such launches fail with
	// TASK_FAILED. Command tasks and custom executors need none.
	ExecutorPath string
	// WorkDir holds the agents' sandboxes; empty means a temporary
	// directory, removed when the cluster stops. One running cluster at a
	// time holds a work dir: Start on one another cluster holds fails with
	// an error matching ErrWorkDirInUse.
	WorkDir string
	// AgentPingTimeout and MaxAgentPingTimeouts are Mesos' master flags
	// --agent_ping_timeout and --max_agent_ping_timeouts: the master pings
	// each agent every AgentPingTimeout from its registration, and marks a
	// killed agent (KillAgent) unreachable at the MaxAgentPingTimeouts-th
	// ping in a row it leaves unanswered. 0 means Mesos' defaults, 15
	// seconds and 5 (75-90 s after the kill); a negative value is an
	// error. Unlike Mesos (1 s to 15 min), any positive duration is taken:
	// a test of a checkpointing framework that waits for its tasks to be
	// reported TASK_UNREACHABLE or TASK_LOST sets e.g. 100 ms and 2.
	AgentPingTimeout     time.Duration
	MaxAgentPingTimeouts int
	// AgentReregisterTimeout is Mesos' --agent_reregister_timeout: a
	// killed agent is marked unreachable this long after the kill, if its
	// pings have not timed out before. 0 means Mesos' default, 10 minutes;
	// a negative value is an error. Unlike Mesos (at least 10 minutes),
	// any positive duration is taken.
	AgentReregisterTimeout time.Duration
	// Isolation is the Mesos agent's --isolation, a comma-separated list
	// of isolators: empty means "posix/cpu,posix/mem", Mesos' default,
	// which isolates nothing. "cgroups/cpu" gives every container (an
	// executor, or a command task) its own cgroup v1 cpu cgroup, under
	// /sys/fs/cgroup/cpu/mesos/testenv-<master ID>/<container ID>, whose
	// cpu.shares are 1024 per cpu of the executor and its live tasks (at
	// least 2), as Mesos' cgroups/cpu isolator sets them; it needs root
	// and the cgroup v1 cpu controller, and Start fails naming Isolation
	// and the path when it cannot make the cgroup. Any other isolator is
	// an invalid option.
	Isolation string
	// Launcher is the Mesos agent's --launcher: "linux" gives every
	// container its own cgroup v1 freezer cgroup, under
	// /sys/fs/cgroup/freezer/mesos/testenv-<master ID>/<container ID>,
	// and destroying the container (its executor or command task ended)
	// kills every process in it, one that left its session (setsid, a
	// daemon's double fork) included; "posix" kills the container's
	// process group and session only, so such a process outlives it.
	// Empty means Mesos' default: linux when the test runs as root with the
	// freezer hierarchy mounted and writable, posix otherwise. Start fails
	// naming Launcher and why when linux is asked for and impossible;
	// any other value is an invalid option.
	Launcher string
	// Logger receives the cluster's logs; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running cluster. Its methods are safe for concurrent use.
type Cluster struct {
	cl     *testenv.Cluster
	cancel context.CancelFunc
}

// Agent describes one agent.
type Agent struct {
	// ID is the agent ID; it changes when the agent is restarted.
	ID string
	// Hostname is the agent's loopback IP address, also the hostname in its
	// offers.
	Hostname string
	// Endpoint is "ip:port" of the agent's executor API.
	Endpoint string
	// Active is false once the agent is killed, until it is restarted.
	Active bool
}

// Errors of the fault-injection methods, for errors.Is.
var (
	ErrUnknownAgent     = testenv.ErrUnknownAgent
	ErrUnknownFramework = testenv.ErrUnknownFramework
	ErrUnknownExecutor  = testenv.ErrUnknownExecutor
	ErrAgentActive      = testenv.ErrAgentActive
	ErrStopped          = testenv.ErrStopped
)

// ErrWorkDirInUse is matched (errors.Is) by Start's error when another
// running cluster, of this process or another, holds Options.WorkDir.
var ErrWorkDirInUse = testenv.ErrWorkDirInUse

// Start starts a cluster and returns once the master, every agent and the
// DNS server listen. It runs until Close, or until ctx ends. An invalid
// Options field is an error naming it.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	ctx, cancel := context.WithCancel(ctx)
	cl, err := testenv.Start(ctx, testenv.Config{
		Agents: o.Agents, CPUs: o.CPUs, Mem: o.Mem, Disk: o.Disk, Ports: o.Ports,
		Attributes: o.Attributes, DiskMounts: o.DiskMounts, Reserved: o.Reserved,
		ExecutorPath: o.ExecutorPath, WorkDir: o.WorkDir,
		AgentPingTimeout: o.AgentPingTimeout, MaxAgentPingTimeouts: o.MaxAgentPingTimeouts,
		AgentReregisterTimeout: o.AgentReregisterTimeout,
		Isolation:              o.Isolation,
		Launcher:               o.Launcher,
		Logger:                 o.Logger,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return &Cluster{cl: cl, cancel: cancel}, nil
}

// New starts a cluster for t, failing t if it cannot, and closes it when t
// and its subtests have finished (t.Cleanup).
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.WorkDir == "" {
		o.WorkDir = t.TempDir()
	}
	c, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("mesostest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("mesostest: %v", err)
		}
	})
	return c
}

// closeTimeout bounds Close: the cluster gives its processes SIGTERM, then
// SIGKILL after 2 seconds.
const closeTimeout = 30 * time.Second

// Close stops the cluster: every task and executor process is killed and
// every server closed. It returns once they are gone, or an error after 30
// seconds. Calling it again does nothing.
func (c *Cluster) Close() error {
	c.cancel()
	select {
	case <-c.cl.Done():
		return nil
	case <-time.After(closeTimeout):
		return errors.New("cluster did not stop within 30s")
	}
}

// MasterURL is the master's base URL, "http://127.0.0.1:PORT": the
// scheduler API is MasterURL()+"/api/v1/scheduler", master state
// MasterURL()+"/state".
func (c *Cluster) MasterURL() string { return c.cl.MasterURL() }

// DNSAddr is the DNS server's "ip:port" (UDP and TCP). While a task runs,
// "<task name>.<framework name>.mesos" resolves to its agent's address.
func (c *Cluster) DNSAddr() string { return c.cl.DNSAddr() }

// Agents describes the agents, in the order they were started (a
// restarted agent keeps its place).
func (c *Cluster) Agents() []Agent {
	var out []Agent
	for _, a := range c.cl.Agents() {
		out = append(out, Agent{ID: a.ID, Hostname: a.IP, Endpoint: a.Endpoint, Active: a.Active})
	}
	return out
}

// KillAgent kills an agent, by ID or hostname, as if its host died: its
// executors and tasks are killed and its offers rescinded. As on Mesos
// 1.11, the tasks of frameworks that do not checkpoint are TASK_LOST at
// once (REASON_AGENT_DISCONNECTED) and their executors leave /state; the
// agent stays listed, inactive, with the other frameworks' tasks and
// executors, until the master marks it unreachable after
// Options.MaxAgentPingTimeouts unanswered pings Options.AgentPingTimeout
// apart (by default 5 and 15 s: 75-90 s after the kill) or
// Options.AgentReregisterTimeout: then its other tasks are reported
// TASK_UNREACHABLE to PARTITION_AWARE frameworks and TASK_LOST to others
// (REASON_AGENT_REMOVED), every framework gets a FAILURE event for the
// agent, and it leaves /slaves and /state. RestartAgent before then
// removes it at once (TASK_LOST).
func (c *Cluster) KillAgent(agent string) error { return c.cl.KillAgent(agent) }

// RestartAgent starts a killed agent again (by its old ID or hostname) on
// the same address, as a rebooted host: it registers with a new agent ID,
// which it returns, and new sandboxes, and keeps the host's dynamic
// reservations, persistent volumes (with their data) and MOUNT disks. A
// running agent is an error matching ErrAgentActive.
func (c *Cluster) RestartAgent(agent string) (Agent, error) {
	a, err := c.cl.RestartAgent(agent)
	if err != nil {
		return Agent{}, err
	}
	return Agent{ID: a.ID, Hostname: a.IP, Endpoint: a.Endpoint, Active: a.Active}, nil
}

// KillExecutor kills an executor's processes with SIGKILL (a command task's
// executor ID is its task ID): its tasks fail with
// REASON_EXECUTOR_TERMINATED.
func (c *Cluster) KillExecutor(frameworkID, executorID string) error {
	return c.cl.KillExecutor(frameworkID, executorID)
}

// DropFramework closes a framework's subscription stream, as a broken
// connection would: the framework is disconnected and its failover timeout
// starts; it may subscribe again with its framework ID.
func (c *Cluster) DropFramework(frameworkID string) error { return c.cl.DropFramework(frameworkID) }
