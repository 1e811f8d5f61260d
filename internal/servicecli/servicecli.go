// Package servicecli is scheduler-lite's operator command line: the plan,
// pod, endpoints, config, state, debug and health commands, each a client
// of a running scheduler's HTTP API (internal/api), as the DC/OS SDK's
// `dcos <service>` CLI is (dcos-commons cli/commands/*.go, cli/queries/*.go).
// They are registered as subcommands of scheduler-lite (Commands):
//
//	scheduler-lite plan list|show|start|stop|interrupt|continue|force-restart|force-complete
//	scheduler-lite pod list|status|info|restart|replace|pause|resume
//	scheduler-lite endpoints [NAME]
//	scheduler-lite config list|show|target|target-id
//	scheduler-lite state framework-id|properties|property|refresh-cache
//	scheduler-lite debug offers|reservations
//	scheduler-lite health
//
// The scheduler is reached through --url, or --name for a scheduler-lite
// running on this machine, which registers its API address under its
// framework name (Register, in a per-user runtime directory). Calls carry
// "Authorization: Bearer <token>" read from --api-token-file, the file the
// scheduler itself reads.
//
// Environment variables (each also a flag; see every command's --help):
//
//	SCHEDULER_LITE_URL              --url: the API's base URL (http://host:port[/prefix])
//	SCHEDULER_LITE_NAME             --name: a local instance's framework name
//	SCHEDULER_LITE_API_TOKEN_FILE   --api-token-file: file holding the bearer token
//	SCHEDULER_LITE_REQUEST_TIMEOUT  --request-timeout: per call (default 30s)
//	SCHEDULER_LITE_JSON             --json: print the API's answer as it came
//	SCHEDULER_LITE_PHASE, _STEP     --phase, --step of the plan commands
//	SCHEDULER_LITE_PLAN_PARAMS      --params (-p) of plan start, KEY=VAL[,KEY=VAL] (on the
//	                                command line a value keeps its commas: -p LIST=a,b)
//	SCHEDULER_LITE_WAIT, _WAIT_TIMEOUT  --wait, --timeout of plan show
//	SCHEDULER_LITE_POD_TASKS        --task of pod pause and resume
//
// Output is text by default (plan and pod status as trees of phases and
// steps, pods and tasks, as the SDK CLI prints them) and the API's JSON
// answer with --json. Flags may come before or after the arguments, and
// before the command's name too (HoistFlags: "scheduler-lite --url URL
// plan list"; permute: "scheduler-lite plan --url URL list"); a group
// given flags but no command ("scheduler-lite plan --url URL") says which
// commands it has, as the group alone does (permute). Each command runs in the binaries' shell (internal/cliapp):
// variables read from the environ given to Commands, usage errors with the
// usage line, errors naming the flag or variable used, the token masked in
// them.
//
// Exit codes: 0 done; 1 the API answered with an error (its message is
// shown), or the service is unhealthy (health), or the plan failed (plan
// show --wait); 2 usage; 3 the scheduler cannot be reached (the message
// names its URL, never the token); 4 plan show --wait timed out.
package servicecli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
)

// Exit codes of the commands.
const (
	ExitOK          = 0
	ExitAPI         = 1 // the API answered with an error; unhealthy; the plan failed
	ExitUsage       = 2 // bad flags or arguments
	ExitUnreachable = 3 // no answer from the scheduler
	ExitTimeout     = 4 // plan show --wait: the plan did not reach the status in time
)

// Flag names and their environment variables.
const (
	flagURL            = "url"
	flagName           = "name"
	flagTokenFile      = "api-token-file"
	flagRequestTimeout = "request-timeout"
	flagJSON           = "json"

	envURL  = "SCHEDULER_LITE_URL"
	envName = "SCHEDULER_LITE_NAME"
)

