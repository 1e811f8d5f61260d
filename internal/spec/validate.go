package spec

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/taskkit/taskkit/internal/taskenv"
)

// Validator checks a new configuration, next, against the current target
// old (nil on a first deployment) and returns every problem it finds, each
// at a field path of next; Check fills in the lines.
type Validator func(old, next *ServiceSpec) Problems

// validators is the one list of checks Check runs, in order, each named
// after the SDK code whose rules it follows (dcos-commons
// sdk/scheduler/src/main/java/com/mesosphere/sdk/...). Checks that compare
// an old target with a new configuration (config/validate's transition
// validators) belong here too; they find old nil on a first deployment.
// docs/svc-yaml.md lists every one of them (a test checks it). The ones
// that only compare with a running target are transition.go's.
var validators = []struct {
	Name  string
	Check Validator
}{
	{"ServiceSpec", serviceSpecFields},                                            // specification/DefaultServiceSpec, YAMLToInternalMappers
	{"ServiceNameCannotContainDoubleUnderscores", serviceNameNoDoubleUnderscores}, // config/validate
	{"ServiceNameCannotBreakDNS", serviceNameFitsDNS},                             // config/validate
	{"PodSpec", podSpecFields},                                                    // specification/DefaultPodSpec
	{"PlacementRuleIsValid", placementRuleIsValid},                                // config/validate, MarathonConstraintParser
	{"TaskSpec", taskSpecFields},                                                  // specification/DefaultTaskSpec, DefaultConfigFileSpec, YAMLToInternalMappers.convertTask
	{"ResourceSet", resourceSets},                                                 // specification/DefaultResourceSet, DefaultResourceSpec
	{"PortSpec", portSpecs},                                                       // YAMLToInternalMappers.convertPorts, NamedVIPSpec
	{"RangeSpec", portRanges},                                                     // specification/RangeSpec, PortEvaluationStage (ranges of a dynamic port)
	{"DistinctEndpointNames", distinctEndpointNames},                              // YAMLToInternalMappers.verifyDistinctEndpointNames
	{"DistinctDiscoveryPrefixes", distinctDiscoveryPrefixes},                      // YAMLToInternalMappers.verifyDistinctDiscoveryPrefixes, convertDiscovery
	{"CheckSpecs", checkSpecs},                                                    // specification/DefaultHealthCheckSpec, DefaultReadinessCheckSpec
	{"SecretSpec", secretSpecs},                                                   // specification/DefaultSecretSpec, YAMLToInternalMappers.convertSecret
	{"VolumeSpec", volumeSpecs},                                                   // specification/DefaultVolumeSpec, DefaultResourceSet.addVolume, YAMLToInternalMappers.convertResourceSet
	{"PreReservedRole", preReservedRole},                                          // framework/FrameworkConfig.getFrameworkPreReservedRoles, Mesos roles::validate
	{"TaskVolumesCannotChange", taskVolumesCannotChange},                          // config/validate
	{"ResourceSetVolumesFollowTheirTasks", resourceSetVolumesFollowTheirTasks},    // offer/evaluate/TaskResourceMapper (scheduler-lite's own)
	{"PreReservationCannotChange", preReservationCannotChange},                    // config/validate
	{"RLimitSpec", rlimitSpecs},                                                   // specification/RLimitSpec
	{"TaskLabels", taskLabels},                                                    // YAMLToInternalMappers.convertLabels
	{"ResourceLimits", resourceLimits},                                            // specification/DefaultResourceLimits, config/validate/ResourceLimitsMustExceedRequestedResources
	{"TransportEncryptionSpec", transportEncryption},                              // specification/DefaultTransportEncryptionSpec
	{"ReplacementFailurePolicy", replacementFailurePolicy},                        // specification/ReplacementFailurePolicy
	{"PlanGenerator", planSpecs},                                                  // specification/PlanGenerator
	{"StepFactory", stepsCanLaunch},                                               // scheduler/plan/DefaultStepFactory.validate: warnings; StepError fails the step
	{"PodUserIgnored", podUserIgnored},                                            // RawPod: ignoreUnknown, "user" removed
	{"PodSpecsCannotShrink", podSpecsCannotShrink},                                // config/validate (transition.go)
	{"UserCannotChange", userCannotChange},                                        // config/validate (transition.go)
}

