package podinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Knowing what is out of date (the SDK's DefaultConfigurationUpdater
// .needsConfigUpdate compares pod specs; scheduler-lite compares what
// matters, the TaskInfos): Expected builds what the target configuration
// would launch in place of a pod instance's stored tasks, and Diff names
// what differs between that and what runs. Two builds of one spec differ
// in ways that do not matter, and Diff ignores them:
//
//	task, agent and executor IDs        new at every launch
//	the target_configuration label       moves with every configuration
//	offer_* labels, task_type, index     where it runs, who it is
//	the scheduler's address              SCHEDULER_API_HOSTNAME/PORT and
//	                                     the host of artifact and template
//	                                     URIs (a restart may move the API)
//	toolkit artifact versions            picked up at the next relaunch
//	no kill policy and a grace of 0 s    the same, as svc.yml says it
//	TLS keys and certificates            new at every launch: compared by
//	                                     the certificate's names
//	dynamic port numbers                 kept: Expected reuses them
//	VIP label keys                       VIP_<random>
//	resource metadata                    roles, reservations, allocation,
//	                                     persistence IDs (relaunching in
//	                                     place reuses them)
//	persistent volumes                   the volume resources and the pod
//	                                     volumes' SANDBOX_PATH views: they
//	                                     come from the pod instance's
//	                                     reservation, and may not change
//	                                     (TaskVolumesCannotChange)
//
// A config template is compared by its content, looked up in the
// configuration its URI names.

// Parts of a TaskInfo Diff names.
const (
	PartCommand        = "command"
	PartEnvironment    = "environment"
	PartTLS            = "tls"
	PartResources      = "resources"
	PartURIs           = "uris"
	PartConfigs        = "configs"
	PartHealthCheck    = "health-check"
	PartReadinessCheck = "readiness-check"
	PartKillPolicy     = "kill-policy"
	PartLabels         = "labels"
	PartDiscovery      = "discovery"
	PartExecutor       = "executor"
	PartContainer      = "container"
	PartLimits         = "limits"
	PartOther          = "other"
)

// Templates looks up the content of config template name of pod/task in
// configuration configID (false when that configuration is not stored).
type Templates func(configID, pod, task, name string) (string, bool)

// Expected returns the TaskInfos (by full task name) the builder would
// launch for the tasks of req in place of prev, their stored TaskInfos (by
// full task name; at least one): on prev's agent, with the dynamic ports
// prev holds under the same names, framework frameworkID, plan parameters
// params. No key is generated and no certificate issued: a TLS secret's
// value is the name of its certificate (what Diff compares). Pod secrets
// are read, as a launch reads them.
func (b *Builder) Expected(req *evaluate.Requirement, prev map[string]*mesos.TaskInfo, frameworkID string, params map[string]string) (map[string]*mesos.TaskInfo, error) {
	var at *mesos.TaskInfo
	names := make([]string, 0, len(prev))
	for n := range prev {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no stored task to compare with", req.Instance())
	}
	at = prev[names[0]]
	where := Placement(at)
	rec := &evaluate.Recommendation{Req: req, Offer: &mesos.Offer{AgentID: at.AgentID, Hostname: where.Hostname}, Where: where}
	for _, name := range req.Tasks {
		t, ok := req.Pod.Tasks.Get(name)
		if !ok {
			return nil, fmt.Errorf("pod %s has no task %q", req.Pod.Name, name)
		}
		full := taskenv.TaskName(req.Pod.Name, req.Index, name)
		c := &evaluate.TaskClaim{Spec: t, Name: full}
		cpus, mem, ports := evaluate.TaskResources(req.Pod, t)
		for _, r := range []struct {
			name   string
			amount float64
		}{{"cpus", cpus}, {"mem", mem}} {
			if r.amount > 0 {
				c.Resources = append(c.Resources, scalar(r.name, r.amount))
			}
		}
		held := portNumbers(prev[full])
		for _, pt := range ports.Values {
			n := uint64(pt.Port)
			if n == 0 {
				n = held[pt.Name]
			}
			c.Ports = append(c.Ports, evaluate.PortClaim{Spec: pt, Number: n})
			c.Resources = append(c.Resources, mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(),
				Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: n, End: n}}}})
		}
		rec.Tasks = append(rec.Tasks, c)
	}
	// The certificates' names, as the TLS stage gives them.
	evaluate.TLSStage{}.Evaluate(&evaluate.Evaluation{Service: b.cfg.Service, Req: req, Rec: rec})
	secrets, err := b.secrets(req.Pod)
	if err != nil {
		return nil, err
	}
	exec := b.newExecutor(req.Instance(), frameworkID, nil)
	out := map[string]*mesos.TaskInfo{}
	for _, c := range rec.Tasks {
		ti, err := b.task(rec, c, secrets, params, certNames)
		if err != nil {
			return nil, err
		}
		ti.Executor = &exec
		out[c.Name] = ti
	}
	return out, nil
}

