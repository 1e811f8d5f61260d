package scheduler

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	imesos "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// errNoFit means the offer lacks the resources.
var errNoFit = errors.New("does not fit")

// TaskName is the SDK's task name "<pod>-<index>-<task>".
func TaskName(pod string, index int, task string) string { return taskenv.TaskName(pod, index, task) }

// apiBase is the scheduler API's URL as tasks see it.
func (s *Scheduler) apiBase() string { return taskenv.SchedulerURL(s.cfg.APIHostname, s.cfg.APIPort) }

// baseEnv builds a task's environment up to (not including) ports and the
// offer's fault domain: inventory §2 steps 1–8. Caller holds s.mu.
func (s *Scheduler) baseEnv(pod *spec.PodSpec, index int, t *spec.TaskSpec, params map[string]string) (*taskenv.Env, error) {
	e := new(taskenv.Env)
	e.SetSorted(t.Env)
	e.SetTaskCfg(s.cfg.Env, pod.Name)
	e.SetIdentity(taskenv.Identity{Service: s.cfg.FrameworkName, Pod: pod.Name, Index: index, Task: t.Name, SchedulerHost: s.cfg.APIHostname, SchedulerPort: s.cfg.APIPort})
	e.SetPlacementReferenced(pod.Placement)
	for _, c := range t.Configs.Values {
		e.SetConfigTemplate(c.Name, c.Dest)
	}
	e.SetSorted(params)
	for _, id := range sortedKeys(pod.Secrets) {
		sec := pod.Secrets[id]
		if sec.FilePath() != "" {
			return nil, fmt.Errorf("pods.%s.secrets.%s: a secret without env-key is a file in the sandbox (%s), which scheduler-lite does not write yet", pod.Name, id, sec.FilePath())
		}
		b, err := os.ReadFile(filepath.Join(s.cfg.SecretsDir, sec.Secret))
		if err != nil {
			return nil, fmt.Errorf("pods.%s.secrets.%s: %w", pod.Name, id, err)
		}
		e.SetSecret(sec.EnvKey, strings.TrimRight(string(b), "\n"))
	}
	e.SetEnviron(s.cfg.TaskEnv)
	return e, nil
}

// envProto converts a task environment to Mesos', secret values as SECRET
// variables.
func envProto(e *taskenv.Env) *mesos.Environment {
	env := &mesos.Environment{}
	for _, v := range e.Vars() {
		if v.Secret {
			env.Variables = append(env.Variables, mesos.Environment_Variable{
				Name: v.Name, Type: mesos.Environment_Variable_SECRET.Enum(),
				Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(v.Value)}},
			})
			continue
		}
		value := v.Value
		env.Variables = append(env.Variables, mesos.Environment_Variable{Name: v.Name, Value: &value})
	}
	return env
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// planParams returns the parameters of the plan owning st.
func (s *Scheduler) planParams(st *plan.Step) map[string]string {
	for _, p := range s.allPlans() {
		for _, x := range p.Steps() {
			if x == st {
				return p.Parameters
			}
		}
	}
	return nil
}

// buildLaunch fits step st of pod into the pool carved from offer o and
// returns the LAUNCH_GROUP operation. Caller holds s.mu.
//
// tasks are the step's tasks to launch (the others run already); reuse is
// the ExecutorInfo of the pod's running executor they must join, nil for a
// new executor. The returned TaskInfos carry the ExecutorInfo in Executor
// for the store (the operation's copies do not, as LAUNCH_GROUP requires).
func (s *Scheduler) buildLaunch(st *plan.Step, pod *spec.PodSpec, o *mesos.Offer, p *pool, tasks []string, reuse *mesos.ExecutorInfo) (mesos.Offer_Operation, []*mesos.TaskInfo, error) {
	var none mesos.Offer_Operation
	if reuse != nil {
		return s.buildGroup(st, pod, o, p, tasks, *reuse)
	}
	inst := st.Instance()
	execID := inst + "__" + imesos.NewID()
	ei := mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_DEFAULT,
		ExecutorID:  mesos.ExecutorID{Value: execID},
		FrameworkID: &mesos.FrameworkID{Value: s.frameworkID},
		Name:        &inst,
	}
	for _, r := range []struct {
		n string
		v float64
	}{{"cpus", ExecutorCPUs}, {"mem", ExecutorMem}, {"disk", ExecutorDisk}} {
		res, ok := p.takeScalar(r.n, r.v)
		if !ok {
			return none, nil, errNoFit
		}
		ei.Resources = append(ei.Resources, res)
	}
	if s.cfg.Executor == ExecutorTaskkit {
		ei.Type = mesos.ExecutorInfo_CUSTOM
		ei.Command = &mesos.CommandInfo{
			Value: strPtr("./executor"),
			URIs:  []mesos.CommandInfo_URI{s.artifactURI("executor")},
		}
	}
	return s.buildGroup(st, pod, o, p, tasks, ei)
}

