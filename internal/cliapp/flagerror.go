package cliapp

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/spelling"
)

// The errors of the flag parsing urfave/cli v2 does come as text only
// (errors.New), in Go's spelling of a flag, one dash: those of Go's
// flag.FlagSet.parseOne (src/flag/flag.go) and of urfave/cli's
// normalizeFlags (flag.go), which meets a flag given under two of its
// names. These are the fixed parts of that text.
const (
	errNotDefined = "flag provided but not defined: -"
	errNeedsValue = "flag needs an argument: -"
	errBadSyntax  = "bad flag syntax: "
	errTwoForms   = "Cannot use two forms of the same flag: "
	errValue      = "invalid value "
	errBoolValue  = "invalid boolean value "
	errValueFor   = " for flag -"
	errBoolFor    = " for -"
	errOutOfRange = "value out of range" // Go's flag errRange, strconv.ErrRange
)

// flagTerminator ends the flags: the words after it are arguments.
const flagTerminator = "--"

// flagError rewrites err, a flag parsing error of the command running in c,
// into plain words that name the flag as it was typed on the command line:
//
//	unknown flag --bogus
//	missing value for --listen
//	invalid value "x" for --agents: want an integer
//	invalid value "99999999999" for -n: out of range
//	--name and -n are the same flag: give one
//	malformed flag "---x"
//
// Any other error is returned unchanged.
func (sh *Shell) flagError(c *cli.Context, err error) error {
	msg := err.Error()
	args := sh.commandArgs(c)
	spell := func(name string, value *string) string {
		s, _ := typedFlag(args, name, value, sh.FlagPrefix)
		return s
	}
	if name, ok := strings.CutPrefix(msg, errNotDefined); ok {
		typed := spell(name, nil)
		if owners := flagOwners(c, name); len(owners) > 0 && len(owners) <= 2 {
			// "testenv --agents 3": a command's flag before its name.
			where := "after " + owners[0][strings.LastIndex(owners[0], " ")+1:]
			if len(owners) > 1 {
				where = "after the command's name"
			}
			return fmt.Errorf("unknown flag %s (a flag of %s: write it %s)", typed, quoteJoin(owners), where)
		}
		if near, ok := nearestFlag(c, name); ok {
			prefix := strings.TrimSuffix(typed, name)
			if len(near) == 1 {
				prefix = "-"
			}
			return fmt.Errorf("unknown flag %s: did you mean %s%s?", typed, prefix, near)
		}
		return fmt.Errorf("unknown flag %s", typed)
	}
	if name, ok := strings.CutPrefix(msg, errNeedsValue); ok {
		// Not "--password needs a value": masking takes the word after
		// a secret option for its value.
		return fmt.Errorf("missing value for %s", spell(name, nil))
	}
	if arg, ok := strings.CutPrefix(msg, errBadSyntax); ok {
		return fmt.Errorf("malformed flag %q", arg)
	}
	if names, ok := strings.CutPrefix(msg, errTwoForms); ok {
		if a, b, ok := strings.Cut(names, " "); ok {
			sa, ia := typedFlag(args, a, nil, sh.FlagPrefix)
			sb, ib := typedFlag(args, b, nil, sh.FlagPrefix)
			if ib < ia {
				sa, sb = sb, sa
			}
			return fmt.Errorf("%s and %s are the same flag: give one", sa, sb)
		}
	}
	if value, name, reason, ok := splitInvalidValue(msg); ok {
		return fmt.Errorf("invalid value %q for %s: %s", value, spell(name, &value), plainReason(reason, lookupFlag(c, name)))
	}
	return err
}

// envError says why the value val of variable env was refused for flag
// name (f), naming both: `invalid value "x" for TESTENV_AGENTS (--agents):
// want an integer`. The value of a variable that holds a secret
// (redact.Redactor.IsSecretKey) is never echoed.
func (sh *Shell) envError(env, name, val string, f cli.Flag, err error) error {
	flag := sh.FlagPrefix + name
	if len(name) == 1 {
		flag = "-" + name
	}
	reason := plainReason(err.Error(), f)
	if redact.Default().IsSecretKey(env) {
		if reason == err.Error() { // a flag's own reason may quote the value
			reason = "not accepted"
		}
		return fmt.Errorf("invalid value for %s (%s): %s", env, flag, reason)
	}
	return fmt.Errorf("invalid value %q for %s (%s): %s", val, env, flag, reason)
}

// commandArgs returns the words the command running in c parsed its flags
// from: those after its name.
func (sh *Shell) commandArgs(c *cli.Context) []string {
	// A subcommand's parent has parsed its own flags: its arguments are
	// the subcommand's name and the subcommand's words. The root's
	// parent is a bare context, without a command.
	if lineage := c.Lineage(); len(lineage) > 1 && lineage[1].Command != nil {
		return lineage[1].Args().Tail()
	}
	if len(sh.Args) == 0 {
		return nil
	}
	return sh.Args[1:]
}

