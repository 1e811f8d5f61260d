//go:build linux

// Package healthd is what the healthd binary does once its flags are parsed:
// it runs a health check and a readiness check, publishes their state, and —
// given a command — supervises it as an init process would.
//
// Modes:
//
//   - supervise (Config.Command set): start the command in its own process
//     group with a parent-death signal; forward every signal a process can
//     catch to the group (Forwarded: all from 1 to 31 but those of
//     NotForwarded), each as Config.Rewrite says; reap orphans (as PID 1,
//     or as a child subreaper); when the health check reaches its failure
//     threshold, send the group the stop signal, SIGKILL it after
//     KillGrace, and exit with ExitUnhealthy; otherwise, once the command
//     has exited, exit with its code (128+signal for a signal). Whenever
//     the command exits while others of its group are alive, they are
//     stopped gracefully before healthd exits: during a stop — the
//     threshold's, or a forwarded shutdown signal (SIGTERM, SIGINT,
//     SIGQUIT) — they got the stop's signal and have until KillGrace after
//     it; with no stop under way — the command exited on its own, or of or
//     after another forwarded signal (SIGHUP, SIGUSR1, ...) — they get the
//     stop signal and KillGrace, as dumb-init sends SIGTERM to its child's
//     group when the child exits, the signal waiting until KillGrace after
//     a signal forwarded less than that before, so that what the signal
//     started is not interrupted (supervise.Spec.GroupGrace). SIGKILL ends
//     what is left.
//   - sidecar (no command): run the checks and report until a shutdown
//     signal (SIGTERM, SIGINT or SIGQUIT; exit 0), ignoring SIGHUP, SIGUSR1,
//     SIGUSR2 and SIGWINCH; with ExitOnFailure, exit with ExitUnhealthy at
//     the threshold.
//
// The stop signal is SIGTERM, or what Config.Rewrite rewrites SIGTERM to
// (none when it drops it: the grace then runs without a signal before
// SIGKILL); see Rewrites.
//
// Once a shutdown signal (Config.ShutdownSignals: SIGTERM, SIGINT and
// SIGQUIT unless set) has been forwarded, or the command has exited,
// health checking stops, so a shutdown in progress is never turned into a
// health kill. With Config.Rewrite, a shutdown is a signal received or
// sent as one: a SIGTERM rewritten to SIGWINCH (Apache's graceful stop) is
// one, and so is a SIGUSR1 rewritten to SIGTERM; a signal rewritten to 0
// is dropped and is nothing at all (the command, told nothing, goes on
// being checked). The other forwarded signals are not (SIGHUP reloads most
// daemons, SIGUSR1 and SIGUSR2 are the program's own, SIGWINCH is Apache's
// graceful stop but a window size change to most, SIGQUIT is the JVM's
// thread dump when ShutdownSignals leaves it out): checking goes on while
// the command runs.
package healthd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/healthreport"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/supervise"
)

// ErrNothingToDo is Serve's error for a Config with neither a check nor
// a command (exit code ExitUsage).
var ErrNothingToDo = errors.New("nothing to do: give a check (--cmd, --http, --tcp, --readiness-*) or a command after --")

// Exit codes of healthd. In supervise mode every other code is the command's
// own (128+N when signal N killed it).
const (
	// ExitOK: the command exited 0, or the sidecar was told to stop.
	ExitOK = 0
	// ExitUnhealthy: the health check reached its failure threshold; in
	// supervise mode the command was then stopped.
	ExitUnhealthy = 124
	// ExitUsage: bad flags or configuration, or healthd itself failed
	// (cannot listen, ...). Nothing was started.
	ExitUsage = 125
	// ExitNotExecutable: the command exists but cannot be executed.
	ExitNotExecutable = 126
	// ExitNotFound: the command was not found.
	ExitNotFound = 127
)

// Forwarded are the signals healthd passes on to the command's process
// group in supervise mode, in the order of their numbers: every signal
// from 1 to 31 a process can catch, as dumb-init forwards them (tini
// forwards all but the faults and SIGTTIN, SIGTTOU), except those of
// NotForwarded.
var Forwarded = forwarded()