// connectionFlags are every command's flags: where the scheduler is, how
// to authenticate, and the output format.
func connectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagURL, Usage: "the scheduler's API `URL` (http://host:port, or a DC/OS service URL)", EnvVars: []string{envURL}},
		&cli.StringFlag{Name: flagName, Usage: "the framework `NAME` of a scheduler-lite running on this machine (instead of --url)", EnvVars: []string{envName}},
		&cli.StringFlag{Name: flagTokenFile, Usage: "`FILE` holding the API token (the scheduler's --api-token-file); with --name, default the one the scheduler reads", EnvVars: []string{"SCHEDULER_LITE_API_TOKEN_FILE"}},
		&cli.DurationFlag{Name: flagRequestTimeout, Value: 30 * time.Second, Usage: "give up on one API call after `D` (exit 3)", EnvVars: []string{"SCHEDULER_LITE_REQUEST_TIMEOUT"}},
		&cli.BoolFlag{Name: flagJSON, Usage: "print the API's JSON answer instead of text", EnvVars: []string{"SCHEDULER_LITE_JSON"}},
	}
}

// group is one top-level command: either a set of subcommands or, with
// action set, a command of its own.
type group struct {
	name, usage, usageText string
	description            string
	aliases                []string
	subs                   []*cli.Command
	flags                  []cli.Flag // with action: its own flags
	action                 cli.ActionFunc
	// keepCommas leaves a list flag's value whole on the command line
	// (plan start -p LIST=a,b is one parameter, as the SDK CLI's
	// kingpin Strings flag takes it); urfave/cli splits it at commas
	// otherwise.
	keepCommas bool
}

// groups are the top-level commands' constructors.
var groups = []func() group{planGroup, podGroup, endpointsGroup, configGroup, stateGroup, debugGroup, healthGroup}

// build makes a group anew (the shell takes its flags over), every
// command with the connection flags.
func build(newGroup func() group) group {
	g := newGroup()
	if g.action != nil {
		g.flags = append(g.flags, connectionFlags()...)
	}
	for _, s := range g.subs {
		s.Flags = append(s.Flags, connectionFlags()...)
		s.Description = withFlagsNote(s.Description)
	}
	g.description = withFlagsNote(g.description)
	return g
}

// withFlagsNote returns a command's help description with where its flags
// may go (HoistFlags) added.
func withFlagsNote(description string) string {
	const note = "Flags go before or after the arguments, and before the command's name too\n" +
		"(scheduler-lite --url URL plan list, scheduler-lite plan --url URL list)."
	if description == "" {
		return note
	}
	return description + "\n\n" + note
}

// Commands are the operator commands, to register as subcommands of the
// scheduler-lite command; environ is the environment their flags' variables
// are read from. Each runs in its own cliapp shell, on the words after its
// name (flags may follow the arguments), and prints its own errors; a
// failure returns cliapp.Exit(code), which the caller's shell ends the run
// with, printing nothing more.
func Commands(environ []string) []*cli.Command {
	var out []*cli.Command
	for _, newGroup := range groups {
		g := newGroup()
		out = append(out, &cli.Command{
			Name:            g.name,
			Aliases:         g.aliases,
			Usage:           g.usage,
			UsageText:       g.usageText,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				return cliapp.Exit(build(newGroup).run(c, environ))
			},
		})
	}
	return out
}

// run runs the group's own application in a cliapp shell on the arguments
// after the group's name and returns the exit code.
func (g group) run(c *cli.Context, environ []string) int {
	name := "scheduler-lite " + g.name
	app := &cli.App{
		Name:        name,
		HelpName:    name,
		Usage:       g.usage,
		UsageText:   g.usageText,
		Description: g.description,
		HideVersion: true,
		Commands:    g.subs,

		DisableSliceFlagSeparator: g.keepCommas,
	}
	if g.action != nil {
		app.Flags = g.flags
		app.Action = g.action
	}
	sh := cliapp.New("scheduler-lite", append([]string{name}, permute(c.Args().Slice(), g.valued(), g.commandNames())...), environ, c.App.Reader, c.App.Writer, c.App.ErrWriter)
	// The commands' actions find the shell in their context (action).
	ctx := context.WithValue(c.Context, shellKey{}, sh)
	return sh.Run(ctx, app)
}

// shellKey keys the running shell in the commands' context.
type shellKey struct{}

// commandNames are the names and aliases of the group's commands (none
// for a group that is a command of its own).
func (g group) commandNames() []string {
	var out []string
	for _, s := range g.subs {
		out = append(out, s.Names()...)
	}
	return out
}