// Check runs every validator on next, against the current target old (nil
// on a first deployment), and returns their problems (warnings among them)
// with their lines. Parse runs it with old nil; a scheduler changing its
// target runs it with the target it has.
func Check(old, next *ServiceSpec) Problems {
	var all Problems
	for _, v := range validators {
		for _, p := range v.Check(old, next) {
			if p.Line == 0 {
				p.Line = next.lineOf(p.Path)
			}
			p.Rule = v.Name
			all = append(all, p)
		}
	}
	return all
}

// has reports whether path was given a value in the YAML (a field that
// decodes to its zero value may be absent, null, or written as 0).
func (s *ServiceSpec) has(path string) bool {
	_, ok := s.lines[path]
	return ok && !s.nulls[path]
}

func podPath(p *PodSpec) string               { return "pods." + p.Name }
func taskPath(p *PodSpec, t *TaskSpec) string { return podPath(p) + ".tasks." + t.Name }

// eachTask calls f for every task of every pod, in file order.
func eachTask(s *ServiceSpec, f func(p *PodSpec, t *TaskSpec, path string)) {
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			f(p, t, taskPath(p, t))
		}
	}
}

// idUnsafe is what a Mesos ID (task, framework) or a path segment cannot
// hold: '/', '\', whitespace and control characters.
func idUnsafe(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r)
	})
}

// envUnsafe reports a variable name that no environment can hold.
func envUnsafe(name string) bool {
	return name == "" || strings.ContainsAny(name, "=\x00")
}

// serviceSpecFields: a name and at least one pod (DefaultServiceSpec,
// YAMLToInternalMappers "Missing required 'name'"). The name is also
// scheduler-lite's state directory and ZooKeeper node, so it may not hold
// whitespace, control characters, backslashes or empty, "." or ".." segments
// between its slashes.
func serviceSpecFields(_, s *ServiceSpec) Problems {
	var ps Problems
	switch {
	case s.Name == "":
		ps.add("name", "required")
	case strings.ContainsFunc(s.Name, func(r rune) bool { return r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) }):
		ps.add("name", "%q: a service name may not hold whitespace, control characters or '\\'", s.Name)
	default:
		for _, seg := range strings.Split(strings.TrimPrefix(s.Name, "/"), "/") {
			if seg == "" || seg == "." || seg == ".." {
				ps.add("name", "%q: every part between slashes must be a name (not empty, '.' or '..')", s.Name)
				break
			}
		}
	}
	if s.Pods.Len() == 0 {
		ps.add("pods", "at least one pod is required")
	}
	return ps
}

// serviceNameNoDoubleUnderscores follows ServiceNameCannotContainDoubleUnderscores:
// "__" stands for "/" in the SDK's ZooKeeper paths.
func serviceNameNoDoubleUnderscores(_, s *ServiceSpec) Problems {
	var ps Problems
	if strings.Contains(s.Name, "__") {
		ps.add("name", "%q: a service name may not contain double underscores", s.Name)
	}
	return ps
}

// serviceNameFitsDNS follows ServiceNameCannotBreakDNS: without its slashes
// the name is one DNS label, at most 63 characters. A new service is
// rejected; a running one only warned, as its DNS names exist already.
func serviceNameFitsDNS(old, s *ServiceSpec) Problems {
	var ps Problems
	if n := len(strings.ReplaceAll(s.Name, "/", "")); n > 63 {
		if old == nil {
			ps.add("name", "%q is %d characters without its slashes: service DNS names need at most 63", s.Name, n)
		} else {
			ps.warn("name", "%q is %d characters without its slashes: its DNS names are truncated", s.Name, n)
		}
	}
	return ps
}

