// Package cliapp is the command-line shell every taskkit binary runs in, so
// that the six of them behave alike at the edges: each binary's main is a
// few lines calling internal/<binary>.Run(ctx, args, environ, stdin, stdout,
// stderr) int, and that Run builds a urfave/cli App and hands it to
// Shell.Run, which gives it:
//
//   - flags' environment variables read from the environ parameter, never
//     from the process environment: the EnvVars of every flag are taken over
//     by the shell, shown in --help as "[$VAR]" and applied to each flag not
//     given on the command line (the command line wins), of the command that
//     runs only: a parent's flags' variables are not read when a subcommand
//     runs;
//   - errors that name the setting actually used: Source says
//     "BOOTSTRAP_RESOLVE_TIMEOUT" when the variable set a value and
//     "-resolve-timeout" when the flag did;
//   - one --version line: buildinfo.String ("bootstrap v1.2.3 (rev 1a2b3c4,
//     go1.26.0 linux/amd64)");
//   - on a bad flag, a bad value in a flag or its variable (one that does
//     not parse, or one the binary refuses: out of range, malformed, at odds
//     with another flag; BadValue), an unknown command or stray arguments:
//     the error, the command's usage line and a pointer to --help on stderr
//     (never the whole help, nothing done), and Shell.UsageCode (2 unless a
//     binary documents another); a flag's error
//     names it as it was typed ("unknown flag --bogus", "missing value for
//     -n", `invalid value "x" for --agents: want an integer`), never in Go's
//     flag package's words and spelling ("flag provided but not defined:
//     -bogus"); a variable's names the variable and its flag (`invalid
//     value "x" for TESTENV_AGENTS (--agents): want an integer`), without
//     the value when the variable holds a secret; a stray argument is named
//     (MaxArgs, NoArgs: `unexpected argument "extra"`), and a binary that
//     runs a command takes it only after "--" (SplitCommand);
//   - "help" as the first argument of a command that has subcommands: its
//     help, as with --help ("tlsprov help issue" is "tlsprov issue
//     --help"); --help shows the help of the command it is given to
//     whatever arguments follow ("scheduler-lite validate --help svc.yml",
//     "scheduler-lite help validate svc.yml": validate's), except that a
//     command taking only subcommands calls a word naming none of them
//     unknown ("scheduler-lite package --help bogus", "scheduler-lite
//     help package bogus");
//   - one help layout: a command's help lists its OPTIONS, also for a
//     command run as an App of its own (an App named "BINARY COMMAND":
//     healthd check, scheduler-lite plan), which shows no version, and a
//     flag that takes a value shows a placeholder named in its usage with
//     urfave/cli's backticks ("--listen ADDR  master `ADDR`, ..."), never
//     urfave/cli's "value" (TestEveryBinaryHasTheShell walks every command);
//   - one logger per run (Shell.Logger), from the binary's --log-format and
//     --verbose flags, whose every record is masked through redact.Handler
//     with the secrets of environ learned (Shell.Secrets);
//   - the error that ends the run written once, masked, with error lists on
//     one line (logging.ErrorText): as "NAME: error" on stderr, or as an
//     ERROR record ("NAME failed", error, exit_code) with --log-format json;
//     and the exit code it carries (internal/exitcode), else
//     Shell.FailureCode;
//   - one signal setup, SignalContext, whose cause tells which signal came.
//
// Shell.Run takes the App's flags over (their EnvVars and Usage change), so
// every run must build its flags anew.
package cliapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/buildinfo"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/logging"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/spelling"
)

// Exit codes used when a binary does not set its own.
const (
	DefaultUsageCode   = 2
	DefaultFailureCode = 1
)

func init() {
	// The same for every binary: one --version line, and no -v alias, which
	// tlsprov uses for --verbose.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit"}
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Fprintln(c.App.Writer, buildinfo.String(strings.Fields(c.App.Name)[0]))
	}
}

