// Package spec reads a ServiceSpec — the DC/OS SDK's svc.yml — for
// scheduler-lite as the SDK reads it: it renders the file as a mustache
// template from the scheduler's environment (the SDK's TemplateUtils),
// decodes it strictly (the Raw* classes: every unknown or unsupported field,
// duplicate key and wrong type is a problem naming its path and line),
// fills in the SDK's defaults, and runs the SDK's validators
// (DefaultServiceSpec and its builders, YAMLToInternalMappers, PlanGenerator
// and config/validate), reporting every problem at once. StepError is
// DefaultStepFactory's check, which fails a step when the scheduler builds
// it, not the file; a warning at load tells of such steps.
//
//	l, err := spec.Load("svc.yml", spec.Options{Env: os.Environ(), Strict: true})
//	// err is a spec.Problems listing every problem, in line order
//
// The validators are one list (validators in validate.go); Check runs it
// against the current target configuration too. What is supported, what is
// rejected and every validator are listed in docs/svc-yaml.md.
package spec

import (
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// Goal states of a task.
const (
	GoalRunning = "RUNNING"
	GoalFinish  = "FINISH"
	GoalOnce    = "ONCE"
)

// Plan and phase strategies.
const (
	StrategySerial         = "serial"
	StrategyParallel       = "parallel"
	StrategySerialCanary   = "serial-canary"
	StrategyParallelCanary = "parallel-canary"
)

// Ordered is a YAML mapping whose key order matters (pods, tasks, plans,
// phases): its entries in file order.
type Ordered[T any] struct {
	// Keys are the mapping's keys in file order; Values[i] belongs to Keys[i].
	Keys   []string
	Values []T
}

// Len is the number of entries.
func (o Ordered[T]) Len() int { return len(o.Keys) }

// Get returns the value of key and whether it exists.
func (o Ordered[T]) Get(key string) (T, bool) {
	for i, k := range o.Keys {
		if k == key {
			return o.Values[i], true
		}
	}
	var zero T
	return zero, false
}

func (o *Ordered[T]) appendEntry(key string) reflect.Value {
	var zero T
	o.Keys = append(o.Keys, key)
	o.Values = append(o.Values, zero)
	return reflect.ValueOf(&o.Values[len(o.Values)-1]).Elem()
}

// MarshalYAML encodes the entries as a mapping in order.
func (o Ordered[T]) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i, k := range o.Keys {
		var v yaml.Node
		if err := v.Encode(o.Values[i]); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &v)
	}
	return n, nil
}

// ServiceSpec is a decoded svc.yml (the SDK's RawServiceSpec). A field
// tagged spec:"required" must be present: the SDK fails without it.
type ServiceSpec struct {
	// Name is the service (and default framework) name.
	Name string `yaml:"name"`
	// WebURL is the service's own web UI, advertised instead of the API.
	WebURL string `yaml:"web-url,omitempty"`
	// Scheduler holds registration settings.
	Scheduler *SchedulerSpec `yaml:"scheduler,omitempty"`
	// Pods are the pod types, in file order.
	Pods Ordered[*PodSpec] `yaml:"pods"`
	// Plans are custom plans; a plan named deploy replaces the default one.
	Plans Ordered[*PlanSpec] `yaml:"plans,omitempty"`
	// ReplacementFailurePolicy lets recovery replace a pod instance whose
	// tasks stay failed (placed anew: a new reservation and empty volumes);
	// nil, the default, never replaces one by itself, as the SDK's
	// NeverFailureMonitor.
	ReplacementFailurePolicy *ReplacementFailurePolicy `yaml:"replacement-failure-policy,omitempty"`

	// lines maps every decoded field path to its line in the rendered
	// svc.yml, for problems found after decoding; nulls holds the paths
	// written with no value.
	lines map[string]int
	nulls map[string]bool
}

// SchedulerSpec is the svc.yml's scheduler section (RawScheduler).
type SchedulerSpec struct {
	// Principal is the Mesos principal (default <name>-principal).
	Principal string `yaml:"principal,omitempty"`
	// User is the framework user (default root in the SDK; scheduler-lite
	// defaults to the --user flag).
	User string `yaml:"user,omitempty"`
	// Zookeeper is accepted for compatibility; scheduler-lite's store is
	// chosen with --state.
	Zookeeper string `yaml:"zookeeper,omitempty"`
}

