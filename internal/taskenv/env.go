package taskenv

import (
	"sort"
	"strconv"
	"strings"
)

// Var is one variable of a task environment. A Secret value reaches the task
// like any other but travels as a Mesos SECRET and is masked wherever the
// scheduler shows it.
type Var struct {
	Name, Value string
	Secret      bool
}

// Env builds a task's environment in the SDK's order: each variable keeps
// the position of its first Set, and a later Set replaces its value (and
// whether it is secret). The zero value is empty and ready to use.
type Env struct {
	vars  []Var
	index map[string]int // built once there are many variables
}

// indexAfter is how many variables a linear search looks through before
// an index is built (a task's environment has about twenty).
const indexAfter = 32

// Set sets k to v.
func (e *Env) Set(k, v string) { e.set(Var{Name: k, Value: v}) }

// SetSecret sets k to the secret value v.
func (e *Env) SetSecret(k, v string) { e.set(Var{Name: k, Value: v, Secret: true}) }

func (e *Env) set(v Var) {
	if i := e.find(v.Name); i >= 0 {
		e.vars[i] = v
		return
	}
	if e.vars == nil {
		e.vars = make([]Var, 0, 24)
	}
	if e.index != nil {
		e.index[v.Name] = len(e.vars)
	}
	e.vars = append(e.vars, v)
	if e.index == nil && len(e.vars) > indexAfter {
		e.index = make(map[string]int, 2*len(e.vars))
		for i, x := range e.vars {
			e.index[x.Name] = i
		}
	}
}

// find returns the position of variable k, -1 when unset.
func (e *Env) find(k string) int {
	if e.index != nil {
		if i, ok := e.index[k]; ok {
			return i
		}
		return -1
	}
	for i := range e.vars {
		if e.vars[i].Name == k {
			return i
		}
	}
	return -1
}

// SetSorted sets every entry of m, in key order (svc.yml env, plan
// parameters).
func (e *Env) SetSorted(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.Set(k, m[k])
	}
}

// SetTaskCfg sets the TASKCFG_ALL_<K> and TASKCFG_<POD>_<K> entries of
// environ (the scheduler's environment) as <K> for a task of pod type pod.
// They are applied in sorted order of the full variable name, so when both
// name the same <K> the one sorting later wins (the SDK's TreeMap quirk).
func (e *Env) SetTaskCfg(environ []string, pod string) {
	podPrefix := TaskCfgPrefix + EnvName(pod) + "_"
	var keys []string
	vals := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, TaskCfgAllPrefix) || strings.HasPrefix(k, podPrefix) {
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
			}
			vals[k] = v
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(strings.TrimPrefix(k, TaskCfgAllPrefix), podPrefix)
		if name != "" {
			e.Set(name, vals[k])
		}
	}
}

// Identity is who a task is: the variables SetIdentity sets.
type Identity struct {
	// Service is the framework name.
	Service string
	// Pod, Index and Task name the task (svc.yml names).
	Pod   string
	Index int
	Task  string
	// SchedulerHost and SchedulerPort are how the task reaches the
	// scheduler's API.
	SchedulerHost string
	SchedulerPort int
	// service are the values derived from Service, SchedulerHost and
	// SchedulerPort when ServiceIdentity computed them; SetIdentity
	// derives them anew when there are none, or when those fields have
	// changed since.
	service *serviceValues
}

// serviceValues are an Identity's values that every task of a service
// shares, with what they were derived from.
type serviceValues struct {
	from                                           Identity // Service, SchedulerHost, SchedulerPort
	frameworkHost, frameworkVIPHost, schedulerPort string
}

// derivedFrom reports whether v was derived from id's Service,
// SchedulerHost and SchedulerPort.
func (v *serviceValues) derivedFrom(id Identity) bool {
	return v != nil && v.from.Service == id.Service && v.from.SchedulerHost == id.SchedulerHost && v.from.SchedulerPort == id.SchedulerPort
}

