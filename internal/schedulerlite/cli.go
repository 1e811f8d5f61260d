package schedulerlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/servicecli"
	"github.com/taskkit/taskkit/internal/spelling"
	"github.com/taskkit/taskkit/internal/testenv"
)

// Exit codes of scheduler-lite.
const (
	ExitOK      = 0 // stopped by a signal, or --exit-after-deploy and the deploy completed
	ExitRuntime = 1 // a runtime failure (the master removed the framework, the deploy failed or timed out)
	ExitUsage   = 2 // bad flags, or an invalid svc.yml
)

func envs(names ...string) []string { return names }

// Flags are scheduler-lite's flags, each with its environment variable.
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "master", Value: "local", Usage: "leading master's `URL` http(s)://host:port, or local for an embedded testenv (against a testenv up with its env file loaded, tasks resolve through its TESTENV_DNS_ADDR unless TASKCFG_ALL_BOOTSTRAP_RESOLVERS is set)", EnvVars: envs("MESOS_MASTER")},
		&cli.IntFlag{Name: "local-agents", Value: 3, Usage: "`N` agents in the local cluster (1..250)", EnvVars: envs("SCHEDULER_LITE_LOCAL_AGENTS")},
		&cli.StringFlag{Name: "local-ports", Value: testenv.DefaultPorts, Usage: "port `RANGES` each agent of the local cluster offers (a-b,c-d)", EnvVars: envs("SCHEDULER_LITE_LOCAL_PORTS")},
		&cli.Float64SliceFlag{Name: "local-disk-mount", Usage: "a MOUNT disk of `MB` megabytes on each agent of the local cluster, offered whole (repeatable; for svc.yml volumes of type MOUNT)", EnvVars: envs("SCHEDULER_LITE_LOCAL_DISK_MOUNTS")},
		&cli.StringFlag{Name: "local-reserved", Usage: "statically reserved `RESOURCES` on each agent of the local cluster, as Mesos' --resources: 'cpus(ROLE):2;mem(ROLE):1024' (for pre-reserved-role)", EnvVars: envs("SCHEDULER_LITE_LOCAL_RESERVED")},
		&cli.StringSliceFlag{Name: "local-attribute", Usage: "text attribute `NAME=VALUE` of each agent of the local cluster (repeatable; for placement rules)", EnvVars: envs("SCHEDULER_LITE_LOCAL_ATTRIBUTES")},
		&cli.StringFlag{Name: "framework-name", Usage: "framework `NAME` (default: the spec's name)", EnvVars: envs("FRAMEWORK_NAME")},
		&cli.StringFlag{Name: "role", Usage: "framework `ROLE` (default: <name>-role)", EnvVars: envs("FRAMEWORK_ROLE")},
		&cli.StringFlag{Name: "user", Usage: "framework `USER` (default: the spec's scheduler.user, else $USER)", EnvVars: envs("FRAMEWORK_USER")},
		&cli.StringFlag{Name: "principal", Usage: "Mesos `PRINCIPAL` (default: the spec's scheduler.principal)", EnvVars: envs("FRAMEWORK_PRINCIPAL")},
		&cli.StringFlag{Name: "secret-file", Usage: "`FILE` holding the principal's secret", EnvVars: envs("SCHEDULER_LITE_SECRET_FILE")},
		&cli.DurationFlag{Name: "failover-timeout", Value: 14 * 24 * time.Hour, Usage: "framework failover timeout `D`", EnvVars: envs("SCHEDULER_LITE_FAILOVER_TIMEOUT")},
		&cli.StringFlag{Name: "webui-url", Usage: "webui_url `URL` registered with Mesos (default: the API URL)", EnvVars: envs("SCHEDULER_LITE_WEBUI_URL")},
		&cli.BoolFlag{Name: "checkpoint", Value: true, Usage: "framework checkpointing", EnvVars: envs("SCHEDULER_LITE_CHECKPOINT")},
		&cli.StringFlag{Name: "api-listen", Usage: "API `ADDR` (default :$PORT_API, else :$PORT0, else 127.0.0.1:0)", EnvVars: envs("SCHEDULER_LITE_API_LISTEN")},
		&cli.StringFlag{Name: "api-hostname", Usage: "`HOST` name tasks and agents reach the API by (default: the listen address, or this host's name)", EnvVars: envs("SCHEDULER_LITE_API_HOSTNAME")},
		&cli.StringFlag{Name: "state", Usage: "state store `URL`: file:PATH or zk://host:port[,host:port][/path] (default file:$MESOS_SANDBOX/state.db; against a testenv with its env file loaded, a file in its work dir; else file:scheduler-lite-state/<name>/state.db; local mode: a temporary file; zk path default /dcos-service-<name>)", EnvVars: envs("SCHEDULER_LITE_STATE")},
		&cli.DurationFlag{Name: "zk-session-timeout", Value: 5 * time.Second, Usage: "ZooKeeper session timeout `D`: how long a dead leader blocks its standby", EnvVars: envs("SCHEDULER_LITE_ZK_SESSION_TIMEOUT")},
		&cli.DurationFlag{Name: "agent-lost-timeout", Usage: "for a svc.yml without replacement-failure-policy: how long, `D`, a failed task's recovery waits for its agent before placing the pod anew, with new reservations and empty volumes (0: never, as the SDK; the policy, when set, wins)", EnvVars: envs("SCHEDULER_LITE_AGENT_LOST_TIMEOUT")},
		&cli.DurationFlag{Name: "backoff-initial", Value: time.Second, Usage: "crash-loop backoff: first delay `D`", EnvVars: envs("SCHEDULER_LITE_BACKOFF_INITIAL")},
		&cli.DurationFlag{Name: "backoff-max", Value: 30 * time.Second, Usage: "crash-loop backoff: longest delay `D`", EnvVars: envs("SCHEDULER_LITE_BACKOFF_MAX")},
		&cli.StringFlag{Name: "api-token-file", Usage: "`FILE` holding a bearer token that mutating API calls must carry", EnvVars: envs("SCHEDULER_LITE_API_TOKEN_FILE")},
		&cli.StringFlag{Name: "executor", Value: "default", Usage: "executor `KIND`: default (LAUNCH_GROUP, DEFAULT executor) or taskkit (fetched CUSTOM executor)", EnvVars: envs("SCHEDULER_LITE_EXECUTOR")},
		&cli.StringFlag{Name: "artifacts-dir", Usage: "`DIR` with bootstrap, healthd, tlsprov, executor (default: next to scheduler-lite; nothing is built: make build)", EnvVars: envs("SCHEDULER_LITE_ARTIFACTS_DIR")},
		&cli.StringFlag{Name: "secrets-dir", Usage: "`DIR` holding the files pod secrets name", EnvVars: envs("SCHEDULER_LITE_SECRETS_DIR")},
		&cli.StringFlag{Name: "ca-cert", Usage: "PEM CA certificate `FILE` for transport encryption (default: a CA kept in the state store)", EnvVars: envs("SCHEDULER_LITE_CA_CERT")},
		&cli.StringFlag{Name: "ca-key", Usage: "PEM key `FILE` of --ca-cert (both or neither)", EnvVars: envs("SCHEDULER_LITE_CA_KEY")},
		&cli.StringFlag{Name: "tls-key-type", Value: string(pki.ECDSAP256), Usage: "key `TYPE` of transport-encryption leaves: ecdsa-p256, or rsa-2048 as the SDK issues them (also rsa-3072, ed25519)", EnvVars: envs("SCHEDULER_LITE_TLS_KEY_TYPE")},
		&cli.BoolFlag{Name: "strict", Usage: "fail when svc.yml prints a variable the environment lacks", EnvVars: envs("SCHEDULER_LITE_STRICT")},
		&cli.BoolFlag{Name: "exit-after-deploy", Usage: "exit once the deploy plan is COMPLETE (exit 0) or ERROR (exit 1)", EnvVars: envs("SCHEDULER_LITE_EXIT_AFTER_DEPLOY")},
		&cli.DurationFlag{Name: "deploy-timeout", Value: 5 * time.Minute, Usage: "with --exit-after-deploy: give up after `D` (exit 1)", EnvVars: envs("SCHEDULER_LITE_DEPLOY_TIMEOUT")},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log `FORMAT` on stderr: text or json", EnvVars: envs("SCHEDULER_LITE_LOG_FORMAT")},
		&cli.BoolFlag{Name: "verbose", Usage: "debug logs", EnvVars: envs("SCHEDULER_LITE_VERBOSE")},
	}
}

