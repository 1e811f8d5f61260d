// Package podinfo is scheduler-lite's pod builder, after the DC/OS SDK's
// PodInfoBuilder: it turns an offer evaluation's Recommendation
// (internal/sdk/evaluate) into the ExecutorInfo, the TaskInfos and the
// offer operations that launch them.
//
//	Recommendation ─▶ ExecutorInfo (new, or the running one the tasks join)
//	                  TaskInfo per task: ID, resources, command, environment
//	                  (internal/taskenv), URIs, checks, discovery, labels,
//	                  TLS secrets ─▶ Steps (Reservations, ...) ─▶
//	                  Launch{Operations: [UNRESERVE] [RESERVE] [CREATE]
//	                                     LAUNCH_GROUP per task (one executor),
//	                         TaskInfos, Reservation}
//
// Work with side effects happens here, and only for a recommendation that
// fits: pod secrets are read (Secrets) and certificates issued (TLS, with a
// key the KeyPool generated ahead of need, off the event loop). The builder
// holds no lock; the scheduler runs it on its event loop without holding
// the lock its API readers take.
//
// The first step, Reservations, puts the recommendation's UNRESERVE,
// RESERVE and CREATE operations before the LAUNCH_GROUPs and hands the pod
// instance's reservation to the scheduler (Launch.Reservation). Adding a
// builder step: implement Step and add it to Config.Steps. A step sees the
// whole Launch and may change its TaskInfos and prepend operations.
package podinfo

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	imesos "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
	"github.com/taskkit/taskkit/internal/sdk/reservation"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Executor modes.
const (
	ExecutorDefault = "default" // LAUNCH_GROUP with Mesos' DEFAULT executor
	ExecutorTaskkit = "taskkit" // taskkit's executor, fetched as a CUSTOM executor
)

// Labels the builder puts on TaskInfos (the SDK's names).
const (
	LabelGoalState           = "goal_state"
	LabelOfferHostname       = "offer_hostname"
	LabelOfferZone           = "offer_zone"
	LabelOfferRegion         = "offer_region"
	LabelTargetConfiguration = "target_configuration"
	LabelEssential           = "essential"
	LabelTaskType            = "task_type"
	LabelTaskIndex           = "index"
	// LabelGoalOverride is on the TaskInfo of a task launched with a goal
	// state override: GoalOverridePaused (the SDK keeps it in the task's
	// metadata).
	LabelGoalOverride = "goal_override"
	// LabelGoalOverrideTarget is on a stored TaskInfo only: the override
	// an operator asked for (GoalOverridePaused), written before the kill
	// that relaunches the task with it (POST /v1/pod/<name>/pause; resume
	// removes it).
	LabelGoalOverrideTarget = "goal_override_target"
	// LabelPermanentlyFailed is on a stored TaskInfo only: "true" once an
	// operator asked to replace its pod (POST /v1/pod/<name>/replace),
	// written before the kill, so that the pod is placed anew even after a
	// later restart or a scheduler crash (the SDK's permanently-failed
	// label, FailureUtils.setPermanentlyFailed). Its relaunch drops it.
	LabelPermanentlyFailed = "permanently-failed"
)

// Goal state overrides (the SDK's GoalStateOverride): a paused task, and
// none (as an operator's resume records it).
const (
	GoalOverridePaused = "PAUSED"
	GoalOverrideNone   = "NONE"
)

// DefaultPauseCommand is what a paused task runs instead of its command
// (the SDK's GoalStateOverride.PAUSE_COMMAND): it renders the task's config
// templates when bootstrap is there, then idles, so that an operator can
// look around the sandbox. PAUSE_OVERRIDE_CMD in the scheduler's
// environment replaces it, as in the SDK.
const DefaultPauseCommand = "echo This task is PAUSED, sleeping ...; if [ -x ./bootstrap ]; then ./bootstrap -resolve=false; fi; while true; do sleep 3600; done"

