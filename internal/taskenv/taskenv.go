// Package taskenv is the contract between scheduler-lite and the tasks it
// launches: the names of the task environment's variables, the names a task
// is known by (task and pod instance names, FRAMEWORK_HOST, VIP and autoip
// DNS names), the CONFIG_TEMPLATE_ format, the TLS_<NAME>_* variables, the
// URLs of the artifacts and config templates the scheduler serves, and Env,
// the builder the scheduler assembles a task's environment with.
//
// The producer (the scheduler's pod builder, internal/sdk/podinfo) and the
// consumers in the task (bootstrap, render, tlsprov) spell every name
// through this package, so they cannot drift apart. It imports nothing of
// Mesos or protobuf: the in-task binaries link it (internal/deptest checks).
//
// The names and their order follow the DC/OS SDK (dcos-commons
// PodInfoBuilder.getTaskEnvironment and EnvConstants;
// ../../shared/research/dcos-sdk-inventory.md §2). A task's environment,
// later entries winning:
//
//	<svc.yml env>                    the task's env, then TASKCFG_ALL_<K> and TASKCFG_<POD>_<K> as <K>
//	POD_INSTANCE_INDEX               the pod instance's index, 0, 1, ...
//	FRAMEWORK_NAME                   the service (framework) name
//	FRAMEWORK_HOST                   <name, dots→dashes, no slashes>.autoip.dcos.thisdcos.directory
//	FRAMEWORK_VIP_HOST               <name, dots→dashes, no slashes>.l4lb.thisdcos.directory
//	SCHEDULER_API_HOSTNAME           how the task reaches the scheduler's API
//	SCHEDULER_API_PORT               its port
//	TASK_NAME                        <pod>-<index>-<task>
//	<TASK_NAME>                      "true"
//	PLACEMENT_REFERENCED_REGION      "true" when the pod's placement names @region
//	PLACEMENT_REFERENCED_ZONE        "true" when it names @zone
//	CONFIG_TEMPLATE_<NAME>           config-templates/<name>,<dest>
//	<plan parameters>                the values given with POST /v1/plans/<plan>/start
//	<secret env-key>                 pod secrets (SECRET values)
//	<port env-key>                   each port's number
//	REGION, ZONE                     the offer's fault domain
//	TLS_<NAME>_KEY, _CERT, _CA       transport encryption (SECRET values)
//
// Set in the task by bootstrap: LIBPROCESS_IP and MESOS_CONTAINER_IP (the
// task's IP). Set by the agent: MESOS_SANDBOX.
package taskenv

import (
	"strconv"
	"strings"
)

// Variables of the task environment (see the package documentation for
// their values and order).
const (
	EnvPodInstanceIndex          = "POD_INSTANCE_INDEX"
	EnvFrameworkName             = "FRAMEWORK_NAME"
	EnvFrameworkHost             = "FRAMEWORK_HOST"
	EnvFrameworkVIPHost          = "FRAMEWORK_VIP_HOST"
	EnvSchedulerAPIHostname      = "SCHEDULER_API_HOSTNAME"
	EnvSchedulerAPIPort          = "SCHEDULER_API_PORT"
	EnvTaskName                  = "TASK_NAME"
	EnvPlacementReferencedRegion = "PLACEMENT_REFERENCED_REGION"
	EnvPlacementReferencedZone   = "PLACEMENT_REFERENCED_ZONE"
	EnvRegion                    = "REGION"
	EnvZone                      = "ZONE"
	// EnvMesosSandbox is the task's sandbox directory, set by the agent;
	// relative paths of the contract resolve against it.
	EnvMesosSandbox = "MESOS_SANDBOX"
	// EnvLibprocessIP and EnvMesosContainerIP are the task's IP, set by
	// bootstrap before it renders templates.
	EnvLibprocessIP     = "LIBPROCESS_IP"
	EnvMesosContainerIP = "MESOS_CONTAINER_IP"
	// EnvBootstrapResolvers is bootstrap's -resolvers: the DNS servers it
	// asks (the scheduler sets it in local mode, to testenv's DNS).
	EnvBootstrapResolvers = "BOOTSTRAP_RESOLVERS"
)

// TASKCFG prefixes (the SDK's TaskEnvRouter): TASKCFG_ALL_<K> reaches every
// task as <K>, TASKCFG_<POD>_<K> the tasks of pod type <POD> (EnvName of the
// pod's name).
const (
	TaskCfgPrefix    = "TASKCFG_"
	TaskCfgAllPrefix = "TASKCFG_ALL_"
)

// DNS domains of the SDK's names.
const (
	AutoIPDomain = "autoip.dcos.thisdcos.directory"
	VIPDomain    = "l4lb.thisdcos.directory"
)

// TaskName is the SDK's task name, "<pod>-<index>-<task>"; it is also the
// task's autoip DNS label.
func TaskName(pod string, index int, task string) string {
	return pod + "-" + strconv.Itoa(index) + "-" + task
}

// InstanceName is a pod instance's name, "<pod>-<index>".
func InstanceName(pod string, index int) string { return pod + "-" + strconv.Itoa(index) }

// DiscoveryName is the DNS label of a task with a discovery prefix:
// "<prefix>-<index>".
func DiscoveryName(prefix string, index int) string { return InstanceName(prefix, index) }

// hostLabel is the SDK's service name as a DNS label: slashes removed,
// dots as dashes.
func hostLabel(service string) string {
	return strings.ReplaceAll(strings.ReplaceAll(service, "/", ""), ".", "-")
}

// FrameworkHost is FRAMEWORK_HOST for a service:
// "<name>.autoip.dcos.thisdcos.directory", the name's dots as dashes and its
// slashes removed.
func FrameworkHost(service string) string { return hostLabel(service) + "." + AutoIPDomain }

// FrameworkVIPHost is FRAMEWORK_VIP_HOST for a service:
// "<name>.l4lb.thisdcos.directory".
func FrameworkVIPHost(service string) string { return hostLabel(service) + "." + VIPDomain }

// AutoIPHost is the DNS name of a task (or discovery) label of a service:
// "<label>.<FRAMEWORK_HOST>". It is what bootstrap waits for and what the
// TLS certificates name.
func AutoIPHost(label, service string) string { return label + "." + FrameworkHost(service) }

// VIPHost is the DNS name of a VIP: "<prefix>.<FRAMEWORK_VIP_HOST>".
func VIPHost(prefix, service string) string { return prefix + "." + FrameworkVIPHost(service) }

// SelfHost is the name a task waits to resolve to its own IP, from its
// environment: "<TASK_NAME>.<FRAMEWORK_HOST>"; "" when either is unset.
func SelfHost(lookup func(string) string) string {
	task, fw := lookup(EnvTaskName), lookup(EnvFrameworkHost)
	if task == "" || fw == "" {
		return ""
	}
	return task + "." + fw
}

// EnvName upper-cases s and turns every character other than A-Z, 0-9 and
// "_" into "_", as the SDK does for TASKCFG_<POD>_ and TLS_<NAME>_.
func EnvName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Lookup returns a lookup function over KEY=VALUE entries (the last entry
// of a key wins, as in a process environment).
func Lookup(environ []string) func(string) string {
	return func(k string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if key, v, _ := strings.Cut(environ[i], "="); key == k {
				return v
			}
		}
		return ""
	}
}
