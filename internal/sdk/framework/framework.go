// Package framework is scheduler-lite's conversation with the Mesos master,
// shared by the service scheduler (internal/sdk/service) and the uninstaller
// (internal/sdk/uninstall), after mesos-go's extras/scheduler/controller: a
// Session subscribes through an injected calls.Caller (the production one is
// NewHTTPCaller), reads the event stream, watches the master's heartbeats,
// re-subscribes with backoff when the stream is lost, and runs the
// Handler's code — events, ticks and the work others hand it — on one
// goroutine, the event loop. Time comes from an injected Clock.
//
//	          ┌──────────── backoff 0.5 s doubling to 10 s ◀──────────────┐
//	          ▼                                                           │
//	SUBSCRIBE ─▶ SUBSCRIBED ─▶ events (in runs) ─▶ Handler.Events         │
//	  │ fails       │           ticks (250 ms)  ─▶ Handler.Tick           │
//	  │             │           work            ─▶ run on the loop        │
//	  │             └─ stream ends, ERROR, no event for 5 heartbeats ─────┤
//	  └───────────────────────────────────────────────────────────────────┘
//	ERROR "failed over" / "removed": Run returns ErrFailedOver / ErrFrameworkRemoved.
package framework

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

	mesosx "github.com/taskkit/taskkit/internal/mesos"
)

// CallTimeout bounds every call but SUBSCRIBE's stream.
const CallTimeout = 10 * time.Second

// Registration is what the framework registers as (FrameworkInfo). The
// uninstaller must register as the service did: Mesos refuses a
// re-subscription that changes the user or checkpointing.
type Registration struct {
	// Name is the framework name; Role its role (default RoleFor(Name)).
	Name, Role string
	// PreReservedRoles are the pods' pre-reserved roles (the SDK's
	// pre-reserved-role): the framework also registers
	// "<pre-reserved role>/<Role>" for each, as a MULTI_ROLE framework.
	PreReservedRoles []string
	// User (default DefaultUser()) and Principal ("" for none).
	User, Principal string
	// FailoverTimeout (default 2 weeks, as the SDK) and Checkpoint.
	FailoverTimeout time.Duration
	Checkpoint      bool
	// WebUIURL is the framework's web UI ("" for none).
	WebUIURL string
}

// RoleFor is the SDK's role of a service: "<name>-role", a leading "/"
// dropped and other slashes as "__".
func RoleFor(name string) string {
	return strings.ReplaceAll(strings.TrimPrefix(name, "/"), "/", "__") + "-role"
}

// DefaultUser is $USER, else root.
func DefaultUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

// WithDefaults fills in the defaults.
func (r Registration) WithDefaults() Registration {
	if r.Role == "" {
		r.Role = RoleFor(r.Name)
	}
	if r.User == "" {
		r.User = DefaultUser()
	}
	if r.FailoverTimeout <= 0 {
		r.FailoverTimeout = 14 * 24 * time.Hour
	}
	return r
}

// Roles are the roles the framework's resources are reserved for: Role,
// then "<pre-reserved role>/<Role>" for each pre-reserved role (the SDK's
// FrameworkConfig.getAllResourceRoles).
func (r Registration) Roles() []string {
	roles := []string{r.Role}
	for _, pr := range r.PreReservedRoles {
		roles = append(roles, pr+"/"+r.Role)
	}
	return roles
}

// FrameworkInfo returns the FrameworkInfo to subscribe with, framework ID
// id ("" for a new framework), with the SDK's capabilities: with
// pre-reserved roles it is a MULTI_ROLE framework of Roles.
func (r Registration) FrameworkInfo(id string) *mesos.FrameworkInfo {
	ft := r.FailoverTimeout.Seconds()
	role, checkpoint := r.Role, r.Checkpoint
	fi := &mesos.FrameworkInfo{
		User:            r.User,
		Name:            r.Name,
		Role:            &role,
		FailoverTimeout: &ft,
		Checkpoint:      &checkpoint,
		Capabilities: []mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_REGION_AWARE},
			{Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT},
		},
	}
	if len(r.PreReservedRoles) > 0 {
		fi.Role = nil
		fi.Roles = r.Roles()
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkInfo_Capability{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE})
	}
	if r.Principal != "" {
		p := r.Principal
		fi.Principal = &p
	}
	if r.WebUIURL != "" {
		u := r.WebUIURL
		fi.WebUiURL = &u
	}
	if hn, err := os.Hostname(); err == nil {
		fi.Hostname = &hn
	}
	if id != "" {
		fi.ID = &mesos.FrameworkID{Value: id}
	}
	return fi
}

// noRetry makes httpsched return errors (401, 400, a refused connection)
// instead of retrying the same endpoint in the background: Session.Run
// retries with its own backoff and logs why. Redirects (307) are still
// followed.
var noRetry = httpsched.EndpointCandidates(func() string { return "" })