// Config configures a Builder.
type Config struct {
	// Service is the framework name.
	Service string
	// ConfigID is the target configuration's ID (template URLs, the
	// target_configuration label).
	ConfigID string
	// APIHostname and APIPort are how tasks and agents' fetchers reach the
	// scheduler's API.
	APIHostname string
	APIPort     int
	// Executor is ExecutorDefault (the default) or ExecutorTaskkit.
	Executor string
	// Artifacts are the toolkit binaries every task fetches ("executor" is
	// fetched by the taskkit executor only); ArtifactDigests their content
	// digests (versioned, cacheable URIs).
	Artifacts       []string
	ArtifactDigests map[string]string
	// Env is the scheduler's environment (TASKCFG_* variables).
	Env []string
	// TaskEnv is added to every task's environment last.
	TaskEnv []string
	// Secrets reads pod secrets; nil fails a pod that has any.
	Secrets Secrets
	// TLS issues transport-encryption certificates; nil fails a task that
	// asks for any.
	TLS *TLS
	// Steps run on every launch after it is built, in order.
	Steps []Step
	// NewID returns a unique ID (task and executor ID suffixes); nil means
	// random UUIDs.
	NewID func() string
	// PauseCommand is a paused task's command (default
	// DefaultPauseCommand).
	PauseCommand string
}

// Step is one more thing a launch needs (the extension point for volumes
// and reservations).
type Step interface {
	// Name names the step in errors.
	Name() string
	// Build changes l; an error fails the launch (the offer is not used
	// for it).
	Build(l *Launch) error
}

// Launch is a recommendation built: what the scheduler stores, then
// accepts the offer with.
type Launch struct {
	Rec *evaluate.Recommendation
	// Executor is the pod instance's executor (new or running).
	Executor mesos.ExecutorInfo
	// TaskInfos are the tasks, each with Executor set (as stored; the
	// LAUNCH_GROUPs' copies have none, as Mesos requires).
	TaskInfos []*mesos.TaskInfo
	// Operations accept the offer: steps may put some before the
	// LAUNCH_GROUPs, which come last: one per task, in TaskInfos' order,
	// each with Executor.
	Operations []mesos.Offer_Operation
	// Reservation is the pod instance's reservation with this launch (the
	// Reservations step sets it): stored before the ACCEPT.
	Reservation *reservation.Reservation
}

// Builder builds launches; see Config.
type Builder struct {
	cfg Config
	// What every launch shares, derived from cfg once (a launch round
	// builds hundreds): the API's base URL, the tasks' identity in the
	// service, their task IDs' prefix, and the toolkit binaries' URIs a
	// task fetches.
	apiBase      string
	identity     taskenv.Identity
	taskIDPrefix string
	toolURIs     []mesos.CommandInfo_URI
}

// NewID returns a new unique ID from the builder's source.
func (b *Builder) NewID() string { return b.cfg.NewID() }

// New returns a builder.
func New(cfg Config) *Builder {
	if cfg.Executor == "" {
		cfg.Executor = ExecutorDefault
	}
	if cfg.NewID == nil {
		cfg.NewID = newIDs()
	}
	if cfg.PauseCommand == "" {
		cfg.PauseCommand = DefaultPauseCommand
	}
	cfg.Steps = append([]Step{Reservations{NewID: cfg.NewID}}, cfg.Steps...)
	b := &Builder{cfg: cfg, apiBase: taskenv.SchedulerURL(cfg.APIHostname, cfg.APIPort),
		identity:     taskenv.ServiceIdentity(cfg.Service, cfg.APIHostname, cfg.APIPort),
		taskIDPrefix: strings.ReplaceAll(strings.TrimPrefix(cfg.Service, "/"), "/", ".") + "__"}
	for _, a := range cfg.Artifacts {
		if a != "executor" {
			b.toolURIs = append(b.toolURIs, b.artifactURI(a))
		}
	}
	return b
}