// ReplacementFailurePolicy is svc.yml's replacement-failure-policy: the
// SDK's ReplacementFailurePolicy (dcos-commons
// specification/ReplacementFailurePolicy.java), used by SchedulerBuilder
// for a TimedFailureMonitor. Each of its two settings is given in seconds,
// the SDK's form since 0.58 (2020: permanent-failure-timeout-secs,
// min-replace-delay-secs), or in minutes, its form before
// (permanent-failure-timeout-mins, min-replace-delay-mins); one setting in
// both forms is refused. Parse fills in the default of a setting not given,
// in minutes.
type ReplacementFailurePolicy struct {
	// PermanentFailureTimeoutSecs is how long, in seconds, a failed task
	// is relaunched in place (waiting for its agent) before its pod
	// instance counts as permanently failed and is replaced (default
	// 1200, the SDK's; 0 replaces it at its first failure).
	PermanentFailureTimeoutSecs *int `yaml:"permanent-failure-timeout-secs,omitempty"`
	// MinReplaceDelaySecs is the least time, in seconds, between two such
	// replacements, service-wide (default 600; 0: no delay).
	MinReplaceDelaySecs *int `yaml:"min-replace-delay-secs,omitempty"`
	// PermanentFailureTimeoutMins is PermanentFailureTimeoutSecs in
	// minutes (the SDK's form before 0.58).
	PermanentFailureTimeoutMins *int `yaml:"permanent-failure-timeout-mins,omitempty"`
	// MinReplaceDelayMins is MinReplaceDelaySecs in minutes.
	MinReplaceDelayMins *int `yaml:"min-replace-delay-mins,omitempty"`
}

// The defaults, in minutes: the SDK's ReplacementFailurePolicy.Builder's
// (20 minutes; 10 minutes between replacements, which the SDK's constant
// still documents though its 2020 rename to seconds left it the number 10:
// see docs/svc-yaml.md).
const (
	DefaultPermanentFailureTimeoutMins = 20
	DefaultMinReplaceDelayMins         = 10
)

// MaxReplacementPolicySecs is the longest time either setting may give, in
// seconds: the SDK's Integer seconds (Java's int).
const MaxReplacementPolicySecs = 1<<31 - 1

// PermanentFailureTimeout is the permanent failure timeout, from the form
// given.
func (p *ReplacementFailurePolicy) PermanentFailureTimeout() time.Duration {
	return policyDuration(p.PermanentFailureTimeoutSecs, p.PermanentFailureTimeoutMins, DefaultPermanentFailureTimeoutMins)
}

// MinReplaceDelay is the least delay between replacements, from the form
// given.
func (p *ReplacementFailurePolicy) MinReplaceDelay() time.Duration {
	return policyDuration(p.MinReplaceDelaySecs, p.MinReplaceDelayMins, DefaultMinReplaceDelayMins)
}

// PermanentFailureTimeoutField is the YAML path of the timeout, in the
// form given, for messages.
func (p *ReplacementFailurePolicy) PermanentFailureTimeoutField() string {
	return policyField("permanent-failure-timeout", p.PermanentFailureTimeoutSecs)
}

// MinReplaceDelayField is the YAML path of the delay, in the form given.
func (p *ReplacementFailurePolicy) MinReplaceDelayField() string {
	return policyField("min-replace-delay", p.MinReplaceDelaySecs)
}

func policyDuration(secs, mins *int, defMins int) time.Duration {
	switch {
	case secs != nil:
		return time.Duration(*secs) * time.Second
	case mins != nil:
		return time.Duration(*mins) * time.Minute
	}
	return time.Duration(defMins) * time.Minute
}

func policyField(setting string, secs *int) string {
	if secs != nil {
		return "replacement-failure-policy." + setting + "-secs"
	}
	return "replacement-failure-policy." + setting + "-mins"
}

