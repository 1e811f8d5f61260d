package testenv

import (
	"context"
	"net"
	"net/http"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/taskkit/taskkit/internal/fetcher"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// framework is the master's record of a framework.
//
//	SUBSCRIBE ──> connected ──stream drops──> disconnected ──failover_timeout──> removed
//	                 ^   │                          │
//	                 │   └──TEARDOWN──> removed     └──re-SUBSCRIBE──> connected
//	                 └── re-SUBSCRIBE (failover: old stream gets ERROR and closes)
type framework struct {
	id           string
	info         mesos.FrameworkInfo
	roles        []string
	suppressed   map[string]bool
	stream       *fwStream         // nil while disconnected
	filters      map[string]filter // key: agentID + "/" + role
	offers       map[string]*offer
	tasks        map[string]*task // live and unreachable tasks, by task ID
	completed    []*task          // terminal tasks, newest last (bounded)
	registered   time.Time
	reregistered time.Time // the last re-SUBSCRIBE; zero before one
	unregistered time.Time
	failoverAt   time.Time // when disconnected: the removal deadline
	removed      bool
	roleCursor   int
	operations   map[string]*operationState // operations with an ID, by ID, until acknowledged
	// lostUnreachable holds the tasks, TASK_LOST, that a framework not
	// PARTITION_AWARE had on agents marked unreachable, sorted by ID as
	// /state lists the others: Mesos lists them with the unreachable tasks
	// (Framework::addUnreachableTask), not the completed ones.
	lostUnreachable []*task
}

type fwStream struct {
	id string
	q  *queue
}

type filter struct {
	until time.Time
	res   res
}

func (fw *framework) hasCap(t mesos.FrameworkInfo_Capability_Type) bool {
	for _, c := range fw.info.Capabilities {
		if c.Type == t {
			return true
		}
	}
	return false
}

func (fw *framework) partitionAware() bool {
	return fw.hasCap(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}
func (fw *framework) multiRole() bool { return fw.hasCap(mesos.FrameworkInfo_Capability_MULTI_ROLE) }

func (fw *framework) connected() bool { return fw.stream != nil }

// send queues an event on the framework's stream; dropped while disconnected.
func (fw *framework) send(ev encoding.Marshaler) {
	if fw.stream != nil {
		fw.stream.q.push(ev)
	}
}

func (fw *framework) failoverTimeout() time.Duration {
	if fw.info.FailoverTimeout == nil {
		return 0
	}
	return time.Duration(*fw.info.FailoverTimeout * float64(time.Second))
}

// offer is an outstanding offer.
type offer struct {
	id    string
	fw    *framework
	agent *agent
	res   res
	role  string // allocation role
}

// agent is an agent: an HTTP server for the executor API on its own
// loopback address, its executors and its status update streams.
type agent struct {
	id     string
	index  int
	ip     string
	port   int
	total  res
	used   res
	info   mesos.AgentInfo // see newProtoInfo
	attrs  []mesos.Attribute
	zone   string
	region string
	active bool // false once killed: no offers, no launches
	// disconnectedAt is when it was killed, as the master sees its
	// connection break (Master::exited); zero while it runs.
	disconnectedAt time.Time
	// removed: no longer a registered agent, so not listed by /slaves and
	// /state; marked unreachable (unreachableAt, Mesos' unreachable time)
	// or removed for the new agent registered at its address (agentloss.go).
	removed       bool
	unreachableAt time.Time
	srv           *http.Server
	ln            net.Listener
	executors     map[string]*executor // key: frameworkID + "/" + executorID
	fetcher       *fetcher.Fetcher
	// secrets masks the statuses the agent builds (a fetch's failure
	// names its URI): it learns the secret values of every command it
	// launches (learnSecrets), as taskkit's executor does for its tasks.
	secrets *redact.Shared
	dir     string // <work>/slaves/<id>
	// root is dir, opened when the agent starts, before any of its tasks
	// runs: every sandbox is made and opened from it without following a
	// link, so a task that renames a directory above its sandbox (dir
	// itself, or slaves) and puts a link in its place redirects nothing.
	// Closed when the cluster has stopped.
	root       *sandboxfs.Dir
	registered time.Time
	host       *agentHost // what outlives a restart: reservations, volumes, MOUNT disks
}

// executor is an executor on an agent: a custom executor process (or the
// DEFAULT executor, taskkit's executor binary), or the built-in command
// executor of one command task.
//
//	launching ──process started──> registering ──SUBSCRIBE──> running
//	    │                               │                       │
//	    └──fetch/start failed──> terminated <──process exited───┘
type executor struct {
	agent       *agent
	fw          *framework
	info        mesos.ExecutorInfo
	role        string // the role its resources were allocated to
	command     bool   // the built-in command executor of one task
	containerID string
	dir         string
	state       execState
	p           *proc
	stream      *queue // the executor's subscription stream, nil until SUBSCRIBE
	queued      []launchItem
	kills       []*execpb.Event // KILLs sent while the stream was down
	tasks       map[string]*task
	launchedAt  time.Time
	shutdown    bool // SHUTDOWN requested: live tasks end KILLED
	timedOut    bool // registration timeout
	charged     bool // executor resources counted in agent.used
	// lostWith: killed with its agent while its framework checkpoints. The
	// master cannot tell it died, so /state lists it, in lostState, until
	// the agent is marked unreachable or removed (Master::__removeSlave);
	// a framework that does not checkpoint loses it with the connection
	// (Master::removeFramework(Slave*, Framework*)).
	lostWith  bool
	lostState execState
	res       res
	links     map[string]string // container path → volume path: the volume symlinks in its sandbox
	cgroup    *cpuCgroup        // its cpu cgroup (cgroups/cpu), made just before its process starts
	// launch ends the container's launch (its URI fetch) early: cancelled
	// when the container is killed or shut down while it is still being
	// launched, when its agent stops and when the cluster stops, as Mesos
	// kills the fetcher of a container destroyed while FETCHING
	// (MesosContainerizerProcess::destroy,
	// src/slave/containerizer/mesos/containerizer.cpp). Set by
	// launchLocked; the launch goroutine releases it when done.
	launch       context.Context
	cancelLaunch context.CancelFunc
}

type execState int

const (
	execLaunching execState = iota
	execRegistering
	execRunning
	execTerminated
)

func (s execState) String() string {
	return [...]string{"LAUNCHING", "REGISTERING", "RUNNING", "TERMINATED"}[s]
}

// launchItem is a LAUNCH (one task) or LAUNCH_GROUP queued for an executor
// that has not subscribed yet.
type launchItem struct {
	tasks []*task
	group bool
}

// task is one task, as both the master and its agent see it.
type task struct {
	info     mesos.TaskInfo
	fw       *framework
	agent    *agent
	role     string // the role its resources were allocated to
	exec     *executor
	group    []*task // the tasks launched with it (LAUNCH_GROUP), itself included
	state    mesos.TaskState
	statuses []mesos.TaskStatus // history, for /state
	res      res
	released bool // resources given back
	removed  bool // no longer tracked by the master

	// Status update stream (agent side): updates wait here, in order, until
	// the framework acknowledges the head.
	pending   []mesos.TaskStatus
	seen      map[string]bool // UUIDs received, to drop executor re-sends
	retryAt   time.Time
	backoff   time.Duration
	delivered bool // sent to the executor

	// Command executor: the task's process.
	p          *proc
	killing    bool
	killedByUs bool
	// Command executor: killed for running past its max_completion_time
	// (see enforceMaxCompletionTime).
	killedByMaxCompletion bool
	// Command executor: its checks (commandchecks.go). stopChecks stops
	// them (nil when none run); checkStatus is the check's latest result
	// sent (nil: none yet); killedByHealthCheck says the kill came from
	// consecutive health check failures.
	stopChecks          context.CancelFunc
	checkStatus         *mesos.CheckStatusInfo
	killedByHealthCheck bool
}

func (t *task) id() string { return t.info.TaskID.Value }

// masterExecutorID is the executor ID the master's updates about t carry:
// none for a command task, whose Task has no executor_id on the master
// (Master::_reconcileTasks, src/master/master.cpp); the command executor's
// own updates do carry it.
func (t *task) masterExecutorID() *mesos.ExecutorID {
	if t.exec == nil || t.exec.command {
		return nil
	}
	eid := t.exec.info.ExecutorID
	return &eid
}