// buildGroup builds the LAUNCH_GROUP of tasks with executor ei.
func (s *Scheduler) buildGroup(st *plan.Step, pod *spec.PodSpec, o *mesos.Offer, p *pool, tasks []string, ei mesos.ExecutorInfo) (mesos.Offer_Operation, []*mesos.TaskInfo, error) {
	var none mesos.Offer_Operation
	params := s.planParams(st)
	here := offerPlacement(o)
	var infos []*mesos.TaskInfo
	for _, tname := range tasks {
		t, ok := pod.Tasks.Get(tname)
		if !ok {
			return none, nil, fmt.Errorf("task %q not in pod %s", tname, pod.Name)
		}
		ti, err := s.buildTask(pod, st.Index, t, o, here, p, params)
		if err != nil {
			return none, nil, err
		}
		infos = append(infos, ti)
	}
	group := make([]mesos.TaskInfo, len(infos))
	for i, ti := range infos {
		group[i] = *ti
		stored := ei
		ti.Executor = &stored
	}
	return calls.OpLaunchGroup(ei, group...), infos, nil
}

func strPtr(s string) *string { return &s }

func (s *Scheduler) buildTask(pod *spec.PodSpec, index int, t *spec.TaskSpec, o *mesos.Offer, here placement, p *pool, params map[string]string) (*mesos.TaskInfo, error) {
	tn := TaskName(pod.Name, index, t.Name)
	cpus, mem := t.CPUs, t.Memory
	ports := t.Ports
	if t.ResourceSet != "" {
		rs := pod.ResourceSets[t.ResourceSet]
		cpus, mem, ports = rs.CPUs, rs.Memory, rs.Ports
	}
	ti := &mesos.TaskInfo{
		Name:    tn,
		TaskID:  mesos.TaskID{Value: strings.ReplaceAll(strings.TrimPrefix(s.cfg.FrameworkName, "/"), "/", ".") + "__" + tn + "__" + imesos.NewID()},
		AgentID: o.AgentID,
	}
	for _, r := range []struct {
		n string
		v float64
	}{{"cpus", cpus}, {"mem", mem}} {
		if r.v <= 0 {
			continue // a resource set with cpus only, or memory only
		}
		res, ok := p.takeScalar(r.n, r.v)
		if !ok {
			return nil, errNoFit
		}
		ti.Resources = append(ti.Resources, res)
	}
	env, err := s.baseEnv(pod, index, t, params)
	if err != nil {
		return nil, err
	}
	var numbers []uint64
	disc := &mesos.DiscoveryInfo{Visibility: mesos.FRAMEWORK, Name: &tn, Ports: &mesos.Ports{}}
	if t.Discovery != nil {
		if t.Discovery.Prefix != "" { // else it keeps the task's name
			disc.Name = strPtr(taskenv.DiscoveryName(t.Discovery.Prefix, index))
		}
		switch t.Discovery.Visibility {
		case "CLUSTER":
			disc.Visibility = mesos.CLUSTER
		case "EXTERNAL":
			disc.Visibility = mesos.EXTERNAL
		}
	}
	for _, pt := range ports.Values {
		n, ok := p.takePort(uint64(pt.Port))
		if !ok {
			return nil, errNoFit
		}
		numbers = append(numbers, n)
		if pt.EnvKey != "" {
			env.Set(pt.EnvKey, strconv.FormatUint(n, 10))
		}
		port := mesos.Port{Number: uint32(n), Name: &pt.Name, Protocol: strPtr("tcp")}
		var labels []mesos.Label
		if pt.Advertise {
			labels = append(labels, mesos.Label{Key: "advertise", Value: strPtr("true")})
		}
		if pt.VIP != nil {
			labels = append(labels, mesos.Label{Key: "VIP_" + imesos.NewID(), Value: strPtr(fmt.Sprintf("%s:%d", pt.VIP.Prefix, pt.VIP.Port))})
		}
		if len(labels) > 0 {
			port.Labels = &mesos.Labels{Labels: labels}
		}
		disc.Ports.Ports = append(disc.Ports.Ports, port)
	}
	if len(numbers) > 0 {
		ti.Resources = append(ti.Resources, p.portsResource(numbers))
	}
	ti.Discovery = disc
	env.SetFaultDomain(here.Region, here.Zone)
	if len(t.TransportEncryption) > 0 {
		if err := s.addTLS(env, pod, index, t); err != nil {
			return nil, err
		}
	}
	// URIs: the toolkit binaries, the pod's own, the config templates.
	noExtract := false
	var uris []mesos.CommandInfo_URI
	for _, a := range s.cfg.Artifacts {
		if a == "executor" {
			continue
		}
		uris = append(uris, s.artifactURI(a))
	}
	for _, u := range pod.URIs {
		uris = append(uris, mesos.CommandInfo_URI{Value: u})
	}
	for _, c := range t.Configs.Values {
		out := taskenv.ConfigTemplatePath(c.Name)
		uris = append(uris, mesos.CommandInfo_URI{
			Value:      taskenv.TemplateURL(s.apiBase(), s.cfg.Loaded.ConfigID, pod.Name, t.Name, c.Name),
			OutputFile: &out, Extract: &noExtract,
		})
	}
	cmd := t.Cmd
	if len(t.TransportEncryption) > 0 {
		cmd = "./tlsprov materialize --all && " + cmd
	}
	shell := true
	envProto := envProto(env)
	ti.Command = &mesos.CommandInfo{Value: &cmd, Shell: &shell, URIs: uris, Environment: envProto}
	if hc := t.HealthCheck; hc != nil {
		ti.HealthCheck = &mesos.HealthCheck{
			Type:                mesos.HealthCheck_COMMAND,
			Command:             &mesos.CommandInfo{Value: strPtr(hc.Cmd), Shell: &shell, Environment: envProto},
			DelaySeconds:        f64(hc.Delay),
			IntervalSeconds:     f64(hc.Interval),
			TimeoutSeconds:      f64(hc.Timeout),
			ConsecutiveFailures: u32(hc.MaxConsecutiveFailures),
			GracePeriodSeconds:  f64(hc.GracePeriod),
		}
	}
	if rc := t.ReadinessCheck; rc != nil {
		ti.Check = &mesos.CheckInfo{
			Type:            mesos.CheckInfo_COMMAND,
			Command:         &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: strPtr(rc.Cmd), Shell: &shell, Environment: envProto}},
			DelaySeconds:    f64(rc.Delay),
			IntervalSeconds: f64(rc.Interval),
			TimeoutSeconds:  f64(rc.Timeout),
		}
	}
	if t.KillGracePeriod > 0 {
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(time.Duration(t.KillGracePeriod) * time.Second)}}
	}
	labels := []mesos.Label{
		{Key: "goal_state", Value: strPtr(t.Goal)},
		{Key: "offer_hostname", Value: strPtr(here.Hostname)},
		{Key: "target_configuration", Value: strPtr(s.cfg.Loaded.ConfigID)},
	}
	if !t.IsEssential() {
		labels = append(labels, mesos.Label{Key: "essential", Value: strPtr("false")})
	}
	if here.Zone != "" {
		labels = append(labels, mesos.Label{Key: "offer_zone", Value: strPtr(here.Zone)})
	}
	if here.Region != "" {
		labels = append(labels, mesos.Label{Key: "offer_region", Value: strPtr(here.Region)})
	}
	ti.Labels = &mesos.Labels{Labels: labels}
	return ti, nil
}

