package taskenv

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{TaskName("hello", 2, "server"), "hello-2-server"},
		{InstanceName("hello", 0), "hello-0"},
		{DiscoveryName("broker", 3), "broker-3"},
		{FrameworkHost("hello-world"), "hello-world.autoip.dcos.thisdcos.directory"},
		{FrameworkHost("/team/kafka.prod"), "teamkafka-prod.autoip.dcos.thisdcos.directory"},
		{FrameworkVIPHost("a.b"), "a-b.l4lb.thisdcos.directory"},
		{AutoIPHost("hello-0-server", "svc"), "hello-0-server.svc.autoip.dcos.thisdcos.directory"},
		{VIPHost("hello", "svc"), "hello.svc.l4lb.thisdcos.directory"},
		{EnvName("my-node.1"), "MY_NODE_1"},
		{EnvName("Kafka_broker"), "KAFKA_BROKER"},
		{EnvName("ümlaut"), "_MLAUT"},
		{TLSVar("my-node", TLSKey), "TLS_MY_NODE_KEY"},
		{ConfigTemplateVar("server-conf"), "CONFIG_TEMPLATE_SERVER_CONF"},
		{ConfigTemplatePath("x.conf"), "config-templates/x.conf"},
		{ArtifactURL("http://h:1", "bootstrap", ""), "http://h:1/v1/artifacts/bin/bootstrap"},
		{ArtifactURL("http://h:1", "bootstrap", "ab12"), "http://h:1/v1/artifacts/bin/bootstrap?sha256=ab12"},
		{TemplateURL("http://h:1", "cfg", "p d", "t", "n/x"), "http://h:1/v1/artifacts/template/cfg/p%20d/t/n%2Fx"},
		{SchedulerURL("10.0.0.1", 8080), "http://10.0.0.1:8080"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestDNSNames: every name of the contract becomes a DNS name by one rule
// (Mesos-DNS's RFC 1123 labels), whatever svc.yml allows in names.
func TestDNSNames(t *testing.T) {
	long := strings.Repeat("a", 62) + "_b"
	for _, tt := range []struct{ name, got, want string }{
		{"plain", DNSLabel("hello-0-server"), "hello-0-server"},
		{"underscore and upper case", DNSLabel("My_Pod-0-Srv_1"), "my-pod-0-srv-1"},
		{"dots and slashes", DNSLabel("a.b/c"), "a-b-c"},
		{"ends trimmed", DNSLabel("_x_"), "x"},
		{"non-ASCII", DNSLabel("nœud"), "n--ud"},
		{"nothing left", DNSLabel("__"), ""},
		{"63 bytes, no trailing dash", DNSLabel(long), strings.Repeat("a", 62)},
		{"idempotent", DNSLabel(DNSLabel("A__B")), DNSLabel("A__B")},
		{"name", DNSName("Web_1.My.Svc."), "web-1.my.svc"},
		{"name, empty labels dropped", DNSName("a.._.b"), "a.b"},
		{"framework host", FrameworkHost("Dns_Svc"), "dns-svc.autoip.dcos.thisdcos.directory"},
		{"framework host, folder", FrameworkHost("/Team/Kafka.prod"), "teamkafka-prod.autoip.dcos.thisdcos.directory"},
		{"VIP host", VIPHost("My_VIP", "Dns_Svc"), "my-vip.dns-svc.l4lb.thisdcos.directory"},
		{"autoip host", AutoIPHost(TaskName("My_Pod", 0, "Srv_1"), "Dns_Svc"), "my-pod-0-srv-1.dns-svc.autoip.dcos.thisdcos.directory"},
		{"autoip host, dotted task", AutoIPHost("a.b-0-c", "svc"), "a-b-0-c.svc.autoip.dcos.thisdcos.directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestServiceIdentity: an identity made from ServiceIdentity sets what the
// same identity written out sets.
func TestServiceIdentity(t *testing.T) {
	for _, n := range [][3]string{{"Dns_Svc", "My_Pod", "Srv_1"}, {"/grp/a.b", "P", "t"}, {"hello-world", "hello", "server"}} {
		var want, got Env
		want.SetIdentity(Identity{Service: n[0], Pod: n[1], Index: 3, Task: n[2], SchedulerHost: "api.host", SchedulerPort: 8080})
		id := ServiceIdentity(n[0], "api.host", 8080)
		id.Pod, id.Index, id.Task = n[1], 3, n[2]
		got.SetIdentity(id)
		if !slices.Equal(got.Environ(), want.Environ()) {
			t.Errorf("%v: ServiceIdentity's environment %q, want %q", n, got.Environ(), want.Environ())
		}
		// A copy whose service fields changed derives its values anew.
		var fresh, moved Env
		fresh.SetIdentity(Identity{Service: n[0] + "2", Pod: n[1], Index: 3, Task: n[2], SchedulerHost: "other.host", SchedulerPort: 9090})
		id.Service, id.SchedulerHost, id.SchedulerPort = n[0]+"2", "other.host", 9090
		moved.SetIdentity(id)
		if !slices.Equal(moved.Environ(), fresh.Environ()) {
			t.Errorf("%v: a ServiceIdentity with its service changed sets %q, want %q", n, moved.Environ(), fresh.Environ())
		}
	}
}

// TestSelfHostAgreesWithAutoIPHost: the name bootstrap waits for is the one
// the scheduler publishes, for names svc.yml accepts.
func TestSelfHostAgreesWithAutoIPHost(t *testing.T) {
	for _, n := range [][3]string{{"Dns_Svc", "My_Pod", "Srv_1"}, {"/grp/a.b", "P", "t"}, {"hello-world", "hello", "server"}} {
		var e Env
		e.SetIdentity(Identity{Service: n[0], Pod: n[1], Index: 3, Task: n[2]})
		got := SelfHost(Lookup(e.Environ()))
		if want := AutoIPHost(TaskName(n[1], 3, n[2]), n[0]); got != want {
			t.Errorf("%v: SelfHost %q, AutoIPHost %q", n, got, want)
		}
	}
	// A FRAMEWORK_HOST another scheduler spelled raw is read by the same rule.
	env := []string{"TASK_NAME=My_Pod-0-Srv_1", "FRAMEWORK_HOST=Dns_Svc.autoip.dcos.thisdcos.directory"}
	if got := SelfHost(Lookup(env)); got != "my-pod-0-srv-1.dns-svc.autoip.dcos.thisdcos.directory" {
		t.Errorf("SelfHost = %q", got)
	}
}

func TestSelfHostAndLookup(t *testing.T) {
	env := []string{"TASK_NAME=old", "TASK_NAME=a-0-b", "FRAMEWORK_HOST=svc.autoip.dcos.thisdcos.directory"}
	if got := SelfHost(Lookup(env)); got != "a-0-b.svc.autoip.dcos.thisdcos.directory" {
		t.Errorf("SelfHost = %q", got)
	}
	if got := SelfHost(Lookup(env[:2])); got != "" {
		t.Errorf("SelfHost without FRAMEWORK_HOST = %q", got)
	}
}

func TestParseConfigTemplate(t *testing.T) {
	for _, tt := range []struct {
		in, src, dest, err string
	}{
		{"config-templates/a,conf/a.conf", "config-templates/a", "conf/a.conf", ""},
		{" a , b,c ", "a", "b,c", ""},
		{"a", "", "", "no comma"},
		{",b", "", "", "source is empty"},
		{"a, ", "", "", "destination is empty"},
	} {
		src, dest, err := ParseConfigTemplate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || src != tt.src || dest != tt.dest {
			t.Errorf("%q: %q %q %v", tt.in, src, dest, err)
		}
	}
	names, vals := ConfigTemplateVars([]string{"CONFIG_TEMPLATE_B=1,2", "PATH=/bin", "CONFIG_TEMPLATE_A=x,y", "CONFIG_TEMPLATE_B=3,4"})
	if !slices.Equal(names, []string{"CONFIG_TEMPLATE_A", "CONFIG_TEMPLATE_B"}) || vals["CONFIG_TEMPLATE_B"] != "3,4" {
		t.Errorf("ConfigTemplateVars = %v %v", names, vals)
	}
}

// TestTLSSecrets: every secret is read from the variables it was found by;
// variables that are one secret once mapped, or whose NAME cannot be
// mapped, are errors naming the variables present
// (08-tlsprov-all-dashed-dotted-names).
func TestTLSSecrets(t *testing.T) {
	sec := func(name, mid string) TLSSecret {
		return TLSSecret{Name: name, Key: "TLS_" + mid + "_KEY", Cert: "TLS_" + mid + "_CERT", CA: "TLS_" + mid + "_CA"}
	}
	for _, tt := range []struct {
		name    string
		env     []string
		want    []TLSSecret
		errs    []string // each must be in the error; none: no error
		notErrs []string // none may be
	}{
		{name: "the scheduler's form", env: []string{"TLS_B_KEY=x", "TLS_MY_NODE_KEY=x", "TLS_B_CERT=x", "TLS__KEY=x", "TLS_KEY=x", "PATH=/bin", "XTLS_C_KEY=x"},
			want: []TLSSecret{sec("b", "B"), sec("my_node", "MY_NODE")}},
		{name: "dashed and dotted NAMEs are read as spelled", env: []string{"TLS_web-1_KEY=x", "TLS_my.node_KEY=x"},
			want: []TLSSecret{sec("my.node", "my.node"), sec("web-1", "web-1")}},
		{name: "mixed case", env: []string{"TLS_Web_KEY=x"}, want: []TLSSecret{sec("web", "Web")}},
		{name: "a variable repeated is one secret", env: []string{"TLS_A_KEY=1", "TLS_A_KEY=2"}, want: []TLSSecret{sec("a", "A")}},
		{name: "dash and underscore collide", env: []string{"TLS_A_B_KEY=x", "TLS_A-B_KEY=x", "TLS_C_KEY=x"},
			want: []TLSSecret{sec("c", "C")}, errs: []string{"TLS_A_B_KEY and TLS_A-B_KEY are one secret"}},
		{name: "case collides", env: []string{"TLS_web_KEY=x", "TLS_WEB_KEY=x"},
			errs: []string{"TLS_web_KEY and TLS_WEB_KEY are one secret"}},
		{name: "TLS_<NAME>_NAME names the files", env: []string{"TLS_WEB_1_KEY=x", "TLS_WEB_1_NAME=web-1", "TLS_MY_NODE_KEY=x", "TLS_MY_NODE_NAME=My.Node"},
			want: []TLSSecret{sec("My.Node", "MY_NODE"), sec("web-1", "WEB_1")}},
		{name: "a TLS_<NAME>_NAME not of its secret, or no file name", env: []string{"TLS_WEB_1_KEY=x", "TLS_WEB_1_NAME=web-2", "TLS_A_KEY=x", "TLS_A_NAME=../a", "TLS_C_KEY=x"},
			want: []TLSSecret{sec("c", "C")}, errs: []string{`TLS_WEB_1_NAME: "web-2" is not the name of TLS_WEB_1_KEY`, `TLS_A_NAME: "../a" holds '/'`}},
		// Set is set: an empty TLS_<NAME>_NAME names no file, and is not
		// taken for one not set (docs/tlsprov.md: "when it is set").
		{name: "a TLS_<NAME>_NAME set but empty", env: []string{"TLS_B_KEY=x", "TLS_B_NAME=", "TLS_D_CERT=x", "TLS_D_NAME=", "TLS_D_NAME=", "TLS_C_KEY=x"},
			want: []TLSSecret{sec("c", "C")}, errs: []string{`TLS_B_NAME is set but empty: it names the entry's files (unset, they are named "b")`, `TLS_D_NAME is set but empty`},
			notErrs: []string{"TLS_D_KEY", "TLS_C_NAME"}},
		{name: "a TLS_<NAME>_NAME whose key is missing", env: []string{"TLS_WEB_KEY=x", "TLS_SECURE_API_CERT=x", "TLS_SECURE_API_NAME=secure-api"},
			want: []TLSSecret{sec("web", "WEB")}, errs: []string{"TLS_SECURE_API_NAME is set but TLS_SECURE_API_KEY is not"}},
		{name: "a NAME that cannot be mapped is named as present", env: []string{"TLS_CAFÉ_KEY=x", "TLS_a b_KEY=x", "TLS_x/y_KEY=x", "TLS_OK_KEY=x"},
			want: []TLSSecret{sec("ok", "OK")}, errs: []string{"TLS_CAFÉ_KEY: ", "'É'", "TLS_a b_KEY: ", "TLS_x/y_KEY: "}, notErrs: []string{"TLS_CAF__KEY", "TLS_A_B_KEY", "TLS_X_Y_KEY"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TLSSecrets(tt.env)
			if !slices.Equal(got, tt.want) {
				t.Errorf("secrets %+v, want %+v", got, tt.want)
			}
			if (err != nil) != (len(tt.errs) > 0) {
				t.Fatalf("error %v, want one holding %q", err, tt.errs)
			}
			for _, w := range tt.errs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, w := range tt.notErrs {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q names %q, which is not set", err, w)
				}
			}
		})
	}
}

// TestTLSRoundTrip: a secret the scheduler sets with Env.SetTLS is found by
// TLSSecrets and read from exactly the variables set, which are TLSVar of
// the NAME found: one mapping, both ways.
func TestTLSRoundTrip(t *testing.T) {
	for _, tt := range []struct{ set, found string }{
		{"server", "server"},
		// files named after the entry, as the SDK's (TLSArtifactPaths)
		{"node-tls", "node-tls"},
		{"my.node", "my.node"},
		{"Kafka_broker", "Kafka_broker"},
		{"secure-tls-pod", "secure-tls-pod"},
		{"web_1", "web_1"},
		{"0", "0"},
	} {
		var e Env
		e.Set("PATH", "/bin")
		e.SetTLS(tt.set, "key-"+tt.set, "cert-"+tt.set, "ca-"+tt.set)
		environ := e.Environ()
		got, err := TLSSecrets(environ)
		if err != nil || len(got) != 1 {
			t.Fatalf("%q: TLSSecrets = %+v, %v", tt.set, got, err)
		}
		s := got[0]
		want := TLSSecret{Name: tt.found, Key: TLSVar(tt.set, TLSKey), Cert: TLSVar(tt.set, TLSCert), CA: TLSVar(tt.set, TLSCA)}
		if s != want {
			t.Errorf("%q: found %+v, want %+v", tt.set, s, want)
		}
		if s.Key != TLSVar(s.Name, TLSKey) || s.Cert != TLSVar(s.Name, TLSCert) || s.CA != TLSVar(s.Name, TLSCA) {
			t.Errorf("%q: %+v is not read from TLSVar of its NAME", tt.set, s)
		}
		lookup := Lookup(environ)
		for v, val := range map[string]string{s.Key: "key-", s.Cert: "cert-", s.CA: "ca-"} {
			if lookup(v) != val+tt.set {
				t.Errorf("%q: %s = %q", tt.set, v, lookup(v))
			}
		}
	}
}

// TestEnvOrder builds a task environment the way the scheduler does and
// checks the SDK's order: first position kept, later value wins, secrets
// marked.
func TestEnvOrder(t *testing.T) {
	var e Env
	e.SetSorted(map[string]string{"B": "yaml-b", "A": "yaml-a", "ZONE": "from-yaml"})
	e.SetTaskCfg([]string{"TASKCFG_ALL_A=all", "TASKCFG_WEB_A=pod", "TASKCFG_OTHER_C=no", "TASKCFG_ALL_=empty", "PATH=/bin"}, "web")
	e.SetIdentity(Identity{Service: "svc", Pod: "web", Index: 1, Task: "server", SchedulerHost: "api.host", SchedulerPort: 7})
	e.SetPlacementReferenced("@zone:GROUP_BY")
	e.SetConfigTemplate("conf", "etc/conf")
	e.SetSecret("PASSWORD", "s3cret")
	e.Set("PORT_HTTP", "31000")
	e.SetFaultDomain("r1", "z1")
	e.SetFaultDomain("", "")
	e.SetTLS("server", "k", "c", "ca")
	e.SetEnviron([]string{"BOOTSTRAP_RESOLVERS=127.0.0.1:53"})
	want := []string{
		"A=pod", "B=yaml-b", "ZONE=z1",
		"POD_INSTANCE_INDEX=1", "FRAMEWORK_NAME=svc", "FRAMEWORK_HOST=svc.autoip.dcos.thisdcos.directory",
		"FRAMEWORK_VIP_HOST=svc.l4lb.thisdcos.directory", "SCHEDULER_API_HOSTNAME=api.host", "SCHEDULER_API_PORT=7",
		"TASK_NAME=web-1-server", "web-1-server=true", "PLACEMENT_REFERENCED_ZONE=true",
		"CONFIG_TEMPLATE_CONF=config-templates/conf,etc/conf", "PASSWORD=s3cret", "PORT_HTTP=31000", "REGION=r1",
		"TLS_SERVER_KEY=k", "TLS_SERVER_CERT=c", "TLS_SERVER_CA=ca", "BOOTSTRAP_RESOLVERS=127.0.0.1:53",
	}
	if got := e.Environ(); !slices.Equal(got, want) {
		t.Errorf("Environ:\n got %q\nwant %q", got, want)
	}
	var secret []string
	for _, v := range e.Vars() {
		if v.Secret {
			secret = append(secret, v.Name)
		}
	}
	if !slices.Equal(secret, []string{"PASSWORD", "TLS_SERVER_KEY", "TLS_SERVER_CERT", "TLS_SERVER_CA"}) {
		t.Errorf("secret %v", secret)
	}
	if v, ok := e.Get("A"); !ok || v != "pod" {
		t.Errorf("Get(A) = %q %v", v, ok)
	}
	if _, ok := e.Get("NOPE"); ok {
		t.Error("Get(NOPE) found")
	}
}

// TestEnvManyVariables: past the linear search, the index keeps the order
// and the later-wins rule.
func TestEnvManyVariables(t *testing.T) {
	var e Env
	for i := range 100 {
		e.Set(fmt.Sprint("K", i), "a")
	}
	e.Set("K7", "b")
	e.SetSecret("K99", "c")
	if v, _ := e.Get("K7"); v != "b" || len(e.Vars()) != 100 || e.Vars()[7].Value != "b" || !e.Vars()[99].Secret {
		t.Errorf("vars %v", e.Vars()[:10])
	}
	if _, ok := e.Get("K100"); ok {
		t.Error("K100 found")
	}
}
