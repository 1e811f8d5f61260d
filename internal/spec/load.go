package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/taskkit/taskkit/internal/render"

	"github.com/taskkit/taskkit/internal/taskenv"
)

// ErrMissingVariables is returned (wrapped) in strict mode when svc.yml
// prints variables the environment lacks.
var ErrMissingVariables = errors.New("missing variables")

// Options controls Load and Parse.
type Options struct {
	// Env is the environment (KEY=VALUE) svc.yml is rendered from.
	Env []string
	// Strict makes a variable svc.yml prints but Env lacks an error.
	Strict bool
	// Dir is where config templates are read from; Load sets it to
	// svc.yml's directory.
	Dir string
	// IdentityEnv (KEY=VALUE) overrides Env for ConfigID alone: the ID is
	// that of svc.yml rendered with these values, so that a value which is
	// no part of the service's configuration does not make a new one.
	// scheduler-lite sets ARTIFACTS_URL, its own address, to a placeholder
	// here: a scheduler restarted on another port or host has the same
	// configuration.
	IdentityEnv []string
}

// Loaded is a rendered, decoded, validated ServiceSpec and what it came from.
type Loaded struct {
	// Spec is the service spec with defaults filled in.
	Spec *ServiceSpec
	// Rendered is svc.yml after mustache rendering.
	Rendered []byte
	// Missing lists variables svc.yml prints that the environment lacks
	// (rendered empty; an error in strict mode).
	Missing []string
	// Warnings are what the SDK accepts but ignores (a pod's user), in
	// line order, for the caller to log.
	Warnings Problems
	// ConfigID identifies this configuration (rendered YAML, with
	// Options.IdentityEnv's values, plus template contents): the first 16
	// bytes of their SHA-256, hex.
	ConfigID string
}

// Load reads svc.yml at path and parses it with Parse; templates are read
// relative to its directory.
func Load(path string, opts Options) (*Loaded, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading service spec: %w", err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(path)
	}
	l, err := Parse(b, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Parse renders text from opts.Env, decodes it strictly, fills in defaults,
// reads the config templates and runs every validator with no previous
// target. Every problem found is reported at once, as Problems (line order);
// warnings (what the SDK accepts but ignores) are kept in Loaded.Warnings.
func Parse(text []byte, opts Options) (*Loaded, error) {
	rendered, missing, err := Render(string(text), opts.Env)
	if err != nil {
		return nil, err
	}
	// A missing variable under Strict is reported with every other
	// problem of the rendered text, not instead of them.
	var strictErr error
	if opts.Strict && len(missing) > 0 {
		strictErr = fmt.Errorf("rendering: %w: %s", ErrMissingVariables, strings.Join(missing, ", "))
	}
	line := templateLines(string(text), opts.Env, rendered)
	s, probs, err := decodeSpec([]byte(rendered), line)
	if err != nil {
		return nil, errors.Join(strictErr, err)
	}
	probs = append(probs, readTemplates(s, opts.Dir)...)
	probs = append(probs, notConsequences(probs, Check(nil, s))...)
	errs, warnings := probs.split()
	if len(errs) > 0 {
		return nil, errors.Join(strictErr, errs)
	}
	if strictErr != nil {
		return nil, strictErr
	}
	idText := rendered
	if len(opts.IdentityEnv) > 0 {
		if idText, _, err = Render(string(text), append(slices.Clone(opts.Env), opts.IdentityEnv...)); err != nil {
			return nil, err
		}
	}
	h := sha256.New()
	h.Write([]byte(idText))
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			for _, c := range t.Configs.Values {
				h.Write([]byte(c.Content))
			}
		}
	}
	return &Loaded{Spec: s, Rendered: []byte(rendered), Missing: missing, Warnings: warnings, ConfigID: hex.EncodeToString(h.Sum(nil)[:16])}, nil
}

// yamlErrorLine is the line a YAML syntax error names.
var yamlErrorLine = regexp.MustCompile(`\bline (\d+)`)

// lineMark is appended to every template line to find it in the rendered
// text; a control character no svc.yml holds.
const lineMark = "\x01"

// standaloneTag is template text mustache removes when it renders, with
// the line it stands on: only a section, inverted section, closing,
// comment, partial or delimiter tag (which may span lines).
var standaloneTag = regexp.MustCompile(`(?s)^[ \t]*\{\{[#^/!>=].*?\}\}[ \t]*\r?$`)