// ServiceIdentity is the identity every task of service shares, reaching
// the scheduler's API at host:port, with the values derived from them
// (FRAMEWORK_HOST, FRAMEWORK_VIP_HOST, SCHEDULER_API_PORT) computed once: a
// launch round sets hundreds of identities. A task's identity is a copy
// with Pod, Index and Task set.
func ServiceIdentity(service, host string, port int) Identity {
	return Identity{Service: service, SchedulerHost: host, SchedulerPort: port, service: &serviceValues{
		from:             Identity{Service: service, SchedulerHost: host, SchedulerPort: port},
		frameworkHost:    FrameworkHost(service),
		frameworkVIPHost: FrameworkVIPHost(service),
		schedulerPort:    strconv.Itoa(port),
	}}
}

// SetIdentity sets POD_INSTANCE_INDEX, FRAMEWORK_NAME, FRAMEWORK_HOST,
// FRAMEWORK_VIP_HOST, SCHEDULER_API_HOSTNAME, SCHEDULER_API_PORT, TASK_NAME
// and <TASK_NAME>=true, in that order.
func (e *Env) SetIdentity(id Identity) {
	sv := id.service
	if !sv.derivedFrom(id) {
		sv = ServiceIdentity(id.Service, id.SchedulerHost, id.SchedulerPort).service
	}
	e.Set(EnvPodInstanceIndex, strconv.Itoa(id.Index))
	e.Set(EnvFrameworkName, id.Service)
	e.Set(EnvFrameworkHost, sv.frameworkHost)
	e.Set(EnvFrameworkVIPHost, sv.frameworkVIPHost)
	e.Set(EnvSchedulerAPIHostname, id.SchedulerHost)
	e.Set(EnvSchedulerAPIPort, sv.schedulerPort)
	tn := TaskName(id.Pod, id.Index, id.Task)
	e.Set(EnvTaskName, tn)
	e.Set(tn, "true")
}

// SetPlacementReferenced sets PLACEMENT_REFERENCED_REGION and _ZONE to
// "true" when the pod's placement rule names @region or @zone.
func (e *Env) SetPlacementReferenced(placement string) {
	if strings.Contains(placement, "@region") {
		e.Set(EnvPlacementReferencedRegion, "true")
	}
	if strings.Contains(placement, "@zone") {
		e.Set(EnvPlacementReferencedZone, "true")
	}
}

// SetConfigTemplate declares config name, fetched to
// config-templates/<name>, to be rendered to dest.
func (e *Env) SetConfigTemplate(name, dest string) {
	e.Set(ConfigTemplateVar(name), FormatConfigTemplate(ConfigTemplatePath(name), dest))
}

// SetFaultDomain sets REGION and ZONE (each only when known).
func (e *Env) SetFaultDomain(region, zone string) {
	if region != "" {
		e.Set(EnvRegion, region)
	}
	if zone != "" {
		e.Set(EnvZone, zone)
	}
}

// SetTLS sets the secret TLS_<NAME>_KEY, _CERT and _CA of
// transport-encryption entry name (PEM texts), and TLS_<NAME>_NAME=name
// when the lower-cased NAME is not name ("web-1", "Web": the files are
// named after the entry, as the SDK names them) and name can name files
// (letters, digits, '_', '.' and '-', as svc.yml's validation requires).
func (e *Env) SetTLS(name, keyPEM, certPEM, caPEM string) {
	e.SetSecret(TLSVar(name, TLSKey), keyPEM)
	e.SetSecret(TLSVar(name, TLSCert), certPEM)
	e.SetSecret(TLSVar(name, TLSCA), caPEM)
	if strings.ToLower(EnvName(name)) != name && strings.IndexFunc(name, notNameChar) < 0 {
		e.Set(TLSVar(name, TLSName), name)
	}
}

// SetEnviron sets every KEY=VALUE entry of environ, in order.
func (e *Env) SetEnviron(environ []string) {
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		e.Set(k, v)
	}
}

// Vars returns the variables in order.
func (e *Env) Vars() []Var { return append([]Var(nil), e.vars...) }

// Environ returns the environment as the task sees it: KEY=VALUE entries in
// order, secret values included.
func (e *Env) Environ() []string {
	out := make([]string, len(e.vars))
	for i, v := range e.vars {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}

// Get returns k's value and whether it is set.
func (e *Env) Get(k string) (string, bool) {
	if i := e.find(k); i >= 0 {
		return e.vars[i].Value, true
	}
	return "", false
}
