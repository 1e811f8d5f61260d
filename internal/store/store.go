// Package store keeps scheduler-lite's persistent state: the framework ID,
// the target configuration, every task's TaskInfo and latest TaskStatus, the
// plans' progress, the service CA and free-form properties. Values are opaque
// bytes (protobuf for Mesos types, JSON otherwise), each at most MaxValue, so
// that the same layout fits ZooKeeper (the SDK's /dcos-service-<name> tree)
// as well as the embedded bbolt file used by default.
//
// Crash safety is the caller's ordering plus the store's atomic writes:
// every method commits (and fsyncs) before it returns, and PutTasks writes a
// whole pod's TaskInfos in one transaction, so the scheduler writes what it
// needs to resume before it acts on it (the framework ID before it is used, a
// TaskInfo before its launch, a status before its acknowledgement).
//
// Two backends: Bolt (file:PATH, the default) and ZK (zk://host:port/path,
// layout in zk.go). ZK also implements Leader, the ZooKeeper election
// recipe, so that two scheduler instances sharing a path run one at a time;
// a bbolt file is locked by the one process that opened it.
//
// Layout (bbolt buckets; ZooKeeper nodes are named as in zk.go):
//
//	meta/FrameworkID          the framework ID
//	meta/ConfigTarget         the target configuration's ID
//	Configurations/<id>       a configuration (the rendered svc.yml and templates)
//	Tasks/<task name>         TaskInfo (protobuf)
//	TaskStatus/<task name>    latest TaskStatus (protobuf)
//	Plans/<plan>              plan progress (JSON)
//	Properties/<key>          free-form values (the CA under "ca.crt", "ca.key")
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// MaxValue is the largest value a store accepts (ZooKeeper's node limit).
const MaxValue = 1 << 20

// ErrTooLarge is returned for values over MaxValue.
var ErrTooLarge = errors.New("value larger than 1 MiB")

// Task is one stored task: its TaskInfo and latest TaskStatus (protobuf; nil
// when none has arrived).
type Task struct {
	Info, Status []byte
}

// Store is the persistent state of one service.
type Store interface {
	// FrameworkID returns the stored framework ID, "" when none.
	FrameworkID() (string, error)
	// SetFrameworkID stores the framework ID ("" deletes it).
	SetFrameworkID(id string) error
	// Target returns the target configuration's ID and content.
	Target() (id string, config []byte, err error)
	// SetTarget stores a configuration and makes it the target.
	SetTarget(id string, config []byte) error
	// Configurations returns every stored configuration by ID (the target
	// and those tasks still run).
	Configurations() (map[string][]byte, error)
	// DeleteConfigurations removes stored configurations (never the
	// target's: the caller keeps it) in one transaction; unknown IDs are
	// ignored.
	DeleteConfigurations(ids ...string) error
	// PutTasks stores TaskInfos by task name in one transaction, keeping
	// existing statuses.
	PutTasks(infos map[string][]byte) error
	// PutStatus stores a task's latest status.
	PutStatus(task string, status []byte) error
	// PutStatuses stores the latest statuses of several tasks (by name) in
	// one transaction: a burst of status updates costs one commit.
	PutStatuses(statuses map[string][]byte) error
	// DeleteTasks removes tasks and their statuses.
	DeleteTasks(names ...string) error
	// Tasks returns every stored task by name.
	Tasks() (map[string]Task, error)
	// PutPlan stores a plan's progress.
	PutPlan(name string, progress []byte) error
	// Plans returns every stored plan's progress by name.
	Plans() (map[string][]byte, error)
	// Property returns a property, nil when unset.
	Property(key string) ([]byte, error)
	// PropertyKeys returns every property's key, sorted.
	PropertyKeys() ([]string, error)
	// SetProperties stores properties in one transaction.
	SetProperties(kv map[string][]byte) error
	// Clear deletes everything (uninstall).
	Clear() error
	// Close releases the store.
	Close() error
}

// Leader is implemented by stores that several scheduler instances share.
type Leader interface {
	// Lead blocks until this instance leads (or ctx ends); the returned
	// channel is closed when the leadership is lost, after which every
	// write fails with ErrLeadershipLost.
	Lead(ctx context.Context) (lost <-chan struct{}, err error)
}

// Remover is implemented by stores that can delete themselves entirely
// (the bbolt file, the ZooKeeper tree) after Clear, for uninstall. The
// store is closed afterwards.
type Remover interface {
	Remove() error
}

// Options are the settings of Open besides the spec.
type Options struct {
	// Service is the service name: the ZooKeeper root defaults to
	// /dcos-service-<Service>.
	Service string
	// SessionTimeout is the ZooKeeper session timeout (default 5 s): how
	// long a dead leader keeps its leadership.
	SessionTimeout time.Duration
	// ConnectTimeout bounds the wait for a first ZooKeeper session
	// (default 15 s).
	ConnectTimeout time.Duration
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 5 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Open opens the store named by spec: "file:PATH" for the embedded bbolt
// store, "zk://host:port[,host:port][/path]" for ZooKeeper; anything else
// is an error, and nothing is created.
func Open(spec string, o Options) (Store, error) {
	switch {
	case strings.HasPrefix(spec, "file:"):
		return OpenBolt(strings.TrimPrefix(spec, "file:"))
	case strings.HasPrefix(spec, "zk://"):
		return OpenZK(spec, o)
	default:
		return nil, fmt.Errorf("state store %q: unsupported (want file:PATH or zk://host:port/path)", spec)
	}
}