// podSpecFields follows DefaultPodSpec: a count of at least 0 and at least
// one task; convertPod parses every URI. Pod names become part of task IDs.
func podSpecFields(_, s *ServiceSpec) Problems {
	var ps Problems
	for _, p := range s.Pods.Values {
		path := podPath(p)
		if idUnsafe(p.Name) {
			ps.add(path, "pod name %q cannot be part of a Mesos task ID (no '/', '\\', whitespace or control characters)", p.Name)
		}
		if p.Count < 0 {
			ps.add(path+".count", "%d: must not be negative", p.Count)
		}
		if p.Tasks.Len() == 0 {
			ps.add(path+".tasks", "at least one task is required")
		}
		for i, u := range p.URIs {
			if _, err := url.Parse(u); err != nil || strings.TrimSpace(u) == "" || strings.ContainsFunc(u, unicode.IsSpace) {
				ps.add(fmt.Sprintf("%s.uris[%d]", path, i), "%q is not a URI", u)
			}
		}
	}
	return ps
}

// placementRuleIsValid follows PlacementRuleIsValid: the placement parses
// as Marathon constraints.
func placementRuleIsValid(_, s *ServiceSpec) Problems {
	var ps Problems
	for _, p := range s.Pods.Values {
		if _, err := ParsePlacement(p.Placement); err != nil {
			ps.add(podPath(p)+".placement", "invalid constraints: %v", err)
		}
	}
	return ps
}

// maxKillGracePeriod is the SDK's bound on kill-grace-period
// (Constants.LONG_DECLINE_SECONDS), in seconds.
const maxKillGracePeriod = 3600

// taskSpecFields follows DefaultTaskSpec and convertTask: the goal is
// RUNNING, FINISH or ONCE (FINISHED is refused by name), the kill grace
// period is 0 to 3600 s, config destinations are set and distinct. Task
// names become part of task IDs; cmd and env names must be runnable.
func taskSpecFields(_, s *ServiceSpec) Problems {
	var ps Problems
	eachTask(s, func(p *PodSpec, t *TaskSpec, path string) {
		if idUnsafe(t.Name) {
			ps.add(path, "task name %q cannot be part of a Mesos task ID (no '/', '\\', whitespace or control characters)", t.Name)
		}
		switch t.Goal {
		case GoalRunning, GoalFinish, GoalOnce:
		default:
			ps.add(path+".goal", "unsupported goal %q: want RUNNING, FINISH or ONCE", t.Goal)
		}
		if s.has(path+".cmd") && strings.TrimSpace(t.Cmd) == "" {
			ps.add(path+".cmd", "empty: the executor has nothing to run")
		}
		for _, k := range sortedKeys(t.Env) {
			if envUnsafe(k) {
				ps.add(path+".env."+k, "%q cannot be an environment variable name", k)
			}
		}
		if t.KillGracePeriod < 0 || t.KillGracePeriod > maxKillGracePeriod {
			ps.add(path+".kill-grace-period", "%d: want 0 to %d seconds", t.KillGracePeriod, maxKillGracePeriod)
		}
		dests := map[string]string{}
		for _, c := range t.Configs.Values {
			cp := path + ".configs." + c.Name + ".dest"
			if !s.has(cp) {
				continue // reported as required
			}
			if c.Dest == "" {
				ps.add(cp, "must not be empty")
			} else if !taskenv.LocalPath(c.Dest) {
				ps.add(cp, "%q must be a relative path inside the sandbox, without \"..\"", c.Dest)
			} else if other, dup := dests[c.Dest]; dup {
				ps.add(cp, "%q is also the destination of config %s", c.Dest, other)
			}
			dests[c.Dest] = c.Name
		}
	})
	return ps
}

