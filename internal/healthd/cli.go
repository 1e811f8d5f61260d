//go:build linux

package healthd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/probe"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/spelling"
)

// Exit codes of `healthd check`.
const (
	CheckHealthy   = 0
	CheckUnhealthy = 1
	CheckCouldNot  = 2 // the check could not run, was interrupted, or the flags are wrong
)

const description = `Modes:
  healthd [flags] -- CMD ARGS...   supervise CMD: start it in its own process group,
                                   forward every signal healthd can catch to the group
                                   (see Signals), or what --rewrite makes of them, reap
                                   zombies; when the health check fails
                                   --max-consecutive-failures times in a row, send the
                                   group the stop signal (SIGTERM, or what --rewrite
                                   makes of TERM), SIGKILL it after
                                   --kill-grace-period, exit 124. When CMD exits, the rest
                                   of its group gets the stop signal (unless a forwarded
                                   shutdown signal is under way) and --kill-grace-period
                                   to finish before SIGKILL; healthd exits with CMD's code
                                   once the group is gone.
  healthd [flags]                  sidecar: run the checks and report them.
  healthd check [flags]            run one check now (healthd check --help).

Checks: --cmd runs "sh -c STRING" with bash when installed, else /bin/sh (healthy
on exit 0), --http GETs a URL (healthy on 200-399, redirects followed,
certificates not verified), --tcp connects to HOST:PORT. A timed-out check is
killed with its whole process group and counts as a failure. Durations (D) take Go syntax (1m30s, 500ms) or bare seconds (15).
Every flag can also be set by the environment variable shown in brackets
(HEALTHD_<FLAG>); a flag on the command line wins.

Endpoints (--listen): GET /health, /ready (200 or 503 from the last result; a
request never starts a check), /status (JSON), /metrics (Prometheus).

Exit codes: the command's own (128+N if signal N killed it); 0 sidecar stopped by
a shutdown signal (SIGTERM, SIGINT or SIGQUIT); 124 health check failure threshold
reached (command stopped, or sidecar with --exit-on-failure); 125 bad flags, or
healthd itself failed; 126 command not executable; 127 command not found.

Signals: with a command, healthd forwards every signal from 1 to 31 to its group,
as dumb-init does: HUP INT QUIT ILL TRAP ABRT BUS FPE USR1 SEGV USR2 ALRM TERM
STKFLT CONT VTALRM WINCH IO PWR; not KILL STOP (they cannot be caught), CHLD PIPE
URG XCPU XFSZ PROF SYS (the kernel's or Go's about healthd itself: the command gets
its own) or TSTP TTIN TTOU (job control of healthd's terminal). A sidecar
stops on a shutdown signal and ignores HUP USR1 USR2 WINCH. When healthd's stdin is
a terminal in its foreground (docker run -it), the command's group gets the
terminal, so an interactive command can read it; Ctrl-C then goes to it directly.
healthd ignores TTOU meanwhile (stty tostop) and takes the terminal back when the
command ends. To a job-control shell healthd and the command are one job: when the
command is stopped by its terminal (Ctrl-Z, a read in the background), healthd
stops too; brought to the foreground (fg), it hands the command the terminal.

Shutdown signals (--shutdown-signals, default TERM,INT,QUIT): received, or sent as
after --rewrite, they mean CMD is shutting down: checks stop (never a health kill),
/ready answers 503, the rest of the group gets --kill-grace-period once CMD exits.
Other signals are forwarded and checking goes on: with --shutdown-signals TERM,INT
a SIGQUIT is a JVM's thread dump, not a shutdown.

Signal rewriting (--rewrite S:R, as dumb-init's): the group gets R when healthd
receives S (any forwarded signal); R 0 drops S (QUIT:0). A received shutdown
signal is still one whatever it is sent as, and so is any signal sent as one; a
dropped one is nothing. The rewritten TERM is also what healthd's own stops send
(threshold, the rest of the group when CMD exits); TERM:0 makes them SIGKILL after
--kill-grace-period with no signal before.

Examples:
  exec ./healthd --cmd ./check-up --listen :9100 -- ./server --port "$PORT_HTTP"
  exec ./healthd --rewrite TERM:QUIT --http http://127.0.0.1:8080/ -- nginx -g 'daemon off;'
  ./healthd --http http://127.0.0.1:8080/health --readiness-tcp 127.0.0.1:8080 \
      --delay 0 --interval 5 --status-file status.json -- java -jar app.jar
  ./healthd check --http http://127.0.0.1:8080/health --timeout 5s`

