package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
)

var (
	envKeyRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	nameRE    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	svcNameRE = regexp.MustCompile(`^/?[a-z0-9]([a-z0-9./-]*[a-z0-9])?$`)
	teNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Validate checks s and reads its config templates from dir. Every problem is
// collected; each names the field path.
func Validate(s *ServiceSpec, dir string) error {
	var errs *multierror.Error
	add := func(path, format string, args ...any) {
		errs = multierror.Append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	switch {
	case s.Name == "":
		add("name", "required")
	case strings.Contains(s.Name, "__"):
		add("name", "%q must not contain \"__\"", s.Name)
	case !svcNameRE.MatchString(s.Name):
		add("name", "%q: use lower-case letters, digits, '-', '.' and '/'", s.Name)
	}
	if s.Pods.Len() == 0 {
		add("pods", "at least one pod is required")
	}
	for _, p := range s.Pods.Values {
		validatePod(p, dir, add)
	}
	for _, pl := range s.Plans.Values {
		path := "plans." + pl.Name
		if pl.Strategy != StrategySerial && pl.Strategy != StrategyParallel {
			add(path+".strategy", "%q: want serial or parallel", pl.Strategy)
		}
		if pl.Phases.Len() == 0 {
			add(path+".phases", "at least one phase is required")
		}
		for _, ph := range pl.Phases.Values {
			pp := path + ".phases." + ph.Name
			switch ph.Strategy {
			case StrategySerial, StrategyParallel, StrategySerialCanary, StrategyParallelCanary:
			default:
				add(pp+".strategy", "%q: want serial, parallel, serial-canary or parallel-canary", ph.Strategy)
			}
			pod := s.Pod(ph.Pod)
			if pod == nil {
				add(pp+".pod", "%q is not a pod of this service", ph.Pod)
				continue
			}
			for i, m := range ph.Steps {
				if len(m) != 1 {
					add(fmt.Sprintf("%s.steps[%d]", pp, i), "want one key (an instance index or default)")
				}
				for k, steps := range m {
					sp := fmt.Sprintf("%s.steps[%d].%s", pp, i, k)
					if k != "default" {
						n, err := strconv.Atoi(k)
						if err != nil || n < 0 {
							add(sp, "want an instance index or default")
						} else if n >= pod.Count {
							add(sp, "instance %d is beyond the pod's count %d", n, pod.Count)
						}
					}
					if len(steps) == 0 {
						add(sp, "at least one step is required")
					}
					for _, st := range steps {
						if len(st) == 0 {
							add(sp, "a step needs at least one task")
						}
						for _, tn := range st {
							if _, ok := pod.Tasks.Get(tn); !ok {
								add(sp, "%q is not a task of pod %s", tn, pod.Name)
							}
						}
					}
				}
			}
		}
	}
	return errs.ErrorOrNil()
}

func validatePod(p *PodSpec, dir string, add func(path, format string, args ...any)) {
	path := "pods." + p.Name
	if !nameRE.MatchString(p.Name) {
		add(path, "pod name %q: use lower-case letters, digits and '-'", p.Name)
	}
	if p.Count < 0 {
		add(path+".count", "%d must not be negative", p.Count)
	}
	for i, u := range p.URIs {
		if strings.TrimSpace(u) == "" {
			add(fmt.Sprintf("%s.uris[%d]", path, i), "empty URI")
		}
	}
	if p.Placement != "" {
		if _, err := ParsePlacement(p.Placement); err != nil {
			add(path+".placement", "%v", err)
		}
	}
	for _, id := range sortedKeys(p.Secrets) {
		sec := p.Secrets[id]
		sp := path + ".secrets." + id
		if sec == nil || sec.Secret == "" {
			add(sp+".secret", "required")
		} else if filepath.IsAbs(sec.Secret) || strings.Contains(sec.Secret, "..") {
			add(sp+".secret", "%q must be a relative path without \"..\"", sec.Secret)
		}
		if sec == nil || !envKeyRE.MatchString(sec.EnvKey) {
			add(sp+".env-key", "required: a variable name")
		}
	}
	for _, id := range sortedKeys(p.ResourceSets) {
		rs := p.ResourceSets[id]
		if rs == nil || rs.CPUs <= 0 || rs.Memory <= 0 {
			add(path+".resource-sets."+id, "cpus and memory must be positive")
		}
	}
	if p.Tasks.Len() == 0 {
		add(path+".tasks", "at least one task is required")
	}
	advertised := map[string]string{}
	prefixes := map[string]bool{}
	usedSets := map[string]string{}
	for _, t := range p.Tasks.Values {
		tp := path + ".tasks." + t.Name
		if !nameRE.MatchString(t.Name) {
			add(tp, "task name %q: use lower-case letters, digits and '-'", t.Name)
		}
		switch t.Goal {
		case GoalRunning, GoalFinish, GoalOnce:
		default:
			add(tp+".goal", "%q: want RUNNING, FINISH or ONCE", t.Goal)
		}
		if strings.TrimSpace(t.Cmd) == "" {
			add(tp+".cmd", "required")
		}
		for _, k := range sortedKeys(t.Env) {
			if !envKeyRE.MatchString(k) {
				add(tp+".env."+k, "not a valid variable name")
			}
		}
		ports := t.Ports
		if t.ResourceSet != "" {
			rs, ok := p.ResourceSets[t.ResourceSet]
			switch {
			case !ok || rs == nil:
				add(tp+".resource-set", "%q is not a resource set of pod %s", t.ResourceSet, p.Name)
			case t.CPUs != 0 || t.Memory != 0 || t.Ports.Len() != 0:
				add(tp+".resource-set", "a task uses either a resource set or its own cpus, memory and ports")
			default:
				ports = rs.Ports
			}
			if other, dup := usedSets[t.ResourceSet]; dup {
				add(tp+".resource-set", "%q is already used by task %s", t.ResourceSet, other)
			}
			usedSets[t.ResourceSet] = t.Name
		} else {
			if t.CPUs <= 0 {
				add(tp+".cpus", "must be positive")
			}
			if t.Memory <= 0 {
				add(tp+".memory", "must be positive")
			}
		}
		for _, pt := range ports.Values {
			pp := tp + ".ports." + pt.Name
			if pt.Port < 0 || pt.Port > 65535 {
				add(pp+".port", "%d is not a port number", pt.Port)
			}
			if pt.EnvKey != "" && !envKeyRE.MatchString(pt.EnvKey) {
				add(pp+".env-key", "%q is not a valid variable name", pt.EnvKey)
			}
			if pt.Advertise {
				if other, dup := advertised[pt.Name]; dup {
					add(pp, "advertised port name %q is also used by task %s", pt.Name, other)
				}
				advertised[pt.Name] = t.Name
			}
			if pt.VIP != nil && (pt.VIP.Port <= 0 || pt.VIP.Port > 65535) {
				add(pp+".vip.port", "%d is not a port number", pt.VIP.Port)
			}
		}
		if hc := t.HealthCheck; hc != nil {
			hp := tp + ".health-check"
			if strings.TrimSpace(hc.Cmd) == "" {
				add(hp+".cmd", "required")
			}
			if hc.MaxConsecutiveFailures < 1 {
				add(hp+".max-consecutive-failures", "must be at least 1")
			}
			if hc.Interval <= 0 || hc.Timeout < 0 || hc.Delay < 0 || hc.GracePeriod < 0 {
				add(hp, "interval must be positive; delay, timeout and grace-period not negative")
			}
		}
		if rc := t.ReadinessCheck; rc != nil {
			rp := tp + ".readiness-check"
			if strings.TrimSpace(rc.Cmd) == "" {
				add(rp+".cmd", "required")
			}
			if rc.Interval <= 0 || rc.Timeout < 0 || rc.Delay < 0 {
				add(rp, "interval must be positive; delay and timeout not negative")
			}
		}
		for _, c := range t.Configs.Values {
			cp := tp + ".configs." + c.Name
			if c.Template == "" {
				add(cp+".template", "required")
			} else {
				src := c.Template
				if !filepath.IsAbs(src) {
					src = filepath.Join(dir, src)
				}
				b, err := os.ReadFile(src)
				if err != nil {
					add(cp+".template", "%v", err)
				} else if len(b) > 1<<20 {
					add(cp+".template", "%s is larger than 1 MiB", src)
				} else {
					c.Content = string(b)
				}
			}
			if c.Dest == "" {
				add(cp+".dest", "required")
			}
		}
		if d := t.Discovery; d != nil {
			if !nameRE.MatchString(d.Prefix) {
				add(tp+".discovery.prefix", "%q: use lower-case letters, digits and '-'", d.Prefix)
			} else if prefixes[d.Prefix] {
				add(tp+".discovery.prefix", "%q is used by another task", d.Prefix)
			}
			prefixes[d.Prefix] = true
			if v := d.Visibility; v != "" && v != "CLUSTER" && v != "FRAMEWORK" && v != "EXTERNAL" {
				add(tp+".discovery.visibility", "%q: want FRAMEWORK, CLUSTER or EXTERNAL", v)
			}
		}
		if t.KillGracePeriod < 0 {
			add(tp+".kill-grace-period", "must not be negative")
		}
		seen := map[string]bool{}
		for i, te := range t.TransportEncryption {
			ep := fmt.Sprintf("%s.transport-encryption[%d]", tp, i)
			if te == nil || !teNameRE.MatchString(te.Name) {
				add(ep+".name", "required: letters, digits, '_', '.', '-'")
				continue
			}
			if seen[te.Name] {
				add(ep+".name", "%q appears twice", te.Name)
			}
			seen[te.Name] = true
			if te.Type != "TLS" && te.Type != "KEYSTORE" {
				add(ep+".type", "%q: want TLS or KEYSTORE", te.Type)
			}
		}
	}
}

// Constraint is one placement rule: Field is "hostname", "@zone", "@region"
// or an agent attribute; Op is UNIQUE, MAX_PER, GROUP_BY, CLUSTER, IS,
// IS_NOT, LIKE or UNLIKE; Value its argument.
type Constraint struct {
	Field, Op, Value string
	// Regexp is Value compiled for LIKE and UNLIKE (anchored).
	Regexp *regexp.Regexp
	// N is Value as a number for MAX_PER and GROUP_BY.
	N int
}

// ParsePlacement parses a Marathon constraint string: either
// "field:OP[:value]" items separated by commas, or the JSON form
// [["field","OP","value"],...].
func ParsePlacement(s string) ([]Constraint, error) {
	var items [][]string
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			var one []string
			if json.Unmarshal([]byte(s), &one) != nil {
				return nil, fmt.Errorf("%q: not a JSON list of constraints: %v", s, err)
			}
			items = [][]string{one}
		}
	} else {
		for _, part := range strings.Split(s, ",") {
			items = append(items, strings.Split(strings.TrimSpace(part), ":"))
		}
	}
	var out []Constraint
	for _, it := range items {
		if len(it) < 2 || len(it) > 3 || it[0] == "" {
			return nil, fmt.Errorf("%q: want field:OPERATOR[:value]", strings.Join(it, ":"))
		}
		c := Constraint{Field: it[0], Op: strings.ToUpper(it[1])}
		if len(it) == 3 {
			c.Value = it[2]
		}
		switch c.Op {
		case "UNIQUE":
		case "MAX_PER", "GROUP_BY":
			if c.Value == "" && c.Op == "GROUP_BY" {
				break
			}
			n, err := strconv.Atoi(c.Value)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s:%s: want a positive number, got %q", c.Field, c.Op, c.Value)
			}
			c.N = n
		case "CLUSTER", "IS", "IS_NOT":
			if c.Value == "" {
				return nil, fmt.Errorf("%s:%s: needs a value", c.Field, c.Op)
			}
		case "LIKE", "UNLIKE":
			re, err := regexp.Compile("^(?:" + c.Value + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s:%s: %v", c.Field, c.Op, err)
			}
			c.Regexp = re
		default:
			return nil, fmt.Errorf("%s: unknown operator %q", c.Field, it[1])
		}
		out = append(out, c)
	}
	return out, nil
}
