//go:build linux

// Command healthd runs health and readiness checks with Mesos semantics and,
// given a command after --, supervises it like an init process: it forwards
// signals to the command's process group, reaps zombies, kills the command
// when its health check fails too often, and never leaves a process behind.
//
//	healthd [flags] -- CMD ARGS...   supervise CMD
//	healthd [flags]                  sidecar: check and report only
//	healthd check [flags]            run one check: exit 0 healthy, 1 unhealthy, 2 could not run
//
// Every flag can also be set by an environment variable (HEALTHD_<FLAG>, for
// example HEALTHD_INTERVAL; for `healthd check`, HEALTHD_CHECK_<FLAG>). See
// docs/healthd.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/taskkit/taskkit/internal/buildinfo"
	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/healthd"
	"github.com/taskkit/taskkit/internal/logging"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/redact"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

// Exit codes of `healthd check`.
const (
	checkHealthy   = 0
	checkUnhealthy = 1
	checkCouldNot  = 2
)

const usageHead = `healthd — health and readiness checks with Mesos semantics; supervises a command.

Usage:
  healthd [flags] -- CMD ARGS...   supervise CMD: start it in its own process group,
                                   forward SIGTERM SIGINT SIGHUP SIGQUIT SIGUSR1 SIGUSR2 to
                                   the group, reap zombies; when the health check fails
                                   --max-consecutive-failures times in a row, SIGTERM the
                                   group, SIGKILL it after --kill-grace-period, exit 124.
  healthd [flags]                  sidecar: run the checks and report them.
  healthd check [flags]            run one check now (healthd check --help).

Checks: --cmd runs "/bin/sh -c STRING" (healthy on exit 0), --http GETs a URL
(healthy on 200-399, redirects followed, certificates not verified), --tcp connects
to HOST:PORT. A timed-out check is killed with its whole process group and counts
as a failure. Durations (D) take Go syntax (1m30s, 500ms) or bare seconds (15).
Every flag can also be set by the environment variable shown in brackets.

Endpoints (--listen): GET /health, /ready (200 or 503 from the last result; a
request never starts a check), /status (JSON), /metrics (Prometheus).

Exit codes: the command's own (128+N if signal N killed it); 0 sidecar stopped by
SIGTERM, SIGINT or SIGQUIT; 124 health check failure threshold reached (command
stopped, or sidecar with --exit-on-failure); 125 bad flags, or healthd itself
failed; 126 command not executable; 127 command not found.

Examples:
  exec ./healthd --cmd ./check-up --listen :9100 -- ./server --port "$PORT_HTTP"
  ./healthd --http http://127.0.0.1:8080/health --readiness-tcp 127.0.0.1:8080 \
      --delay 0 --interval 5 --status-file status.json -- java -jar app.jar
  ./healthd check --http http://127.0.0.1:8080/health --timeout 5s
`

const checkUsageHead = `healthd check — run one check now.

Usage:
  healthd check (--cmd STRING | --http URL | --tcp HOST:PORT) [--timeout D] [--json]

Exits 0 when healthy, 1 when unhealthy (a timeout is unhealthy), 2 when the check
could not run, was interrupted (SIGTERM, SIGINT, SIGHUP: its process group is
killed first) or the flags are wrong. Usable as a Mesos or Marathon COMMAND check:
the check's whole process group is killed at the timeout, and HTTP and TCP checks
need no curl or nc in the image. The check's output (first 4 KiB) goes to stdout,
the verdict to stderr (with --json, the result goes to stdout as JSON).
`

// options are the root command's flags.
type options struct {
	cmd, http, tcp                  *string
	delay, interval, timeout, grace *string
	maxFailures                     *int
	rCmd, rHTTP, rTCP               *string
	rDelay, rInterval, rTimeout     *string
	rLatch                          *bool
	rFailures                       *int
	killGrace                       *string
	exitOnFailure                   *bool
	listen, statusFile, logFormat   *string
	verbose, version                *bool
}

