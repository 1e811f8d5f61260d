package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/store"
)

// UninstallConfig configures Uninstall. The registration fields must be
// those the service ran with: Mesos refuses a re-subscription that changes
// the user or checkpointing.
type UninstallConfig struct {
	// Store is the service's state; Uninstall clears it.
	Store store.Store
	// MasterURL is the master's base URL.
	MasterURL string
	// FrameworkName, Role, User, Principal, Secret, Checkpoint and
	// FailoverTimeout as in Config (same defaults, except that Role and
	// FrameworkName are required).
	FrameworkName, Role, User, Principal, Secret string
	Checkpoint                                   bool
	FailoverTimeout                              time.Duration
	// KillTimeout bounds the wait for the killed tasks' ends (default 30 s)
	// before the framework is torn down anyway.
	KillTimeout time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// UninstallResult says what Uninstall did.
type UninstallResult struct {
	FrameworkID string
	// Killed counts the tasks a KILL was sent for; Ended those whose end
	// was seen before the teardown.
	Killed, Ended int
}

// Uninstall removes the service: it re-subscribes with the stored
// framework ID, kills every task the store knows that may still run, waits
// for their ends (at most KillTimeout), tears the framework down (which
// also kills anything left) and clears the store. Without a stored
// framework ID it only clears the store. The scheduler must not be running.
func Uninstall(ctx context.Context, cfg UninstallConfig) (UninstallResult, error) {
	var res UninstallResult
	if cfg.Store == nil || cfg.MasterURL == "" || cfg.FrameworkName == "" || cfg.Role == "" {
		return res, errors.New("uninstall: Store, MasterURL, FrameworkName and Role are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.KillTimeout <= 0 {
		cfg.KillTimeout = 30 * time.Second
	}
	if cfg.FailoverTimeout <= 0 {
		cfg.FailoverTimeout = 14 * 24 * time.Hour
	}
	if cfg.User == "" {
		if cfg.User = os.Getenv("USER"); cfg.User == "" {
			cfg.User = "root"
		}
	}
	id, err := cfg.Store.FrameworkID()
	if err != nil {
		return res, fmt.Errorf("reading the state store: %w", err)
	}
	res.FrameworkID = id
	if id == "" {
		log.Info("no framework ID stored: nothing registered with Mesos")
		return res, cfg.Store.Clear()
	}
	stored, err := cfg.Store.Tasks()
	if err != nil {
		return res, fmt.Errorf("reading the state store: %w", err)
	}
	live := map[string]string{} // task ID → agent ID
	for name, t := range stored {
		ti := new(mesos.TaskInfo)
		if err := ti.Unmarshal(t.Info); err != nil {
			return res, fmt.Errorf("stored task %s: %w", name, err)
		}
		if t.Status != nil {
			st := new(mesos.TaskStatus)
			if st.Unmarshal(t.Status) == nil && st.TaskID.Value == ti.TaskID.Value && isTerminal(st.GetState()) {
				continue
			}
		}
		live[ti.TaskID.Value] = ti.AgentID.Value
	}

	opts := []httpcli.ConfigOpt{httpcli.Timeout(10 * time.Second)}
	if cfg.Principal != "" && cfg.Secret != "" {
		opts = append(opts, httpcli.BasicAuth(cfg.Principal, cfg.Secret))
	}
	caller := httpsched.NewCaller(httpcli.New(
		httpcli.Endpoint(strings.TrimRight(cfg.MasterURL, "/")+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(opts...)),
	), noRetry)
	ft := cfg.FailoverTimeout.Seconds()
	fi := &mesos.FrameworkInfo{
		ID: &mesos.FrameworkID{Value: id}, User: cfg.User, Name: cfg.FrameworkName, Role: &cfg.Role,
		FailoverTimeout: &ft, Checkpoint: &cfg.Checkpoint,
		Capabilities: []mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_REGION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT},
		},
	}
	if cfg.Principal != "" {
		fi.Principal = &cfg.Principal
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := caller.Call(sctx, calls.Subscribe(fi))
	if err != nil {
		return res, fmt.Errorf("subscribing to %s as %s: %w", cfg.MasterURL, id, err)
	}
	defer resp.Close()
	call := func(c *scheduler.Call) error {
		c.FrameworkID = &mesos.FrameworkID{Value: id}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		r, err := caller.Call(cctx, c)
		if r != nil {
			r.Close()
		}
		return err
	}
	events := make(chan *scheduler.Event, 16)
	go func() { // owned by Uninstall: ends when resp is closed (deferred above)
		defer close(events)
		for {
			ev := new(scheduler.Event)
			if err := resp.Decode(ev); err != nil {
				return
			}
			select {
			case events <- ev:
			case <-sctx.Done():
				return
			}
		}
	}()
	deadline := time.NewTimer(cfg.KillTimeout)
	defer deadline.Stop()
	subscribed := false
	pending := map[string]bool{}
wait:
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-deadline.C:
			if !subscribed {
				return res, fmt.Errorf("no SUBSCRIBED from %s within %s", cfg.MasterURL, cfg.KillTimeout)
			}
			log.Warn("tasks did not end in time; tearing down anyway", "left", len(pending))
			break wait
		case ev, ok := <-events:
			if !ok {
				return res, fmt.Errorf("the master %s closed the stream", cfg.MasterURL)
			}
			switch ev.Type {
			case scheduler.Event_ERROR:
				return res, fmt.Errorf("mesos: %s", ev.GetError().Message)
			case scheduler.Event_SUBSCRIBED:
				subscribed = true
				log.Info("subscribed; killing tasks", "framework_id", id, "tasks", len(live))
				for tid, aid := range live {
					if err := call(calls.Kill(tid, aid)); err != nil {
						log.Warn("kill failed", "task_id", tid, "err", err)
						continue
					}
					pending[tid] = true
					res.Killed++
				}
				// Tasks Mesos knows and the store does not are reported by
				// an implicit reconciliation; they are killed too.
				call(calls.Reconcile(calls.ReconcileTasks(nil)))
			case scheduler.Event_OFFERS:
				var ids []mesos.OfferID
				for _, o := range ev.Offers.Offers {
					ids = append(ids, o.ID)
				}
				call(calls.Decline(ids...))
			case scheduler.Event_UPDATE:
				st := ev.Update.Status
				if st.UUID != nil && st.AgentID != nil {
					call(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))
				}
				tid := st.TaskID.Value
				switch {
				case isTerminal(st.GetState()):
					if pending[tid] {
						delete(pending, tid)
						res.Ended++
					}
				case !pending[tid] && live[tid] == "":
					agent := ""
					if st.AgentID != nil {
						agent = st.AgentID.Value
					}
					if call(calls.Kill(tid, agent)) == nil {
						pending[tid] = true
						res.Killed++
					}
				}
			}
			if subscribed && len(pending) == 0 {
				break wait
			}
		}
	}
	if err := call(&scheduler.Call{Type: scheduler.Call_TEARDOWN}); err != nil {
		return res, fmt.Errorf("TEARDOWN of %s: %w", id, err)
	}
	log.Info("framework torn down", "framework_id", id, "killed", res.Killed, "ended", res.Ended)
	if err := cfg.Store.Clear(); err != nil {
		return res, fmt.Errorf("clearing the state store: %w", err)
	}
	return res, nil
}