// Build turns rec into a launch for framework frameworkID; params are the
// environment values of the plan the step belongs to. Errors name the
// svc.yml field or the secret at fault.
func (b *Builder) Build(rec *evaluate.Recommendation, frameworkID string, params map[string]string) (*Launch, error) {
	req := rec.Req
	l := &Launch{Rec: rec}
	if req.Executor != nil {
		l.Executor = *req.Executor
	} else {
		l.Executor = b.newExecutor(req.Instance(), frameworkID, rec.ExecutorResources)
	}
	secrets, err := b.secrets(req.Pod)
	if err != nil {
		return nil, err
	}
	for _, c := range rec.Tasks {
		ti, err := b.task(rec, c, secrets, params, b.issue)
		if err != nil {
			return nil, err
		}
		l.TaskInfos = append(l.TaskInfos, ti)
	}
	for _, st := range b.cfg.Steps {
		if err := st.Build(l); err != nil {
			return nil, fmt.Errorf("%s: %w", st.Name(), err)
		}
	}
	// One LAUNCH_GROUP per task, all with the pod's ExecutorInfo, as the
	// SDK's LaunchOfferRecommendation: the first launches a new executor
	// (its resources counted once, Mesos' Master::_accept), the others
	// join it. A group of one keeps the executor's group rule (a task
	// ending FAILED or KILLED kills the rest of its group) from reaching a
	// sibling: which of a pod's tasks die with another is the scheduler's
	// decision (its recovery and PlanScheduler.killTasks), not the
	// executor's.
	for _, ti := range l.TaskInfos {
		l.Operations = append(l.Operations, calls.OpLaunchGroup(l.Executor, *ti))
		ei := l.Executor
		ti.Executor = &ei
	}
	return l, nil
}

// newExecutor is a new ExecutorInfo for pod instance inst.
func (b *Builder) newExecutor(inst, frameworkID string, resources []mesos.Resource) mesos.ExecutorInfo {
	// What the ExecutorInfo points at, in one allocation.
	v := &struct {
		name      string
		framework mesos.FrameworkID
	}{inst, mesos.FrameworkID{Value: frameworkID}}
	e := mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_DEFAULT,
		ExecutorID:  mesos.ExecutorID{Value: inst + "__" + b.cfg.NewID()},
		FrameworkID: &v.framework,
		Name:        &v.name,
		Resources:   resources,
	}
	if b.cfg.Executor == ExecutorTaskkit {
		e.Type = mesos.ExecutorInfo_CUSTOM
		e.Command = &mesos.CommandInfo{Value: strPtr("./executor"), URIs: []mesos.CommandInfo_URI{b.artifactURI("executor")}}
	}
	return e
}

// podSecrets are a pod's secrets as its tasks get them: environment values,
// and files (SECRET volumes).
type podSecrets struct {
	env   []taskenv.Var
	files []mesos.Volume
}

// secrets reads the pod's secrets, delivered as the SDK's PodInfoBuilder
// delivers them: with an env-key, in that (SECRET) environment variable;
// with a file path (its file, else its own path when it has no env-key), as
// a file in each task's sandbox: a read-only SECRET volume (here of type
// VALUE, scheduler-lite having no secret store), which the executor writes
// with mode 0400.
func (b *Builder) secrets(pod *spec.PodSpec) (podSecrets, error) {
	ids := make([]string, 0, len(pod.Secrets))
	for id := range pod.Secrets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out podSecrets
	for _, id := range ids {
		sec := pod.Secrets[id]
		if b.cfg.Secrets == nil {
			return out, fmt.Errorf("pods.%s.secrets.%s: no secret source configured (--secrets-dir)", pod.Name, id)
		}
		v, err := b.cfg.Secrets.Secret(sec.Secret)
		if err != nil {
			return out, fmt.Errorf("pods.%s.secrets.%s: %w", pod.Name, id, err)
		}
		if path := sec.FilePath(); path != "" {
			out.files = append(out.files, mesos.Volume{
				ContainerPath: path, Mode: mesos.RO.Enum(),
				Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SECRET,
					Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: v}}},
			})
		}
		if sec.EnvKey != "" {
			out.env = append(out.env, taskenv.Var{Name: sec.EnvKey, Value: strings.TrimRight(string(v), "\n"), Secret: true})
		}
	}
	return out, nil
}