// Run is the scheduler-lite command: the scheduler ("scheduler-lite [flags]
// SVC.yml"), "package render", "uninstall" and the operator commands
// (internal/servicecli), with args (args[0] is the program name) and the
// environment environ (flags' variables, svc.yml's render context); it
// returns the exit code. It reads nothing from stdin.
func Run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, environ, stdin, stdout, stderr, false)
}

// CheckArgs checks a scheduler command line as Run reads it — the flags,
// their variables and their values, the one svc.yml argument — and returns
// Run's exit code for it, with Run's usage error on stderr, without
// starting anything or reading svc.yml: 0 when Run would go on to start
// the scheduler. A wrapper that prepares something first (the hello-world
// demo builds the binaries) calls it so that a misspelt flag is told
// before that work, not after. Help and the commands are not checked (a
// command line naming one returns 0 and prints nothing).
func CheckArgs(args, environ []string, stderr io.Writer) int {
	if len(args) > 1 && slices.ContainsFunc(args[1:], func(a string) bool { return a == "-h" || a == "--help" || a == "--version" }) {
		return 0
	}
	return run(context.Background(), args, environ, strings.NewReader(""), io.Discard, stderr, true)
}

func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer, checkOnly bool) int {
	sh := cliapp.New("scheduler-lite", args, environ, stdin, stdout, stderr)
	sh.UsageCode, sh.FailureCode = ExitUsage, ExitRuntime
	app := &cli.App{
		Name:      "scheduler-lite",
		Usage:     "deploy a DC/OS SDK ServiceSpec (svc.yml) on Mesos, or on a local testenv",
		UsageText: "scheduler-lite [flags] SVC.yml\nscheduler-lite uninstall [flags] [SVC.yml]\nscheduler-lite package render [flags]\nscheduler-lite validate [flags] SVC.yml",
		Description: "With SDK_UNINSTALL=true in the environment (Cosmos sets it for `dcos package uninstall`), the\n" +
			"scheduler deploys nothing: it kills every task, tears the framework down, deletes its state and\n" +
			"answers GET /v1/plans/deploy with 200 once done.\n\n" +
			"The variables below are the scheduler's: a command (uninstall, validate, package, plan, ...)\n" +
			"reads only those of its own flags, listed by its --help.\n\n" +
			"The operator commands (plan, pod, endpoints, config, state, debug, health) take their flags before\n" +
			"or after their arguments, and before the command's name too, as kubectl and the DC/OS CLI do:\n" +
			"scheduler-lite --url URL plan list (or plan --url URL list). Flags written there are the command's (--url, --name,\n" +
			"--api-token-file, --request-timeout, --json): one of the scheduler's is a usage error of the\n" +
			"command. So are those written before validate, package render and uninstall: scheduler-lite\n" +
			"--strict validate svc.yml is validate's --strict, --local-agents there validate's unknown flag.\n" +
			"With no command after a group's name (scheduler-lite plan --url URL), the group says which commands\n" +
			"it has. --help shows the help of the command it follows whatever arguments come after it\n" +
			"(scheduler-lite validate --help svc.yml).\n\n" +
			"The scheduler runs Go's garbage collector with GOGC=300 unless GOGC is set in its environment\n" +
			"(Go's own variable: a larger heap for fewer collections during a launch round). See\n" +
			"docs/scheduler-lite.md.",
		Flags:    Flags(),
		Commands: append([]*cli.Command{packageCommand(sh), validateCommand(sh), uninstallCommand(sh)}, servicecli.Commands(sh.Environ)...),
		Action:   func(c *cli.Context) error { return action(sh, c, checkOnly) },
	}
	if checkOnly {
		app.Commands = nil // a command's name is an argument here, as far as CheckArgs goes
	}
	// "scheduler-lite --url URL plan list", "scheduler-lite --strict
	// validate svc.yml": the flags before a command are that command's,
	// never the scheduler's.
	sh.Args = servicecli.HoistFlags(args, app.Flags, app.Commands...)
	return sh.Run(ctx, app)
}