// templateLines maps the lines of rendered (text rendered from env) back to
// the template's, so that problems name the line of svc.yml as written:
// sections, comments and unset sections remove lines, and multi-line values
// add some. It renders text again with every line that survives rendering
// marked with its number; a line a value added takes the number of the
// template line it ends on. When the two renders do not line up (a
// delimiter change), lines map to themselves.
func templateLines(text string, env []string, rendered string) func(int) int {
	identity := func(n int) int { return n }
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines)-1; i++ {
		// A tag spanning lines is one unit: lines i..j.
		j, open := i, strings.Count(lines[i], "{{")-strings.Count(lines[i], "}}")
		for open > 0 && j < len(lines)-2 {
			j++
			open += strings.Count(lines[j], "{{") - strings.Count(lines[j], "}}")
		}
		if !standaloneTag.MatchString(strings.Join(lines[i:j+1], "\n")) {
			lines[j] += lineMark + strconv.Itoa(j+1) + lineMark
		}
		i = j
	}
	marked, _, err := Render(strings.Join(lines, "\n"), env)
	if err != nil {
		return identity
	}
	out := strings.Split(marked, "\n")
	if len(out) != strings.Count(rendered, "\n")+1 {
		return identity
	}
	of := make([]int, len(out)+1) // of[rendered line] = template line
	next := 0
	for i := len(out) - 1; i >= 0; i-- {
		if parts := strings.Split(out[i], lineMark); len(parts) >= 3 {
			next, _ = strconv.Atoi(parts[len(parts)-2])
		}
		of[i+1] = next
	}
	return func(n int) int {
		if n <= 0 || n >= len(of) || of[n] == 0 {
			return n
		}
		return of[n]
	}
}

// decodeSpec decodes rendered YAML into a ServiceSpec with its names and
// defaults filled in; line maps its lines to the template's (nil: as they
// are). The error is for YAML that is not one document holding a mapping;
// problems with its content are returned as Problems.
func decodeSpec(rendered []byte, line func(int) int) (*ServiceSpec, Problems, error) {
	if line == nil {
		line = func(n int) int { return n }
	}
	var root yaml.Node
	if err := yaml.Unmarshal(rendered, &root); err != nil {
		msg := err.Error()
		if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			if at := syntaxErrorLine(rendered); at > 0 {
				n = at
			}
			msg = "line " + strconv.Itoa(line(n)) + ": " + strings.TrimPrefix(msg[strings.Index(msg, m[0])+len(m[0]):], ": ")
			if lines := bytes.Split(rendered, []byte("\n")); n >= 1 && n <= len(lines) && bytes.HasPrefix(bytes.TrimLeft(lines[n-1], " "), []byte("\t")) && !strings.Contains(msg, "tab") {
				msg += " (a tab: YAML indents with spaces only)"
			}
		}
		return nil, nil, errors.New("decoding YAML: " + msg)
	}
	remapLines(&root, line)
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil, nil, errors.New("decoding YAML: want one document holding a mapping")
	}
	d := &decoder{lines: map[string]int{}, nulls: map[string]bool{}, budget: expansionBudget(&root)}
	s := new(ServiceSpec)
	d.decode(root.Content[0], reflect.ValueOf(s).Elem(), "")
	s.lines, s.nulls = d.lines, d.nulls
	fillNames(s)
	for _, p := range d.probs {
		p.Rule = "decode"
	}
	return s, d.probs, nil
}

// syntaxErrorLine finds the line of a YAML syntax error: yaml.v3 names
// where the enclosing block began (a bad line 11 in a mapping begun on line
// 2 is "line 2"), so this parses ever longer prefixes of text, line by line,
// and returns the first line that makes one fail for another reason than
// its end; 0 when there is none (an unclosed quote).
func syntaxErrorLine(text []byte) int {
	lines := bytes.SplitAfter(text, []byte("\n"))
	var prefix []byte
	for i, l := range lines {
		prefix = append(prefix, l...)
		var n yaml.Node
		if err := yaml.Unmarshal(prefix, &n); err != nil && !strings.Contains(err.Error(), "end of stream") {
			return i + 1
		}
	}
	return 0
}

// remapLines sets every node's line to the template's.
func remapLines(n *yaml.Node, line func(int) int) {
	n.Line = line(n.Line)
	for _, c := range n.Content {
		remapLines(c, line)
	}
}

// notConsequences keeps the validators' problems that are not consequences
// of a decoding problem: one at a path where (or under which) decoding could
// not take a value is dropped (cpus: "lots" also leaves the task with no
// resources).
func notConsequences(decoded, checked Problems) Problems {
	var out Problems
	for _, c := range checked {
		if !slices.ContainsFunc(decoded, func(d *Problem) bool { return !d.absent && under(d.Path, c.Path) }) {
			out = append(out, c)
		}
	}
	return out
}