func f64(n int) *float64 { v := float64(n); return &v }
func u32(n int) *uint32  { v := uint32(n); return &v }

// addTLS issues a key and certificate per transport-encryption entry and
// puts them in env as secret TLS_<NAME>_KEY/CERT/CA values.
func (s *Scheduler) addTLS(env *taskenv.Env, pod *spec.PodSpec, index int, t *spec.TaskSpec) error {
	ca, err := s.serviceCA()
	if err != nil {
		return err
	}
	tn := TaskName(pod.Name, index, t.Name)
	host := tn
	if t.Discovery != nil && t.Discovery.Prefix != "" {
		host = taskenv.DiscoveryName(t.Discovery.Prefix, index)
	}
	sans := []string{taskenv.AutoIPHost(host, s.cfg.FrameworkName)}
	for _, pt := range t.Ports.Values {
		if pt.VIP != nil {
			sans = append(sans, taskenv.VIPHost(pt.VIP.Prefix, s.cfg.FrameworkName))
		}
	}
	cn := strings.ReplaceAll(tn+"."+s.cfg.FrameworkName, ".", "-")
	cn = strings.ReplaceAll(cn, "/", "")
	if len(cn) > 64 {
		cn = cn[len(cn)-64:]
	}
	for _, te := range t.TransportEncryption {
		b, err := ca.Issue(pki.LeafRequest{
			CommonName: cn,
			Subject:    pkix.Name{Organization: []string{"Mesosphere, Inc"}, Locality: []string{"San Francisco"}, Province: []string{"CA"}, Country: []string{"US"}},
			DNSNames:   sans,
			KeyType:    s.cfg.TLSKeyType,
		})
		if err != nil {
			return fmt.Errorf("issuing %s's %s certificate: %w", tn, te.Name, err)
		}
		key, err := pki.EncodeKeyPEM(b.Key)
		if err != nil {
			return err
		}
		env.SetTLS(te.Name, string(key), string(pki.EncodeCertsPEM(b.Chain...)), string(pki.EncodeCertsPEM(b.Roots...)))
	}
	return nil
}