// resourceSets follows DefaultResourceSet and DefaultResourceSpec: every
// task's resources (its own, or the resource set it names) hold at least one
// resource, and cpus and memory, when given, are greater than zero. The SDK
// ignores a task's own cpus, memory and ports when it names a resource set;
// scheduler-lite refuses them rather than ignore them.
func resourceSets(_, s *ServiceSpec) Problems {
	var ps Problems
	scalars := func(path string, cpus, mem float64, ports int) {
		if s.has(path+".cpus") && cpus <= 0 {
			ps.add(path+".cpus", "%g: must be greater than zero", cpus)
		}
		if s.has(path+".memory") && mem <= 0 {
			ps.add(path+".memory", "%g: must be greater than zero", mem)
		}
		if !s.has(path+".cpus") && !s.has(path+".memory") && ports == 0 {
			ps.add(path, "no resources: give cpus, memory or ports")
		}
	}
	for _, p := range s.Pods.Values {
		for _, id := range sortedKeys(p.ResourceSets) {
			rs := p.ResourceSets[id]
			scalars(podPath(p)+".resource-sets."+id, rs.CPUs, rs.Memory, rs.Ports.Len())
		}
		for _, t := range p.Tasks.Values {
			path := taskPath(p, t)
			if t.ResourceSet == "" {
				scalars(path, t.CPUs, t.Memory, t.Ports.Len())
				continue
			}
			if _, ok := p.ResourceSets[t.ResourceSet]; !ok {
				ps.add(path+".resource-set", "%q is not a resource set of pod %s", t.ResourceSet, p.Name)
			}
			for _, f := range []string{"cpus", "memory", "ports"} {
				if s.has(path + "." + f) {
					ps.add(path+"."+f, "the task takes its resources from resource set %q (the SDK would ignore this)", t.ResourceSet)
				}
			}
		}
	}
	return ps
}

// portSpecs follows convertPorts: within one task's (or resource set's)
// ports a fixed port appears once, and a VIP's name (its prefix, else the
// port's name) is not the name of another of them. Ports are 0 (any) to
// 65535, and an env-key must be a possible variable name.
func portSpecs(_, s *ServiceSpec) Problems {
	var ps Problems
	check := func(path string, ports Ordered[*PortSpec]) {
		byNumber := map[int]string{}
		for _, pt := range ports.Values {
			pp := path + ".ports." + pt.Name
			if pt.Port < 0 || pt.Port > 65535 {
				ps.add(pp+".port", "%d: want 0 (any port) to 65535", pt.Port)
			}
			if other, dup := byNumber[pt.Port]; dup && pt.Port > 0 {
				ps.add(pp+".port", "%d is also port %s: a task cannot have two ports with one value", pt.Port, other)
			}
			byNumber[pt.Port] = pt.Name
			if s.has(pp+".env-key") && envUnsafe(pt.EnvKey) {
				ps.add(pp+".env-key", "%q cannot be an environment variable name", pt.EnvKey)
			}
			if pt.VIP == nil {
				continue
			}
			if pt.VIP.Port < 0 || pt.VIP.Port > 65535 {
				ps.add(pp+".vip.port", "%d: want 0 to 65535", pt.VIP.Port)
			}
			if other, ok := ports.Get(pt.VIP.Prefix); ok && other != pt {
				ps.add(pp+".vip.prefix", "VIP name %q is the name of another port", pt.VIP.Prefix)
			}
		}
	}
	for _, p := range s.Pods.Values {
		for _, id := range sortedKeys(p.ResourceSets) {
			check(podPath(p)+".resource-sets."+id, p.ResourceSets[id].Ports)
		}
		for _, t := range p.Tasks.Values {
			check(taskPath(p, t), t.Ports)
		}
	}
	return ps
}

// distinctEndpointNames follows verifyDistinctEndpointNames: an advertised
// port's name is advertised once in the whole service (task and resource
// set ports alike), or /v1/endpoints would mix them up.
func distinctEndpointNames(_, s *ServiceSpec) Problems {
	var ps Problems
	first := map[string]string{}
	see := func(path string, ports Ordered[*PortSpec]) {
		for _, pt := range ports.Values {
			if !pt.Advertise {
				continue
			}
			pp := path + ".ports." + pt.Name
			if other, dup := first[pt.Name]; dup {
				ps.add(pp, "advertised port name %q is also advertised by %s: the service has duplicate advertised ports", pt.Name, other)
				continue
			}
			first[pt.Name] = path
		}
	}
	for _, p := range s.Pods.Values {
		for _, t := range p.Tasks.Values {
			see(taskPath(p, t), t.Ports)
		}
		for _, id := range sortedKeys(p.ResourceSets) {
			see(podPath(p)+".resource-sets."+id, p.ResourceSets[id].Ports)
		}
	}
	return ps
}