// NewHTTPCaller is the production caller: mesos-go's HTTP scheduler client
// for masterURL's /api/v1/scheduler, protobuf encoded, with HTTP basic
// authentication when principal and secret are set. A SUBSCRIBE is always
// sent (httpsched.AllowReconnection): Session.Run subscribes again only
// after the last subscription's stream ended and was closed, and without
// it a client still counting itself subscribed refused every new
// SUBSCRIBE with "already subscribed, cannot re-issue a SUBSCRIBE call"
// for good (TestFaultStreamDropped, once in a few dozen runs).
func NewHTTPCaller(masterURL, principal, secret string) calls.Caller {
	opts := []httpcli.ConfigOpt{httpcli.Timeout(CallTimeout)}
	if principal != "" && secret != "" {
		opts = append(opts, httpcli.BasicAuth(principal, secret))
	}
	return httpsched.NewCaller(httpcli.New(
		httpcli.Endpoint(strings.TrimRight(masterURL, "/")+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[codecs.MediaTypeProtobuf]),
		httpcli.Do(httpcli.With(opts...)),
		mesosx.BoundedStreams(codecs.ByMediaType[codecs.MediaTypeProtobuf]), // the event stream's records at most 4 MiB, refused before they are read
	), noRetry, httpsched.AllowReconnection(true))
}

// Send makes one call for framework id (filled into the call), within
// CallTimeout, and closes the response.
func Send(ctx context.Context, c calls.Caller, id string, call *scheduler.Call) error {
	call.FrameworkID = &mesos.FrameworkID{Value: id}
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	resp, err := c.Call(cctx, call)
	if resp != nil {
		resp.Close()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", call.Type, err)
	}
	return nil
}

// ErrFailedOver is returned by Run when another scheduler instance
// subscribed with the same framework ID: this one must stop.
var ErrFailedOver = errors.New("another scheduler instance took over the framework")

// ErrFrameworkRemoved is returned by Run when the master has removed the
// framework (torn down, or its failover timeout expired).
var ErrFrameworkRemoved = errors.New("the master removed the framework")

// FatalError is an ERROR event (or a failure) that re-subscribing cannot
// fix; Run returns it. It wraps a sentinel when one applies.
type FatalError struct {
	Msg string
	Err error
}

func (e *FatalError) Error() string { return "mesos: " + e.Msg }
func (e *FatalError) Unwrap() error { return e.Err }

// Handler is the code a Session runs on its event loop. No method may
// block for long: the loop also serves Work.
type Handler interface {
	// Subscribed handles SUBSCRIBED; an error ends the subscription (a
	// *FatalError ends Run).
	Subscribed(ctx context.Context, sub *scheduler.Event_Subscribed) error
	// Events handles a run of events read together, in order (never
	// SUBSCRIBED, ERROR or HEARTBEAT); an error ends the subscription.
	Events(ctx context.Context, evs []*scheduler.Event) error
	// Tick runs every Session.TickInterval and on Wake, while subscribed;
	// an error ends the subscription.
	Tick(ctx context.Context) error
	// Disconnected is told that a subscription ended or could not be made.
	Disconnected(err error)
}

// Session is one framework's conversation with the master; see Run.
type Session struct {
	// Caller makes the calls (NewHTTPCaller in production).
	Caller calls.Caller
	// Clock is the time (System when nil).
	Clock Clock
	// Framework returns the FrameworkInfo of the next SUBSCRIBE (with the
	// framework ID once there is one).
	Framework func() *mesos.FrameworkInfo
	// Handler handles what happens.
	Handler Handler
	// Work is run on the event loop, at any time, subscribed or not.
	Work <-chan func(context.Context)
	// Wake makes the loop call Handler.Tick soon.
	Wake <-chan struct{}
	// TickInterval is the period of Handler.Tick (default 250 ms).
	TickInterval time.Duration
	// Backoff is the first pause before re-subscribing (default 0.5 s),
	// doubling up to MaxBackoff (default 10 s).
	Backoff, MaxBackoff time.Duration
	// Once ends Run with the first subscription's end (or failure) instead
	// of re-subscribing.
	Once bool
	// SubscribeTimeout, when set, ends a subscription whose SUBSCRIBED has
	// not come within it (else the heartbeat watchdog does, after 75 s).
	SubscribeTimeout time.Duration
	// Master names the master in messages.
	Master string
	// Logger receives the session's logs; nil discards them.
	Logger *slog.Logger
}

