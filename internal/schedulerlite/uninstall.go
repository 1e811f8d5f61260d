package schedulerlite

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/sdk/framework"
	"github.com/taskkit/taskkit/internal/sdk/uninstall"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
)

// UninstallFlags are the flags of "scheduler-lite uninstall": the
// registration flags of the scheduler (same names, variables and defaults:
// Mesos refuses a re-subscription that changes the user or checkpointing),
// --master and --state (same variables, but required: no local cluster, no
// sandbox default), plus --kill-timeout and --release-timeout.
func UninstallFlags() []cli.Flag {
	keep := map[string]bool{"framework-name": true, "role": true, "user": true, "principal": true,
		"secret-file": true, "failover-timeout": true, "checkpoint": true, "zk-session-timeout": true,
		"log-format": true, "verbose": true}
	out := []cli.Flag{
		// Not local: an embedded testenv, its tasks and its state are
		// gone with the scheduler that ran them; nothing is left to
		// uninstall.
		&cli.StringFlag{Name: "master", Usage: "the leading master's `URL` http(s)://host:port (required; not local: a local cluster, its tasks and its state end with the scheduler that started it)", EnvVars: envs("MESOS_MASTER")},
	}
	for _, f := range Flags() {
		if keep[f.Names()[0]] {
			out = append(out, f)
		}
	}
	return append(out,
		&cli.StringFlag{Name: "state", Usage: "the service's state store `URL`, file:PATH or zk://host:port[,host:port]/path, as the scheduler used it (required)", EnvVars: envs("SCHEDULER_LITE_STATE")},
		&cli.DurationFlag{Name: "kill-timeout", Value: 30 * time.Second, Usage: "how long, `D`, to wait for the killed tasks before tearing the framework down anyway", EnvVars: envs("SCHEDULER_LITE_KILL_TIMEOUT")},
		&cli.DurationFlag{Name: "release-timeout", Value: 2 * time.Minute, Usage: "how long, `D`, to wait for offers of the service's reservations and volumes (to UNRESERVE and DESTROY them) before tearing the framework down anyway; what an agent that is gone holds stays reserved", EnvVars: envs("SCHEDULER_LITE_RELEASE_TIMEOUT")})
}

// uninstallCommand is "scheduler-lite uninstall [flags] [SVC.yml]": with
// the scheduler stopped, it kills every task of the service, tears its
// framework down and deletes its state (the bbolt file or the ZooKeeper
// tree). The service name comes from --framework-name, else from SVC.yml.
// Exit codes: 0 done (or nothing to do), 1 runtime failure, 2 usage error.
func uninstallCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:      "uninstall",
		Usage:     "kill every task of the service, tear its framework down, delete its state",
		UsageText: "scheduler-lite uninstall --master URL --state SPEC [--framework-name NAME | SVC.yml] [flags]",
		Flags:     UninstallFlags(),
		Action:    func(c *cli.Context) error { return uninstallAction(sh, c) },
	}
}

func uninstallAction(sh *cliapp.Shell, c *cli.Context) error {
	log, err := sh.Logger(c)
	if err != nil {
		return err
	}
	stdout := sh.Stdout
	if err := cliapp.MaxArgs(c, 1, "want at most one svc.yml"); err != nil {
		return err
	}
	master := c.String("master")
	switch {
	case master == "":
		return cliapp.UsageError(c, "--master is required: the leading master's URL http(s)://host:port")
	case master == "local":
		return cliapp.BadValue(fmt.Errorf("%s: local: want the leading master's URL http(s)://host:port (a local cluster, its tasks and its state end with the scheduler that started it)", sh.Source("master")))
	}
	if err := checkHTTPURL(master); err != nil {
		return cliapp.BadValue(fmt.Errorf("%s: %q: want the leading master's URL http(s)://host:port: %w", sh.Source("master"), master, err))
	}
	if c.String("state") == "" {
		return cliapp.UsageError(c, "--state is required: the service's state store (file:PATH or zk://...)")
	}
	ctx, stop := cliapp.SignalContext(c.Context, cliapp.StopSignals...)
	defer stop()
	name, res, err := uninstallService(ctx, c, log, sh.Environ, master, c.String("state"), c.Duration("kill-timeout"), c.Duration("release-timeout"), nil)
	if err != nil {
		return err
	}
	if res.FrameworkID == "" {
		fmt.Fprintf(stdout, "uninstalled %s: no framework was registered; state deleted\n", name)
	} else {
		fmt.Fprintf(stdout, "uninstalled %s: framework %s torn down, %d tasks killed (%d ended before the teardown), %d reserved resources released", name, res.FrameworkID, res.Killed, res.Ended, res.Released)
		if res.Left > 0 {
			fmt.Fprintf(stdout, " (%d left reserved: never offered within --release-timeout)", res.Left)
		}
		fmt.Fprintln(stdout, ", state deleted")
	}
	return nil
}