const checkDescription = `Exits 0 when healthy, 1 when unhealthy (a timeout is unhealthy), 2 when the check
could not run, was interrupted (SIGTERM, SIGINT, SIGHUP: its process group is
killed first) or the flags are wrong. Usable as a Mesos or Marathon COMMAND check:
the check's whole process group is killed at the timeout, and HTTP and TCP checks
need no curl or nc in the image. The check's output (first 4 KiB) goes to stdout,
the verdict to stderr (with --json, the result goes to stdout as JSON).
Every flag can also be set by HEALTHD_CHECK_<FLAG>.`

// Run is the healthd command: it runs the command line args (args[0] is the
// program name) with the environment environ, and returns the exit code
// (see the Exit* and Check* constants; in supervise mode the command's own).
// Everything after the first "--" is the command to supervise, never
// healthd's flags or subcommand, whatever it is called. healthd reads
// nothing from stdin; the command inherits the process's own.
func Run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	own, command, dashes := cliapp.SplitCommand(args)
	if len(own) > 2 && own[1] == "help" && own[2] == "check" {
		// The help word, as every binary with commands takes it:
		// "healthd help check" is "healthd check --help".
		args = append(append([]string{own[0], "check"}, own[3:]...), "--help")
		own = args
	}
	if len(own) > 1 && own[1] == "check" {
		// healthd check runs no command: what follows "--" is a stray
		// argument to name.
		sh := cliapp.New("healthd check", args[1:], environ, stdin, stdout, stderr)
		sh.UsageCode, sh.FailureCode = CheckCouldNot, CheckCouldNot
		return sh.Run(ctx, checkApp(sh))
	}
	sh := cliapp.New("healthd", own, environ, stdin, stdout, stderr)
	sh.UsageCode, sh.FailureCode = ExitUsage, ExitUsage
	return sh.Run(ctx, rootApp(sh, command, dashes))
}

// Help categories of the root command's flags.
const (
	catHealth    = "Health check (Mesos semantics):"
	catReadiness = "Readiness check:"
	catSupervise = "Supervision:"
	catReport    = "Reporting:"
	catLog       = "Logging:"
)