// distinctDiscoveryPrefixes follows verifyDistinctDiscoveryPrefixes and
// convertDiscovery: tasks of different pods cannot share a discovery prefix
// (tasks of one pod may, when no step launches them together), and the
// visibility is FRAMEWORK, CLUSTER or EXTERNAL.
func distinctDiscoveryPrefixes(_, s *ServiceSpec) Problems {
	var ps Problems
	podOf := map[string]string{}
	eachTask(s, func(p *PodSpec, t *TaskSpec, path string) {
		d := t.Discovery
		if d == nil {
			return
		}
		switch d.Visibility {
		case "", "FRAMEWORK", "CLUSTER", "EXTERNAL":
		default:
			ps.add(path+".discovery.visibility", "%q: want FRAMEWORK, CLUSTER or EXTERNAL", d.Visibility)
		}
		if d.Prefix == "" {
			return
		}
		if other, seen := podOf[d.Prefix]; seen && other != p.Name {
			ps.add(path+".discovery.prefix", "%q is also a prefix in pod %s: tasks in different pods cannot share DNS names", d.Prefix, other)
			return
		}
		podOf[d.Prefix] = p.Name
	})
	return ps
}

// checkSpecs follows DefaultHealthCheckSpec (a command, at least one
// consecutive failure, no negative time) and DefaultReadinessCheckSpec (no
// negative time).
func checkSpecs(_, s *ServiceSpec) Problems {
	var ps Problems
	nonNegative := func(path string, fields map[string]int) {
		for _, k := range sortedKeys(fields) {
			if fields[k] < 0 {
				ps.add(path+"."+k, "%d: must not be negative", fields[k])
			}
		}
	}
	eachTask(s, func(_ *PodSpec, t *TaskSpec, path string) {
		if h := t.HealthCheck; h != nil {
			hp := path + ".health-check"
			if s.has(hp+".cmd") && strings.TrimSpace(h.Cmd) == "" {
				ps.add(hp+".cmd", "must not be empty")
			}
			if s.has(hp+".max-consecutive-failures") && h.MaxConsecutiveFailures < 1 {
				ps.add(hp+".max-consecutive-failures", "%d: must be at least 1", h.MaxConsecutiveFailures)
			}
			nonNegative(hp, map[string]int{"interval": h.Interval, "grace-period": h.GracePeriod, "delay": h.Delay, "timeout": h.Timeout})
		}
		if r := t.ReadinessCheck; r != nil {
			nonNegative(path+".readiness-check", map[string]int{"interval": r.Interval, "delay": r.Delay, "timeout": r.Timeout})
		}
	})
	return ps
}

// secretFilePath is DefaultSecretSpec's pattern for a secret's file path.
var secretFilePath = regexp.MustCompile(`^(?:[.a-zA-Z0-9]+(?:[.a-zA-Z0-9_-]*[/\\]*)*)?$`)

// secretSpecs follows DefaultSecretSpec and convertSecret: a secret path is
// required, and a secret without env-key is a file at its path, which must
// match the SDK's file path pattern. scheduler-lite reads secrets from
// --secrets-dir: the path is relative and without "..".
func secretSpecs(_, s *ServiceSpec) Problems {
	var ps Problems
	for _, p := range s.Pods.Values {
		for _, id := range sortedKeys(p.Secrets) {
			sec := p.Secrets[id]
			sp := podPath(p) + ".secrets." + id
			switch {
			case sec.Secret == "":
				ps.add(sp+".secret", "required")
			case strings.HasPrefix(sec.Secret, "/") || slices.Contains(strings.Split(sec.Secret, "/"), ".."):
				ps.add(sp+".secret", "%q must be a relative path without \"..\" (under --secrets-dir)", sec.Secret)
			case sec.File == "" && sec.FilePath() != "" && !secretFilePath.MatchString(sec.FilePath()):
				ps.add(sp+".secret", "%q: without env-key or file the secret is a file at this path, which must match %s", sec.Secret, secretFilePath)
			}
			if sec.File != "" && !secretFilePath.MatchString(sec.File) {
				ps.add(sp+".file", "%q: must match %s", sec.File, secretFilePath)
			} else if sec.File != "" && (strings.HasPrefix(sec.File, "/") || slices.Contains(strings.Split(sec.File, "/"), "..")) {
				ps.add(sp+".file", "%q: must be a relative path inside the sandbox, without \"..\"", sec.File)
			}
			if s.has(sp+".env-key") && envUnsafe(sec.EnvKey) {
				ps.add(sp+".env-key", "%q cannot be an environment variable name", sec.EnvKey)
			}
		}
	}
	return ps
}