// PodSpec is one pod type (RawPod).
type PodSpec struct {
	// Name is the pod type's key under pods.
	Name string `yaml:"-"`
	// Count is the number of instances.
	Count int `yaml:"count" spec:"required"`
	// User is accepted as the SDK accepts it (a field it removed and now
	// ignores): tasks run as the framework user. A warning says so.
	User string `yaml:"user,omitempty"`
	// URIs are fetched into every task's sandbox.
	URIs []string `yaml:"uris,omitempty"`
	// Placement is a Marathon-style constraint string.
	Placement string `yaml:"placement,omitempty"`
	// ResourceSets are named resources tasks can share (one task at a time).
	ResourceSets map[string]*ResourceSet `yaml:"resource-sets,omitempty"`
	// AllowDecommission lets Count shrink.
	AllowDecommission bool `yaml:"allow-decommission,omitempty"`
	// Secrets are delivered to every task, as an environment value
	// (EnvKey) or else as a file (FilePath).
	Secrets map[string]*SecretSpec `yaml:"secrets,omitempty"`
	// RLimits are the resource limits of every task's processes
	// (RawRLimit), by name (RLIMIT_NOFILE, ...).
	RLimits map[string]*RLimitSpec `yaml:"rlimits,omitempty"`
	// Volume and Volumes are the pod's persistent volumes (both may be
	// given): on the executor, seen by every task at their paths.
	Volume  *VolumeSpec          `yaml:"volume,omitempty"`
	Volumes Ordered[*VolumeSpec] `yaml:"volumes,omitempty"`
	// PreReservedRole is the role of resources reserved ahead for the pod
	// (statically, e.g. slave_public): its reservations refine them for
	// the role "<pre-reserved-role>/<service role>". "" or "*" is none.
	PreReservedRole string `yaml:"pre-reserved-role,omitempty"`
	// Tasks are the pod's tasks, in file order.
	Tasks Ordered[*TaskSpec] `yaml:"tasks"`
}

// ResourceSet is a named set of resources in a pod (RawResourceSet). Any of
// cpus, memory and ports may be left out, but not all of them.
type ResourceSet struct {
	// CPUs and Memory (MB) are the set's resources; 0 means none.
	CPUs   float64 `yaml:"cpus,omitempty"`
	Memory float64 `yaml:"memory,omitempty"`
	// Ports are the set's ports.
	Ports Ordered[*PortSpec] `yaml:"ports,omitempty"`
	// ResourceLimits are the limits above CPUs and Memory the tasks may
	// burst to (RawResourceLimits).
	ResourceLimits *ResourceLimitsSpec `yaml:"resource-limits,omitempty"`
	// Volume or Volumes (not both) are the set's persistent volumes.
	Volume  *VolumeSpec          `yaml:"volume,omitempty"`
	Volumes Ordered[*VolumeSpec] `yaml:"volumes,omitempty"`
}

// Volume types.
const (
	VolumeRoot  = "ROOT"
	VolumeMount = "MOUNT"
)

// VolumeSpec is a persistent volume (RawVolume, DefaultVolumeSpec): Size
// MB of disk reserved for the pod instance and kept across relaunches,
// seen by the task at Path in its sandbox. A ROOT volume is carved from the
// agent's root disk; a MOUNT volume takes a whole MOUNT disk of at least
// Size.
type VolumeSpec struct {
	// Name is the key under volumes ("" for volume).
	Name string `yaml:"-"`
	Path string `yaml:"path" spec:"required"`
	Type string `yaml:"type" spec:"required"`
	Size int    `yaml:"size" spec:"required"`
	// Profiles select a MOUNT disk by its resource provider's profile;
	// scheduler-lite refuses them (no resource providers).
	Profiles []string `yaml:"profiles,omitempty"`
}

// allVolumes returns volume and volumes together, volume first.
func allVolumes(volume *VolumeSpec, volumes Ordered[*VolumeSpec]) []*VolumeSpec {
	var out []*VolumeSpec
	if volume != nil {
		out = append(out, volume)
	}
	return append(out, volumes.Values...)
}

// RLimitSpec is one rlimit (RawRLimit, RLimitSpec): both Soft and Hard, or
// neither (unlimited); -1 in both is unlimited too.
type RLimitSpec struct {
	Soft *int `yaml:"soft,omitempty"`
	Hard *int `yaml:"hard,omitempty"`
}

