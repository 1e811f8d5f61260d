package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/universe"
)

// validateCommand is "scheduler-lite validate": it renders, decodes and
// validates a svc.yml as the scheduler does at start, without a cluster, and
// prints every problem. Exit codes: 0 valid (warnings printed), 2 invalid
// or a usage error.
func validateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	code := 0
	app := &cli.App{
		Name:            "scheduler-lite validate",
		Usage:           "check a svc.yml as scheduler-lite reads it at start, without a cluster",
		UsageText:       "scheduler-lite validate [--package-dir DIR] [--strict] SVC.yml\n   scheduler-lite validate --package-dir DIR --print-env",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "package-dir", Usage: "render with the environment this Universe package's defaults give the scheduler (marathon.json's env); the process environment overrides it", EnvVars: []string{"SCHEDULER_LITE_PACKAGE_DIR"}},
			&cli.BoolFlag{Name: "print-env", Usage: "with --package-dir: print that environment (KEY=VALUE, each ended by a NUL byte) instead of validating", EnvVars: []string{"SCHEDULER_LITE_PRINT_ENV"}},
			&cli.BoolFlag{Name: "strict", Usage: "fail when svc.yml prints a variable the environment lacks", EnvVars: []string{"SCHEDULER_LITE_STRICT"}},
		},
		Action: func(c *cli.Context) error {
			code = 2
			var env []string
			if dir := c.String("package-dir"); dir != "" {
				var err error
				if env, err = universe.SchedulerEnv(dir); err != nil {
					return fmt.Errorf("--package-dir %s: %w", dir, err)
				}
			}
			if c.Bool("print-env") {
				if c.String("package-dir") == "" {
					return errors.New("--print-env needs --package-dir")
				}
				code = 0
				for _, kv := range env {
					if _, err := fmt.Fprint(stdout, kv, "\x00"); err != nil {
						return err
					}
				}
				return nil
			}
			if c.NArg() != 1 {
				return errors.New("want exactly one argument: the svc.yml")
			}
			env = append(env, os.Environ()...)
			l, err := spec.Load(c.Args().First(), spec.Options{Env: env, Strict: c.Bool("strict")})
			if err != nil {
				return err
			}
			for _, m := range l.Missing {
				fmt.Fprintf(stderr, "%s: warning: variable %s is not set; rendered empty\n", c.Args().First(), m)
			}
			for _, w := range l.Warnings {
				fmt.Fprintf(stderr, "%s: %v\n", c.Args().First(), w)
			}
			code = 0
			_, err = fmt.Fprintf(stdout, "%s: valid (configuration %s)\n", c.Args().First(), l.ConfigID)
			return err
		},
	}
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintln(stderr, "scheduler-lite validate:", err)
		if code == 0 {
			code = 2
		}
	}
	return code
}