// Shell is one run of a binary: its arguments, environment and standard
// streams, and what the run learned (the logger, the flags set from the
// environment). Create it with New, adjust the exported fields, call Run
// once.
type Shell struct {
	// Name is the binary's name: the first word of its error lines.
	Name string
	// Args are the command-line arguments, Args[0] the program name.
	Args []string
	// Environ is the environment (KEY=VALUE entries) the flags and the
	// binary read; the process environment is never consulted.
	Environ []string
	// Stdin, Stdout and Stderr are the standard streams.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// UsageCode is the exit code of a usage error (DefaultUsageCode unless
	// set); FailureCode that of an error carrying no exit code
	// (DefaultFailureCode unless set).
	UsageCode, FailureCode int
	// FlagPrefix is how errors write a flag's name: "--" (default) or "-"
	// (bootstrap, as the DC/OS SDK's bootstrap writes them).
	FlagPrefix string

	secrets *redact.Shared
	log     *slog.Logger
	jsonLog bool                  // log is JSON: the last error is a record too
	envs    map[cli.Flag][]string // the variables of each flag
	fromEnv map[string]string     // flag name → the variable that set it
	aliases map[string][]string   // flag name → its other names (Source)
	helped  bool                  // a "help" word was answered
	// commandOnly tells, for each command prepared (not the App's root),
	// whether it takes a subcommand and nothing else (its Action is
	// wantCommand); appCommandOnly tells it for the App.
	commandOnly    map[*cli.Command]bool
	appCommandOnly bool
	helpErr        error // a help topic naming no command (helpTopicNotFound)
}

// New returns the shell of one run. The secret values of environ (keys
// matching redact.DefaultKeyPattern) are learned at once, so everything the
// logger writes masks them.
func New(name string, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) *Shell {
	return &Shell{
		Name: name, Args: args, Environ: environ, Stdin: stdin, Stdout: stdout, Stderr: stderr,
		UsageCode: DefaultUsageCode, FailureCode: DefaultFailureCode, FlagPrefix: "--",
		secrets: redact.NewShared(redact.Default().LearnEnv(environ)),
		envs:    map[cli.Flag][]string{},
		fromEnv: map[string]string{},
		aliases: map[string][]string{},

		commandOnly: map[*cli.Command]bool{},
	}
}

// Secrets is what the logger masks through: the run can learn more values
// or replace the rules (redact.Shared.Set).
func (sh *Shell) Secrets() *redact.Shared { return sh.secrets }

// Getenv returns the value of key in Environ (the last entry wins), "" when
// it is not set.
func (sh *Shell) Getenv(key string) string {
	v, _ := sh.LookupEnv(key)
	return v
}