// under reports whether path is p or lies under it.
func under(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	rest := path[len(p):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// lineOf is the line of path, or of its closest decoded parent.
func (s *ServiceSpec) lineOf(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// readTemplates reads every config template relative to dir, as the SDK's
// ConfigTemplateReader does: a missing or empty one is a problem.
func readTemplates(s *ServiceSpec, dir string) Problems {
	var probs Problems
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			for _, c := range t.Configs.Values {
				path := "pods." + p.Name + ".tasks." + t.Name + ".configs." + c.Name + ".template"
				if c.Template == "" {
					continue // reported as required
				}
				if !taskenv.LocalPath(c.Template) {
					probs.add(path, "%q must be a relative path inside the package directory, without \"..\"", c.Template)
					continue
				}
				src := filepath.Join(dir, c.Template)
				b, err := readTemplate(src)
				switch {
				case err != nil:
					probs.add(path, "%v", err)
				case len(b) == 0:
					probs.add(path, "%s is empty", src)
				case len(b) > maxTemplateBytes:
					probs.add(path, "%s is larger than 1 MiB", src)
				default:
					c.Content = string(b)
				}
			}
		}
	}
	for _, p := range probs {
		p.Line, p.Rule = s.lineOf(p.Path), "ConfigTemplateReader"
	}
	return probs
}

// maxTemplateBytes is the largest config template svc.yml may name (the
// SDK's 1 MiB limit, render.DefaultMaxBytes).
const maxTemplateBytes = render.DefaultMaxBytes

// readTemplate reads at most maxTemplateBytes+1 bytes of the regular file
// at path: a device such as /dev/zero or a FIFO is refused before it is
// read, and a larger file is never read whole.
func readTemplate(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
}

// Render renders a svc.yml template from env with the SDK's rules: the
// environment is the context, "false" (any case) is false in sections but
// prints as itself, a missing variable renders empty. It returns the
// variables that were missing, in order of appearance.
func Render(text string, env []string) (string, []string, error) {
	out, misses, err := render.Text(text, env, render.TextOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("rendering: %w", err)
	}
	return out, append(misses.Variables, misses.Partials...), nil
}

// fillNames copies mapping keys into Name fields and applies defaults.
func fillNames(s *ServiceSpec) {
	if rp := s.ReplacementFailurePolicy; rp != nil {
		if rp.PermanentFailureTimeoutMins == nil && rp.PermanentFailureTimeoutSecs == nil {
			rp.PermanentFailureTimeoutMins = ptr(DefaultPermanentFailureTimeoutMins)
		}
		if rp.MinReplaceDelayMins == nil && rp.MinReplaceDelaySecs == nil {
			rp.MinReplaceDelayMins = ptr(DefaultMinReplaceDelayMins)
		}
	}
	fill(&s.Pods, func(p *PodSpec, name string) {
		p.Name = name
		fill(&p.Tasks, func(t *TaskSpec, name string) {
			t.Name = name
			// The SDK upper-cases the goal; it fails without one, where
			// scheduler-lite keeps its documented default.
			t.Goal = strings.ToUpper(t.Goal)
			if t.Goal == "" {
				t.Goal = GoalRunning
			}
			fillPorts(&t.Ports)
			fill(&t.Configs, func(c *ConfigSpec, name string) { c.Name = name })
			fillVolumes(&t.Volumes)
		})
		for _, rs := range p.ResourceSets {
			if rs != nil {
				fillPorts(&rs.Ports)
				fillVolumes(&rs.Volumes)
			}
		}
		fillVolumes(&p.Volumes)
	})
	fill(&s.Plans, func(pl *PlanSpec, name string) {
		pl.Name = name
		if pl.Strategy == "" {
			pl.Strategy = StrategySerial
		}
		fill(&pl.Phases, func(ph *PhaseSpec, name string) {
			ph.Name = name
			switch ph.Strategy {
			case "":
				ph.Strategy = StrategySerial
			case "canary": // the SDK's other name for serial-canary
				ph.Strategy = StrategySerialCanary
			}
		})
	})
}

func fillPorts(o *Ordered[*PortSpec]) {
	fill(o, func(p *PortSpec, name string) {
		p.Name = name
		if p.VIP != nil && p.VIP.Prefix == "" {
			p.VIP.Prefix = p.Name
		}
	})
}

func fillVolumes(o *Ordered[*VolumeSpec]) {
	fill(o, func(v *VolumeSpec, name string) { v.Name = name })
}

// fill replaces every nil value of o (an empty YAML mapping entry) by a zero
// value, then calls set with each value and its key.
func fill[T any](o *Ordered[*T], set func(v *T, key string)) {
	for i := range o.Values {
		if o.Values[i] == nil {
			o.Values[i] = new(T)
		}
		set(o.Values[i], o.Keys[i])
	}
}

// StepTasks returns the steps of instance index in phase ph: each step is the
// task names launched together. Without custom steps every task of the pod is
// one step.
func (ph *PhaseSpec) StepTasks(pod *PodSpec, index int) [][]string {
	var def [][]string
	for _, m := range ph.Steps {
		for k, v := range m {
			if k == strconv.Itoa(index) {
				return v
			}
			if k == "default" {
				def = v
			}
		}
	}
	if def != nil {
		return def
	}
	return [][]string{pod.TaskNames()}
}

// TaskNames returns the pod's task names in order.
func (p *PodSpec) TaskNames() []string { return append([]string(nil), p.Tasks.Keys...) }

// Pod returns the pod type named name, or nil.
func (s *ServiceSpec) Pod(name string) *PodSpec {
	p, _ := s.Pods.Get(name)
	return p
}

func ptr[T any](v T) *T { return &v }