// NotForwarded are the signals from 1 to 31 healthd does not forward, with
// why: SIGKILL and SIGSTOP cannot be caught; the others are what the kernel
// or the Go runtime sends healthd about healthd itself — its children's
// end, a write of its own to a closed pipe, the runtime's preemption and
// profiler (os/signal never delivers SIGPROF), its own resource limits and
// bad system calls, which the command gets on its own when it is the one
// concerned — or job control of healthd's terminal (a terminal's Ctrl-Z
// suspends healthd, not the command, which runs in a process group of its
// own; suspended, it would fail its checks).
var NotForwarded = map[syscall.Signal]string{
	syscall.SIGKILL: "it cannot be caught",
	syscall.SIGSTOP: "it cannot be caught",
	syscall.SIGCHLD: "it tells healthd its own children ended",
	syscall.SIGPIPE: "it is what healthd's own write to a closed pipe raises",
	syscall.SIGURG:  "the Go runtime preempts healthd's goroutines with it",
	syscall.SIGPROF: "the Go runtime keeps it for its CPU profiler",
	syscall.SIGXCPU: "it is healthd's own CPU time limit; the command gets its own",
	syscall.SIGXFSZ: "it is healthd's own file size limit; the command gets its own",
	syscall.SIGSYS:  "it is healthd's own bad system call; the command gets its own",
	syscall.SIGTSTP: "it is job control of healthd's own terminal",
	syscall.SIGTTIN: "it is job control of healthd's own terminal",
	syscall.SIGTTOU: "it is job control of healthd's own terminal",
}

func forwarded() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= maxSignal; s++ {
		if _, no := NotForwarded[s]; !no {
			out = append(out, s)
		}
	}
	return out
}

// DefaultShutdownSignals are the signals that, received or sent as after
// Config.Rewrite, tell healthd the command is being shut down (see the
// package documentation) unless Config.ShutdownSignals says otherwise:
// SIGTERM, SIGINT and SIGQUIT (nginx's graceful stop; the JVM's thread
// dump, for which --shutdown-signals TERM,INT).
var DefaultShutdownSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT}

// sidecarSignals are the signals a sidecar catches besides its shutdown
// signals, to ignore them: a terminal's hang-up and the signals a
// supervised command would be forwarded to reload or reopen its logs.
var sidecarSignals = []os.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// Check is one configured check.
type Check struct {
	// Prober runs the check.
	Prober probe.Prober
	// Desc describes it for logs and /status: "cmd: ./check-up".
	Desc string
	// Config schedules and judges it; OnResult is set by Run.
	Config health.Config
}

// Config is everything Run needs.
type Config struct {
	// Health and Readiness are the checks; nil when not configured.
	Health, Readiness *Check
	// Command is the command to supervise (argv); empty for sidecar mode.
	Command []string
	// KillGrace is the time between the stop signal and SIGKILL when
	// healthd stops the command, and the time the rest of its group gets to
	// exit once the command has (see the package documentation).
	KillGrace time.Duration
	// Rewrite changes the signals forwarded to the command's group, and
	// with SIGTERM the stop signal (see Rewrites); nil forwards them as
	// they are. Supervise mode only.
	Rewrite Rewrites
	// ShutdownSignals are the signals that, received or sent as, are a
	// shutdown (supervise mode) or stop a sidecar: each one of Forwarded;
	// nil means DefaultShutdownSignals.
	ShutdownSignals []syscall.Signal
	// ExitOnFailure makes a sidecar exit with ExitUnhealthy at the threshold.
	ExitOnFailure bool
	// Listen is the address for the HTTP endpoints; "" for none.
	Listen string
	// StatusFile is kept up to date with the /status JSON; "" for none.
	StatusFile string
	// Log receives healthd's records; its handler masks secrets
	// (redact.Handler), so records are written unmasked.
	Log *slog.Logger
	// Redactor masks secrets in what is published (/status, the status
	// file); nil means redact.Default() with the environment learned.
	Redactor *redact.Redactor
}

// shutdownTimeout bounds the wait for Run's goroutines when it returns.
const shutdownTimeout = 3 * time.Second