// LookupEnv returns the value of key in Environ and whether it is set.
func (sh *Shell) LookupEnv(key string) (string, bool) {
	for i := len(sh.Environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(sh.Environ[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// Source names where flag name's value came from, for error messages: the
// environment variable when it set the value, else the flag as written on
// the command line, under whichever of its names and with the dashes typed
// ("-p" for plan start's --params given as -p), else FlagPrefix + name.
func (sh *Shell) Source(name string) string {
	if v, ok := sh.fromEnv[name]; ok {
		return v
	}
	if len(sh.Args) > 1 {
		args := sh.Args[1:]
		for _, n := range append([]string{name}, sh.aliases[name]...) {
			if typed, at := typedFlag(args, n, nil, sh.FlagPrefix); at < len(args) {
				return typed
			}
		}
	}
	return sh.FlagPrefix + name
}

// Logger returns the run's logger, made on the first call from the
// --log-format (text or json) and --verbose flags visible from c, writing to
// Stderr through redact.Handler with Secrets. A bad format is a usage error
// (BadValue) naming the flag or variable that gave it.
func (sh *Shell) Logger(c *cli.Context) (*slog.Logger, error) {
	if sh.log != nil {
		return sh.log, nil
	}
	format := c.String("log-format")
	log, err := logging.Masked(sh.Stderr, format, c.Bool("verbose"), sh.secrets)
	if err != nil {
		return nil, BadValue(fmt.Errorf("%s: %w", sh.Source("log-format"), err))
	}
	sh.log, sh.jsonLog = log, format == "json"
	return log, nil
}

// Run runs app with the shell's arguments and returns the exit code; see the
// package comment for what it adds to app.
func (sh *Shell) Run(ctx context.Context, app *cli.App) int {
	if app.Name == "" {
		app.Name = sh.Name
	}
	if strings.Contains(app.Name, " ") {
		// A command run as an App of its own (healthd check, scheduler-lite
		// plan) gets a command's help, as the commands of an App show
		// theirs: OPTIONS, not GLOBAL OPTIONS, and no version.
		app.HideVersion = true
		if app.CustomAppHelpTemplate == "" {
			app.CustomAppHelpTemplate = strings.ReplaceAll(cli.AppHelpTemplate, "GLOBAL OPTIONS:", "OPTIONS:")
		}
	}
	app.Reader, app.Writer, app.ErrWriter = sh.Stdin, sh.Stdout, sh.Stderr
	app.HideHelpCommand = true
	app.ExitErrHandler = func(*cli.Context, error) {}
	if !app.HideVersion {
		app.Version = buildinfo.Version
	}
	app.Flags = sh.takeFlags(app.Flags)
	app.Before = sh.applyEnv(app.Before)
	app.OnUsageError = sh.usageOnError
	if app.Action == nil && len(app.Commands) > 0 {
		app.Action = wantCommand
		sh.appCommandOnly = true
	}
	app.Action = sh.badValues(sh.helpWord(app.Action, len(app.Commands) > 0))
	app.CommandNotFound = sh.helpTopicNotFound
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata[shellKey] = sh
	sh.prepare(app.Name, app.Commands)

	err := app.RunContext(ctx, sh.Args)
	var hr helpRequest
	if errors.As(err, &hr) {
		// "X help CMD SUB" is "X CMD SUB --help": run that instead, once.
		err = app.RunContext(ctx, hr)
	}
	if err == nil {
		err = sh.helpErr
	}
	if err == nil {
		return 0
	}
	var se silentExit
	if errors.As(err, &se) {
		return int(se)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(sh.Stderr, "%s: %s\n%s", ue.cmd, sh.secrets.String(logging.ErrorText(ue.err)), ue.usage)
		return sh.UsageCode
	}
	code := exitcode.Code(err, sh.FailureCode)
	if sh.jsonLog {
		sh.log.Error(sh.Name+" failed", "error", err, "exit_code", code)
	} else {
		// A library error may already start with the binary's name
		// ("testenv: master listen ..."): never "testenv: testenv: ...".
		msg := strings.TrimPrefix(sh.secrets.String(logging.ErrorText(err)), sh.Name+": ")
		fmt.Fprintf(sh.Stderr, "%s: %s\n", sh.Name, msg)
	}
	return code
}

// prepare gives commands, recursively, what Run gives the App; parent is
// the name of the command (or App) they are under, as their help writes it.
func (sh *Shell) prepare(parent string, cmds []*cli.Command) {
	for _, c := range cmds {
		if c.UsageText == "" {
			// The usage line a usage error prints (newUsageError), so that
			// --help says the same, not urfave/cli's "[command options]".
			c.UsageText = defaultUsage(parent+" "+c.Name, len(c.Subcommands) > 0)
		}
		c.Flags = sh.takeFlags(c.Flags)
		c.Before = sh.applyEnv(c.Before)
		c.OnUsageError = sh.usageOnError
		c.HideHelpCommand = true
		sh.commandOnly[c] = c.Action == nil && len(c.Subcommands) > 0
		if sh.commandOnly[c] {
			c.Action = wantCommand
		}
		c.Action = sh.badValues(sh.helpWord(c.Action, len(c.Subcommands) > 0))
		sh.prepare(parent+" "+c.Name, c.Subcommands)
		if c.Subcommands == nil {
			// So that --help with arguments looks the first one up among
			// the command's subcommands (none), not the App's: urfave/cli
			// reads "validate --help svc.yml" as help on a command
			// "svc.yml", and "start --help show" as help on show. It then
			// calls helpTopicNotFound.
			c.Subcommands = []*cli.Command{}
		}
	}
}

// takeFlags moves each flag's EnvVars into the shell, so that urfave/cli
// never reads them from the process environment, and names them in the
// flag's usage for --help.
func (sh *Shell) takeFlags(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		if names := f.Names(); len(names) > 1 {
			sh.aliases[names[0]] = append(sh.aliases[names[0]], names[1:]...)
		}
		// Every urfave/cli v2 flag type is a pointer to a struct with an
		// EnvVars []string and a Usage string field.
		v := reflect.ValueOf(f)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			continue
		}
		ev, uv := v.Elem().FieldByName("EnvVars"), v.Elem().FieldByName("Usage")
		if !ev.IsValid() || ev.Len() == 0 || !uv.IsValid() {
			continue
		}
		envs := ev.Interface().([]string)
		sh.envs[f] = envs
		ev.Set(reflect.Zero(ev.Type()))
		uv.SetString(uv.String() + " [$" + strings.Join(envs, ", $") + "]")
	}
	return flags
}

// applyEnv returns a Before hook that sets every flag of the running command
// not given on the command line from the first of its variables present in
// Environ, then runs next. Values are trimmed of surrounding spaces; an empty
// value leaves a non-string flag at its default. When a subcommand runs
// instead (the first argument names one, or is the help word), nothing is
// set: each command reads the variables of its own flags only, so that a
// variable of a parent's flag (scheduler-lite's SCHEDULER_LITE_LOCAL_AGENTS,
// set for the scheduler process) neither changes nor breaks a subcommand
// ("scheduler-lite plan list"), nor is named in its errors. A subcommand
// wanting a setting of its parent's has a flag of its own for it (with the
// same variable, if it is the same setting).
func (sh *Shell) applyEnv(next cli.BeforeFunc) cli.BeforeFunc {
	return func(c *cli.Context) error {
		if c.Command != nil && !subcommandNext(c) {
			var errs []error
			for _, f := range c.Command.Flags {
				name := f.Names()[0]
				if c.IsSet(name) {
					continue
				}
				for _, env := range sh.envs[f] {
					val, ok := sh.LookupEnv(env)
					if !ok {
						continue
					}
					val = strings.TrimSpace(val)
					if df, ok := f.(cli.DocGenerationFlag); val == "" && ok && !isString(df) {
						break
					}
					if err := c.Set(name, val); err != nil {
						errs = append(errs, sh.envError(env, name, val, f, err))
					}
					sh.fromEnv[name] = env
					break
				}
			}
			if err := errors.Join(errs...); err != nil {
				return newUsageError(c, err)
			}
		}
		if next != nil {
			return asUsageError(c, next(c))
		}
		return nil
	}
}

// subcommandNext reports whether the command running in c hands over to a
// subcommand: its first argument names one (urfave/cli runs it after this
// command's Before), or is the help word of a command that has some
// (helpWord).
func subcommandNext(c *cli.Context) bool {
	if !c.Args().Present() || len(c.Command.Subcommands) == 0 {
		return false
	}
	first := c.Args().First()
	return first == "help" || c.Command.Command(first) != nil
}

func isString(f cli.DocGenerationFlag) bool {
	switch f.(type) {
	case *cli.StringFlag, *cli.PathFlag:
		return true
	}
	return false
}

// badValue is the refusal of a flag's value (BadValue).
type badValue struct{ err error }

func (e *badValue) Error() string { return e.err.Error() }
func (e *badValue) Unwrap() error { return e.err }

// BadValue marks err, the refusal of a value given in a flag or its
// variable that parsed but that the binary does not take (out of range,
// malformed for the flag's own syntax, at odds with another flag), as a
// usage error: Run prints it as it prints a value that does not parse, with
// the usage line of the command whose Action (or Before) returned it, and
// exits with UsageCode. err names the setting (Shell.Source:
// "BOOTSTRAP_RESOLVE_TIMEOUT: must not be negative, got -1s"). An error
// wrapping one BadValue, alone or among others (errors.Join), is a usage
// error as a whole. BadValue(nil) is nil.
func BadValue(err error) error {
	if err == nil {
		return nil
	}
	return &badValue{err}
}

// badValues returns next, an Action, turning the BadValue errors it returns
// into usage errors of the command running.
func (sh *Shell) badValues(next cli.ActionFunc) cli.ActionFunc {
	if next == nil {
		return nil
	}
	return func(c *cli.Context) error { return asUsageError(c, next(c)) }
}

// asUsageError returns err, made a usage error of the command running in c
// when it holds a BadValue and is not one already.
func asUsageError(c *cli.Context, err error) error {
	var bv *badValue
	var ue *usageError
	if errors.As(err, &bv) && !errors.As(err, &ue) {
		return newUsageError(c, err)
	}
	return err
}

// usageError is a mistake on the command line: Run prints it with the
// command's usage line and exits with UsageCode.
type usageError struct {
	err   error
	cmd   string // "tlsprov materialize"
	usage string // usage lines and the pointer to --help, each ending in \n
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// UsageError returns a usage error of the command running in c: Run prints
// it with the command's usage line (not the whole help) and exits with
// UsageCode.
func UsageError(c *cli.Context, format string, a ...any) error {
	return newUsageError(c, fmt.Errorf(format, a...))
}

// commandName is the name of the command running in c as its help writes
// it: "tlsprov materialize".
func commandName(c *cli.Context) string {
	if c.Command != nil && c.Command.HelpName != "" {
		return c.Command.HelpName
	}
	return c.App.HelpName
}

// defaultUsage is the usage line of a command (or App) named name that has
// no UsageText of its own.
func defaultUsage(name string, hasCommands bool) string {
	if hasCommands {
		return name + " COMMAND [flags]"
	}
	return name + " [flags]"
}

func newUsageError(c *cli.Context, err error) error {
	name := commandName(c)
	usage := c.App.UsageText
	hasCommands := len(c.App.Commands) > 0
	if c.Command != nil && c.Command.HelpName != "" {
		usage, hasCommands = c.Command.UsageText, len(c.Command.Subcommands) > 0
	}
	if usage == "" {
		usage = defaultUsage(name, hasCommands)
	}
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(usage), "\n") {
		if i == 0 {
			fmt.Fprintf(&b, "usage: %s\n", strings.TrimSpace(line))
		} else {
			fmt.Fprintf(&b, "       %s\n", strings.TrimSpace(line))
		}
	}
	fmt.Fprintf(&b, "Run '%s --help' for more.\n", name)
	return &usageError{err: err, cmd: name, usage: b.String()}
}

// usageOnError is every command's OnUsageError: a flag the command could
// not parse, said in plain words (flagError).
func (sh *Shell) usageOnError(c *cli.Context, err error, _ bool) error {
	return newUsageError(c, sh.flagError(c, err))
}

// NoArgs is a usage error when c has positional arguments: MaxArgs(c, 0,
// "").
func NoArgs(c *cli.Context) error { return MaxArgs(c, 0, "") }

// MaxArgs is a usage error when c has more than max positional arguments.
// It names the first one too many (`unexpected argument "extra"`) and
// says, after a colon, hint (the form the command wants, such as "put the
// command to exec after --"). When that argument follows a true/false flag
// written without "=" and is a true/false value itself ("--verbose false"),
// or there is no hint, it says instead that such a flag takes its value
// only after "="; when a command taking no arguments is given "help", how
// to ask for help. The usage lines follow, as for every usage error.
func MaxArgs(c *cli.Context, max int, hint string) error {
	if c.NArg() <= max {
		return nil
	}
	arg := c.Args().Get(max)
	if flag := boolBefore(c, max); flag != "" && (hint == "" || isBoolValue(arg)) {
		hint = flag + `, a true/false flag, takes its value only after "="`
	} else if arg == "help" && max == 0 {
		hint = fmt.Sprintf("for help, run '%s --help'", commandName(c))
	}
	if hint == "" {
		return UsageError(c, "unexpected argument %q", arg)
	}
	return UsageError(c, "unexpected argument %q: %s", arg, hint)
}

// boolBefore returns the true/false flag of the command running in c
// written, without "=", as the word just before its positional argument i
// (as typed: "--verbose"), else "".
func boolBefore(c *cli.Context, i int) string {
	sh, _ := c.App.Metadata[shellKey].(*Shell)
	if sh == nil {
		return ""
	}
	// The positional arguments are the last words of the command line.
	at := len(sh.Args) - c.NArg() + i
	if at < 2 || at >= len(sh.Args) {
		return ""
	}
	prev := sh.Args[at-1]
	name := strings.TrimLeft(prev, "-")
	if dashes := len(prev) - len(name); dashes == 0 || dashes > 2 || name == "" || strings.Contains(name, "=") {
		return ""
	}
	if _, ok := lookupFlag(c, name).(*cli.BoolFlag); ok {
		return prev
	}
	return ""
}

// isBoolValue reports whether s is a value a true/false flag takes.
func isBoolValue(s string) bool {
	_, err := strconv.ParseBool(s)
	return err == nil
}

// SplitCommand splits args (args[0] the program name) at the first "--"
// after the program name: the binary's own words before it, the command
// it runs after it, and whether there was a "--" at all. A binary that
// runs a command given after "--" (bootstrap, healthd) splits first, so that
// nothing of the command is ever read as its flags, and refuses any other
// positional argument (MaxArgs).
func SplitCommand(args []string) (own, command []string, dashes bool) {
	for i, a := range args {
		if i > 0 && a == flagTerminator {
			return args[:i], args[i+1:], true
		}
	}
	return args, nil, false
}

// wantCommand is the Action of an App or command that has commands: it is
// reached only when none was named.
func wantCommand(c *cli.Context) error {
	if c.Args().Present() {
		return unknownCommand(c, c.Args().First())
	}
	return UsageError(c, "no command given (want %s)", strings.Join(commandNames(c, ""), ", "))
}

// unknownCommand is the usage error of a command name the command running in
// c does not have.
func unknownCommand(c *cli.Context, name string) error {
	names := commandNames(c, "")
	if near, ok := spelling.Nearest(name, names); ok {
		return UsageError(c, "unknown command %q: did you mean %s? (want %s)", name, near, strings.Join(names, ", "))
	}
	return UsageError(c, "unknown command %q (want %s)", name, strings.Join(names, ", "))
}

// commandNames returns the names of the visible commands of the command
// running in c; given name, only those it names (by name or alias).
func commandNames(c *cli.Context, name string) []string {
	cmds := c.App.Commands
	if c.Command != nil && len(c.Command.Subcommands) > 0 {
		cmds = c.Command.Subcommands
	}
	var names []string
	for _, cmd := range cmds {
		if !cmd.Hidden && (name == "" || cmd.HasName(name)) {
			names = append(names, cmd.Name)
		}
	}
	return names
}

// shellKey keys the running Shell in the App's Metadata.
const shellKey = "cliapp.Shell"

// helpWord returns the Action of an App or command: with subcommands, a
// first argument "help" asks for help ("X help", "X help CMD SUB"), which
// Run answers as "X CMD SUB --help"; otherwise, or for other arguments, next.
func (sh *Shell) helpWord(next cli.ActionFunc, hasCommands bool) cli.ActionFunc {
	if !hasCommands || next == nil {
		return next
	}
	return func(c *cli.Context) error {
		if c.Args().First() != "help" || sh.helped {
			return next(c)
		}
		if topic := c.Args().Get(1); topic != "" && len(commandNames(c, topic)) == 0 {
			return unknownCommand(c, topic)
		}
		sh.helped = true
		// "--help" goes after the words naming commands, before any other
		// (an argument, for the named command's help to ignore, or a word
		// naming no subcommand, for it to call unknown; see
		// helpTopicNotFound): a command's parsing stops at its first
		// argument, so a "--help" after one would be an argument too. A
		// command parsing its own words (SkipFlagParsing) takes the rest.
		words := c.Args().Tail()
		n, cmds := 0, c.App.Commands
		if c.Command != nil && len(c.Command.Subcommands) > 0 {
			cmds = c.Command.Subcommands
		}
		for n < len(words) {
			i := slices.IndexFunc(cmds, func(cmd *cli.Command) bool { return cmd.HasName(words[n]) })
			if i < 0 {
				break
			}
			n++
			if cmds[i].SkipFlagParsing {
				break
			}
			cmds = cmds[i].Subcommands
		}
		// The positional arguments are the last words of the command line.
		at := len(sh.Args) - c.NArg()
		return helpRequest(slices.Concat(sh.Args[:at], words[:n], []string{"--help"}, words[n:]))
	}
}

// helpTopicNotFound is the App's CommandNotFound, which urfave/cli calls
// when a command is given --help and arguments, the first of which names
// none of its subcommands: for a command taking only subcommands, that is
// an unknown command (the usage error Run returns); otherwise the word is
// an argument, and the help is the command's, as without it.
func (sh *Shell) helpTopicNotFound(c *cli.Context, name string) {
	only, prepared := sh.commandOnly[c.Command]
	switch {
	case !prepared && sh.appCommandOnly, only:
		sh.helpErr = unknownCommand(c, name)
	case !prepared:
		_ = cli.ShowAppHelp(c)
	default:
		_ = cli.ShowSubcommandHelp(c)
	}
}

// helpRequest is the command line a "help" word stands for.
type helpRequest []string

func (helpRequest) Error() string { return "help requested" }

// silentExit ends a run with an exit code and nothing printed.
type silentExit int

func (e silentExit) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

// Exit returns nil for 0, else an error that makes Run return code without
// printing anything: for a run that has said all it had to (a supervised
// command's own exit code, a check's verdict).
func Exit(code int) error {
	if code == 0 {
		return nil
	}
	return silentExit(code)
}
