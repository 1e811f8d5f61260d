package taskenv

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Config templates (the SDK's PodInfoBuilder): the scheduler serves each of
// a task's configs, the agent fetches it to config-templates/<name>, and
// CONFIG_TEMPLATE_<NAME>=config-templates/<name>,<dest> tells bootstrap to
// render it to <dest> (relative to $MESOS_SANDBOX).
const (
	ConfigTemplatePrefix = "CONFIG_TEMPLATE_"
	ConfigTemplateDir    = "config-templates"
)

// ConfigTemplateVar is the variable declaring config name:
// CONFIG_TEMPLATE_<EnvName(name)>.
func ConfigTemplateVar(name string) string { return ConfigTemplatePrefix + EnvName(name) }

// ConfigTemplatePath is where the fetcher puts config name in the sandbox:
// config-templates/<name>.
func ConfigTemplatePath(name string) string { return ConfigTemplateDir + "/" + name }

// FormatConfigTemplate is a CONFIG_TEMPLATE_ value: "<src>,<dest>".
func FormatConfigTemplate(src, dest string) string { return src + "," + dest }

// LocalPath reports whether p is a relative path that stays inside the
// directory it is relative to: not absolute, no ".." element, not empty
// (filepath.IsLocal). A config template's source (relative to the package
// directory) and destination (relative to the sandbox) must be local: the
// SDK calls the destination ConfigFileSpec's relative-path.
func LocalPath(p string) bool { return filepath.IsLocal(p) }

// ParseConfigTemplate splits a CONFIG_TEMPLATE_ value "<src>,<dest>" at its
// first comma; both parts are trimmed and must be non-empty, so src cannot
// contain a comma but dest can.
func ParseConfigTemplate(value string) (src, dest string, err error) {
	src, dest, ok := strings.Cut(value, ",")
	src, dest = strings.TrimSpace(src), strings.TrimSpace(dest)
	switch {
	case !ok:
		return "", "", errors.New(`want "<src>,<dest>", found no comma`)
	case src == "":
		return "", "", errors.New(`want "<src>,<dest>", source is empty`)
	case dest == "":
		return "", "", errors.New(`want "<src>,<dest>", destination is empty`)
	}
	return src, dest, nil
}

// ConfigTemplateVars returns the CONFIG_TEMPLATE_* entries of environ as
// variable → value, and the variables sorted (a repeated variable's last
// value wins).
func ConfigTemplateVars(environ []string) (names []string, values map[string]string) {
	values = map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, ConfigTemplatePrefix) {
			continue
		}
		if _, dup := values[k]; !dup {
			names = append(names, k)
		}
		values[k] = v
	}
	sort.Strings(names)
	return names, values
}

// Parts of a transport-encryption secret: TLS_<NAME>_KEY (PEM private key),
// TLS_<NAME>_CERT (leaf and intermediates, PEM) and TLS_<NAME>_CA (root,
// PEM). tlsprov materializes them as <name>.key, .crt, .ca, .keystore and
// .truststore. TLS_<NAME>_NAME, when set, is the entry's name as svc.yml
// gives it, the files' base name: the SDK names them after the entry
// (TLSArtifactPaths: secure-tls-pod.crt), which NAME, upper-cased with '.'
// and '-' as '_', cannot spell.
const (
	TLSKey  = "KEY"
	TLSCert = "CERT"
	TLSCA   = "CA"
	TLSName = "NAME"
)

// TLSVar is the variable of one part of transport-encryption secret name:
// TLS_<EnvName(name)>_<part>. It is how the scheduler names the variables
// (Env.SetTLS) and how a task names them for a NAME it is given; EnvName
// of a variable's middle is also the identity TLSSecrets compares, so
// that what is written under a name and what is found are one secret.
func TLSVar(name, part string) string { return "TLS_" + EnvName(name) + "_" + part }

// TLSSecret is one transport-encryption secret found in an environment.
type TLSSecret struct {
	// Name is the files' base name: the value of TLS_<NAME>_NAME when
	// set (the scheduler's TLS_WEB_1_NAME=web-1 gives "web-1"), else the
	// middle of its TLS_<NAME>_KEY variable, lower-cased: TLS_MY_NODE_KEY
	// gives "my_node", TLS_web-1_KEY "web-1".
	Name string
	// Key, Cert and CA are the variables its parts are read from, spelled
	// as found: TLS_<NAME>_KEY, and the _CERT and _CA of the same middle.
	Key, Cert, CA string
}