// misspeltCommand returns the command that arg, the scheduler's argument,
// most likely misspells ("plna" for plan), when no file is named arg: the
// scheduler would otherwise read it as its svc.yml and fail on a missing
// file, or on the command's own words as more arguments.
func misspeltCommand(c *cli.Context, arg string) (string, bool) {
	if _, err := os.Lstat(arg); !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	var names []string
	for _, cmd := range c.App.VisibleCommands() {
		names = append(names, cmd.Names()...)
	}
	return spelling.Nearest(arg, names)
}

func action(sh *cliapp.Shell, c *cli.Context, checkOnly bool) error {
	if c.NArg() == 0 {
		return cliapp.UsageError(c, "want one argument: the svc.yml")
	}
	if cmd, ok := misspeltCommand(c, c.Args().First()); ok {
		return cliapp.UsageError(c, "unknown command %q: did you mean %s? (no file of that name: the scheduler's one argument is a svc.yml)", c.Args().First(), cmd)
	}
	if err := cliapp.MaxArgs(c, 1, "want one svc.yml"); err != nil {
		return err
	}
	log, err := sh.Logger(c)
	if err != nil {
		return err
	}
	stdout := sh.Stdout
	secret, err := readSecret(c, "secret-file", sh.Source("secret-file"))
	if err != nil {
		return err
	}
	token, err := readSecret(c, "api-token-file", sh.Source("api-token-file"))
	if err != nil {
		return err
	}
	if initial, longest := c.Duration("backoff-initial"), c.Duration("backoff-max"); initial <= 0 {
		return cliapp.BadValue(fmt.Errorf("%s: %v, want a positive duration", sh.Source("backoff-initial"), initial))
	} else if longest < initial {
		return cliapp.BadValue(fmt.Errorf("%s: %v is shorter than %s (%v)", sh.Source("backoff-max"), longest, sh.Source("backoff-initial"), initial))
	}
	keyType, err := pki.ParseKeyType(c.String("tls-key-type"))
	if err != nil {
		return cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("tls-key-type"), err))
	}
	if err := checkFlags(c, sh.Source); err != nil {
		return err
	}
	attrs, err := testenv.ParseAttributes(c.StringSlice("local-attribute"))
	if err != nil {
		return cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("local-attribute"), err))
	}
	if checkOnly {
		return nil
	}
	ctx, stop := cliapp.SignalContext(c.Context, cliapp.StopSignals...)
	defer stop()
	if sdkUninstallRequested(sh.Getenv) {
		return sdkUninstall(ctx, c, log, sh)
	}
	// The instance stops with a cause it logs: the signal, or the deploy's end.
	ctx, end := context.WithCancelCause(ctx)
	defer end(nil)
	in, err := Start(ctx, Options{
		SpecPath: c.Args().First(), Strict: c.Bool("strict"), Env: sh.Environ,
		Master: c.String("master"), LocalAgents: c.Int("local-agents"), LocalPorts: c.String("local-ports"),
		LocalDiskMounts: c.Float64Slice("local-disk-mount"), LocalReserved: c.String("local-reserved"), LocalAttributes: attrs,
		FrameworkName: c.String("framework-name"), Role: c.String("role"), User: c.String("user"),
		Principal: c.String("principal"), Secret: secret, FailoverTimeout: c.Duration("failover-timeout"),
		WebUIURL: c.String("webui-url"), Checkpoint: c.Bool("checkpoint"), Executor: c.String("executor"),
		APIListen: c.String("api-listen"), APIHostname: c.String("api-hostname"), State: c.String("state"),
		ArtifactsDir: c.String("artifacts-dir"), SecretsDir: c.String("secrets-dir"),
		CACert: c.String("ca-cert"), CAKey: c.String("ca-key"), TLSKeyType: keyType, Logger: log,
		ZKSessionTimeout: c.Duration("zk-session-timeout"), AgentLostTimeout: c.Duration("agent-lost-timeout"),
		Backoff:  plan.Backoff{Initial: c.Duration("backoff-initial"), Max: c.Duration("backoff-max")},
		APIToken: token, Source: sh.Source,
	})
	if err != nil {
		// Start marks bad flags and svc.yml errors with ExitUsage. The
		// local cluster's errors name the flag or variable used; a value
		// it refuses is a usage error with the usage line.
		if errors.Is(err, testenv.ErrConfig) {
			return cliapp.BadValue(testenv.NameFlags(err, localFlags, sh.Source))
		}
		return exitcode.Wrap(exitcode.Code(err, ExitRuntime), testenv.NameFlags(err, localFlags, sh.Source))
	}
	// --name of the operator commands finds this instance by its framework name.
	if reg, err := servicecli.Register(in.Sched.FrameworkName(), in.APIURL, c.String("api-token-file")); err != nil {
		log.Warn("not registered for the commands' --name", "err", err)
	} else {
		defer reg.Close()
	}
	in.PrintEndpoints(stdout)
	if !c.Bool("exit-after-deploy") {
		if err := in.Wait(); err != nil {
			return exitcode.Wrap(ExitRuntime, err)
		}
		return nil
	}
	result := WaitDeploy(ctx, in, c.Duration("deploy-timeout"))
	if v, err := in.Sched.PlanView(plan.Deploy); err == nil {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(stdout, "deploy plan:\n%s\n", b)
	}
	code, word := in.Sched.Health()
	fmt.Fprintf(stdout, "health: %d %s\n", code, word)
	if result != nil {
		end(result)
	} else {
		end(errors.New("the deploy plan is COMPLETE (--exit-after-deploy)"))
	}
	in.Wait()
	if result != nil {
		return exitcode.Wrap(ExitRuntime, result)
	}
	return nil
}