// serviceCA returns the service's CA: the configured one, else the one in
// the store, else a new one, stored before first use. Caller holds s.mu.
func (s *Scheduler) serviceCA() (*pki.Issuer, error) {
	if s.ca != nil {
		return s.ca, nil
	}
	certPEM, err := s.cfg.Store.Property("ca.crt")
	if err != nil {
		return nil, err
	}
	keyPEM, err := s.cfg.Store.Property("ca.key")
	if err != nil {
		return nil, err
	}
	if certPEM != nil && keyPEM != nil {
		ca, err := IssuerFromPEM(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("the stored CA: %w", err)
		}
		s.ca = ca
		return ca, nil
	}
	ca, err := pki.NewCA(pki.CARequest{CommonName: s.cfg.FrameworkName + " service CA", KeyType: pki.ECDSAP256})
	if err != nil {
		return nil, err
	}
	key, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.SetProperties(map[string][]byte{"ca.crt": pki.EncodeCertsPEM(ca.Cert), "ca.key": key}); err != nil {
		return nil, fmt.Errorf("storing the CA: %w", err)
	}
	s.ca = ca
	return ca, nil
}

// IssuerFromPEM builds a CA issuer from a PEM certificate and key (e.g.
// --ca-cert and --ca-key).
func IssuerFromPEM(certPEM, keyPEM []byte) (*pki.Issuer, error) {
	certs, err := pki.ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	key, err := pki.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !pki.KeyMatches(key, certs[0]) {
		return nil, pki.ErrKeyMismatch
	}
	return &pki.Issuer{Cert: certs[0], Key: key, Chain: certs[1:]}, nil
}

// storeLaunch records the TaskInfos (in memory and in the store) before
// they are launched. Caller holds s.mu.
func (s *Scheduler) storeLaunch(infos []*mesos.TaskInfo, here placement) error {
	kv := map[string][]byte{}
	for _, ti := range infos {
		b, err := ti.Marshal()
		if err != nil {
			return err
		}
		kv[ti.Name] = b
	}
	if err := s.cfg.Store.PutTasks(kv); err != nil {
		return err
	}
	for _, ti := range infos {
		t := s.tasks[ti.Name]
		if t == nil {
			pod, index, task, ok := s.splitName(ti.Name)
			if !ok {
				continue
			}
			t = &taskState{name: ti.Name, pod: pod.Name, index: index, spec: task}
			s.tasks[ti.Name] = t
		}
		if t.info != nil {
			delete(s.byID, t.info.TaskID.Value)
		}
		t.info, t.status, t.ready, t.place, t.replace = ti, nil, false, here, false
		s.byID[ti.TaskID.Value] = ti.Name
	}
	return nil
}

// splitName finds the pod type, index and task of a full task name.
func (s *Scheduler) splitName(name string) (*spec.PodSpec, int, *spec.TaskSpec, bool) {
	for _, p := range s.spec.Pods.Values {
		rest, ok := strings.CutPrefix(name, p.Name+"-")
		if !ok {
			continue
		}
		idx, tname, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			continue
		}
		if t, ok := p.Tasks.Get(tname); ok {
			return p, i, t, true
		}
	}
	return nil, 0, nil, false
}

// artifactURI is the URI of a toolkit binary served by the API: executable,
// and versioned and cacheable when its digest is known.
func (s *Scheduler) artifactURI(name string) mesos.CommandInfo_URI {
	exe := true
	d := s.cfg.ArtifactDigests[name]
	u := mesos.CommandInfo_URI{Value: taskenv.ArtifactURL(s.apiBase(), name, d), Executable: &exe}
	if d != "" {
		cache := true
		u.Cache = &cache
	}
	return u
}