func rootFlags() (*flagSet, *options) {
	const hc, rc, sv, rp, lg = "Health check (Mesos semantics):", "Readiness check:", "Supervision:", "Reporting:", "Logging:"
	f := newFlagSet("healthd", "HEALTHD_")
	o := &options{
		cmd:         f.String(hc, "cmd", "STRING", "", "run STRING with /bin/sh -c; healthy on exit 0"),
		http:        f.String(hc, "http", "URL", "", "GET URL; healthy on 200-399"),
		tcp:         f.String(hc, "tcp", "HOST:PORT", "", "connect to HOST:PORT"),
		delay:       f.String(hc, "delay", "D", "15s", "wait before the first check"),
		interval:    f.String(hc, "interval", "D", "10s", "wait from the end of one check to the start of the next"),
		timeout:     f.String(hc, "timeout", "D", "20s", "limit for one check (0: none)"),
		grace:       f.String(hc, "grace-period", "D", "10s", "failures are ignored until the first success or until D after start (delay included)"),
		maxFailures: f.Int(hc, "max-consecutive-failures", 3, "failures in a row that stop the command (0: never)"),

		rCmd:      f.String(rc, "readiness-cmd", "STRING", "", "run STRING with /bin/sh -c; ready on exit 0"),
		rHTTP:     f.String(rc, "readiness-http", "URL", "", "GET URL; ready on 200-399"),
		rTCP:      f.String(rc, "readiness-tcp", "HOST:PORT", "", "connect to HOST:PORT"),
		rDelay:    f.String(rc, "readiness-delay", "D", "0s", "wait before the first readiness check"),
		rInterval: f.String(rc, "readiness-interval", "D", "10s", "wait from the end of one readiness check to the next"),
		rTimeout:  f.String(rc, "readiness-timeout", "D", "10s", "limit for one readiness check (0: none)"),
		rLatch:    f.Bool(rc, "readiness-latch", true, "ready for good after the first success (SDK); =false keeps checking (Kubernetes)"),
		rFailures: f.Int(rc, "readiness-failures", 3, "with --readiness-latch=false: failures in a row that drop readiness"),

		killGrace:     f.String(sv, "kill-grace-period", "D", "3s", "time between SIGTERM and SIGKILL when stopping an unhealthy command"),
		exitOnFailure: f.Bool(sv, "exit-on-failure", false, "sidecar: exit 124 when the health check reaches its threshold"),

		listen:     f.String(rp, "listen", "ADDR", "", "serve /health /ready /status /metrics on ADDR (e.g. :9100)"),
		statusFile: f.String(rp, "status-file", "PATH", "", "keep the /status JSON in PATH, replaced atomically on every change"),

		logFormat: f.String(lg, "log-format", "FORMAT", "text", "text or json; logs go to stderr"),
		verbose:   f.Bool(lg, "verbose", false, "also log every check, not only state changes"),
		version:   f.Bool(lg, "version", false, "print the version and exit"),
	}
	return f, o
}

// run is main without the exit: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Everything after the first "--" is the command, never healthd's flags
	// or subcommand, whatever it is called.
	var command []string
	for i, a := range args {
		if i > 0 && a == "--" {
			args, command = args[:i], args[i+1:]
			if len(command) == 0 {
				fmt.Fprintln(stderr, "healthd: no command after --")
				return healthd.ExitUsage
			}
			break
		}
	}
	if len(args) > 1 && args[1] == "check" {
		return runCheck(ctx, args[2:], command, stdout, stderr)
	}

	f, o := rootFlags()
	if err := f.Parse(args[1:], os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageHead)
			f.Usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "healthd: %v\n", err)
		return healthd.ExitUsage
	}
	if *o.version {
		fmt.Fprintln(stdout, buildinfo.String("healthd"))
		return 0
	}
	if len(f.Args()) > 0 {
		fmt.Fprintf(stderr, "healthd: unexpected argument %q: put the command to supervise after --\n", f.Args()[0])
		return healthd.ExitUsage
	}
	cfg, err := configFrom(f, o, command, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "healthd: %v\n", err)
		return healthd.ExitUsage
	}
	code, err := healthd.Run(ctx, cfg)
	if err != nil {
		cfg.Log.Error("healthd failed", "err", cfg.Redactor.String(err.Error()), "exit_code", code)
	}
	return code
}

