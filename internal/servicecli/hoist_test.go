package servicecli

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestHoistFlags: the flags before a command's name (an operator
// command's connection flags and its own, another command's) move to just
// after it (after its subcommand's name when one follows), where the
// command parses them; a command line whose first word other than the
// leading flags and their values is not a command, or that asks for help
// or the version, is left to the parent (scheduler-lite) as it is. The parent's flags here are a valued --master and a true/false
// --verbose, as scheduler-lite's.
func TestHoistFlags(t *testing.T) {
	parent := []cli.Flag{&cli.StringFlag{Name: "master"}, &cli.BoolFlag{Name: "verbose"}}
	// The other commands beside the operator ones: a command, and one
	// with a subcommand, as scheduler-lite's validate and package render.
	commands := []*cli.Command{
		{Name: "validate", Flags: []cli.Flag{&cli.BoolFlag{Name: "strict"}, &cli.StringFlag{Name: "package-dir"}}},
		{Name: "package", Subcommands: []*cli.Command{{Name: "render", Flags: []cli.Flag{&cli.StringFlag{Name: "options"}}}}},
	}
	for _, tc := range []struct{ in, want string }{
		{"sl --url U plan list", "sl plan list --url U"},
		{"sl --url=U --json plan show deploy", "sl plan show --url=U --json deploy"},
		{"sl -url U --request-timeout 5s plans list", "sl plans list -url U --request-timeout 5s"},
		{"sl --name hello --api-token-file tok pod restart hello-0", "sl pod restart --name hello --api-token-file tok hello-0"},
		{"sl --url U plan --json show deploy", "sl plan --url U --json show deploy"},
		{"sl --url U health", "sl health --url U"},
		{"sl --json endpoints web", "sl endpoints --json web"},
		{"sl --url U state framework-id", "sl state framework-id --url U"},
		{"sl --url U plan show -- deploy", "sl plan show --url U -- deploy"},
		// a command's own flags too
		{"sl --wait COMPLETE --timeout 5m plan show deploy", "sl plan show --wait COMPLETE --timeout 5m deploy"},
		{"sl -p GREET=ops --url U plan start greet", "sl plan start -p GREET=ops --url U greet"},
		{"sl --task web pod pause hello-0", "sl pod pause --task web hello-0"},
		// the scheduler's flags go too: the command refuses them
		{"sl --master m plan list", "sl plan list --master m"},
		{"sl --verbose health", "sl health --verbose"},
		// the other commands' too: theirs, or their usage error
		{"sl --strict validate svc.yml", "sl validate --strict svc.yml"},
		{"sl --package-dir d --strict validate svc.yml", "sl validate --package-dir d --strict svc.yml"},
		{"sl --master m validate svc.yml", "sl validate --master m svc.yml"},
		{"sl --url U validate svc.yml", "sl validate --url U svc.yml"},
		{"sl --options o.json package render", "sl package render --options o.json"},
		{"sl --verbose package render --options o.json", "sl package render --verbose --options o.json"},
		{"sl --verbose package", "sl package --verbose"},
		// left as they are
		{"sl --master plan svc.yml", ""}, // --master's value is "plan"
		{"sl --url U svc.yml", ""},
		{"sl --url U", ""},
		{"sl plan list --url U", ""},
		{"sl plan --url U list", ""},
		{"sl --help plan", ""},
		{"sl -h plan list", ""},
		{"sl --version plan", ""},
		{"sl -- plan list", ""},
		{"sl --url plan list", ""}, // --url's value is "plan"
		{"sl", ""},
	} {
		in := strings.Fields(tc.in)
		want := tc.want
		if want == "" {
			want = tc.in
		}
		if got := HoistFlags(slices.Clone(in), parent, commands...); strings.Join(got, " ") != want {
			t.Errorf("HoistFlags(%q) = %q, want %q", tc.in, strings.Join(got, " "), want)
		}
	}
}