// RLimitInfinity is the SDK's RLimitSpec.RLIMIT_INFINITY: unlimited.
const RLimitInfinity = -1

// ResourceLimitsSpec are a task's resource limits (RawResourceLimits): a
// number, or "unlimited", for cpus and for memory (MB); empty is none.
type ResourceLimitsSpec struct {
	CPUs   string `yaml:"cpus,omitempty"`
	Memory string `yaml:"memory,omitempty"`
}

// SecretSpec is a pod secret (RawSecret). Secret names a file under the
// scheduler's --secrets-dir (scheduler-lite has no secret store); EnvKey is
// the variable the value is delivered in. Without EnvKey the secret is a file
// in the sandbox at FilePath, as in the SDK.
type SecretSpec struct {
	// Secret is the secret's path (relative, no "..").
	Secret string `yaml:"secret"`
	// EnvKey is the environment variable that carries the value.
	EnvKey string `yaml:"env-key,omitempty"`
	// File is where the value is written in the sandbox, relative to it
	// (with EnvKey too, it is delivered both ways).
	File string `yaml:"file,omitempty"`
}

// FilePath is where the secret is written in the sandbox, relative to it,
// as the SDK's convertSecret decides: File when given, else the secret's
// path when it has no EnvKey, else "" (it is delivered in the environment
// only).
func (s *SecretSpec) FilePath() string {
	switch {
	case s.File != "":
		return s.File
	case s.EnvKey != "":
		return ""
	}
	return s.Secret
}

// TaskSpec is one task of a pod (RawTask).
type TaskSpec struct {
	// Name is the task's key under tasks.
	Name string `yaml:"-"`
	// Goal is RUNNING (the default), FINISH or ONCE, upper-cased.
	Goal string `yaml:"goal"`
	// Cmd is the task's shell command.
	Cmd string `yaml:"cmd" spec:"required"`
	// Env is the task's environment from the YAML.
	Env map[string]string `yaml:"env,omitempty"`
	// CPUs and Memory (MB) are the task's resources unless ResourceSet is
	// set; 0 means none.
	CPUs   float64 `yaml:"cpus,omitempty"`
	Memory float64 `yaml:"memory,omitempty"`
	// Ports are the task's ports.
	Ports Ordered[*PortSpec] `yaml:"ports,omitempty"`
	// HealthCheck is run by the executor; failing it kills the task.
	HealthCheck *HealthCheckSpec `yaml:"health-check,omitempty"`
	// ReadinessCheck must pass before the task's step is COMPLETE.
	ReadinessCheck *ReadinessCheckSpec `yaml:"readiness-check,omitempty"`
	// Configs are templates rendered by bootstrap in the task.
	Configs Ordered[*ConfigSpec] `yaml:"configs,omitempty"`
	// Discovery sets the task's DNS discovery name.
	Discovery *DiscoverySpec `yaml:"discovery,omitempty"`
	// Essential (default true): a failure relaunches the whole pod.
	Essential *bool `yaml:"essential,omitempty"`
	// KillGracePeriod is the seconds between SIGTERM and SIGKILL.
	KillGracePeriod int `yaml:"kill-grace-period,omitempty"`
	// ResourceSet names the pod resource set the task uses.
	ResourceSet string `yaml:"resource-set,omitempty"`
	// TransportEncryption asks for TLS artifacts.
	TransportEncryption []*TransportEncryptionSpec `yaml:"transport-encryption,omitempty"`
	// Labels are added to the TaskInfo's labels: "key:value" pairs
	// separated by commas (RawTask's labels string).
	Labels string `yaml:"labels,omitempty"`
	// ResourceLimits are the limits above CPUs and Memory the task may
	// burst to (ignored, as by the SDK, when it names a resource set: the
	// set's apply).
	ResourceLimits *ResourceLimitsSpec `yaml:"resource-limits,omitempty"`
	// Volume or Volumes (not both) are the task's persistent volumes
	// (its resource set's when it names one).
	Volume  *VolumeSpec          `yaml:"volume,omitempty"`
	Volumes Ordered[*VolumeSpec] `yaml:"volumes,omitempty"`
}