func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

// portNumbers are the port numbers of ti's discovery ports by name.
func portNumbers(ti *mesos.TaskInfo) map[string]uint64 {
	out := map[string]uint64{}
	if ti == nil {
		return out
	}
	for _, p := range ti.GetDiscovery().GetPorts().GetPorts() {
		out[p.GetName()] = uint64(p.Number)
	}
	return out
}

// certNames is the tlsSecrets of Expected: the certificate's names stand
// for the secrets.
func certNames(_ string, _ *evaluate.TaskClaim, claim evaluate.TLSClaim) (key, cert, ca string, err error) {
	return tlsKeyStandIn, certSummary(claim.CommonName, claim.DNSNames), tlsCAStandIn, nil
}

const (
	tlsKeyStandIn = "(a private key)"
	tlsCAStandIn  = "(the service CA)"
)

// certSummary names a certificate by its subject CN and DNS names.
func certSummary(cn string, dns []string) string {
	return "CN=" + cn + " DNS=" + strings.Join(dns, ",")
}

// Diff names the parts (Part*) of the TaskInfo running that differ from
// want, what the target configuration builds (Expected), ignoring what two
// builds of one spec legitimately differ in (see above); nil when running
// is up to date. templates resolves the config templates both name.
func Diff(running, want *mesos.TaskInfo, templates Templates) []string {
	a, b := shapeOf(running, templates), shapeOf(want, templates)
	var out []string
	for _, p := range []struct {
		part string
		a, b string
	}{
		{PartCommand, a.command, b.command},
		{PartEnvironment, a.env, b.env},
		{PartTLS, a.tls, b.tls},
		{PartResources, a.resources, b.resources},
		{PartURIs, a.uris, b.uris},
		{PartConfigs, a.configs, b.configs},
		{PartHealthCheck, a.health, b.health},
		{PartReadinessCheck, a.readiness, b.readiness},
		{PartKillPolicy, a.kill, b.kill},
		{PartLabels, a.labels, b.labels},
		{PartDiscovery, a.discovery, b.discovery},
		{PartExecutor, a.executor, b.executor},
		{PartContainer, a.container, b.container},
		{PartLimits, a.limits, b.limits},
	} {
		if p.a != p.b {
			out = append(out, p.part)
		}
	}
	if !a.rest.Equal(b.rest) {
		out = append(out, PartOther)
	}
	return out
}

// shape is a TaskInfo reduced to what Diff compares, part by part.
type shape struct {
	command, env, tls, resources, uris, configs, health, readiness string
	kill, labels, discovery, executor, container, limits           string
	rest                                                           *mesos.TaskInfo
}

// ignoredLabels are the labels that differ between two builds of one spec.
var ignoredLabels = map[string]bool{
	LabelTargetConfiguration: true, LabelOfferHostname: true, LabelOfferZone: true, LabelOfferRegion: true,
	LabelTaskType: true, LabelTaskIndex: true, LabelGoalOverrideTarget: true, LabelPermanentlyFailed: true,
}

// ignoredEnv are the variables that differ between two builds of one spec.
var ignoredEnv = map[string]bool{taskenv.EnvSchedulerAPIHostname: true, taskenv.EnvSchedulerAPIPort: true}