func rootApp(sh *cliapp.Shell, command []string, dashes bool) *cli.App {
	env := func(name string) []string {
		return []string{"HEALTHD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	}
	str := func(cat, name, placeholder, def, usage string) cli.Flag {
		if placeholder != "" {
			usage = strings.Replace(usage, placeholder, "`"+placeholder+"`", 1)
		}
		return &cli.StringFlag{Category: cat, Name: name, Value: def, Usage: usage, EnvVars: env(name)}
	}
	dur := func(cat, name, def, usage string) cli.Flag { // usage names the duration D
		return &cli.StringFlag{Category: cat, Name: name, Value: def, Usage: strings.Replace(usage, " D ", " `D` ", 1), EnvVars: env(name)}
	}
	integer := func(cat, name string, def int, usage string) cli.Flag { // usage names the number N
		return &cli.IntFlag{Category: cat, Name: name, Value: def, Usage: strings.Replace(usage, "N ", "`N` ", 1), EnvVars: env(name)}
	}
	boolean := func(cat, name string, def bool, usage string) cli.Flag {
		return &cli.BoolFlag{Category: cat, Name: name, Value: def, Usage: usage, EnvVars: env(name)}
	}
	return &cli.App{
		Name:        "healthd",
		Usage:       "health and readiness checks with Mesos semantics; supervises a command",
		UsageText:   "healthd [flags] -- CMD ARGS...\nhealthd [flags]\nhealthd check [flags]",
		Description: description,
		Flags: []cli.Flag{
			str(catHealth, "cmd", "STRING", "", "run STRING with sh -c (bash when installed); healthy on exit 0"),
			str(catHealth, "http", "URL", "", "GET URL; healthy on 200-399 (redirects followed, certificates not verified)"),
			str(catHealth, "tcp", "HOST:PORT", "", "connect to HOST:PORT"),
			dur(catHealth, "delay", "15s", "wait D before the first check"),
			dur(catHealth, "interval", "10s", "wait D from the end of one check to the start of the next"),
			dur(catHealth, "timeout", "20s", "limit D for one check (0: none)"),
			dur(catHealth, "grace-period", "10s", "failures are ignored until the first success or until D after start (delay included)"),
			integer(catHealth, "max-consecutive-failures", 3, "N failures in a row stop the command (0: never)"),

			str(catReadiness, "readiness-cmd", "STRING", "", "run STRING with sh -c (bash when installed); ready on exit 0"),
			str(catReadiness, "readiness-http", "URL", "", "GET URL; ready on 200-399 (redirects followed, certificates not verified)"),
			str(catReadiness, "readiness-tcp", "HOST:PORT", "", "connect to HOST:PORT"),
			dur(catReadiness, "readiness-delay", "0s", "wait D before the first readiness check"),
			dur(catReadiness, "readiness-interval", "10s", "wait D from the end of one readiness check to the next"),
			dur(catReadiness, "readiness-timeout", "10s", "limit D for one readiness check (0: none)"),
			boolean(catReadiness, "readiness-latch", true, "ready for good after the first success (SDK); =false keeps checking (Kubernetes)"),
			integer(catReadiness, "readiness-failures", 3, "with --readiness-latch=false: N failures in a row drop readiness"),

			dur(catSupervise, "kill-grace-period", "3s", "wait D between the stop signal (SIGTERM, or --rewrite's TERM) and SIGKILL when stopping an unhealthy command; once the command exits, the rest of its group gets D to finish: from the stop's signal during a stop (also a forwarded shutdown signal), else from the stop signal healthd sends it, which waits D after another forwarded signal (HUP, USR1, ...)"),
			&cli.StringSliceFlag{Category: catSupervise, Name: "rewrite", EnvVars: env("rewrite"),
				Usage: "on signal S, send the group R instead (`S:R`, names or numbers; S any forwarded signal, R 0 drops S); repeatable, or comma-separated; TERM:QUIT stops nginx gracefully; TERM's R is also what healthd's own stops send"},
			&cli.StringSliceFlag{Category: catSupervise, Name: "shutdown-signals", EnvVars: env("shutdown-signals"),
				Usage: "the forwarded `SIGNALS` (names or numbers, comma-separated) that, received or sent as, mean the command is shutting down: checks stop; a sidecar exits 0 on them (default: TERM,INT,QUIT; TERM,INT makes QUIT a JVM's thread dump)"},
			boolean(catSupervise, "exit-on-failure", false, "sidecar: exit 124 when the health check reaches its threshold"),

			str(catReport, "listen", "ADDR", "", "serve /health /ready /status /metrics on ADDR (e.g. :9100)"),
			str(catReport, "status-file", "PATH", "", "keep the /status JSON in PATH, replaced atomically on every change"),

			str(catLog, "log-format", "FORMAT", "text", "FORMAT of the logs on stderr: text or json"),
			boolean(catLog, "verbose", false, "also log every check, not only state changes"),
		},
		// check runs in a shell of its own (Run), with a check runner's
		// exit codes; listed here for --help and for the help word
		// ("healthd help" is "healthd --help", "healthd help check" Run's),
		// it is reached only after a flag of healthd's own.
		Commands: []*cli.Command{{
			Name:            "check",
			Usage:           "run one check now: exit 0 healthy, 1 unhealthy, 2 could not run (healthd check --help)",
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				return cliapp.UsageError(c.Lineage()[1], "check comes first, with its own flags: healthd check [flags]")
			},
		}},
		Action: func(c *cli.Context) error {
			if dashes && len(command) == 0 {
				return cliapp.UsageError(c, "no command after --")
			}
			if w := c.Args().First(); w != "" {
				if near, ok := spelling.Nearest(w, []string{"check"}); ok {
					return cliapp.UsageError(c, "unknown command %q: did you mean %s? (a command to supervise goes after --)", w, near)
				}
			}
			if err := cliapp.MaxArgs(c, 0, "put the command to supervise after --"); err != nil {
				return err
			}
			log, err := sh.Logger(c)
			if err != nil {
				return err
			}
			cfg, err := configFrom(sh, c, command)
			if err != nil {
				return cliapp.BadValue(err)
			}
			cfg.Log = log
			code, err := Serve(c.Context, cfg)
			if errors.Is(err, ErrNothingToDo) { // healthd alone: no flags at all
				return cliapp.UsageError(c, "%v", err)
			}
			if err != nil {
				return exitcode.Wrap(code, err)
			}
			return cliapp.Exit(code)
		},
	}
}

// checkFrom builds the check given by one of the three flags; nil when none
// is set. names are the flags' names, for errors.
func checkFrom(sh *cliapp.Shell, cmd, http, tcp string, names [3]string) (probe.Prober, string, error) {
	var set []string
	for i, v := range []string{cmd, http, tcp} {
		if v != "" {
			set = append(set, sh.Source(names[i]))
		}
	}
	switch {
	case len(set) == 0:
		return nil, "", nil
	case len(set) > 1:
		return nil, "", fmt.Errorf("%s: give only one of them", strings.Join(set, ", "))
	case cmd != "":
		return &probe.Command{Line: cmd}, "cmd: " + cmd, nil // masked where shown
	case http != "":
		h, err := probe.NewHTTP(http, probe.CheckPolicy)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", sh.Source(names[1]), err)
		}
		return h, "http: " + h.String(), nil
	default:
		t, err := probe.NewTCP(tcp)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", sh.Source(names[2]), err)
		}
		return t, "tcp: " + t.Addr, nil
	}
}