// valued lists the group's flags (names and aliases) that take a value.
func (g group) valued() map[string]bool {
	out := map[string]bool{}
	addValued(out, g.flags)
	for _, s := range g.subs {
		addValued(out, s.Flags)
	}
	return out
}

// HoistFlags returns args (args[0] the program name) with the flags written
// before a command's name moved to just after it (after its subcommand's
// name when one follows), where that command reads them: "scheduler-lite
// --url URL plan list" runs as "scheduler-lite plan list --url URL", as
// kubectl and the DC/OS CLI take their connection flags before the
// command; any flag of the command may go there ("--wait COMPLETE plan
// show deploy", "--strict validate svc.yml"). A command is an operator
// command or one of commands, those registered beside them
// (scheduler-lite's validate, package and uninstall). parent are the
// flags of the command they are registered under (scheduler-lite's):
// with the commands' own, they tell which leading flags take the next
// word as their value, so that the first other word is found ("--master
// plan svc.yml" is the scheduler's --master, valued "plan"). args is
// returned unchanged unless that word names a command, or when a leading
// flag asks for help or the version (the parent's). Every hoisted flag is
// the command's to parse: one it does not have (a scheduler flag such as
// --master before plan, --local-agents before validate) is its usage
// error, never a setting of the scheduler's applied to it, nor silently
// ignored; one it has too (validate's --strict, uninstall's --master) is
// its own.
func HoistFlags(args []string, parent []cli.Flag, commands ...*cli.Command) []string {
	valued := map[string]bool{}
	for _, newGroup := range groups {
		maps.Copy(valued, build(newGroup).valued())
	}
	addValued(valued, parent)
	var addCommands func([]*cli.Command)
	addCommands = func(cmds []*cli.Command) {
		for _, c := range cmds {
			addValued(valued, c.Flags)
			addCommands(c.Subcommands)
		}
	}
	addCommands(commands)
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "h", "help", "version":
			return args
		}
		if !inline && valued[name] {
			i++
		}
	}
	if i == 1 || i >= len(args) {
		return args
	}
	var hasSubs bool
	if g, ok := lookupGroup(args[i]); ok {
		hasSubs = g.action == nil
	} else if j := slices.IndexFunc(commands, func(c *cli.Command) bool { return c.HasName(args[i]) }); j >= 0 {
		hasSubs = len(commands[j].Subcommands) > 0
	} else {
		return args
	}
	// After the subcommand's name too, if it follows: a flag the command
	// does not have, and its value, are never read as that name.
	at := i + 1
	if hasSubs && at < len(args) && !strings.HasPrefix(args[at], "-") {
		at++
	}
	return slices.Concat(args[:1], args[i:at], args[1:i], args[at:])
}

// addValued records in valued whether each of flags (by each of its
// names) takes a value; a name that does in any command does.
func addValued(valued map[string]bool, flags []cli.Flag) {
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			valued[n] = valued[n] || !isBool
		}
	}
}

// lookupGroup returns the operator command name names (or an alias of).
func lookupGroup(name string) (group, bool) {
	for _, newGroup := range groups {
		if g := newGroup(); g.name == name || slices.Contains(g.aliases, name) {
			return g, true
		}
	}
	return group{}, false
}