// uninstallService is the uninstall itself, shared by "scheduler-lite
// uninstall" and the SDK_UNINSTALL mode: it resolves the service's name,
// principal and user (flags, else the svc.yml argument) and runs the
// uninstall plan (internal/sdk/uninstall): kill every task, tear the
// framework down, delete the state store. env is the environment the shell
// was given: svc.yml renders with it, as the scheduler's does. started, when set, is given the
// uninstaller before it runs (the SDK mode serves its plan). Errors carry
// their exit codes (usage or runtime).
func uninstallService(ctx context.Context, c *cli.Context, log *slog.Logger, env []string, master, state string, killTimeout, releaseTimeout time.Duration, started func(*uninstall.Uninstaller)) (string, uninstall.Result, error) {
	var none uninstall.Result
	name, principal, user := c.String("framework-name"), c.String("principal"), c.String("user")
	if c.NArg() == 1 {
		loaded, err := spec.Load(c.Args().First(), spec.Options{Env: env})
		if err != nil {
			return "", none, usage(err)
		}
		if name == "" {
			name = loaded.Spec.Name
		}
		if sc := loaded.Spec.Scheduler; sc != nil {
			if principal == "" {
				principal = sc.Principal
			}
			if user == "" {
				user = sc.User
			}
		}
	}
	if name == "" {
		return "", none, cliapp.UsageError(c, "the service's name is needed: give --framework-name NAME (FRAMEWORK_NAME) or the svc.yml")
	}
	secret, err := readSecret(c, "secret-file", "--secret-file")
	if err != nil {
		return "", none, err
	}
	role := c.String("role")
	if role == "" {
		role = framework.RoleFor(name)
	}
	st, err := store.Open(state, store.Options{Service: name, SessionTimeout: c.Duration("zk-session-timeout"), Logger: log})
	if err != nil {
		return "", none, usage(fmt.Errorf("--state: %w", err))
	}
	defer st.Close()
	if l, ok := st.(store.Leader); ok {
		// A running instance holds the lead: refuse rather than fight it.
		lctx, cancel := context.WithTimeout(ctx, 2*c.Duration("zk-session-timeout")+time.Second)
		_, err := l.Lead(lctx)
		cancel()
		if err != nil {
			return "", none, exitcode.Wrap(ExitRuntime, fmt.Errorf("--state: a scheduler instance still runs (stop it first): %w", err))
		}
	}
	u, err := uninstall.New(uninstall.Config{
		Store: st, MasterURL: master, Secret: secret, KillTimeout: killTimeout, ReleaseTimeout: releaseTimeout, Logger: log,
		Registration: framework.Registration{
			Name: name, Role: role, User: user, Principal: principal,
			Checkpoint: c.Bool("checkpoint"), FailoverTimeout: c.Duration("failover-timeout"),
		},
	})
	if err != nil {
		return "", none, exitcode.Wrap(ExitRuntime, err)
	}
	if started != nil {
		started(u)
	}
	res, err := u.Run(ctx)
	if err != nil {
		return "", none, exitcode.Wrap(ExitRuntime, err)
	}
	return name, res, nil
}