// configFrom turns the root command's flags into a Config; every problem is
// reported at once, each naming its flag or variable.
func configFrom(sh *cliapp.Shell, c *cli.Context, command []string) (Config, error) {
	cfg := Config{
		Command:       command,
		ExitOnFailure: c.Bool("exit-on-failure"),
		Listen:        c.String("listen"),
		StatusFile:    c.String("status-file"),
		Redactor:      redact.Default().LearnEnv(sh.Environ),
	}
	var errs []string
	duration := func(name string, dst *time.Duration) {
		d, err := health.ParseDuration(c.String(name))
		if err != nil {
			errs = append(errs, sh.Source(name)+": "+err.Error())
			return
		}
		*dst = d
	}
	hcfg, rcfg := health.MesosDefaults(), health.ReadinessDefaults()
	duration("delay", &hcfg.Delay)
	duration("interval", &hcfg.Interval)
	duration("timeout", &hcfg.Timeout)
	duration("grace-period", &hcfg.GracePeriod)
	duration("readiness-delay", &rcfg.Delay)
	duration("readiness-interval", &rcfg.Interval)
	duration("readiness-timeout", &rcfg.Timeout)
	duration("kill-grace-period", &cfg.KillGrace)
	if rw, err := ParseRewrites(c.StringSlice("rewrite")); err != nil {
		errs = append(errs, sh.Source("rewrite")+": "+err.Error())
	} else if len(rw) > 0 {
		if len(command) == 0 {
			errs = append(errs, sh.Source("rewrite")+" rewrites the signals forwarded to a command; give one after --")
		}
		cfg.Rewrite = rw
	}
	if sigs, err := ParseShutdownSignals(c.StringSlice("shutdown-signals")); err != nil {
		errs = append(errs, sh.Source("shutdown-signals")+": "+err.Error())
	} else {
		cfg.ShutdownSignals = sigs
	}
	if len(errs) == 0 {
		if hcfg.Interval <= 0 {
			errs = append(errs, sh.Source("interval")+": must be positive")
		}
		if rcfg.Interval <= 0 {
			errs = append(errs, sh.Source("readiness-interval")+": must be positive")
		}
	}
	if cfg.Listen != "" {
		// Checked here, a usage error naming what to write; a port that is
		// taken is found when healthd listens.
		if _, port, err := net.SplitHostPort(cfg.Listen); err != nil || port == "" {
			errs = append(errs, fmt.Sprintf("%s: %q: want [HOST]:PORT, e.g. :9100 or 127.0.0.1:9100", sh.Source("listen"), cfg.Listen))
		}
	}
	if hcfg.FailureThreshold = c.Int("max-consecutive-failures"); hcfg.FailureThreshold < 0 {
		errs = append(errs, sh.Source("max-consecutive-failures")+": must not be negative")
	}
	rcfg.Latch = c.Bool("readiness-latch")
	if rcfg.FailureThreshold = c.Int("readiness-failures"); rcfg.FailureThreshold < 1 {
		errs = append(errs, sh.Source("readiness-failures")+": must be at least 1")
	}
	if rcfg.Latch {
		rcfg.FailureThreshold = 0 // latched readiness never drops
	}
	hp, hdesc, err := checkFrom(sh, c.String("cmd"), c.String("http"), c.String("tcp"), [3]string{"cmd", "http", "tcp"})
	if err != nil {
		errs = append(errs, err.Error())
	}
	rp, rdesc, err := checkFrom(sh, c.String("readiness-cmd"), c.String("readiness-http"), c.String("readiness-tcp"),
		[3]string{"readiness-cmd", "readiness-http", "readiness-tcp"})
	if err != nil {
		errs = append(errs, err.Error())
	}
	if hp != nil {
		cfg.Health = &Check{Prober: hp, Desc: hdesc, Config: hcfg}
	}
	if rp != nil {
		cfg.Readiness = &Check{Prober: rp, Desc: rdesc, Config: rcfg}
	}
	if cfg.ExitOnFailure && len(command) > 0 {
		errs = append(errs, sh.Source("exit-on-failure")+" is for sidecar mode; with a command, healthd always stops it at the threshold")
	}
	if cfg.ExitOnFailure && hp == nil {
		errs = append(errs, sh.Source("exit-on-failure")+" needs a health check (--cmd, --http or --tcp)")
	}
	if len(errs) > 0 {
		return cfg, errors.New(strings.Join(errs, "; "))
	}
	return cfg, nil
}