// configID is the configuration req's tasks are launched on: its own, or
// the target's.
func (b *Builder) configID(req *evaluate.Requirement) string {
	if req.ConfigID != "" {
		return req.ConfigID
	}
	return b.cfg.ConfigID
}

// artifactURI is the URI of a toolkit binary served by the API: executable,
// and versioned and cacheable when its digest is known.
func (b *Builder) artifactURI(name string) mesos.CommandInfo_URI {
	exe := true
	d := b.cfg.ArtifactDigests[name]
	u := mesos.CommandInfo_URI{Value: taskenv.ArtifactURL(b.apiBase, name, d), Executable: &exe}
	if d != "" {
		cache := true
		u.Cache = &cache
	}
	return u
}

// tlsSecrets gives a task's transport-encryption secrets for one claim:
// key, certificate and CA (PEM).
type tlsSecrets func(pod string, c *evaluate.TaskClaim, claim evaluate.TLSClaim) (key, cert, ca string, err error)

// issue is the tlsSecrets of a launch: a key from the pool, a certificate
// issued by the service CA.
func (b *Builder) issue(pod string, c *evaluate.TaskClaim, claim evaluate.TLSClaim) (key, cert, ca string, err error) {
	if b.cfg.TLS == nil {
		return "", "", "", fmt.Errorf("pods.%s.tasks.%s.transport-encryption: no certificate authority configured", pod, c.Spec.Name)
	}
	key, cert, ca, err = b.cfg.TLS.Issue(claim)
	if err != nil {
		return "", "", "", fmt.Errorf("issuing %s's %s certificate: %w", c.Name, claim.Name, err)
	}
	return key, cert, ca, nil
}

// taskParts are a TaskInfo and the values its fields point at, allocated
// together: a launch round builds hundreds of TaskInfos.
type taskParts struct {
	info        mesos.TaskInfo
	command     mesos.CommandInfo
	cmd         string
	shell       bool
	discovery   mesos.DiscoveryInfo
	ports       mesos.Ports
	killPolicy  mesos.KillPolicy
	gracePeriod mesos.DurationInfo
	labels      mesos.Labels
	// The values of the labels every task has, and room for those and a
	// few more.
	goal, host, config, podType, index string
	labelRoom                          [8]mesos.Label
}