// permute moves flags before the arguments, as the standard flag parsing
// urfave/cli uses wants them, so that "plan show deploy --json" works as
// the SDK CLI's does. With subcommands the first argument (the
// subcommand's name) stays first. Arguments after "--" stay arguments.
//
// A flag that takes a value but is the last word ("plan show deploy
// --name") is moved last with the arguments left out, so that the parsing
// reports it ("missing value for --name", a usage error) instead of taking
// the "--" put before the arguments as its value.
//
// With subcommands (commands, their names and aliases) but none named,
// the flags are the subcommands' to parse, not the group's (which has
// none): when each is a flag of one of them ("plan --url U"), they are
// left out, so that the group says what is missing ("no command given")
// rather than calling --url unknown; a help flag among them stays alone
// (the group's help), and so do those no subcommand has, for the group to
// call unknown. A flag no subcommand has, before a first argument that
// names none ("plan --master M list": M may be its value), stays alone
// too: the group calls the flag unknown, not M an unknown command. The
// help word ("plan help show") takes command names only: the words after
// it stay as they are, flags left out.
func permute(args []string, valued map[string]bool, commands []string) []string {
	sub := len(commands) > 0
	var flags, pos, unknown []string
	dangling, help := false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isValued, known := valued[name]
		switch {
		case name == "h" || name == "help":
			help = true
		case !known:
			unknown = append(unknown, a)
		}
		if inline || !isValued {
			continue
		}
		if i+1 == len(args) {
			dangling = true
			break
		}
		flags = append(flags, args[i+1])
		i++
	}
	switch {
	case sub && len(pos) > 0 && pos[0] == "help":
		return pos
	case sub && len(pos) == 0 && help:
		return []string{"--help"}
	case sub && len(pos) == 0:
		return unknown
	case sub && len(unknown) > 0 && !slices.Contains(commands, pos[0]):
		return unknown
	}
	var out []string
	if sub && len(pos) > 0 {
		out, pos = append(out, pos[0]), pos[1:]
	}
	out = append(out, flags...)
	if len(pos) > 0 && !dangling {
		out = append(append(out, "--"), pos...)
	}
	return out
}

// run is one command's invocation.
type run struct {
	c    *cli.Context
	sh   *cliapp.Shell
	cl   *client
	out  io.Writer
	json bool
	args []string // the arguments, "" for optional ones not given
}

func (r *run) ctx() context.Context { return r.c.Context }

// usagef is a usage error of the command (exit 2, with its usage line).
func (r *run) usagef(format string, a ...any) error { return cliapp.UsageError(r.c, format, a...) }

// source names where flag's value came from: --flag, or its variable.
func (r *run) source(flag string) string { return r.sh.Source(flag) }

// action checks the arguments (at least min; names describe each, the
// optional ones in brackets), builds the client and runs fn.
func action(min int, names []string, fn func(r *run) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		r := &run{c: c, sh: c.Context.Value(shellKey{}).(*cliapp.Shell), out: c.App.Writer, json: c.Bool(flagJSON), args: c.Args().Slice()}
		if n := len(r.args); n < min {
			return r.usagef("want %s, got %d argument(s)", strings.Join(names, " "), n)
		}
		hint := ""
		if len(names) > 0 {
			hint = "want " + strings.Join(names, " ")
		}
		if err := cliapp.MaxArgs(c, len(names), hint); err != nil {
			return err
		}
		r.args = append(r.args, make([]string, len(names)-len(r.args))...)
		cl, err := newClient(r)
		if err != nil {
			return err
		}
		r.cl = cl
		return withExitCode(fn(r))
	}
}

// printJSON writes an API answer indented; a body that is not JSON is
// written as it came.
func printJSON(w io.Writer, body []byte) error {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(body)) == 0 || json.Indent(&buf, bytes.TrimSpace(body), "", "  ") != nil {
		_, err := w.Write(body)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// lister is a command printing a JSON list of strings, one per line.
func lister(name, help, path string) *cli.Command {
	return &cli.Command{
		Name: name, Usage: help,
		Action: action(0, nil, func(r *run) error { return r.printList(path) }),
	}
}

// printList prints the JSON list of strings at path one per line.
func (r *run) printList(path string) error {
	return show(r, path, func(list []string) error {
		for _, s := range list {
			fmt.Fprintln(r.out, s)
		}
		return nil
	})
}

// show GETs path (200) and prints the answer: as it came with --json,
// else decoded into a T and written by text.
func show[T any](r *run, path string, text func(T) error) error {
	a, err := r.cl.get(r.ctx(), path, nil)
	if err != nil || r.json {
		return r.printRaw(a, err)
	}
	var v T
	if err := a.decode(&v); err != nil {
		return err
	}
	return text(v)
}

// printRaw prints a's body as JSON unless err.
func (r *run) printRaw(a *answer, err error) error {
	if err != nil {
		return err
	}
	return printJSON(r.out, a.Body)
}
