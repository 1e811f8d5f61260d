package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
	"gopkg.in/yaml.v3"

	"github.com/taskkit/taskkit/internal/render"
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
	// ConfigID identifies this configuration (rendered YAML plus template
	// contents): the first 16 bytes of their SHA-256, hex.
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

// Parse renders text from opts.Env, decodes it strictly, fills in defaults
// and validates it. Every problem found is reported, as a *multierror.Error
// whose entries each name a field path.
func Parse(text []byte, opts Options) (*Loaded, error) {
	rendered, missing, err := Render(string(text), opts.Env)
	if err != nil {
		return nil, err
	}
	if opts.Strict && len(missing) > 0 {
		return nil, fmt.Errorf("rendering: %w: %s", ErrMissingVariables, strings.Join(missing, ", "))
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader([]byte(rendered)))
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	var errs *multierror.Error
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		checkFields(root.Content[0], reflect.TypeFor[ServiceSpec](), "", &errs)
	} else {
		return nil, errors.New("decoding YAML: want one document holding a mapping")
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, err
	}
	s := new(ServiceSpec)
	if err := root.Decode(s); err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	fillNames(s)
	if err := Validate(s, opts.Dir); err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(rendered))
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			for _, c := range t.Configs.Values {
				h.Write([]byte(c.Content))
			}
		}
	}
	return &Loaded{Spec: s, Rendered: []byte(rendered), Missing: missing, ConfigID: hex.EncodeToString(h.Sum(nil)[:16])}, nil
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

// unsupported are SDK svc.yml fields scheduler-lite knows but does not
// implement; they are rejected with a clearer message than unknown fields.
var unsupported = map[string]string{
	"image": "container images", "networks": "virtual networks", "rlimits": "rlimits",
	"volume": "volumes", "volumes": "volumes", "pre-reserved-role": "reservations",
	"share-pid-namespace": "PID namespaces", "host-volumes": "host volumes",
	"external-volumes": "external volumes", "seccomp-unconfined": "seccomp",
	"seccomp-profile-name": "seccomp", "ipc-mode": "IPC modes", "shm-size": "shared memory",
	"gpus": "GPUs", "labels": "task labels", "resource-limits": "resource limits",
	"ranges": "port ranges", "file": "secret files",
}

type orderedType interface{ orderedElem() reflect.Type }

var orderedIface = reflect.TypeFor[orderedType]()

// checkFields walks node against Go type t and reports every key that has no
// field, with its dotted path.
func checkFields(n *yaml.Node, t reflect.Type, path string, errs **multierror.Error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if reflect.PointerTo(t).Implements(orderedIface) {
		elem := reflect.New(t).Interface().(orderedType).orderedElem()
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				*errs = multierror.Append(*errs, fmt.Errorf("%s: want a mapping (line %d)", path, n.Line))
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkFields(n.Content[i+1], elem, join(path, n.Content[i].Value), errs)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				*errs = multierror.Append(*errs, fmt.Errorf("%s: want a mapping (line %d)", path, n.Line))
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := join(path, key)
			f, ok := fieldByTag(t, key)
			if !ok {
				if what, known := unsupported[key]; known {
					*errs = multierror.Append(*errs, fmt.Errorf("%s: not supported by scheduler-lite (%s) (line %d)", p, what, n.Content[i].Line))
				} else {
					*errs = multierror.Append(*errs, fmt.Errorf("%s: unknown field (line %d)", p, n.Content[i].Line))
				}
				continue
			}
			checkFields(n.Content[i+1], f.Type, p, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type error
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkFields(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			*errs = multierror.Append(*errs, fmt.Errorf("%s: want a %s (line %d)", path, t.Kind(), n.Line))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			*errs = multierror.Append(*errs, fmt.Errorf("%s: %q is not a %s (line %d)", path, n.Value, kindName(t.Kind()), n.Line))
		}
	}
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int:
		return "whole number"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	}
	return k.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key && name != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// fillNames copies mapping keys into Name fields and applies defaults.
func fillNames(s *ServiceSpec) {
	fill(&s.Pods, func(p *PodSpec, name string) {
		p.Name = name
		fill(&p.Tasks, func(t *TaskSpec, name string) {
			t.Name = name
			if t.Goal == "" {
				t.Goal = GoalRunning
			}
			fillPorts(&t.Ports)
			fill(&t.Configs, func(c *ConfigSpec, name string) { c.Name = name })
		})
		for _, rs := range p.ResourceSets {
			if rs != nil {
				fillPorts(&rs.Ports)
			}
		}
	})
	fill(&s.Plans, func(pl *PlanSpec, name string) {
		pl.Name = name
		if pl.Strategy == "" {
			pl.Strategy = StrategySerial
		}
		fill(&pl.Phases, func(ph *PhaseSpec, name string) {
			ph.Name = name
			if ph.Strategy == "" {
				ph.Strategy = StrategySerial
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

// Health-check defaults follow Mesos (seconds).
const (
	DefaultHealthDelay       = 15
	DefaultHealthInterval    = 10
	DefaultHealthTimeout     = 20
	DefaultHealthFailures    = 3
	DefaultHealthGracePeriod = 10
	DefaultReadinessInterval = 5
	DefaultReadinessTimeout  = 10
)

// UnmarshalYAML fills in Mesos' defaults for absent health-check fields.
func (h *HealthCheckSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain HealthCheckSpec
	p := plain{Delay: DefaultHealthDelay, Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout,
		MaxConsecutiveFailures: DefaultHealthFailures, GracePeriod: DefaultHealthGracePeriod}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*h = HealthCheckSpec(p)
	return nil
}

// UnmarshalYAML fills in defaults for absent readiness-check fields.
func (r *ReadinessCheckSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain ReadinessCheckSpec
	p := plain{Interval: DefaultReadinessInterval, Timeout: DefaultReadinessTimeout}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = ReadinessCheckSpec(p)
	return nil
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

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
