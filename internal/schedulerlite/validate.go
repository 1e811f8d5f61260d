package schedulerlite

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/sdk/config"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
	"github.com/taskkit/taskkit/internal/testenv"
	"github.com/taskkit/taskkit/internal/universe"
)

// validateCommand is "scheduler-lite validate": it renders, decodes and
// validates a svc.yml as the scheduler does at start, without a cluster, and
// prints every problem. The environment it renders with is the package's
// defaults (--package-dir) overridden by the shell's environ. Exit codes: 0
// valid (warnings printed), 2 invalid or a usage error.
func validateCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a svc.yml as scheduler-lite reads it at start, without a cluster",
		UsageText: "scheduler-lite validate [--package-dir DIR] [--strict] SVC.yml\nscheduler-lite validate --package-dir DIR --print-env",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "package-dir", Usage: "render with the environment the defaults of the Universe package in `DIR` give the scheduler (marathon.json's env); the process environment overrides it", EnvVars: []string{"SCHEDULER_LITE_PACKAGE_DIR"}},
			&cli.BoolFlag{Name: "print-env", Usage: "with --package-dir: print that environment (KEY=VALUE, each ended by a NUL byte) instead of validating", EnvVars: []string{"SCHEDULER_LITE_PRINT_ENV"}},
			&cli.BoolFlag{Name: "strict", Usage: "fail when svc.yml prints a variable the environment lacks", EnvVars: []string{"SCHEDULER_LITE_STRICT"}},
		},
		Action: func(c *cli.Context) error {
			stdout, stderr := sh.Stdout, sh.Stderr
			var env []string
			if dir := c.String("package-dir"); dir != "" {
				var err error
				if env, err = universe.SchedulerEnv(dir); err != nil {
					return exitcode.Wrap(ExitUsage, fmt.Errorf("%s %s: %w", sh.Source("package-dir"), dir, err))
				}
			}
			if c.Bool("print-env") {
				if err := cliapp.MaxArgs(c, 0, "--print-env reads no svc.yml"); err != nil {
					return err
				}
				if c.String("package-dir") == "" {
					return cliapp.UsageError(c, "--print-env needs --package-dir")
				}
				for _, kv := range env {
					if _, err := fmt.Fprint(stdout, kv, "\x00"); err != nil {
						return err
					}
				}
				return nil
			}
			if c.NArg() == 0 {
				return cliapp.UsageError(c, "want one argument: the svc.yml")
			}
			if err := cliapp.MaxArgs(c, 1, "want one svc.yml"); err != nil {
				return err
			}
			// ARTIFACTS_URL as the scheduler sets it, but for its address,
			// which is no part of the configuration (specEnv).
			env, identity := specEnv(validateArtifactsURL, append(env, sh.Environ...))
			l, err := spec.Load(c.Args().First(), spec.Options{Env: env, IdentityEnv: identity, Strict: c.Bool("strict")})
			if err != nil {
				return exitcode.Wrap(ExitUsage, err)
			}
			for _, m := range l.Missing {
				fmt.Fprintf(stderr, "%s: warning: variable %s is not set; rendered empty\n", c.Args().First(), m)
			}
			for _, w := range l.Warnings {
				fmt.Fprintf(stderr, "%s: %v\n", c.Args().First(), w)
			}
			// The ID the scheduler would give it: the rendered svc.yml, its
			// templates and the TASKCFG_* variables, to which it adds
			// testenv's DNS when it runs against a testenv up whose env
			// file is loaded (testenvResolvers): then the ID it logs is
			// that one.
			id := config.NewID(l.ConfigID, config.TaskCfgOf(env))
			getenv := getenvOf(env)
			if d := testenvResolvers("http://"+getenv(testenv.EnvMasterAddr), getenv); d != "" {
				resolvers := taskenv.TaskCfgAllPrefix + taskenv.EnvBootstrapResolvers + "=" + d
				id = fmt.Sprintf("%s; %s against the testenv of this environment, whose DNS scheduler-lite hands its tasks as %s",
					id, config.NewID(l.ConfigID, config.TaskCfgOf(append([]string{resolvers}, env...))), resolvers)
			}
			_, err = fmt.Fprintf(stdout, "%s: valid (configuration %s)\n", c.Args().First(), id)
			return err
		},
	}
}

// validateArtifactsURL stands for the scheduler's ARTIFACTS_URL when
// validate renders svc.yml: no scheduler runs, and the configuration's ID
// does not depend on it.
var validateArtifactsURL = "http://scheduler-lite.invalid" + strings.TrimSuffix(taskenv.ArtifactBinPath, "/")