// Serve runs healthd until the command exits (supervise), or until a
// terminating signal or ctx ends (sidecar; ctx ending stops a supervised
// command like SIGTERM would). It returns the exit code, and an error when
// the code is healthd's own failure.
func Serve(ctx context.Context, cfg Config) (int, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Redactor == nil {
		cfg.Redactor = redact.Default().LearnEnv(os.Environ())
	}
	supervising := len(cfg.Command) > 0
	if !supervising && cfg.Health == nil && cfg.Readiness == nil {
		return ExitUsage, ErrNothingToDo
	}
	mode := "sidecar"
	if supervising {
		mode = "supervise"
	}

	if cfg.ShutdownSignals == nil {
		cfg.ShutdownSignals = DefaultShutdownSignals
	}
	// Catch signals before anything starts, so none takes the default
	// action: every one forwarded, or a sidecar's.
	sigs := make(chan os.Signal, 16)
	if supervising {
		signal.Notify(sigs, Forwarded...)
	} else {
		signal.Notify(sigs, sidecarSignals...)
		for _, s := range cfg.ShutdownSignals {
			signal.Notify(sigs, s)
		}
	}
	defer signal.Stop(sigs)
	// A closed stdout or stderr (a log pipe whose reader died) must not kill
	// healthd, and with it the command: with SIGPIPE caught, writes fail with
	// EPIPE instead. Caught signals are reset on exec, so children still get
	// the default action.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	var path string
	if supervising {
		var err error
		if path, err = exec.LookPath(cfg.Command[0]); err != nil {
			code := ExitNotExecutable
			if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
				code = ExitNotFound
			}
			return code, fmt.Errorf("command %q: %w", cfg.Command[0], err)
		}
	}

	var ln net.Listener
	if cfg.Listen != "" {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return ExitUsage, fmt.Errorf("--listen: %w", err)
		}
		defer ln.Close() // Serve closes it too; this covers the early returns
	}

	var wg sync.WaitGroup // every goroutine Run starts; each ends with ctx
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		waitTimeout(&wg, shutdownTimeout, log)
	}()

	if supervising || supervise.IsInit() {
		if supervising && !supervise.IsInit() {
			if err := supervise.BecomeSubreaper(); err != nil {
				log.Warn("cannot reap orphans", "err", err)
			}
		}
		wg.Add(1)
		go func() { defer wg.Done(); supervise.ReapOrphans(ctx, log) }()
	}

	// At the threshold the command gets SIGTERM straight from the checker's
	// goroutine, before anything is logged or written (Terminate never
	// blocks); the main loop then records why. st.proc is set before any
	// check runs.
	st := &state{cfg: cfg, log: log, failed: make(chan health.Event, 1)}
	onHealth := st.onHealth
	// The reporter reads the checkers and the checkers report to it; it is
	// assigned before any checker runs.
	var rep *healthreport.Reporter
	var hc, rc *health.Checker
	ropts := healthreport.Options{Mode: mode, StatusFile: cfg.StatusFile, Redactor: cfg.Redactor, Log: log}
	var err error
	if c := cfg.Health; c != nil {
		hcfg := c.Config
		hcfg.OnResult = func(e health.Event) {
			onHealth(e) // first: a kill must not wait for logging
			rep.Observe(healthreport.Health, e)
		}
		if hc, err = health.New(c.Prober, hcfg); err != nil {
			return ExitUsage, fmt.Errorf("health check: %w", err)
		}
		ropts.Health, ropts.HealthDesc = hc, c.Desc
	}
	if c := cfg.Readiness; c != nil {
		rcfg := c.Config
		rcfg.OnResult = func(e health.Event) { rep.Observe(healthreport.Readiness, e) }
		if rc, err = health.New(c.Prober, rcfg); err != nil {
			return ExitUsage, fmt.Errorf("readiness check: %w", err)
		}
		ropts.Readiness, ropts.ReadinessDesc = rc, c.Desc
	}
	rep = healthreport.New(ropts)
	// The status file must be writable before the command starts.
	if err := rep.WriteStatusFile(); err != nil {
		return ExitUsage, fmt.Errorf("--status-file: %w", err)
	}

	var procDone, procExited <-chan struct{}
	if supervising {
		proc, err := supervise.Start(supervise.Spec{
			Path: path, Args: cfg.Command,
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			ParentDeathSignal: syscall.SIGKILL,
			Foreground:        true, // docker run -it: CMD may read the terminal
			GroupGrace:        cfg.KillGrace,
			StopSignal:        cfg.Rewrite.StopSignal(),
		})
		if err != nil {
			var se *supervise.StartError
			if errors.As(err, &se) {
				return se.ExitCode(), err
			}
			return ExitUsage, err
		}
		st.proc, procDone, procExited = proc, proc.Done(), proc.Exited()
		rep.SetProcess(proc.Pid(), time.Now())
	}
	log.Info("healthd started", "mode", mode, "pid", os.Getpid(), "command_pid", pidOf(st.proc),
		"health", descOf(cfg.Health), "readiness", descOf(cfg.Readiness), "rewrite", cfg.Rewrite.String())

	if ln != nil {
		log.Info("listening", "addr", ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rep.Serve(ctx, ln); err != nil {
				log.Error("HTTP endpoints stopped", "err", err)
			}
		}()
	}

	fileCtx, stopFile := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); rep.RunStatusFile(fileCtx) }()

	checkCtx, stopChecks := context.WithCancel(ctx)
	for _, c := range []*health.Checker{hc, rc} {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = c.Run(checkCtx) }()
		}
	}

	st.rep, st.stopChecks = rep, stopChecks
	code, runErr := st.loop(ctx, sigs, procExited, procDone)

	stopChecks()
	stopFile() // one last write, with the exit code
	return code, runErr
}

