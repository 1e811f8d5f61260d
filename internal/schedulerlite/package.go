package schedulerlite

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/universe"
)

// packageCommand is "scheduler-lite package render": it renders the
// Universe package's marathon.json from config.json's defaults, the
// options file and resource.json, validates it, and prints it. Exit codes:
// 0 rendered and valid, 1 the package or the options are invalid (every
// problem listed, each naming its file and field), 2 usage error: besides
// the arguments, --options naming no readable file, --package-dir naming
// no directory holding package.json, --artifact-dir not an absolute URL
// (each error names the flag or the variable that gave it).
func packageCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:  "package",
		Usage: "check and render the service's DC/OS Universe package",
		Subcommands: []*cli.Command{{
			Name:      "render",
			Usage:     "render marathon.json from config.json defaults + --options + resource.json, and validate it",
			UsageText: "scheduler-lite package render [--package-dir universe] [--options options.json] [--artifact-dir URL]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "package-dir", Value: "universe", Usage: "`DIR` with package.json, config.json, resource.json, marathon.json.mustache", EnvVars: []string{"SCHEDULER_LITE_PACKAGE_DIR"}},
				&cli.StringFlag{Name: "options", Usage: "a JSON `FILE` of options (as for dcos package install --options)", EnvVars: []string{"SCHEDULER_LITE_PACKAGE_OPTIONS"}},
				&cli.StringFlag{Name: "artifact-dir", Usage: "base `URL` of the binaries' zips, for {{artifact-dir}} in resource.json (default: the GitHub release of the package version)", EnvVars: []string{"SCHEDULER_LITE_ARTIFACT_DIR"}},
			},
			Action: func(c *cli.Context) error {
				if err := cliapp.NoArgs(c); err != nil {
					return err
				}
				if err := checkPackageFlags(c, sh.Source); err != nil {
					return exitcode.Wrap(ExitUsage, err)
				}
				var opts map[string]any
				if f := c.String("options"); f != "" {
					var err error
					if opts, err = universe.ReadOptions(f); err != nil {
						return exitcode.Wrap(ExitRuntime, fmt.Errorf("%s: %w", sh.Source("options"), err))
					}
				}
				pkg, err := universe.Load(c.String("package-dir"), universe.LoadOptions{ArtifactDir: c.String("artifact-dir")})
				if err != nil {
					return exitcode.Wrap(ExitRuntime, fmt.Errorf("%s %s: %w", sh.Source("package-dir"), c.String("package-dir"), err))
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

// checkPackageFlags checks what "package render" is given before it reads
// anything: an --options file that can be read, a --package-dir holding
// package.json (a Universe package), an --artifact-dir that is an absolute
// URL ({{package-version}} may stay in it). Errors name the flag or the
// variable used (source).
func checkPackageFlags(c *cli.Context, source func(string) string) error {
	if f := c.String("options"); f != "" {
		if err := readable(f); err != nil {
			return fmt.Errorf("%s: %w", source("options"), err)
		}
	}
	dir := c.String("package-dir")
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%s: %w", source("package-dir"), err)
	} else if !st.IsDir() {
		return fmt.Errorf("%s %s: not a directory", source("package-dir"), dir)
	}
	if err := readable(filepath.Join(dir, universe.PackageFile)); err != nil {
		return fmt.Errorf("%s %s: not a Universe package (want %s, %s, %s, %s): %w", source("package-dir"), dir,
			universe.PackageFile, universe.ConfigFile, universe.ResourceFile, universe.MarathonFile, err)
	}
	if a := c.String("artifact-dir"); a != "" {
		u, err := url.Parse(strings.ReplaceAll(a, "{{package-version}}", "0"))
		if err != nil || !u.IsAbs() || u.Host == "" && u.Scheme != "file" {
			return fmt.Errorf("%s %q: want an absolute URL, e.g. http://10.0.0.5:8000/dist", source("artifact-dir"), a)
		}
	}
	return nil
}