// teName is what a transport-encryption name may be: it names files in the
// sandbox (<name>.crt, ...).
var teName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// transportEncryption follows DefaultTransportEncryptionSpec: a name, and a
// type of TLS or KEYSTORE.
func transportEncryption(_, s *ServiceSpec) Problems {
	var ps Problems
	eachTask(s, func(_ *PodSpec, t *TaskSpec, path string) {
		vars := map[string]int{} // an entry's TLS_<NAME>_KEY → its index + 1
		for i, te := range t.TransportEncryption {
			ep := fmt.Sprintf("%s.transport-encryption[%d]", path, i)
			if te == nil {
				ps.add(ep, "want {name, type}")
				continue
			}
			if !teName.MatchString(te.Name) {
				ps.add(ep+".name", "%q: want a file name (letters, digits, '_', '.', '-')", te.Name)
			}
			// The task gets each entry's secret as TLS_<NAME>_* with NAME
			// upper-cased and '.' and '-' as '_' (taskenv.TLSVar): two
			// entries of one task whose names differ but meet there would
			// overwrite each other's variables. One name given twice (TLS
			// and KEYSTORE, as the SDK's frameworks do) is one secret.
			if v := taskenv.TLSVar(te.Name, taskenv.TLSKey); vars[v] > 0 && t.TransportEncryption[vars[v]-1].Name != te.Name {
				ps.add(ep+".name", "%q: its variables (%s, ...) are those of transport-encryption[%d] too; give the task names that differ in more than case, '.', '-' and '_'", te.Name, v, vars[v]-1)
			} else {
				vars[v] = i + 1
			}
			if te.Type != "TLS" && te.Type != "KEYSTORE" {
				ps.add(ep+".type", "%q: want TLS or KEYSTORE", te.Type)
			}
		}
	})
	return ps
}

// stepKey is a steps entry's key: an instance index, or -1 for "default".
func stepKey(k string) (int, bool) {
	if k == "default" {
		return -1, true
	}
	n, err := strconv.Atoi(k)
	return n, err == nil && n >= 0 && strconv.Itoa(n) == k
}

