// Package config keeps a service's configurations, after the DC/OS SDK's
// config package (DefaultConfigurationUpdater, ConfigStore, config/validate):
// every start renders svc.yml into a candidate Configuration, and Update
// makes it the target only if it passes the validators against the current
// target. A refused candidate leaves the old target in place (the scheduler
// runs it) and its errors go into the deploy plan.
//
//	svc.yml + env ──▶ candidate ──▶ spec.Check(target, candidate)
//	                                 + registration validators (Validators)
//	      no target ─────────────────────▶ candidate stored, target
//	      problems ──────────────────────▶ target kept; Result.Errors
//	      none ──────────────────────────▶ candidate stored, target
//	                                       (Changed unless the same)
//
// A configuration is stored by its ID (the SHA-256 of the rendered svc.yml,
// its templates and the TASKCFG_* variables, first 16 bytes, hex) as a JSON
// document (see Configuration.Marshal); the target's ID is the store's
// ConfigTarget. The scheduler deletes the configurations no task refers to
// any more (Unused).
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Configuration is one configuration of the service: what a start rendered
// from svc.yml and the scheduler's environment, and the registration it
// runs with.
type Configuration struct {
	// ID identifies the content: see NewID.
	ID string
	// Spec is the decoded svc.yml, templates' contents included.
	Spec *spec.ServiceSpec
	// Rendered is svc.yml after rendering.
	Rendered []byte
	// TaskCfg are the scheduler's TASKCFG_* variables (KEY=VALUE, sorted),
	// which go into the tasks' environment.
	TaskCfg []string
	// User is the framework user (scheduler.user, else --user or $USER),
	// Role its role, Region the region its pods are placed in
	// (SERVICE_REGION; "" for any).
	User, Role, Region string
}

// TemplateKey names a config template in Configuration.Templates:
// "<pod>/<task>/<name>".
func TemplateKey(pod, task, name string) string { return pod + "/" + task + "/" + name }

// Templates returns the contents of the config templates by TemplateKey.
func (c *Configuration) Templates() map[string]string {
	out := map[string]string{}
	for _, p := range c.Spec.Pods.Values {
		for _, t := range p.Tasks.Values {
			for _, cf := range t.Configs.Values {
				out[TemplateKey(p.Name, t.Name, cf.Name)] = cf.Content
			}
		}
	}
	return out
}

// Template returns the content of config template name of pod/task.
func (c *Configuration) Template(pod, task, name string) (string, bool) {
	p := c.Spec.Pod(pod)
	if p == nil {
		return "", false
	}
	t, ok := p.Tasks.Get(task)
	if !ok {
		return "", false
	}
	cf, ok := t.Configs.Get(name)
	if !ok {
		return "", false
	}
	return cf.Content, true
}