func checkApp(sh *cliapp.Shell) *cli.App {
	env := func(name string) []string {
		return []string{"HEALTHD_CHECK_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	}
	return &cli.App{
		Name:        "healthd check",
		Usage:       "run one check now",
		UsageText:   "healthd check (--cmd STRING | --http URL | --tcp HOST:PORT) [--timeout D] [--json]",
		Description: checkDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cmd", Usage: "run `STRING` with sh -c (bash when installed); healthy on exit 0", EnvVars: env("cmd")},
			&cli.StringFlag{Name: "http", Usage: "GET `URL`; healthy on 200-399 (redirects followed, certificates not verified)", EnvVars: env("http")},
			&cli.StringFlag{Name: "tcp", Usage: "connect to `HOST:PORT`", EnvVars: env("tcp")},
			&cli.StringFlag{Name: "timeout", Value: "20s", Usage: "limit `D` for the check (0: none)", EnvVars: env("timeout")},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout", EnvVars: env("json")},
		},
		Action: func(c *cli.Context) error {
			if err := cliapp.MaxArgs(c, 0, "healthd check runs no command; give the check with --cmd, --http or --tcp"); err != nil {
				return err
			}
			p, _, err := checkFrom(sh, c.String("cmd"), c.String("http"), c.String("tcp"), [3]string{"cmd", "http", "tcp"})
			if err != nil {
				return cliapp.BadValue(err)
			}
			if p == nil {
				return cliapp.UsageError(c, "no check: give --cmd, --http or --tcp")
			}
			timeout, err := health.ParseDuration(c.String("timeout"))
			if err != nil {
				return cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("timeout"), err))
			}
			return cliapp.Exit(checkOnce(c.Context, sh, p, timeout, c.Bool("json")))
		},
	}
}

// checkOnce runs p once and reports it: its output on stdout and the
// verdict on stderr, or the result as JSON on stdout. SIGTERM, SIGINT or
// SIGHUP (a check runner giving up) stop the check and kill its process
// group rather than orphan it.
func checkOnce(ctx context.Context, sh *cliapp.Shell, p probe.Prober, timeout time.Duration, asJSON bool) int {
	ctx, stop := cliapp.SignalContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	pctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	res := p.Probe(pctx)
	elapsed := time.Since(start)
	interrupted := false
	if res.Status == probe.Unhealthy && pctx.Err() != nil {
		if sig := cliapp.Interrupted(ctx); sig != nil {
			res.Reason, interrupted = sig.Error(), true
		} else if errors.Is(context.Cause(pctx), context.DeadlineExceeded) {
			res.Reason = "timed out after " + health.FormatDuration(timeout)
		}
	}
	res = res.Masked(sh.Secrets().String) // masked before the output is cut
	if asJSON {
		out := checkJSON{Status: res.Status.String(), Reason: res.Reason, Output: res.Output, Truncated: res.Truncated,
			DurationSeconds: elapsed.Seconds()}
		if _, ok := p.(*probe.Command); ok && res.ExitCode >= 0 {
			out.ExitCode = &res.ExitCode
		}
		if res.StatusCode != 0 {
			out.HTTPStatus = &res.StatusCode
		}
		enc := json.NewEncoder(sh.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		_, _ = io.WriteString(sh.Stdout, res.Output)
		fmt.Fprintf(sh.Stderr, "healthd check: %s: %s\n", res.Status, res.Reason)
	}
	switch {
	case res.Status == probe.Healthy:
		return CheckHealthy
	case res.Status == probe.Unhealthy && !interrupted:
		return CheckUnhealthy
	}
	return CheckCouldNot
}

// checkJSON is what `healthd check --json` prints. ExitCode is a command
// check's exit code (absent for HTTP and TCP checks, and for a command that
// was killed before it ended); HTTPStatus an HTTP check's final status code.
type checkJSON struct {
	Status          string  `json:"status"`
	Reason          string  `json:"reason"`
	Output          string  `json:"output"`
	Truncated       bool    `json:"truncated"`
	ExitCode        *int    `json:"exit_code,omitempty"`
	HTTPStatus      *int    `json:"http_status,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
}