// IsEssential reports the task's essential flag (default true).
func (t *TaskSpec) IsEssential() bool { return t.Essential == nil || *t.Essential }

// PortSpec is one named port (RawPort).
type PortSpec struct {
	// Name is the port's key.
	Name string `yaml:"-"`
	// Port is a fixed port, or 0 for a dynamic one.
	Port int `yaml:"port" spec:"required"`
	// EnvKey is the variable the port number is delivered in.
	EnvKey string `yaml:"env-key,omitempty"`
	// Advertise lists the port under /v1/endpoints.
	Advertise bool `yaml:"advertise,omitempty"`
	// VIP is the port's virtual IP.
	VIP *VIPSpec `yaml:"vip,omitempty"`
	// Ranges restrict a dynamic port (Port 0) to these ranges (RawRange).
	Ranges []*RangeSpec `yaml:"ranges,omitempty"`
}

// RangeSpec is a port range, Begin to End inclusive (RawRange).
type RangeSpec struct {
	Begin int `yaml:"begin"`
	End   int `yaml:"end"`
}

// VIPSpec is a port's virtual IP (RawVip).
type VIPSpec struct {
	// Port is the VIP port (0 when absent, as in the SDK).
	Port int `yaml:"port"`
	// Prefix is the VIP name (default the port's name).
	Prefix string `yaml:"prefix,omitempty"`
}

// HealthCheckSpec is a command health check (RawHealthCheck), in seconds.
// Every field is required, as the SDK's DefaultHealthCheckSpec requires them.
type HealthCheckSpec struct {
	Cmd                    string `yaml:"cmd" spec:"required"`
	Interval               int    `yaml:"interval" spec:"required"`
	GracePeriod            int    `yaml:"grace-period" spec:"required"`
	MaxConsecutiveFailures int    `yaml:"max-consecutive-failures" spec:"required"`
	Delay                  int    `yaml:"delay" spec:"required"`
	Timeout                int    `yaml:"timeout" spec:"required"`
}

// ReadinessCheckSpec is a command readiness check (RawReadinessCheck), in
// seconds; Delay defaults to 0.
type ReadinessCheckSpec struct {
	Cmd      string `yaml:"cmd" spec:"required"`
	Interval int    `yaml:"interval" spec:"required"`
	Delay    int    `yaml:"delay"`
	Timeout  int    `yaml:"timeout" spec:"required"`
}

// ConfigSpec is a template rendered in the task (RawConfig): Template is
// relative to svc.yml's directory, Dest to the sandbox.
type ConfigSpec struct {
	Name     string `yaml:"-"`
	Template string `yaml:"template" spec:"required"`
	Dest     string `yaml:"dest" spec:"required"`
	// Content is the template's text, read when the spec is loaded.
	Content string `yaml:"-"`
}

// DiscoverySpec sets a task's discovery name (RawDiscovery): <prefix>-<index>
// when Prefix is set, else the task's name. Visibility is FRAMEWORK, CLUSTER
// or EXTERNAL.
type DiscoverySpec struct {
	Prefix     string `yaml:"prefix,omitempty"`
	Visibility string `yaml:"visibility,omitempty"`
}

// TransportEncryptionSpec asks for TLS (PEM) or KEYSTORE (JKS) artifacts
// (RawTransportEncryption).
type TransportEncryptionSpec struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// PlanSpec is a custom plan (RawPlan).
type PlanSpec struct {
	Name     string              `yaml:"-"`
	Strategy string              `yaml:"strategy,omitempty"`
	Phases   Ordered[*PhaseSpec] `yaml:"phases" spec:"required"`
}

// PhaseSpec is a phase of a custom plan (RawPhase): it works on one pod type.
type PhaseSpec struct {
	Name     string `yaml:"-"`
	Pod      string `yaml:"pod"`
	Strategy string `yaml:"strategy,omitempty"`
	// Steps maps an instance index ("0", "1", ... or "default") to the
	// steps of that instance: each inner list is the tasks one step
	// launches together. An empty list gives the instance no step.
	Steps []map[string][][]string `yaml:"steps,omitempty"`
}