// TaskCfgOf returns the TASKCFG_* entries of environ (KEY=VALUE), sorted,
// the last of a key winning.
func TaskCfgOf(environ []string) []string {
	vals := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, taskenv.TaskCfgPrefix) {
			vals[k] = v
		}
	}
	out := make([]string, 0, len(vals))
	for k, v := range vals {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// NewID is the ID of a configuration: the spec's ID (spec.Loaded.ConfigID,
// the rendered svc.yml and its templates) when there is no TASKCFG_*
// variable, else the first 16 bytes of the SHA-256 of it and them, hex.
func NewID(specID string, taskCfg []string) string {
	if len(taskCfg) == 0 {
		return specID
	}
	h := sha256.New()
	h.Write([]byte(specID))
	for _, kv := range taskCfg {
		h.Write([]byte{0})
		h.Write([]byte(kv))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// FromLoaded is the candidate configuration of a start: l, rendered from
// environ (whose TASKCFG_* variables it keeps), registered as user, role,
// in region.
func FromLoaded(l *spec.Loaded, environ []string, user, role, region string) *Configuration {
	tc := TaskCfgOf(environ)
	return &Configuration{ID: NewID(l.ConfigID, tc), Spec: l.Spec, Rendered: l.Rendered, TaskCfg: tc, User: user, Role: role, Region: region}
}

// stored is a configuration as the store keeps it.
type stored struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	User      string            `json:"user,omitempty"`
	Role      string            `json:"role,omitempty"`
	Region    string            `json:"region,omitempty"`
	Rendered  string            `json:"svc.yml"`
	Templates map[string]string `json:"templates,omitempty"`
	TaskCfg   []string          `json:"taskcfg,omitempty"`
}

// Marshal returns the stored form: JSON {"id", "name", "user", "role",
// "region", "svc.yml" (rendered), "templates" ({"<pod>/<task>/<name>":
// content}), "taskcfg" (["TASKCFG_...=v"])}.
func (c *Configuration) Marshal() ([]byte, error) {
	return json.Marshal(stored{
		ID: c.ID, Name: c.Spec.Name, User: c.User, Role: c.Role, Region: c.Region,
		Rendered: string(c.Rendered), Templates: c.Templates(), TaskCfg: c.TaskCfg,
	})
}

// ErrCorrupt marks a stored configuration that cannot be read back.
var ErrCorrupt = errors.New("stored configuration unreadable")

// Unmarshal reads a stored configuration back (the scheduler's earlier
// target, or one its tasks were launched with).
func Unmarshal(b []byte) (*Configuration, error) {
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	s, err := spec.Decode([]byte(st.Rendered))
	if err != nil {
		return nil, fmt.Errorf("%w: configuration %s: %v", ErrCorrupt, st.ID, err)
	}
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			for _, cf := range t.Configs.Values {
				cf.Content = st.Templates[TemplateKey(p.Name, t.Name, cf.Name)]
			}
		}
	}
	return &Configuration{ID: st.ID, Spec: s, Rendered: []byte(st.Rendered), TaskCfg: st.TaskCfg, User: st.User, Role: st.Role, Region: st.Region}, nil
}

// Validator checks a candidate's registration against the target's (old
// is never nil), the SDK's validators of what is not in svc.yml.
type Validator struct {
	Name  string
	Check func(old, next *Configuration, deployed bool) []string
}

// Validators are the registration validators Update runs after
// spec.Check's, each named after the dcos-commons config/validate class it
// follows.
var Validators = []Validator{
	{"RegionCannotChange", regionCannotChange},
	{"ServiceRoleCannotChangeOnIncompleteDeployment", roleCannotChangeOnIncompleteDeployment},
}

// regionCannotChange follows RegionCannotChange: the region the service's
// pods are placed in (SERVICE_REGION) stays the same.
func regionCannotChange(old, next *Configuration, _ bool) []string {
	if old.Region != next.Region {
		return []string{fmt.Sprintf("region (SERVICE_REGION): %q: the service's region cannot change from %q", next.Region, old.Region)}
	}
	return nil
}

// roleCannotChangeOnIncompleteDeployment follows
// ServiceRoleCannotChangeOnIncompleteDeployment: the role (--role) may
// change only once a deployment has completed.
func roleCannotChangeOnIncompleteDeployment(old, next *Configuration, deployed bool) []string {
	if old.Role != "" && old.Role != next.Role && !deployed {
		return []string{fmt.Sprintf("role (--role): %q: the service's role cannot change from %q before a deployment has completed: finish the deployment with role %q first", next.Role, old.Role, old.Role)}
	}
	return nil
}

// Result is what Update decided.
type Result struct {
	// Target is the configuration to run: the candidate, or the previous
	// target when the candidate was refused.
	Target *Configuration
	// Previous is the target before this start (nil on a first start, or
	// when it could not be read: PreviousErr says why).
	Previous    *Configuration
	PreviousErr error
	// Errors are why the candidate was refused ("<field>: <problem>
	// (line N) [Validator]"), for the deploy plan; empty when it was not.
	Errors []string
	// Warnings are the validators' warnings about the candidate.
	Warnings []string
	// Changed reports that the target moved to the candidate.
	Changed bool
}