func shapeOf(ti *mesos.TaskInfo, templates Templates) shape {
	var s shape
	rest := *ti
	rest.Name, rest.TaskID, rest.AgentID = "", mesos.TaskID{}, mesos.AgentID{}
	if c := ti.Command; c != nil {
		s.command = fmt.Sprintf("%q shell=%v user=%q args=%q", c.GetValue(), c.GetShell(), c.GetUser(), c.Arguments)
		var env, tls []string
		for _, v := range c.GetEnvironment().GetVariables() {
			if ignoredEnv[v.Name] {
				continue
			}
			val := v.GetValue()
			if v.Secret != nil {
				val = "secret:" + string(v.Secret.GetValue().GetData())
			}
			if strings.HasPrefix(v.Name, "TLS_") {
				tls = append(tls, v.Name+"="+tlsShape(v.Name, val))
				continue
			}
			env = append(env, v.Name+"="+val)
		}
		sort.Strings(env)
		sort.Strings(tls)
		s.env, s.tls = strings.Join(env, "\n"), strings.Join(tls, "\n")
		var uris, configs []string
		for _, u := range c.URIs {
			if cfg, ok := templateURI(u, templates); ok {
				configs = append(configs, cfg)
			} else {
				uris = append(uris, uriShape(u))
			}
		}
		s.uris, s.configs = strings.Join(uris, "\n"), strings.Join(configs, "\n")
	}
	s.resources = resourcesShape(slices.DeleteFunc(slices.Clone(ti.Resources), func(r mesos.Resource) bool { return r.IsPersistentVolume() }))
	if hc := ti.HealthCheck; hc != nil {
		c := *hc
		if c.Command != nil {
			cmd := *c.Command
			cmd.Environment = nil
			c.Command = &cmd
		}
		s.health = wire(&c)
	}
	if ck := ti.Check; ck != nil {
		c := *ck
		if c.Command != nil {
			cc := *c.Command
			cc.Command.Environment = nil
			c.Command = &cc
		}
		s.readiness = wire(&c)
	}
	// No kill policy is grace 0, what the builder writes for a task
	// without kill-grace-period (as the SDK's): a task launched before it
	// always wrote one is not out of date for that alone, and gets it at
	// its next relaunch.
	kp := ti.KillPolicy
	if kp == nil {
		kp = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{}}
	}
	s.kill = wire(kp)
	var labels []string
	for _, l := range ti.GetLabels().GetLabels() {
		if !ignoredLabels[l.Key] {
			labels = append(labels, l.Key+"="+l.GetValue())
		}
	}
	sort.Strings(labels)
	s.labels = strings.Join(labels, "\n")
	if d := ti.Discovery; d != nil {
		dc := *d
		if d.Ports != nil {
			ports := &mesos.Ports{}
			for _, p := range d.Ports.Ports {
				pc := p
				if p.Labels != nil {
					pc.Labels = &mesos.Labels{}
					for _, l := range p.Labels.Labels {
						if strings.HasPrefix(l.Key, "VIP_") {
							l.Key = "VIP"
						}
						pc.Labels.Labels = append(pc.Labels.Labels, l)
					}
				}
				ports.Ports = append(ports.Ports, pc)
			}
			dc.Ports = ports
		}
		s.discovery = wire(&dc)
	}
	if e := ti.Executor; e != nil {
		s.executor = e.Type.String()
		if e.Type == mesos.ExecutorInfo_CUSTOM {
			s.executor += " " + e.GetCommand().GetValue()
		}
	}
	if ti.Container != nil {
		c := *ti.Container
		c.Volumes = slices.DeleteFunc(slices.Clone(c.Volumes), func(v mesos.Volume) bool {
			return v.GetSource().GetType() == mesos.Volume_Source_SANDBOX_PATH
		})
		// A container that only held the pod volumes' views counts as none.
		if bare := (mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()}); len(c.Volumes) == len(ti.Container.Volumes) || wire(&c) != wire(&bare) {
			s.container = wire(&c)
		}
	}
	if len(ti.Limits) > 0 {
		keys := make([]string, 0, len(ti.Limits))
		for k := range ti.Limits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := ti.Limits[k]
			s.limits += k + "=" + wire(&v) + "\n"
		}
	}
	rest.Command, rest.Resources, rest.HealthCheck, rest.Check, rest.KillPolicy = nil, nil, nil, nil, nil
	rest.Labels, rest.Discovery, rest.Executor, rest.Container, rest.Limits = nil, nil, nil, nil, nil
	s.rest = &rest
	return s
}

