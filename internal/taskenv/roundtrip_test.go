package taskenv_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/bootstrap"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/render"
	"github.com/taskkit/taskkit/internal/taskenv"
	"github.com/taskkit/taskkit/internal/tlsprov"
)

// TestRoundTrip builds a task environment with the scheduler's builder and
// feeds it to the in-task parsers: bootstrap renders the declared config
// template (its context naming the task as the scheduler does), and tlsprov
// finds and materializes the transport-encryption secret.
func TestRoundTrip(t *testing.T) {
	const service, pod, task = "round/trip.svc", "web", "server"
	ca, err := pki.NewCA(pki.CARequest{CommonName: "test CA", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	self := taskenv.AutoIPHost(taskenv.TaskName(pod, 1, task), service)
	leaf, err := ca.Issue(pki.LeafRequest{CommonName: "leaf", DNSNames: []string{self}, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKeyPEM(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}

	sandbox := t.TempDir()
	var e taskenv.Env
	e.SetSorted(map[string]string{"GREETING": "hi"})
	e.SetIdentity(taskenv.Identity{Service: service, Pod: pod, Index: 1, Task: task, SchedulerHost: "127.0.0.1", SchedulerPort: 1})
	e.SetConfigTemplate("app-conf", "conf/app.conf")
	e.SetTLS("node-tls", string(keyPEM), string(pki.EncodeCertsPEM(leaf.Chain...)), string(pki.EncodeCertsPEM(leaf.Roots...)))
	e.Set(taskenv.EnvMesosSandbox, sandbox)
	environ := e.Environ()

	// The fetcher would put the template at config-templates/<name>.
	src := filepath.Join(sandbox, taskenv.ConfigTemplatePath("app-conf"))
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl := "greeting={{GREETING}}\nself={{TASK_NAME}}.{{FRAMEWORK_HOST}}\nindex={{POD_INSTANCE_INDEX}}\n"
	if err := os.WriteFile(src, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("render sees the declared template", func(t *testing.T) {
		got, err := render.Collect(environ, nil, sandbox)
		if err != nil || len(got) != 1 || got[0].Source != src || got[0].Dest != filepath.Join(sandbox, "conf/app.conf") || got[0].Origin != "CONFIG_TEMPLATE_APP_CONF" {
			t.Fatalf("Collect = %+v, %v", got, err)
		}
	})

	t.Run("bootstrap renders it", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := bootstrap.Run(context.Background(), []string{"bootstrap", "-resolve=false", "-install-certs=false", "-print-env=false"}, environ, nil, &out, &errb)
		if code != 0 {
			t.Fatalf("bootstrap exit %d: %s", code, errb.String())
		}
		b, err := os.ReadFile(filepath.Join(sandbox, "conf/app.conf"))
		if err != nil {
			t.Fatal(err)
		}
		want := "greeting=hi\nself=" + self + "\nindex=1\n"
		if string(b) != want {
			t.Errorf("rendered %q, want %q", b, want)
		}
		if got := taskenv.SelfHost(taskenv.Lookup(environ)); got != self {
			t.Errorf("bootstrap would wait for %q, want %q", got, self)
		}
	})

	t.Run("tlsprov materializes the secret", func(t *testing.T) {
		reqs, err := tlsprov.AllRequests(environ)
		if err != nil || len(reqs) != 1 || reqs[0].Name != "node-tls" || reqs[0].Key.Ref != taskenv.TLSVar("node-tls", taskenv.TLSKey) {
			t.Fatalf("AllRequests = %+v, %v", reqs, err)
		}
		lookup := func(k string) (string, bool) {
			for _, v := range e.Vars() {
				if v.Name == k {
					return v.Value, true
				}
			}
			return "", false
		}
		dir := t.TempDir()
		paths, err := tlsprov.Materialize(reqs, &tlsprov.Inputs{LookupEnv: lookup},
			tlsprov.Options{Dir: dir, Formats: tlsprov.Formats{PEM: true}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != 3 {
			t.Errorf("wrote %v", paths)
		}
		crt, err := os.ReadFile(filepath.Join(dir, "node-tls.crt"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(crt)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || !slices.Contains(c.DNSNames, self) {
			t.Errorf("certificate names %v (%v), want %s", c.DNSNames, err, self)
		}
		if !strings.HasSuffix(self, ".roundtrip-svc.autoip.dcos.thisdcos.directory") {
			t.Errorf("self %s", self)
		}
	})
}