// task builds one TaskInfo (Executor not set yet); tls gives its
// transport-encryption secrets.
func (b *Builder) task(rec *evaluate.Recommendation, c *evaluate.TaskClaim, secrets podSecrets, params map[string]string, tls tlsSecrets) (*mesos.TaskInfo, error) {
	req, t, pod := rec.Req, c.Spec, rec.Req.Pod
	parts := &taskParts{}
	parts.info = mesos.TaskInfo{
		Name:      c.Name,
		TaskID:    mesos.TaskID{Value: b.taskIDPrefix + c.Name + "__" + b.cfg.NewID()},
		AgentID:   rec.Offer.AgentID,
		Resources: c.Resources,
	}
	ti := &parts.info
	// The environment, in the SDK's order (package taskenv).
	var env taskenv.Env
	env.SetSorted(t.Env)
	env.SetTaskCfg(b.cfg.Env, pod.Name)
	id := b.identity
	id.Pod, id.Index, id.Task = pod.Name, req.Index, t.Name
	env.SetIdentity(id)
	env.SetPlacementReferenced(pod.Placement)
	for _, cfg := range t.Configs.Values {
		env.SetConfigTemplate(cfg.Name, cfg.Dest)
	}
	env.SetSorted(params)
	for _, s := range secrets.env {
		env.SetSecret(s.Name, s.Value)
	}
	if len(secrets.files) > 0 {
		c := container(ti)
		c.Volumes = append(c.Volumes, secrets.files...)
	}
	env.SetEnviron(b.cfg.TaskEnv)

	parts.discovery = mesos.DiscoveryInfo{Visibility: mesos.FRAMEWORK, Name: &ti.Name, Ports: &parts.ports}
	disc := &parts.discovery
	if t.Discovery != nil {
		if t.Discovery.Prefix != "" { // else it keeps the task's name
			disc.Name = strPtr(taskenv.DiscoveryName(t.Discovery.Prefix, req.Index))
		}
		switch t.Discovery.Visibility {
		case "CLUSTER":
			disc.Visibility = mesos.CLUSTER
		case "EXTERNAL":
			disc.Visibility = mesos.EXTERNAL
		}
	}
	for _, p := range c.Ports {
		pt := p.Spec
		if pt.EnvKey != "" {
			env.Set(pt.EnvKey, strconv.FormatUint(p.Number, 10))
		}
		port := mesos.Port{Number: uint32(p.Number), Name: &pt.Name, Protocol: strPtr("tcp")}
		var labels []mesos.Label
		if pt.Advertise {
			labels = append(labels, mesos.Label{Key: "advertise", Value: strPtr("true")})
		}
		if pt.VIP != nil {
			labels = append(labels, mesos.Label{Key: "VIP_" + b.cfg.NewID(), Value: strPtr(fmt.Sprintf("%s:%d", pt.VIP.Prefix, pt.VIP.Port))})
		}
		if len(labels) > 0 {
			port.Labels = &mesos.Labels{Labels: labels}
		}
		disc.Ports.Ports = append(disc.Ports.Ports, port)
	}
	ti.Discovery = disc
	env.SetFaultDomain(rec.Where.Region, rec.Where.Zone)
	for _, claim := range c.TLS {
		key, cert, ca, err := tls(pod.Name, c, claim)
		if err != nil {
			return nil, err
		}
		env.SetTLS(claim.Name, key, cert, ca)
	}

	// URIs: the toolkit binaries, the pod's own, the config templates.
	var uris []mesos.CommandInfo_URI
	if n := len(b.toolURIs) + len(pod.URIs) + len(t.Configs.Values); n > 0 {
		uris = make([]mesos.CommandInfo_URI, 0, n)
	}
	uris = append(uris, b.toolURIs...)
	for _, u := range pod.URIs {
		uris = append(uris, mesos.CommandInfo_URI{Value: u})
	}
	noExtract := false
	for _, cfg := range t.Configs.Values {
		out := taskenv.ConfigTemplatePath(cfg.Name)
		uris = append(uris, mesos.CommandInfo_URI{
			Value:      taskenv.TemplateURL(b.apiBase, b.configID(req), pod.Name, t.Name, cfg.Name),
			OutputFile: &out, Extract: &noExtract,
		})
	}
	cmd := t.Cmd
	if len(t.TransportEncryption) > 0 {
		cmd = "./tlsprov materialize --all && " + cmd
	}
	// A paused task idles, with no check (the SDK's PodInfoBuilder with
	// GoalStateOverride.PAUSED).
	paused := req.Paused[t.Name]
	if paused {
		cmd = b.cfg.PauseCommand
	}
	parts.cmd, parts.shell = cmd, true
	shell := &parts.shell
	envProto := Environment(&env)
	parts.command = mesos.CommandInfo{Value: &parts.cmd, Shell: shell, URIs: uris, Environment: envProto}
	ti.Command = &parts.command
	if hc := t.HealthCheck; hc != nil && !paused {
		ti.HealthCheck = &mesos.HealthCheck{
			Type:                mesos.HealthCheck_COMMAND,
			Command:             &mesos.CommandInfo{Value: strPtr(hc.Cmd), Shell: shell, Environment: envProto},
			DelaySeconds:        f64(hc.Delay),
			IntervalSeconds:     f64(hc.Interval),
			TimeoutSeconds:      f64(hc.Timeout),
			ConsecutiveFailures: u32(hc.MaxConsecutiveFailures),
			GracePeriodSeconds:  f64(hc.GracePeriod),
		}
	}
	if rc := t.ReadinessCheck; rc != nil && !paused {
		ti.Check = &mesos.CheckInfo{
			Type:            mesos.CheckInfo_COMMAND,
			Command:         &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: strPtr(rc.Cmd), Shell: shell, Environment: envProto}},
			DelaySeconds:    f64(rc.Delay),
			IntervalSeconds: f64(rc.Interval),
			TimeoutSeconds:  f64(rc.Timeout),
		}
	}
	// Always a kill policy, 0 s when svc.yml gives none, as the SDK's
	// PodInfoBuilder.setTaskKillGracePeriod (DefaultTaskSpec's default
	// 0): without one the executor would give its own 3 s.
	parts.gracePeriod = mesos.DurationInfo{Nanoseconds: int64(time.Duration(t.KillGracePeriod) * time.Second)}
	parts.killPolicy = mesos.KillPolicy{GracePeriod: &parts.gracePeriod}
	ti.KillPolicy = &parts.killPolicy
	parts.goal, parts.host, parts.config, parts.podType, parts.index = t.Goal, rec.Where.Hostname, b.configID(req), pod.Name, strconv.Itoa(req.Index)
	labels := append(parts.labelRoom[:0],
		mesos.Label{Key: LabelGoalState, Value: &parts.goal},
		mesos.Label{Key: LabelOfferHostname, Value: &parts.host},
		mesos.Label{Key: LabelTargetConfiguration, Value: &parts.config},
		mesos.Label{Key: LabelTaskType, Value: &parts.podType},
		mesos.Label{Key: LabelTaskIndex, Value: &parts.index},
	)
	if paused {
		labels = append(labels, mesos.Label{Key: LabelGoalOverride, Value: strPtr(GoalOverridePaused)})
	}
	if !t.IsEssential() {
		labels = append(labels, mesos.Label{Key: LabelEssential, Value: strPtr("false")})
	}
	if rec.Where.Zone != "" {
		labels = append(labels, mesos.Label{Key: LabelOfferZone, Value: strPtr(rec.Where.Zone)})
	}
	if rec.Where.Region != "" {
		labels = append(labels, mesos.Label{Key: LabelOfferRegion, Value: strPtr(rec.Where.Region)})
	}
	own, err := spec.TaskLabels(t.Labels)
	if err != nil {
		return nil, fmt.Errorf("pods.%s.tasks.%s.labels: %w", pod.Name, t.Name, err)
	}
	for _, kv := range own {
		labels = append(labels, mesos.Label{Key: kv[0], Value: strPtr(kv[1])})
	}
	parts.labels = mesos.Labels{Labels: labels}
	ti.Labels = &parts.labels
	if err := setRLimits(ti, pod); err != nil {
		return nil, err
	}
	if err := setLimits(ti, pod, t); err != nil {
		return nil, err
	}
	return ti, nil
}

