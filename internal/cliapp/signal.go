package cliapp

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// StopSignals are the signals that stop a taskkit binary that handles
// signals at all: SIGINT (Ctrl-C) and SIGTERM (what Mesos, Marathon and
// `kill` send).
var StopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM}

// Signaled is the cause (context.Cause) of a context SignalContext canceled
// because a signal came.
type Signaled struct {
	Signal os.Signal
}

func (s *Signaled) Error() string { return "interrupted by " + SignalName(s.Signal) }

// Is makes a Signaled match context.Canceled, as signal.NotifyContext's
// cause does.
func (s *Signaled) Is(target error) bool { return target == context.Canceled }

// ExitCode is 128+N for signal N, as a shell reports a command killed by it.
func (s *Signaled) ExitCode() int {
	if n, ok := s.Signal.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return DefaultFailureCode
}

// SignalName is "SIGTERM" for syscall.SIGTERM.
func SignalName(s os.Signal) string {
	if n, ok := s.(syscall.Signal); ok {
		if name := unix.SignalName(n); name != "" {
			return name
		}
	}
	return s.String()
}

// SignalContext is signal.NotifyContext with the signal kept: the returned
// context is canceled when one of sigs arrives, with a *Signaled as its cause
// (see Interrupted), when stop is called, or when parent ends. Until stop is
// called, the signals no longer have their default effect (a second SIGINT
// does not kill the process). Its goroutine is owned by stop and ends with
// the context.
func SignalContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			cancel(&Signaled{Signal: s})
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			cancel(context.Canceled)
		})
	}
}

// Interrupted returns the signal that canceled a context made by
// SignalContext, or nil.
func Interrupted(ctx context.Context) *Signaled {
	var s *Signaled
	if errors.As(context.Cause(ctx), &s) {
		return s
	}
	return nil
}