// wire is m's protobuf encoding (deterministic: these messages hold no
// map), to compare messages.
func wire(m interface{ Marshal() ([]byte, error) }) string {
	b, err := m.Marshal()
	if err != nil {
		return "unencodable: " + err.Error()
	}
	return string(b)
}

// tlsShape is a TLS secret as Diff compares it: a certificate by its
// names, a key and a CA by what they are.
func tlsShape(name, val string) string {
	switch {
	case strings.HasSuffix(name, "_"+taskenv.TLSKey):
		return tlsKeyStandIn
	case strings.HasSuffix(name, "_"+taskenv.TLSCA):
		return tlsCAStandIn
	}
	pem := strings.TrimPrefix(val, "secret:")
	certs, err := pki.ParseCertificates([]byte(pem))
	if err != nil || len(certs) == 0 {
		return strings.TrimPrefix(val, "secret:")
	}
	return certSummary(certs[0].Subject.CommonName, certs[0].DNSNames)
}

// templateURI reads a config template URI: "<pod>/<task>/<name>
// sha256:<content digest>" (or "missing" when its configuration is gone).
func templateURI(u mesos.CommandInfo_URI, templates Templates) (string, bool) {
	p, err := url.Parse(u.Value)
	if err != nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(p.EscapedPath(), taskenv.TemplatePath)
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return "", false
	}
	for i := range parts {
		if v, err := url.PathUnescape(parts[i]); err == nil {
			parts[i] = v
		}
	}
	key := strings.Join(parts[1:], "/") + " -> " + u.GetOutputFile()
	content, ok := templates(parts[0], parts[1], parts[2], parts[3])
	if !ok {
		return key + " missing (configuration " + parts[0] + ")", true
	}
	sum := sha256.Sum256([]byte(content))
	return key + " sha256:" + hex.EncodeToString(sum[:]), true
}

// uriShape is a URI as Diff compares it: a toolkit artifact by its name,
// anything else by all it says.
func uriShape(u mesos.CommandInfo_URI) string {
	if p, err := url.Parse(u.Value); err == nil {
		if name, ok := strings.CutPrefix(p.Path, taskenv.ArtifactBinPath); ok {
			return "artifact " + name
		}
	}
	return fmt.Sprintf("%s executable=%v extract=%v cache=%v output=%q", u.Value, u.GetExecutable(), u.GetExtract(), u.GetCache(), u.GetOutputFile())
}

// resourcesShape sums resources by name (and disk source and volume):
// roles, reservations, allocation and persistence IDs left out.
func resourcesShape(rs []mesos.Resource) string {
	scalars := map[string]float64{}
	ranges := map[string][]string{}
	for _, r := range rs {
		key := r.Name
		if d := r.Disk; d != nil {
			if src := d.Source; src != nil {
				key += " source=" + src.Type.String() + ":" + src.GetMount().GetRoot() + src.GetPath().GetRoot()
			}
			if v := d.Volume; v != nil {
				key += " volume=" + v.ContainerPath + ":" + v.Mode.String()
			}
		}
		switch {
		case r.Scalar != nil:
			scalars[key] += r.Scalar.Value
		case r.Ranges != nil:
			for _, rg := range r.Ranges.Range {
				ranges[key] = append(ranges[key], strconv.FormatUint(rg.Begin, 10)+"-"+strconv.FormatUint(rg.End, 10))
			}
		case r.Set != nil:
			ranges[key] = append(ranges[key], r.Set.Item...)
		}
	}
	var out []string
	for k, v := range scalars {
		out = append(out, k+"="+strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64))
	}
	for k, v := range ranges {
		sort.Strings(v)
		out = append(out, k+"="+strings.Join(v, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