// state is what Run's main loop and the health checker's callback share.
type state struct {
	cfg        Config
	log        *slog.Logger
	proc       *supervise.Process // nil in sidecar mode
	rep        *healthreport.Reporter
	stopChecks context.CancelFunc
	failed     chan health.Event // the threshold events, for the main loop

	mu           sync.Mutex
	healthKilled bool // the command was told to stop for failing its health check
	shuttingDown bool // a terminating signal (or ctx) stops the command
}

// onHealth runs in the health checker's goroutine after every check. At the
// threshold it stops the command at once — unless a shutdown is already under
// way, which is never turned into a health kill, or the command has exited
// (healthd then exits with the command's code) — and tells the main loop.
func (st *state) onHealth(e health.Event) {
	if !e.Changed() || e.To != health.Failed {
		return
	}
	if st.proc != nil {
		st.mu.Lock()
		kill := !st.shuttingDown && !st.healthKilled && !closed(st.proc.Exited())
		if kill {
			st.healthKilled = true
		}
		st.mu.Unlock()
		if kill {
			st.proc.Terminate(st.cfg.KillGrace)
		}
	}
	select {
	case st.failed <- e:
	default:
	}
}

// loop waits for the command, signals and the health threshold, and decides
// the exit code. procExited is closed when the command has exited, procDone
// once the rest of its group is gone too and the command is reaped.
func (st *state) loop(ctx context.Context, sigs <-chan os.Signal, procExited, procDone <-chan struct{}) (int, error) {
	cfg, log, proc := st.cfg, st.log, st.proc
	ctxDone := ctx.Done()
	for {
		select {
		case sig := <-sigs:
			s, _ := sig.(syscall.Signal)
			if proc == nil {
				if st.isShutdown(s) {
					log.Info("stopping", "signal", s.String())
					return ExitOK, nil
				}
				log.Debug("signal ignored", "signal", s.String())
				continue
			}
			if s == syscall.SIGCONT && proc.HandTerminal() {
				// Continued in the foreground (a shell's fg): CMD's group
				// gets the terminal before it is continued.
				log.Debug("terminal handed to the command", "pgid", proc.Pid())
			}
			send, ok := cfg.Rewrite.Send(s)
			if !ok {
				log.Info("signal dropped (--rewrite)", "signal", s.String(), "pgid", proc.Pid())
				continue
			}
			terminating := st.isShutdown(s) || st.isShutdown(send)
			if send != s {
				log.Info("forwarding signal to the command", "signal", s.String(), "sent_as", send.String(), "pgid", proc.Pid())
			} else {
				log.Info("forwarding signal to the command", "signal", s.String(), "pgid", proc.Pid())
			}
			forward := proc.Signal
			if terminating {
				// A stop: once the command exits, the rest of its group
				// gets the grace period to finish before SIGKILL.
				forward = func(s syscall.Signal) error { return proc.Stopping(s, cfg.KillGrace) }
			}
			if err := forward(send); err != nil && !errors.Is(err, supervise.ErrDone) {
				log.Warn("cannot forward signal", "signal", send.String(), "err", err)
			}
			if terminating {
				st.shutDown("signal " + s.String())
			}

		case e := <-st.failed:
			st.logThreshold(e)
			if proc == nil && cfg.ExitOnFailure {
				return ExitUnhealthy, nil
			}

		case <-procExited:
			// The rest of the group is being stopped (supervise); checking
			// a command that is gone would only turn its end into a health
			// kill.
			procExited = nil
			log.Debug("command exited; stopping the rest of its process group", "pgid", proc.Pid(), "grace", cfg.KillGrace.String())
			st.shutDown("command exited")

		case <-procDone:
			status := proc.Status()
			code := status.ExitCode()
			st.rep.SetExited(code)
			st.mu.Lock()
			healthKilled := st.healthKilled
			st.mu.Unlock()
			if healthKilled {
				select {
				case e := <-st.failed: // the command was quicker than this loop
					st.logThreshold(e)
				default:
				}
				log.Info("command stopped after failing health checks", "status", status.String(), "exit_code", ExitUnhealthy)
				return ExitUnhealthy, nil
			}
			log.Info("command exited", "status", status.String(), "exit_code", code)
			return code, nil

		case <-ctxDone:
			ctxDone = nil
			if proc == nil {
				return ExitOK, nil
			}
			st.shutDown("healthd stopping")
			proc.Terminate(cfg.KillGrace)
		}
	}
}