// typedFlag returns how flag name was written in args ("--name", "-name",
// "-n") and its index there: the first flag word before "--" with that
// name and, when value is not nil, that value (as "--name=value" or
// followed by the word value). Not found, it is prefix+name ("-" for a
// one-letter name) at index len(args).
func typedFlag(args []string, name string, value *string, prefix string) (string, int) {
	found, at := "", len(args)
	for i, a := range args {
		if a == flagTerminator {
			break
		}
		dashes := len(a) - len(strings.TrimLeft(a, "-"))
		if dashes == 0 || dashes > 2 {
			continue
		}
		n, v, hasValue := strings.Cut(a[dashes:], "=")
		if n != name {
			continue
		}
		if found == "" {
			found, at = a[:dashes]+n, i
		}
		if value == nil || (hasValue && v == *value) || (!hasValue && i+1 < len(args) && args[i+1] == *value) {
			return a[:dashes] + n, i
		}
	}
	if found != "" {
		return found, at
	}
	if len(name) == 1 {
		prefix = "-"
	}
	return prefix + name, len(args)
}

// splitInvalidValue splits Go's `invalid value "x" for flag -name: reason`
// and `invalid boolean value "x" for -name: reason`.
func splitInvalidValue(msg string) (value, name, reason string, ok bool) {
	rest, isBool := strings.CutPrefix(msg, errBoolValue)
	if !isBool {
		if rest, ok = strings.CutPrefix(msg, errValue); !ok {
			return "", "", "", false
		}
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", "", "", false
	}
	if value, err = strconv.Unquote(quoted); err != nil {
		return "", "", "", false
	}
	for _, sep := range []string{errValueFor, errBoolFor} {
		if r, found := strings.CutPrefix(rest[len(quoted):], sep); found {
			name, reason, ok = strings.Cut(r, ": ")
			return value, name, reason, ok
		}
	}
	return "", "", "", false
}

// lookupFlag returns the flag of the command running in c named name (or
// aliased so), nil if there is none.
func lookupFlag(c *cli.Context, name string) cli.Flag {
	flags := c.App.Flags
	if c.Command != nil {
		flags = c.Command.Flags
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// flagOwners returns the commands under the command running in c, at any
// depth, that have a visible flag named name, as their help names them
// ("testenv up"), at most 3: a flag of more than two (scheduler-lite's
// operator commands' --url) says too little of what was meant to name them.
func flagOwners(c *cli.Context, name string) []string {
	cmds := c.App.Commands
	if c.Command != nil {
		cmds = c.Command.Subcommands
	}
	var owners []string
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, cmd := range cmds {
			if cmd.Hidden || len(owners) == 3 {
				continue
			}
			full := prefix + " " + cmd.Name
			for _, f := range cmd.Flags {
				if v, ok := f.(cli.VisibleFlag); (!ok || v.IsVisible()) && slices.Contains(f.Names(), name) {
					owners = append(owners, full)
					break
				}
			}
			walk(full, cmd.Subcommands)
		}
	}
	walk(commandName(c), cmds)
	return owners
}

// quoteJoin writes names as `"a"`, `"a" and "b"`, `"a", "b" and "c"`.
func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// nearestFlag returns the name of the visible flag of the command running
// in c that name most likely misspells (spelling.Nearest), if one is close.
func nearestFlag(c *cli.Context, name string) (string, bool) {
	flags := c.App.Flags
	if c.Command != nil {
		flags = c.Command.Flags
	}
	var names []string
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		names = append(names, f.Names()...)
	}
	return spelling.Nearest(name, names)
}

// plainReason says why a value of flag f was refused: "out of range", or
// what f wants ("want an integer") in place of Go's "parse error" or
// strconv's "parsing "x": invalid syntax"; the reason as it came for a
// flag that parses values its own way.
func plainReason(reason string, f cli.Flag) string {
	var want string
	switch f.(type) {
	case *cli.BoolFlag:
		want = "true or false"
	case *cli.IntFlag, *cli.Int64Flag:
		want = "an integer"
	case *cli.UintFlag, *cli.Uint64Flag:
		want = "a non-negative integer"
	case *cli.Float64Flag:
		want = "a number"
	case *cli.DurationFlag:
		want = "a duration such as 90s, 1m30s or 2h"
	case *cli.IntSliceFlag, *cli.Int64SliceFlag:
		want = "integers separated by commas"
	case *cli.UintSliceFlag, *cli.Uint64SliceFlag:
		want = "non-negative integers separated by commas"
	case *cli.Float64SliceFlag:
		want = "numbers separated by commas"
	default:
		return reason
	}
	if strings.HasSuffix(reason, errOutOfRange) {
		return "out of range"
	}
	return "want " + want
}
