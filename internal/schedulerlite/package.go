package schedulerlite

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/universe"
)

// packageCommand is "scheduler-lite package render": it renders the
// Universe package's marathon.json from config.json's defaults, the
// options file and resource.json, validates it, and prints it. Exit codes:
// 0 rendered and valid, 1 the package or the options are invalid (every
// problem listed, each naming its file and field), 2 usage error.
func packageCommand() *cli.Command {
	return &cli.Command{
		Name:  "package",
		Usage: "check and render the service's DC/OS Universe package",
		Subcommands: []*cli.Command{{
			Name:      "render",
			Usage:     "render marathon.json from config.json defaults + --options + resource.json, and validate it",
			UsageText: "scheduler-lite package render [--package-dir universe] [--options options.json] [--artifact-dir URL]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "package-dir", Value: "universe", Usage: "directory with package.json, config.json, resource.json, marathon.json.mustache", EnvVars: []string{"SCHEDULER_LITE_PACKAGE_DIR"}},
				&cli.StringFlag{Name: "options", Usage: "a JSON file of options (as for dcos package install --options)", EnvVars: []string{"SCHEDULER_LITE_PACKAGE_OPTIONS"}},
				&cli.StringFlag{Name: "artifact-dir", Usage: "base URL of the binaries' zips, for {{artifact-dir}} in resource.json (default: the GitHub release of the package version)", EnvVars: []string{"SCHEDULER_LITE_ARTIFACT_DIR"}},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 0 {
					return cliapp.UsageError(c, "unexpected arguments %v", c.Args().Slice())
				}
				var opts map[string]any
				if f := c.String("options"); f != "" {
					var err error
					if opts, err = universe.ReadOptions(f); err != nil {
						return exitcode.Wrap(ExitRuntime, fmt.Errorf("--options: %w", err))
					}
				}
				pkg, err := universe.Load(c.String("package-dir"), universe.LoadOptions{ArtifactDir: c.String("artifact-dir")})
				if err != nil {
					return exitcode.Wrap(ExitRuntime, fmt.Errorf("--package-dir %s: %w", c.String("package-dir"), err))
				}
				out, err := pkg.Render(opts)
				if err != nil {
					return exitcode.Wrap(ExitRuntime, err)
				}
				_, err = c.App.Writer.Write(out)
				return err
			},
		}},
	}
}
