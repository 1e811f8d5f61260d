//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is a flag.FlagSet whose every flag can also be set by an
// environment variable, envPrefix + the flag name in upper case with - as _
// (--grace-period: HEALTHD_GRACE_PERIOD). The command line wins over the
// environment. Help lists the flags in groups, each with its variable.
//
// healthd uses the standard flag package rather than urfave/cli: cli's help
// templates (text/template) turn off the linker's dead-method elimination and
// cost about 2 MB, a third of healthd's size budget.
type flagSet struct {
	fs        *flag.FlagSet
	envPrefix string
	groups    []string
	entries   map[string][]flagEntry
	fromEnv   map[string]bool
}

type flagEntry struct {
	name, placeholder, usage, def string
}

func newFlagSet(name, envPrefix string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by the caller, help by usage
	return &flagSet{fs: fs, envPrefix: envPrefix, entries: map[string][]flagEntry{}, fromEnv: map[string]bool{}}
}

// envName is the variable that sets flag name.
func (f *flagSet) envName(name string) string {
	return f.envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (f *flagSet) add(group, name, placeholder, def, usage string) {
	if _, ok := f.entries[group]; !ok {
		f.groups = append(f.groups, group)
	}
	f.entries[group] = append(f.entries[group], flagEntry{name, placeholder, usage, def})
}

// String defines a string flag; placeholder names its value in help.
func (f *flagSet) String(group, name, placeholder, def, usage string) *string {
	f.add(group, name, placeholder, def, usage)
	return f.fs.String(name, def, usage)
}

// Bool defines a boolean flag.
func (f *flagSet) Bool(group, name string, def bool, usage string) *bool {
	d := ""
	if def {
		d = "true"
	}
	f.add(group, name, "", d, usage)
	return f.fs.Bool(name, def, usage)
}

// Int defines an integer flag.
func (f *flagSet) Int(group, name string, def int, usage string) *int {
	f.add(group, name, "N", fmt.Sprint(def), usage)
	return f.fs.Int(name, def, usage)
}

// Parse parses args (without the program name), then sets every flag not
// given on the command line from its environment variable, if present.
// It returns flag.ErrHelp for -h or --help.
func (f *flagSet) Parse(args []string, lookupEnv func(string) (string, bool)) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%v (see --help)", err)
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var errs []string
	f.fs.VisitAll(func(fl *flag.Flag) {
		if given[fl.Name] {
			return
		}
		env := f.envName(fl.Name)
		if v, ok := lookupEnv(env); ok {
			if err := f.fs.Set(fl.Name, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s: invalid value %q for --%s", env, v, fl.Name))
			}
			f.fromEnv[fl.Name] = true
		}
	})
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Source names where flag name's value came from, for error messages:
// "--interval", or "HEALTHD_INTERVAL" when the environment set it.
func (f *flagSet) Source(name string) string {
	if f.fromEnv[name] {
		return f.envName(name)
	}
	return "--" + name
}

// Args returns the arguments left after the flags.
func (f *flagSet) Args() []string { return f.fs.Args() }

// Usage writes the flags by group.
func (f *flagSet) Usage(w io.Writer) {
	for _, g := range f.groups {
		fmt.Fprintf(w, "\n%s\n", g)
		for _, e := range f.entries[g] {
			name := "--" + e.name
			if e.placeholder != "" {
				name += " " + e.placeholder
			}
			def := ""
			if e.def != "" {
				def = " (default " + e.def + ")"
			}
			fmt.Fprintf(w, "  %-32s %s%s [$%s]\n", name, e.usage, def, f.envName(e.name))
		}
	}
}