// isShutdown reports whether s, received or forwarded, is a shutdown: one
// of Config.ShutdownSignals.
func (st *state) isShutdown(s syscall.Signal) bool {
	return slices.Contains(st.cfg.ShutdownSignals, s)
}

// shutDown records that the command is being stopped for why (unless the
// health check already stopped it) and stops checking.
func (st *state) shutDown(why string) {
	st.mu.Lock()
	first := !st.shuttingDown && !st.healthKilled
	if first {
		st.shuttingDown = true
	}
	st.mu.Unlock()
	if first {
		st.stopChecks()
		st.rep.SetStopping(why)
	}
}

// logThreshold logs (and records) a health check reaching its threshold.
func (st *state) logThreshold(e health.Event) {
	reason := e.Check.Reason // logs mask it themselves; /status does not
	st.mu.Lock()
	healthKilled := st.healthKilled
	st.mu.Unlock()
	switch {
	case st.proc == nil && st.cfg.ExitOnFailure:
		st.log.Error("exiting: health check failure threshold reached", "consecutive_failures", e.Status.ConsecutiveFailures, "reason", reason)
	case healthKilled:
		st.stopChecks()
		st.rep.SetStopping(fmt.Sprintf("health check failed %d consecutive times: %s", e.Status.ConsecutiveFailures, st.cfg.Redactor.String(reason)))
		st.log.Error("stopping the command: health check failure threshold reached", "consecutive_failures", e.Status.ConsecutiveFailures,
			"reason", reason, "stop_signal", stopSignalName(st.cfg.Rewrite), "kill_grace_period", st.cfg.KillGrace.String())
	}
}

// closed reports whether ch is closed, without blocking.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration, log *slog.Logger) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		log.Warn("some work did not stop in time", "timeout", d.String())
	}
}

// stopSignalName names the signal healthd's own stops send first, for logs:
// "SIGTERM", "SIGQUIT", "none".
func stopSignalName(r Rewrites) string {
	switch s := r.StopSignal(); s {
	case 0:
		return "SIGTERM"
	case supervise.NoStopSignal:
		return "none"
	default:
		return "SIG" + SignalName(s)
	}
}

func pidOf(p *supervise.Process) int {
	if p == nil {
		return 0
	}
	return p.Pid()
}

func descOf(c *Check) string {
	if c == nil {
		return "none"
	}
	return c.Desc
}
