// Package spec reads a ServiceSpec — the DC/OS SDK's svc.yml — for
// scheduler-lite: it renders the file as a mustache template from the
// scheduler's environment, decodes it strictly (every unknown or unsupported
// field is an error naming its path, e.g. pods.hello.tasks.server.volumes),
// validates it collecting every problem, and fills in the SDK's defaults.
//
//	s, err := spec.Load("svc.yml", spec.Options{Env: os.Environ(), Strict: true})
//
// What is supported and what is rejected is listed in docs/svc-yaml.md; the
// field names and defaults follow ../../shared/research/dcos-sdk-inventory.md.
package spec

import (
	"fmt"
	"reflect"

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

// UnmarshalYAML decodes a mapping keeping its order.
func (o *Ordered[T]) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", n.Line)
	}
	o.Keys, o.Values = nil, nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v T
		if err := n.Content[i+1].Decode(&v); err != nil {
			return err
		}
		o.Keys = append(o.Keys, n.Content[i].Value)
		o.Values = append(o.Values, v)
	}
	return nil
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

func (Ordered[T]) orderedElem() reflect.Type { return reflect.TypeFor[T]() }

// ServiceSpec is a decoded svc.yml.
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
}

// SchedulerSpec is the svc.yml's scheduler section.
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

// PodSpec is one pod type.
type PodSpec struct {
	// Name is the pod type's key under pods.
	Name string `yaml:"-"`
	// Count is the number of instances.
	Count int `yaml:"count"`
	// URIs are fetched into every task's sandbox.
	URIs []string `yaml:"uris,omitempty"`
	// Placement is a Marathon-style constraint string.
	Placement string `yaml:"placement,omitempty"`
	// ResourceSets are named resources tasks can share.
	ResourceSets map[string]*ResourceSet `yaml:"resource-sets,omitempty"`
	// AllowDecommission lets Count shrink.
	AllowDecommission bool `yaml:"allow-decommission,omitempty"`
	// Secrets are delivered to every task as secret environment values.
	Secrets map[string]*SecretSpec `yaml:"secrets,omitempty"`
	// Tasks are the pod's tasks, in file order.
	Tasks Ordered[*TaskSpec] `yaml:"tasks"`
}

// ResourceSet is a named set of resources in a pod.
type ResourceSet struct {
	// CPUs and Memory (MB) are the set's resources.
	CPUs   float64 `yaml:"cpus"`
	Memory float64 `yaml:"memory"`
	// Ports are the set's ports.
	Ports Ordered[*PortSpec] `yaml:"ports,omitempty"`
}

// SecretSpec is a pod secret. Secret names a file under the scheduler's
// --secrets-dir (scheduler-lite has no secret store); EnvKey is the variable
// the value is delivered in.
type SecretSpec struct {
	// Secret is the secret's path (relative, no "..").
	Secret string `yaml:"secret"`
	// EnvKey is the environment variable that carries the value.
	EnvKey string `yaml:"env-key"`
}

// TaskSpec is one task of a pod.
type TaskSpec struct {
	// Name is the task's key under tasks.
	Name string `yaml:"-"`
	// Goal is RUNNING (default), FINISH or ONCE.
	Goal string `yaml:"goal"`
	// Cmd is run with /bin/sh -c.
	Cmd string `yaml:"cmd"`
	// Env is the task's environment from the YAML.
	Env map[string]string `yaml:"env,omitempty"`
	// CPUs and Memory (MB) are the task's resources unless ResourceSet is set.
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
}

// IsEssential reports the task's essential flag (default true).
func (t *TaskSpec) IsEssential() bool { return t.Essential == nil || *t.Essential }

// PortSpec is one named port.
type PortSpec struct {
	// Name is the port's key.
	Name string `yaml:"-"`
	// Port is a fixed port, or 0 for a dynamic one.
	Port int `yaml:"port"`
	// EnvKey is the variable the port number is delivered in.
	EnvKey string `yaml:"env-key,omitempty"`
	// Advertise lists the port under /v1/endpoints.
	Advertise bool `yaml:"advertise,omitempty"`
	// VIP is the port's virtual IP.
	VIP *VIPSpec `yaml:"vip,omitempty"`
}

// VIPSpec is a port's virtual IP.
type VIPSpec struct {
	// Port is the VIP port.
	Port int `yaml:"port"`
	// Prefix is the VIP name (default the port's name).
	Prefix string `yaml:"prefix,omitempty"`
}

// HealthCheckSpec is a command health check (seconds).
type HealthCheckSpec struct {
	Cmd                    string `yaml:"cmd"`
	Interval               int    `yaml:"interval"`
	GracePeriod            int    `yaml:"grace-period"`
	MaxConsecutiveFailures int    `yaml:"max-consecutive-failures"`
	Delay                  int    `yaml:"delay"`
	Timeout                int    `yaml:"timeout"`
}

// ReadinessCheckSpec is a command readiness check (seconds).
type ReadinessCheckSpec struct {
	Cmd      string `yaml:"cmd"`
	Interval int    `yaml:"interval"`
	Delay    int    `yaml:"delay"`
	Timeout  int    `yaml:"timeout"`
}

// ConfigSpec is a template rendered in the task: Template is relative to
// svc.yml's directory, Dest to the sandbox.
type ConfigSpec struct {
	Name     string `yaml:"-"`
	Template string `yaml:"template"`
	Dest     string `yaml:"dest"`
	// Content is the template's text, read when the spec is loaded.
	Content string `yaml:"-"`
}

// DiscoverySpec sets a task's discovery name.
type DiscoverySpec struct {
	Prefix     string `yaml:"prefix"`
	Visibility string `yaml:"visibility,omitempty"`
}

// TransportEncryptionSpec asks for TLS (PEM) or KEYSTORE (JKS) artifacts.
type TransportEncryptionSpec struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
}

// PlanSpec is a custom plan.
type PlanSpec struct {
	Name     string              `yaml:"-"`
	Strategy string              `yaml:"strategy,omitempty"`
	Phases   Ordered[*PhaseSpec] `yaml:"phases"`
}

// PhaseSpec is a phase of a custom plan: it works on one pod type.
type PhaseSpec struct {
	Name     string `yaml:"-"`
	Pod      string `yaml:"pod"`
	Strategy string `yaml:"strategy,omitempty"`
	// Steps maps an instance index ("0", "1", ... or "default") to the
	// steps of that instance: each inner list is the tasks one step
	// launches together.
	Steps []map[string][][]string `yaml:"steps,omitempty"`
}