// localFlags maps the local cluster's testenv.Config fields to the flags
// that set them.
var localFlags = map[string]string{"Agents": "local-agents", "Ports": "local-ports",
	"DiskMounts": "local-disk-mount", "Reserved": "local-reserved"}

// readSecret reads the file named by flag (trailing newlines dropped); ""
// when the flag is unset. source names the setting in errors (the flag or
// its variable). The content never reaches a log or an error.
func readSecret(c *cli.Context, flag, source string) (string, error) {
	f := c.String(flag)
	if f == "" {
		return "", nil
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return "", cliapp.BadValue(fmt.Errorf("%s: %w", source, err))
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", cliapp.BadValue(fmt.Errorf("%s %s: empty", source, f))
	}
	return v, nil
}

// WaitDeploy waits until the deploy plan is COMPLETE and the stored tasks
// are reconciled (nil), or until it is ERROR, the timeout passes or ctx
// ends (errors).
func WaitDeploy(ctx context.Context, in *Instance, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		switch in.Sched.PlanStatus(plan.Deploy) {
		case plan.Complete:
			// A restart restores a COMPLETE plan before it subscribes:
			// it counts once the stored tasks are reconciled.
			if ok, _ := in.Sched.Reconciled(); ok {
				return nil
			}
		case plan.Error:
			return errors.New("the deploy plan failed")
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the deploy completed")
		case <-in.Done():
			return fmt.Errorf("scheduler stopped before the deploy completed: %v", in.err)
		case <-deadline.C:
			return fmt.Errorf("the deploy did not complete within %s", timeout)
		case <-tick.C:
		}
	}
}