// TLSSecrets returns, sorted by Name, the secret of every TLS_<NAME>_KEY
// variable in environ (KEY=VALUE entries). Each is read from the variables
// it was found by, never from a re-spelling of its name: TLS_web-1_KEY is
// secret "web-1" with parts TLS_web-1_KEY, _CERT and _CA. The scheduler
// writes the middle as EnvName(name) (TLSVar), for which this is the exact
// inverse up to case.
//
// It fails, naming the variables actually present, when a middle is not
// letters, digits, '_', '.' and '-' (TLS_CAFÉ_KEY: no file name to give
// it), or when two variables are the same secret once mapped, EnvName of
// their middles being equal (TLS_A-B_KEY and TLS_A_B_KEY both are
// TLS_A_B_*; TLS_web_KEY and TLS_WEB_KEY): neither is picked silently.
// A TLS_<NAME>_NAME that is not such a name too — set but empty
// included: no file name, not the lower-cased middle — or whose EnvName
// is not the middle's, is an error naming it (a name the secret's
// variables cannot be the variables of), and so is one whose
// TLS_<NAME>_KEY is not set.
// The error lists every such problem; the secrets returned are the others.
func TLSSecrets(environ []string) ([]TLSSecret, error) {
	byID := map[string]TLSSecret{} // EnvName of the middle → the secret
	collided := map[string]bool{}
	lookup, lookupSet := Lookup(environ), LookupSet(environ)
	var errs []error
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "TLS_") || !strings.HasSuffix(k, "_"+TLSKey) || len(k) <= len("TLS__"+TLSKey) {
			continue
		}
		mid := k[len("TLS_") : len(k)-len("_"+TLSKey)]
		if i := strings.IndexFunc(mid, notNameChar); i >= 0 {
			errs = append(errs, fmt.Errorf("%s: NAME %q holds %q: a NAME is letters, digits, '_', '.' and '-'", k, mid, []rune(mid[i:])[0]))
			continue
		}
		id := EnvName(mid)
		if prev, dup := byID[id]; dup {
			if prev.Key != k {
				collided[id] = true
				errs = append(errs, fmt.Errorf("%s and %s are one secret, %s (NAMEs compare upper-cased, '.' and '-' as '_'): set only one", prev.Key, k, TLSVar(id, TLSKey)))
			}
			continue
		}
		name := strings.ToLower(mid)
		nv := "TLS_" + mid + "_" + TLSName
		if v, set := lookupSet(nv); set {
			if v == "" {
				continue // an error below
			}
			name = v
			if i := strings.IndexFunc(name, notNameChar); i >= 0 {
				errs = append(errs, fmt.Errorf("%s: %q holds %q: a name is letters, digits, '_', '.' and '-'", nv, name, []rune(name[i:])[0]))
				continue
			}
			if EnvName(name) != id {
				errs = append(errs, fmt.Errorf("%s: %q is not the name of %s (its variables are %s)", nv, name, k, TLSVar(name, TLSKey)))
				continue
			}
		}
		byID[id] = TLSSecret{Name: name, Key: k, Cert: "TLS_" + mid + "_" + TLSCert, CA: "TLS_" + mid + "_" + TLSCA}
	}
	// A TLS_<NAME>_NAME is set for an entry whose files are to be
	// written: one whose TLS_<NAME>_KEY is missing is a broken entry (a
	// secret that did not arrive), not one to skip without a word; one set
	// to "" names no file.
	seen := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] || !strings.HasPrefix(k, "TLS_") || !strings.HasSuffix(k, "_"+TLSName) || len(k) <= len("TLS__"+TLSName) {
			continue
		}
		seen[k] = true
		mid := k[len("TLS_") : len(k)-len("_"+TLSName)]
		key := "TLS_" + mid + "_" + TLSKey
		switch v, _ := lookupSet(k); {
		case v == "":
			errs = append(errs, fmt.Errorf("%s is set but empty: it names the entry's files (unset, they are named %q)", k, strings.ToLower(mid)))
		case lookup(key) == "":
			errs = append(errs, fmt.Errorf("%s is set but %s is not: the entry's key is missing", k, key))
		}
	}
	secrets := make([]TLSSecret, 0, len(byID))
	for id, s := range byID {
		if !collided[id] {
			secrets = append(secrets, s)
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Name < secrets[j].Name })
	return secrets, errors.Join(errs...)
}

// notNameChar reports whether r cannot be in a TLS secret's NAME.
func notNameChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
}

// Artifacts are the toolkit binaries the scheduler serves under
// ArtifactBinPath: every task fetches all but the executor, which only the
// taskkit executor mode fetches.
var Artifacts = []string{"bootstrap", "healthd", "tlsprov", "executor"}

// Paths of the scheduler API that tasks and agents' fetchers read.
const (
	// ArtifactBinPath serves the toolkit binaries: <ArtifactBinPath><name>.
	ArtifactBinPath = "/v1/artifacts/bin/"
	// TemplatePath serves config templates:
	// <TemplatePath><config ID>/<pod>/<task>/<name>.
	TemplatePath = "/v1/artifacts/template/"
)

// SchedulerURL is the scheduler API's base URL as tasks see it.
func SchedulerURL(host string, port int) string {
	return "http://" + host + ":" + strconv.Itoa(port)
}

// ArtifactURL is the URL of toolkit binary name under base (SchedulerURL).
// With a digest of its content it carries ?sha256=<digest>, so that a
// fetcher cache keyed by URL never serves a stale binary.
func ArtifactURL(base, name, digest string) string {
	u := base + ArtifactBinPath + url.PathEscape(name)
	if digest != "" {
		u += "?sha256=" + url.QueryEscape(digest)
	}
	return u
}

// TemplateURL is the URL of config template name of a pod's task in
// configuration configID, under base (SchedulerURL).
func TemplateURL(base, configID, pod, task, name string) string {
	return base + TemplatePath + url.PathEscape(configID) + "/" + url.PathEscape(pod) + "/" + url.PathEscape(task) + "/" + url.PathEscape(name)
}
