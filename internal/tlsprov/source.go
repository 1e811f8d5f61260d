package tlsprov

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/taskkit/taskkit/internal/taskenv"
)

// ErrMissing means an input variable is unset or empty, or a file is absent.
var ErrMissing = errors.New("input is missing")

// Source says where one input (key, certificates or CA) comes from.
type Source struct {
	// Kind is "env", "file" or "stdin".
	Kind string
	// Ref is the variable name or file path; empty for stdin.
	Ref string
}

// ParseSource parses an input spec: "env:VAR", "file:PATH" or "-" (stdin).
// flag names the flag the spec came from, for the error.
func ParseSource(spec, flag string) (Source, error) {
	switch {
	case spec == "-":
		return Source{Kind: "stdin"}, nil
	case strings.HasPrefix(spec, "env:") && len(spec) > len("env:"):
		return Source{Kind: "env", Ref: spec[len("env:"):]}, nil
	case strings.HasPrefix(spec, "file:") && len(spec) > len("file:"):
		return Source{Kind: "file", Ref: spec[len("file:"):]}, nil
	}
	return Source{}, fmt.Errorf("%s: %q is not env:VAR, file:PATH or - (stdin)", flag, spec)
}

// String names the source in messages: "env:VAR", "file:PATH" or "stdin".
func (s Source) String() string {
	if s.Kind == "stdin" {
		return "stdin"
	}
	return s.Kind + ":" + s.Ref
}

// EnvName returns the default variable for a NAME's input: TLS_<NAME>_<part>,
// NAME upper-cased with every character other than A-Z and 0-9 as "_"
// (taskenv.TLSVar).
func EnvName(name, part string) string { return taskenv.TLSVar(name, part) }

// Inputs reads Sources. Standard input is read once and shared by every
// source that names it, so one combined PEM on stdin can feed --key, --cert
// and --ca alike.
type Inputs struct {
	// LookupEnv looks up a variable; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Stdin is standard input; nil means none is available.
	Stdin io.Reader

	once      sync.Once
	stdinData []byte
	stdinErr  error
}

// Read returns the content of s. Errors name s, never its content.
func (in *Inputs) Read(s Source) ([]byte, error) {
	switch s.Kind {
	case "env":
		lookup := in.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		v, ok := lookup(s.Ref)
		if !ok {
			return nil, fmt.Errorf("%s: %w: variable %s is not set", s, ErrMissing, s.Ref)
		}
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%s: %w: variable %s is empty", s, ErrMissing, s.Ref)
		}
		return []byte(v), nil
	case "file":
		b, err := os.ReadFile(s.Ref)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: no such file", s, ErrMissing)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		return b, nil
	case "stdin":
		in.once.Do(func() {
			if in.Stdin == nil {
				in.stdinErr = fmt.Errorf("stdin: %w: no standard input", ErrMissing)
				return
			}
			in.stdinData, in.stdinErr = io.ReadAll(in.Stdin)
			if in.stdinErr != nil {
				in.stdinErr = fmt.Errorf("stdin: %w", in.stdinErr)
			}
		})
		return in.stdinData, in.stdinErr
	}
	return nil, fmt.Errorf("unknown input kind %q", s.Kind)
}