// checkFrom builds the check given by one of the three flags; nil when none
// is set. names are the flags' names, for errors.
func checkFrom(cmd, http, tcp string, names [3]string) (probe.Prober, string, error) {
	var set []string
	for i, v := range []string{cmd, http, tcp} {
		if v != "" {
			set = append(set, "--"+names[i])
		}
	}
	switch {
	case len(set) == 0:
		return nil, "", nil
	case len(set) > 1:
		return nil, "", fmt.Errorf("%s: give only one of them", strings.Join(set, ", "))
	case cmd != "":
		return &probe.Command{Line: cmd}, "cmd: " + cmd, nil // redacted where shown
	case http != "":
		h, err := probe.NewHTTP(http, probe.CheckPolicy)
		if err != nil {
			return nil, "", fmt.Errorf("--%s: %w", names[1], err)
		}
		return h, "http: " + h.String(), nil
	default:
		t, err := probe.NewTCP(tcp)
		if err != nil {
			return nil, "", fmt.Errorf("--%s: %w", names[2], err)
		}
		return t, "tcp: " + t.Addr, nil
	}
}

// durations parses duration flags (name → value) into the pointers, naming
// the flag or variable in every error.
func durations(f *flagSet, flags map[string]*string, dst map[string]*time.Duration) error {
	var errs []string
	for name, p := range dst {
		d, err := health.ParseDuration(*flags[name])
		if err != nil {
			errs = append(errs, f.Source(name)+": "+err.Error())
			continue
		}
		*p = d
	}
	sort.Strings(errs)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func configFrom(f *flagSet, o *options, command []string, stderr io.Writer) (healthd.Config, error) {
	log, err := logging.New(stderr, *o.logFormat, *o.verbose, "--log-format")
	if err != nil {
		return healthd.Config{}, err
	}
	cfg := healthd.Config{
		Command:       command,
		ExitOnFailure: *o.exitOnFailure,
		Listen:        *o.listen,
		StatusFile:    *o.statusFile,
		Log:           log,
		Redactor:      redact.Default().LearnEnv(os.Environ()),
	}
	hcfg, rcfg := health.MesosDefaults(), health.ReadinessDefaults()
	if err := durations(f, map[string]*string{
		"delay": o.delay, "interval": o.interval, "timeout": o.timeout, "grace-period": o.grace,
		"readiness-delay": o.rDelay, "readiness-interval": o.rInterval, "readiness-timeout": o.rTimeout,
		"kill-grace-period": o.killGrace,
	}, map[string]*time.Duration{
		"delay": &hcfg.Delay, "interval": &hcfg.Interval, "timeout": &hcfg.Timeout, "grace-period": &hcfg.GracePeriod,
		"readiness-delay": &rcfg.Delay, "readiness-interval": &rcfg.Interval, "readiness-timeout": &rcfg.Timeout,
		"kill-grace-period": &cfg.KillGrace,
	}); err != nil {
		return cfg, err
	}
	var errs []string
	if hcfg.Interval <= 0 {
		errs = append(errs, f.Source("interval")+": must be positive")
	}
	if rcfg.Interval <= 0 {
		errs = append(errs, f.Source("readiness-interval")+": must be positive")
	}
	if hcfg.FailureThreshold = *o.maxFailures; hcfg.FailureThreshold < 0 {
		errs = append(errs, f.Source("max-consecutive-failures")+": must not be negative")
	}
	rcfg.Latch = *o.rLatch
	if rcfg.FailureThreshold = *o.rFailures; rcfg.FailureThreshold < 1 {
		errs = append(errs, f.Source("readiness-failures")+": must be at least 1")
	}
	if rcfg.Latch {
		rcfg.FailureThreshold = 0 // latched readiness never drops
	}
	hp, hdesc, err := checkFrom(*o.cmd, *o.http, *o.tcp, [3]string{"cmd", "http", "tcp"})
	if err != nil {
		errs = append(errs, err.Error())
	}
	rp, rdesc, err := checkFrom(*o.rCmd, *o.rHTTP, *o.rTCP, [3]string{"readiness-cmd", "readiness-http", "readiness-tcp"})
	if err != nil {
		errs = append(errs, err.Error())
	}
	if hp != nil {
		cfg.Health = &healthd.Check{Prober: hp, Desc: hdesc, Config: hcfg}
	}
	if rp != nil {
		cfg.Readiness = &healthd.Check{Prober: rp, Desc: rdesc, Config: rcfg}
	}
	if cfg.ExitOnFailure && len(command) > 0 {
		errs = append(errs, "--exit-on-failure is for sidecar mode; with a command, healthd always stops it at the threshold")
	}
	if cfg.ExitOnFailure && hp == nil {
		errs = append(errs, "--exit-on-failure needs a health check (--cmd, --http or --tcp)")
	}
	if len(errs) > 0 {
		return cfg, errors.New(strings.Join(errs, "; "))
	}
	return cfg, nil
}

// runCheck is `healthd check`.
func runCheck(ctx context.Context, args, command []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "healthd check: %v\n", err)
		return checkCouldNot
	}
	const g = "Check:"
	f := newFlagSet("healthd check", "HEALTHD_CHECK_")
	cmd := f.String(g, "cmd", "STRING", "", "run STRING with /bin/sh -c; healthy on exit 0")
	http := f.String(g, "http", "URL", "", "GET URL; healthy on 200-399")
	tcp := f.String(g, "tcp", "HOST:PORT", "", "connect to HOST:PORT")
	timeoutFlag := f.String(g, "timeout", "D", "20s", "limit for the check (0: none)")
	asJSON := f.Bool(g, "json", false, "print the result as JSON on stdout")
	if err := f.Parse(args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, checkUsageHead)
			f.Usage(stdout)
			return 0
		}
		return fail(err)
	}
	if len(command) > 0 || len(f.Args()) > 0 {
		return fail(errors.New("takes no arguments; give the check with --cmd, --http or --tcp"))
	}
	p, _, err := checkFrom(*cmd, *http, *tcp, [3]string{"cmd", "http", "tcp"})
	if err != nil {
		return fail(err)
	}
	if p == nil {
		return fail(errors.New("no check: give --cmd, --http or --tcp"))
	}
	timeout, err := health.ParseDuration(*timeoutFlag)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", f.Source("timeout"), err))
	}
	// SIGTERM, SIGINT or SIGHUP (a check runner giving up) stop the check
	// and kill its process group rather than orphan it.
	ictx, interrupt := context.WithCancelCause(ctx)
	defer interrupt(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			interrupt(fmt.Errorf("interrupted by signal %v", sig))
		case <-ictx.Done():
		}
	}()
	ctx = ictx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	res := p.Probe(ctx)
	elapsed := time.Since(start)
	interrupted := false
	if res.Status == probe.Unhealthy && ctx.Err() != nil {
		if cause := context.Cause(ctx); errors.Is(cause, context.DeadlineExceeded) {
			res.Reason = "timed out after " + health.FormatDuration(timeout)
		} else {
			res.Reason, interrupted = cause.Error(), true
		}
	}
	r := redact.Default().LearnEnv(os.Environ())
	res.Reason, res.Output = r.String(res.Reason), r.String(res.Output)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Status          string  `json:"status"`
			Reason          string  `json:"reason"`
			Output          string  `json:"output"`
			Truncated       bool    `json:"truncated"`
			ExitCode        int     `json:"exit_code"`
			DurationSeconds float64 `json:"duration_seconds"`
		}{res.Status.String(), res.Reason, res.Output, res.Truncated, res.ExitCode, elapsed.Seconds()})
	} else {
		_, _ = io.WriteString(stdout, res.Output)
		fmt.Fprintf(stderr, "healthd check: %s: %s\n", res.Status, res.Reason)
	}
	switch {
	case res.Status == probe.Healthy:
		return checkHealthy
	case res.Status == probe.Unhealthy && !interrupted:
		return checkUnhealthy
	}
	return checkCouldNot
}
