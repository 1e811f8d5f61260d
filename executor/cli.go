package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/buildinfo"
	"github.com/taskkit/taskkit/internal/executor"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/logging"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// run is the whole command; main only exits with its result.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:  "executor",
		Usage: "taskkit's Mesos v1 HTTP executor (DEFAULT executor semantics); started by a Mesos agent",
		Description: "Reads the Mesos executor environment (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_SANDBOX,\n" +
			"MESOS_AGENT_ENDPOINT, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD, MESOS_CHECKPOINT, ...). See docs/executor.md.",
		Version:         strings.TrimPrefix(buildinfo.String("executor"), "executor "),
		Writer:          stdout,
		ErrWriter:       stderr,
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format on stderr: text or json", EnvVars: []string{"EXECUTOR_LOG_FORMAT"}},
			&cli.BoolFlag{Name: "verbose", Usage: "debug logs", EnvVars: []string{"EXECUTOR_VERBOSE"}},
		},
		Action: func(c *cli.Context) error { return execute(c, stderr) },
	}
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "executor:", err)
	return exitcode.Code(err, exitUsage)
}

func execute(c *cli.Context, stderr io.Writer) error {
	if c.NArg() > 0 {
		return exitcode.Wrap(exitUsage, fmt.Errorf("unexpected arguments: %s", strings.Join(c.Args().Slice(), " ")))
	}
	base, err := logging.New(stderr, c.String("log-format"), c.Bool("verbose"), "--log-format")
	if err != nil {
		return exitcode.Wrap(exitUsage, err)
	}
	cfg, err := executor.FromEnv()
	if err != nil {
		return exitcode.Wrap(exitUsage, err)
	}
	secrets := executor.NewSecrets()
	log := slogWith(secrets, base)
	log.Info("starting", "version", buildinfo.String("executor"), "framework", cfg.FrameworkID,
		"executor", cfg.ExecutorID, "agent", cfg.AgentEndpoint, "checkpoint", cfg.Checkpoint)

	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ex := executor.New(executor.Input{Config: cfg, Log: log, Secrets: secrets})
	if err := ex.Run(ctx); err != nil {
		return exitcode.Wrap(exitRuntime, err)
	}
	return nil
}