// planSpecs follows PlanGenerator: plan strategies serial or parallel,
// phase strategies serial, serial-canary (canary), parallel or
// parallel-canary, every phase on a pod of the service; custom steps are
// entries of one key each, no key twice, every instance covered by its index
// or default, every task named existing. An index at or beyond the pod's
// count is accepted and never used, with a warning; a key that is neither an
// index nor default, which the SDK would silently never use, and a step
// with no task, are refused.
func planSpecs(_, s *ServiceSpec) Problems {
	var ps Problems
	for _, pl := range s.Plans.Values {
		path := "plans." + pl.Name
		if pl.Strategy != StrategySerial && pl.Strategy != StrategyParallel {
			ps.add(path+".strategy", "unsupported plan strategy %q: want serial or parallel", pl.Strategy)
		}
		for _, ph := range pl.Phases.Values {
			pp := path + ".phases." + ph.Name
			switch ph.Strategy {
			case StrategySerial, StrategyParallel, StrategySerialCanary, StrategyParallelCanary:
			default:
				ps.add(pp+".strategy", "unsupported phase strategy %q: want serial, serial-canary, canary, parallel or parallel-canary", ph.Strategy)
			}
			pod := s.Pod(ph.Pod)
			if pod == nil {
				if ph.Pod == "" {
					ps.add(pp+".pod", "required")
				} else {
					ps.add(pp+".pod", "%q is not a pod of this service", ph.Pod)
				}
				continue
			}
			if len(ph.Steps) == 0 {
				continue
			}
			keys := map[string]string{}
			for i, m := range ph.Steps {
				ep := fmt.Sprintf("%s.steps[%d]", pp, i)
				if len(m) != 1 {
					ps.add(ep, "a step entry has one key (an instance index or default), this one has %d", len(m))
				}
				for _, k := range sortedKeys(m) {
					sp := ep + "." + k
					n, ok := stepKey(k)
					switch {
					case !ok:
						ps.add(sp, "%q: want an instance index (0, 1, ...) or default", k)
					case keys[k] != "":
						ps.add(sp, "instance %s already has its steps at %s", k, keys[k])
					case n >= pod.Count:
						ps.warn(sp, "instance %d is never deployed: pod %s has %d", n, pod.Name, pod.Count)
					}
					if keys[k] == "" {
						keys[k] = ep
					}
					for j, st := range m[k] {
						if len(st) == 0 {
							ps.add(fmt.Sprintf("%s[%d]", sp, j), "a step needs at least one task")
						}
						for _, tn := range st {
							if _, ok := pod.Tasks.Get(tn); !ok {
								ps.add(fmt.Sprintf("%s[%d]", sp, j), "%q is not a task of pod %s", tn, pod.Name)
							}
						}
					}
				}
			}
			if keys["default"] == "" {
				for i := 0; i < pod.Count; i++ {
					if keys[strconv.Itoa(i)] == "" {
						ps.add(pp+".steps", "instance %d of pod %s has no steps entry and there is no default", i, pod.Name)
						break
					}
				}
			}
		}
	}
	return ps
}

// podUserIgnored: the SDK removed the pod-level user (INFINITY-1953) and
// ignores it, as it ignores every unknown pod field; tasks run as the
// framework user. It is accepted with a warning when it says otherwise.
func podUserIgnored(_, s *ServiceSpec) Problems {
	var ps Problems
	svcUser := ""
	if s.Scheduler != nil {
		svcUser = s.Scheduler.User
	}
	for _, p := range s.Pods.Values {
		if p.User != "" && p.User != svcUser {
			ps.warn(podPath(p)+".user", "%q is ignored, as the SDK ignores a pod's user: tasks run as the framework user (scheduler.user or --user)", p.User)
		}
	}
	return ps
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

// replacementFailurePolicy follows ReplacementFailurePolicy's builder: each
// time non-negative and at most the SDK's Integer seconds; and each setting
// in one form, seconds (the SDK's since 0.58) or minutes (before).
func replacementFailurePolicy(_, s *ServiceSpec) Problems {
	var ps Problems
	rp := s.ReplacementFailurePolicy
	if rp == nil {
		return nil
	}
	for _, f := range []struct {
		setting    string
		secs, mins *int
	}{
		{"permanent-failure-timeout", rp.PermanentFailureTimeoutSecs, rp.PermanentFailureTimeoutMins},
		{"min-replace-delay", rp.MinReplaceDelaySecs, rp.MinReplaceDelayMins},
	} {
		path := "replacement-failure-policy." + f.setting
		if f.secs != nil && f.mins != nil {
			ps.add(path+"-mins", "give %s-secs or %s-mins, not both", f.setting, f.setting)
		}
		for _, u := range []struct {
			v    *int
			unit string
			per  int
		}{{f.secs, "secs", 1}, {f.mins, "mins", 60}} {
			switch {
			case u.v == nil:
			case *u.v < 0:
				ps.add(path+"-"+u.unit, "%d: may not be negative", *u.v)
			case *u.v > MaxReplacementPolicySecs/u.per:
				ps.add(path+"-"+u.unit, "%d: at most %d (%d seconds, the SDK's Integer)", *u.v, MaxReplacementPolicySecs/u.per, MaxReplacementPolicySecs)
			}
		}
	}
	return ps
}