func (s *Session) defaults() {
	if s.Clock == nil {
		s.Clock = System
	}
	if s.TickInterval <= 0 {
		s.TickInterval = 250 * time.Millisecond
	}
	if s.Backoff <= 0 {
		s.Backoff = 500 * time.Millisecond
	}
	if s.MaxBackoff < s.Backoff {
		s.MaxBackoff = max(10*time.Second, s.Backoff)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run talks to the master until ctx ends (nil), a FatalError comes (that
// error), or, with Once, the subscription ends (why).
func (s *Session) Run(ctx context.Context) error {
	s.defaults()
	backoff := s.Backoff
	for {
		subscribed, err := s.subscription(ctx)
		if ctx.Err() != nil {
			return nil
		}
		s.Handler.Disconnected(err)
		var fatal *FatalError
		if errors.As(err, &fatal) || s.Once {
			return err
		}
		if subscribed {
			backoff = s.Backoff
			s.Logger.Warn("subscription ended; re-subscribing", "err", err, "in", backoff)
		} else {
			s.Logger.Warn("could not subscribe; retrying", "master", s.Master, "err", err, "in", backoff)
		}
		if !s.pause(ctx, backoff) {
			return nil
		}
		backoff = min(backoff*2, s.MaxBackoff)
	}
}

// pause waits d, running Work meanwhile; false when ctx ended.
func (s *Session) pause(ctx context.Context, d time.Duration) bool {
	after := s.Clock.After(d)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-after:
			return true
		case w := <-s.Work:
			w(ctx)
		}
	}
}

// subscription is one SUBSCRIBE and its stream; it reports whether
// SUBSCRIBED came, and why the stream ended.
func (s *Session) subscription(ctx context.Context) (subscribed bool, _ error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.Caller.Call(sctx, calls.Subscribe(s.Framework()))
	if err != nil {
		return false, fmt.Errorf("subscribing to %s: %w", s.Master, err)
	}
	defer resp.Close()
	events := make(chan *scheduler.Event, 256)
	readErr := make(chan error, 1)
	go func() { // owned by subscription: ends when resp is closed (deferred above) or sctx ends
		defer close(events)
		for {
			ev := new(scheduler.Event)
			if err := resp.Decode(ev); err != nil {
				readErr <- err
				return
			}
			select {
			case events <- ev:
			case <-sctx.Done():
				return
			}
		}
	}()
	heartbeat := 15 * time.Second
	first := 5 * heartbeat
	if s.SubscribeTimeout > 0 {
		first = s.SubscribeTimeout
	}
	watchdog := s.Clock.NewTimer(first)
	defer watchdog.Stop()
	tick := s.Clock.NewTicker(s.TickInterval)
	defer tick.Stop()
	batch := make([]*scheduler.Event, 0, 256)
	for {
		select {
		case <-ctx.Done():
			return subscribed, nil
		case <-watchdog.C():
			if !subscribed {
				return false, fmt.Errorf("no SUBSCRIBED from %s within %s", s.Master, first)
			}
			return true, errors.New("no event from the master for 5 heartbeat intervals")
		case ev, ok := <-events:
			if !ok {
				select {
				case err := <-readErr:
					return subscribed, fmt.Errorf("event stream: %w", err)
				default:
					return subscribed, errors.New("event stream closed")
				}
			}
			// The events read meanwhile are handled as one run.
			batch = append(batch[:0], ev)
		drain:
			for len(batch) < cap(batch) {
				select {
				case ev, ok := <-events:
					if !ok {
						break drain
					}
					batch = append(batch, ev)
				default:
					break drain
				}
			}
			if sub := lastSubscribed(batch); sub != nil && sub.HeartbeatIntervalSeconds != nil {
				heartbeat = time.Duration(*sub.HeartbeatIntervalSeconds * float64(time.Second))
			}
			watchdog.Reset(5 * heartbeat)
			if err := s.handle(ctx, batch, &subscribed); err != nil {
				return subscribed, err
			}
		case <-tick.C():
			if subscribed {
				if err := s.Handler.Tick(ctx); err != nil {
					return true, err
				}
			}
		case <-s.Wake:
			if subscribed {
				if err := s.Handler.Tick(ctx); err != nil {
					return true, err
				}
			}
		case w := <-s.Work:
			w(ctx)
		}
	}
}

func lastSubscribed(evs []*scheduler.Event) *scheduler.Event_Subscribed {
	var sub *scheduler.Event_Subscribed
	for _, ev := range evs {
		if ev.Type == scheduler.Event_SUBSCRIBED {
			sub = ev.Subscribed
		}
	}
	return sub
}

// handle passes a batch to the handler: runs of ordinary events to Events,
// SUBSCRIBED to Subscribed; ERROR ends the subscription.
func (s *Session) handle(ctx context.Context, batch []*scheduler.Event, subscribed *bool) error {
	run := make([]*scheduler.Event, 0, len(batch))
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		err := s.Handler.Events(ctx, run)
		run = run[:0]
		return err
	}
	for _, ev := range batch {
		switch ev.Type {
		case scheduler.Event_HEARTBEAT:
			continue
		case scheduler.Event_SUBSCRIBED, scheduler.Event_ERROR:
			if err := flush(); err != nil {
				return err
			}
			if ev.Type == scheduler.Event_ERROR {
				return errorEvent(ev.GetError().GetMessage())
			}
			*subscribed = true
			if err := s.Handler.Subscribed(ctx, ev.Subscribed); err != nil {
				return err
			}
		default:
			run = append(run, ev)
		}
	}
	return flush()
}

// errorEvent is the error of an ERROR event. Mesos sends a message only;
// these two are final.
func errorEvent(msg string) error {
	switch {
	case strings.Contains(msg, "failed over"):
		return &FatalError{Msg: msg, Err: ErrFailedOver}
	case strings.Contains(msg, "removed"):
		return &FatalError{Msg: msg, Err: ErrFrameworkRemoved}
	}
	return errors.New("mesos error: " + msg)
}
