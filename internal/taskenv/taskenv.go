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
//	FRAMEWORK_HOST                   <DNSLabel(name, no slashes)>.autoip.dcos.thisdcos.directory
//	FRAMEWORK_VIP_HOST               <DNSLabel(name, no slashes)>.l4lb.thisdcos.directory
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

// TaskName is the SDK's task name, "<pod>-<index>-<task>". Its DNS form
// (DNSLabel) is the task's autoip label.
func TaskName(pod string, index int, task string) string {
	return pod + "-" + strconv.Itoa(index) + "-" + task
}

// InstanceName is a pod instance's name, "<pod>-<index>".
func InstanceName(pod string, index int) string { return pod + "-" + strconv.Itoa(index) }

// DiscoveryName is the name of a task with a discovery prefix:
// "<prefix>-<index>" (its DNS form is DNSLabel of it).
func DiscoveryName(prefix string, index int) string { return InstanceName(prefix, index) }

// MaxLabel is the longest DNS label, in bytes (RFC 1035 §2.3.4).
const MaxLabel = 63

// DNSLabel is the one rule by which every name of the contract (a service,
// pod, task or discovery name) becomes a DNS label: lower case; every
// character other than a-z, 0-9 and '-' (so '_', '.', '/' and any non-ASCII
// byte) a '-'; no '-' at either end; at most MaxLabel bytes. It is Mesos-DNS's
// RFC 1123 label rule (mesos-dns records/labels: RFC1123), which DC/OS's
// DNS applies to the names it publishes; svc.yml allows '_' and upper case
// in names, so the names tasks resolve must be built with it
// ("Dns_Svc", "My_Pod-0-Srv_1" → "dns-svc", "my-pod-0-srv-1"). The result
// is "" only when s has no letter or digit. DNSLabel(DNSLabel(s)) ==
// DNSLabel(s).
func DNSLabel(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			b = append(b, '-')
		}
	}
	l := strings.Trim(string(b), "-")
	if len(l) > MaxLabel {
		l = strings.TrimRight(l[:MaxLabel], "-")
	}
	return l
}

// DNSName applies DNSLabel to every dot-separated label of name and drops
// the labels that come out empty: "Web_1.My.Svc." → "web-1.my.svc". It is
// how Mesos-DNS names tasks under ".mesos" (labels.DomainFrag) and how bootstrap reads a
// FRAMEWORK_HOST it was given. DNSName(DNSName(s)) == DNSName(s).
func DNSName(name string) string {
	parts := strings.Split(name, ".")
	out := parts[:0]
	for _, p := range parts {
		if l := DNSLabel(p); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, ".")
}

// hostLabel is a service name as the label of its autoip and VIP domains:
// the SDK's rule (EndpointUtils.toAutoIpDomain: slashes removed, dots as
// dashes), then DNSLabel.
func hostLabel(service string) string {
	return DNSLabel(strings.ReplaceAll(service, "/", ""))
}

// FrameworkHost is FRAMEWORK_HOST for a service:
// "<label>.autoip.dcos.thisdcos.directory", label the service name with its
// slashes removed, then DNSLabel ("/team/Kafka.prod" → "teamkafka-prod").
func FrameworkHost(service string) string { return hostLabel(service) + "." + AutoIPDomain }

// FrameworkVIPHost is FRAMEWORK_VIP_HOST for a service:
// "<label>.l4lb.thisdcos.directory", label as for FrameworkHost.
func FrameworkVIPHost(service string) string { return hostLabel(service) + "." + VIPDomain }

// AutoIPHost is the DNS name of a task (or discovery) name of a service:
// "<DNSLabel(name)>.<FRAMEWORK_HOST>" (the SDK's
// EndpointUtils.toAutoIpHostname, with DNSLabel). It is what bootstrap
// waits for, what testenv's DNS answers, what the TLS certificates and the
// endpoints API name.
func AutoIPHost(name, service string) string {
	return DNSLabel(name) + "." + FrameworkHost(service)
}

// VIPHost is the DNS name of a VIP: "<DNSLabel(prefix)>.<FRAMEWORK_VIP_HOST>".
func VIPHost(prefix, service string) string {
	return DNSLabel(prefix) + "." + FrameworkVIPHost(service)
}

// SelfHost is the name a task waits to resolve to its own IP, from its
// environment: "<DNSLabel(TASK_NAME)>.<DNSName(FRAMEWORK_HOST)>", the name
// AutoIPHost gives the scheduler (a FRAMEWORK_HOST set by another scheduler
// in upper case or with '_' is read by the same rule); "" when either is
// unset.
func SelfHost(lookup func(string) string) string {
	task, fw := DNSLabel(lookup(EnvTaskName)), DNSName(lookup(EnvFrameworkHost))
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
// of a key wins, as in a process environment): "" for a key not set.
func Lookup(environ []string) func(string) string {
	lookup := LookupSet(environ)
	return func(k string) string {
		v, _ := lookup(k)
		return v
	}
}

// LookupSet is Lookup telling a key set to "" from one not set, as
// os.LookupEnv does.
func LookupSet(environ []string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := len(environ) - 1; i >= 0; i-- {
			if key, v, _ := strings.Cut(environ[i], "="); key == k {
				return v, true
			}
		}
		return "", false
	}
}