// container returns ti's ContainerInfo, a MESOS one made when it has none.
func container(ti *mesos.TaskInfo) *mesos.ContainerInfo {
	if ti.Container == nil {
		ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()}
	}
	return ti.Container
}

// setRLimits gives the task's container the pod's rlimits
// (ContainerInfo.rlimit_info), in name order, as the SDK's PodInfoBuilder
// puts them on each task's container for the default executor: soft and
// hard, or neither for unlimited (-1 in svc.yml too).
func setRLimits(ti *mesos.TaskInfo, pod *spec.PodSpec) error {
	if len(pod.RLimits) == 0 {
		return nil
	}
	names := make([]string, 0, len(pod.RLimits))
	for n := range pod.RLimits {
		names = append(names, n)
	}
	sort.Strings(names)
	info := &mesos.RLimitInfo{}
	for _, n := range names {
		typ, ok := spec.RLimitType(n)
		if !ok {
			return fmt.Errorf("pods.%s.rlimits.%s: not an rlimit", pod.Name, n)
		}
		rl := mesos.RLimitInfo_RLimit{Type: typ}
		if l := pod.RLimits[n]; l != nil && l.Soft != nil && l.Hard != nil && *l.Soft != spec.RLimitInfinity {
			soft, hard := uint64(*l.Soft), uint64(*l.Hard)
			rl.Soft, rl.Hard = &soft, &hard
		}
		info.Rlimits = append(info.Rlimits, rl)
	}
	container(ti).RlimitInfo = info
	return nil
}