// Update validates candidate against the stored target, as the SDK's
// DefaultConfigurationUpdater.updateConfiguration: on a first start, or
// when it passes, it is stored and made the target (Changed unless it was
// the target already); otherwise the target stays and Result.Errors lists
// every problem. deployed says whether a deployment has completed (the
// role may change then). Both configurations' specs get their framework
// user filled in (scheduler.user) before the validators run, as the SDK
// fills in root.
func Update(st store.Store, candidate *Configuration, deployed bool) (*Result, error) {
	id, b, err := st.Target()
	if err != nil {
		return nil, fmt.Errorf("reading the target configuration: %w", err)
	}
	fillUser(candidate)
	res := &Result{Target: candidate}
	if id != "" {
		old, err := Unmarshal(b)
		if err != nil {
			// Nothing to validate against: the candidate is taken, and
			// the caller says why.
			res.PreviousErr = fmt.Errorf("target configuration %s: %w", id, err)
		} else {
			if old.User == "" {
				old.User = candidate.User // stored before users were recorded
			}
			fillUser(old)
			res.Previous = old
		}
	}
	old := res.Previous
	var oldSpec *spec.ServiceSpec
	if old != nil {
		oldSpec = old.Spec
	}
	// The SDK runs TaskVolumesCannotChange only when the role (--role)
	// stays the same (DefaultConfigValidators.getRoleValidators, with
	// SchedulerBuilder.hasRoleChanged comparing the target's role): with a
	// new role, ServiceRoleCannotChangeOnIncompleteDeployment is what may
	// refuse the change. A target recorded without its role is taken to
	// have the same one.
	roleChanged := old != nil && old.Role != "" && old.Role != candidate.Role
	for _, p := range spec.Check(oldSpec, candidate.Spec) {
		if roleChanged && p.Rule == "TaskVolumesCannotChange" {
			continue
		}
		msg := p.Error() + " [" + p.Rule + "]"
		if p.Warning {
			res.Warnings = append(res.Warnings, msg)
		} else {
			res.Errors = append(res.Errors, msg)
		}
	}
	if old != nil {
		for _, v := range Validators {
			for _, e := range v.Check(old, candidate, deployed) {
				res.Errors = append(res.Errors, e+" ["+v.Name+"]")
			}
		}
	}
	if len(res.Errors) > 0 {
		if old == nil {
			return nil, fmt.Errorf("configuration %s: %s", candidate.ID, strings.Join(res.Errors, "; "))
		}
		res.Target = old
		return res, nil
	}
	// Stored every time (the same document when nothing changed): the
	// store says what this start runs.
	b, err = candidate.Marshal()
	if err != nil {
		return nil, err
	}
	if err := st.SetTarget(candidate.ID, b); err != nil {
		return nil, fmt.Errorf("storing the target configuration %s: %w", candidate.ID, err)
	}
	res.Changed = old == nil || old.ID != candidate.ID || old.User != candidate.User || old.Role != candidate.Role || old.Region != candidate.Region
	return res, nil
}

// fillUser sets the spec's scheduler.user to the framework user.
func fillUser(c *Configuration) {
	if c.Spec.Scheduler == nil {
		c.Spec.Scheduler = &spec.SchedulerSpec{}
	}
	if c.Spec.Scheduler.User == "" {
		c.Spec.Scheduler.User = c.User
	}
}

// Unused returns the stored configurations to delete: all but the target
// and those some task still refers to (the SDK's clearConfigsNotListed).
func Unused(stored []string, target string, used map[string]bool) []string {
	var out []string
	for _, id := range stored {
		if id != target && !used[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// validID is what a configuration ID looks like.
var validID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidID reports whether id can be a configuration ID (a malformed one is
// a bad request, an unknown one not found).
func ValidID(id string) bool { return validID.MatchString(id) }
