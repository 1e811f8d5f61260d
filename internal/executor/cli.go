package executor

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/buildinfo"
	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
)

// Exit codes of the executor binary.
const (
	ExitOK      = 0 // done: SHUTDOWN, or no task left
	ExitRuntime = 1 // the agent was lost, or another runtime error
	ExitUsage   = 2 // bad flags or executor environment
)

// Run is the executor command: it reads its flags from args (args[0] is
// the program name) and environ, the Mesos executor environment from the
// process (see FromEnv), runs until the agent shuts it down or SIGTERM or
// SIGINT arrives, and returns the exit code. It reads nothing from stdin.
func Run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sh := cliapp.New("executor", args, environ, stdin, stdout, stderr)
	sh.UsageCode, sh.FailureCode = ExitUsage, ExitRuntime
	return sh.Run(ctx, &cli.App{
		Name:      "executor",
		Usage:     "taskkit's Mesos v1 HTTP executor (DEFAULT executor semantics); started by a Mesos agent",
		UsageText: "executor [--log-format text|json] [--verbose] [--registration-timeout DURATION]",
		Description: "Reads the Mesos executor environment (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_SANDBOX,\n" +
			"MESOS_AGENT_ENDPOINT, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD, MESOS_CHECKPOINT, ...). See docs/executor.md.\n\n" +
			"Exit codes: 0 done (SHUTDOWN, or no task left); 1 the agent was lost or another runtime error;\n" +
			"2 usage or environment error.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log `FORMAT` on stderr: text or json", EnvVars: []string{"EXECUTOR_LOG_FORMAT"}},
			&cli.BoolFlag{Name: "verbose", Usage: "debug logs", EnvVars: []string{"EXECUTOR_VERBOSE"}},
			&cli.DurationFlag{Name: "registration-timeout", Value: DefaultRegistrationTimeout,
				Usage:   "how long, `D`, the first subscription may take, the wait for the agent's answer to a SUBSCRIBE included; match the agent's --executor_registration_timeout (a Mesos agent passes no variable for it: set EXECUTOR_REGISTRATION_TIMEOUT with the agent's --executor_environment_variables; testenv sets it)",
				EnvVars: []string{"EXECUTOR_REGISTRATION_TIMEOUT"}},
		},
		Action: func(c *cli.Context) error {
			if err := cliapp.NoArgs(c); err != nil {
				return err
			}
			log, err := sh.Logger(c)
			if err != nil {
				return err
			}
			regTimeout := c.Duration("registration-timeout")
			if regTimeout <= 0 {
				return cliapp.BadValue(fmt.Errorf("%s: must be positive, got %v", sh.Source("registration-timeout"), regTimeout))
			}
			cfg, err := FromEnv()
			if err != nil {
				return exitcode.Wrap(ExitUsage, err)
			}
			cfg.RegistrationTimeout = regTimeout
			log.Info("starting", "version", buildinfo.String("executor"), "framework", cfg.FrameworkID,
				"executor", cfg.ExecutorID, "agent", cfg.AgentEndpoint, "checkpoint", cfg.Checkpoint)
			ctx, stop := cliapp.SignalContext(c.Context, cliapp.StopSignals...)
			defer stop()
			// Task secrets are learned into the logger's redactor as tasks
			// launch, so every later record masks them.
			if err := New(Input{Config: cfg, Log: log, Secrets: sh.Secrets()}).Run(ctx); err != nil {
				return exitcode.Wrap(ExitRuntime, err)
			}
			return nil
		},
	})
}