// setLimits puts the task's resource-limits in TaskInfo.limits ("cpus",
// "mem"; unlimited is +Inf, as Mesos takes it) and, as Mesos requires for
// limits in a task group, gives its container its own cgroups
// (share_cgroups false), as the SDK's PodInfoBuilder does.
func setLimits(ti *mesos.TaskInfo, pod *spec.PodSpec, t *spec.TaskSpec) error {
	rl := pod.Limits(t)
	if rl == nil {
		return nil
	}
	for _, f := range []struct{ name, field, value string }{{"cpus", "cpus", rl.CPUs}, {"mem", "memory", rl.Memory}} {
		v, ok, err := spec.Limit(f.value)
		if err != nil {
			return fmt.Errorf("pods.%s.tasks.%s.resource-limits.%s: %w", pod.Name, t.Name, f.field, err)
		}
		if !ok {
			continue
		}
		if ti.Limits == nil {
			ti.Limits = map[string]mesos.Value_Scalar{}
		}
		ti.Limits[f.name] = mesos.Value_Scalar{Value: v}
	}
	if len(ti.Limits) > 0 {
		c := container(ti)
		if c.LinuxInfo == nil {
			c.LinuxInfo = &mesos.LinuxInfo{}
		}
		no := false
		c.LinuxInfo.ShareCgroups = &no
	}
	return nil
}

// Environment converts a task environment to Mesos', secret values as
// SECRET variables (Secret_VALUE).
func Environment(e *taskenv.Env) *mesos.Environment {
	vars := e.Vars() // a copy: the values are pointed at where they are
	env := &mesos.Environment{Variables: make([]mesos.Environment_Variable, 0, len(vars))}
	for i := range vars {
		v := &vars[i]
		if v.Secret {
			env.Variables = append(env.Variables, mesos.Environment_Variable{
				Name: v.Name, Type: mesos.Environment_Variable_SECRET.Enum(),
				Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(v.Value)}},
			})
			continue
		}
		env.Variables = append(env.Variables, mesos.Environment_Variable{Name: v.Name, Value: &v.Value})
	}
	return env
}

// Placement reads back where a stored TaskInfo was placed (its agent and
// the offer_* labels).
func Placement(ti *mesos.TaskInfo) evaluate.Placement {
	pl := evaluate.Placement{AgentID: ti.AgentID.Value}
	for _, l := range ti.GetLabels().GetLabels() {
		switch l.Key {
		case LabelOfferHostname:
			pl.Hostname = l.GetValue()
		case LabelOfferZone:
			pl.Zone = l.GetValue()
		case LabelOfferRegion:
			pl.Region = l.GetValue()
		}
	}
	return pl
}

// Secrets reads pod secrets by the path svc.yml names.
type Secrets interface {
	Secret(path string) ([]byte, error)
}

// DirSecrets reads secrets as files under a directory (--secrets-dir; ""
// is the working directory): scheduler-lite has no secret store.
type DirSecrets string

// Secret implements Secrets. The path must stay inside the directory.
func (d DirSecrets) Secret(path string) ([]byte, error) {
	if !filepath.IsLocal(path) {
		return nil, fmt.Errorf("secret %q: not a relative path inside --secrets-dir", path)
	}
	return os.ReadFile(filepath.Join(string(d), path))
}

// newIDs returns a source of random version 4 UUIDs in text form that
// reads crypto/rand 4 KiB at a time: a launch round needs hundreds.
func newIDs() func() string {
	var mu sync.Mutex
	r := bufio.NewReaderSize(rand.Reader, 4096)
	var b [16]byte // read into under mu: one allocation per ID, its text
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return imesos.NewID()
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return imesos.UUIDString(b[:])
	}
}

func strPtr(s string) *string { return &s }
func f64(n int) *float64      { v := float64(n); return &v }
func u32(n int) *uint32       { v := uint32(n); return &v }

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
