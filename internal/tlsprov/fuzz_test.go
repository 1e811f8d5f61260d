package tlsprov

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/pki"
)

// FuzzLoad feeds a transport-encryption secret — TLS_NODE_KEY,
// TLS_NODE_CERT and TLS_NODE_CA, as the scheduler hands them to a task —
// to Load, then renders the artifacts of what it accepts. Properties:
//   - no error text holds any part of the key's variable (its PEM body,
//     base64 or DER), nor the keystore password: they reach logs;
//   - every error names at least one of the three inputs;
//   - an accepted bundle's key matches its leaf, and its artifacts (PEM,
//     JKS, PKCS#12) render.
func FuzzLoad(f *testing.F) {
	now := time.Now()
	for _, kt := range []pki.KeyType{pki.ECDSAP256, pki.Ed25519} {
		ca, err := pki.NewCA(pki.CARequest{CommonName: "fuzz root", KeyType: pki.ECDSAP256, Now: now})
		if err != nil {
			f.Fatal(err)
		}
		leaf, err := ca.Issue(pki.LeafRequest{CommonName: "node", DNSNames: []string{"node.test"}, KeyType: kt, Now: now})
		if err != nil {
			f.Fatal(err)
		}
		key, err := pki.EncodeKeyPEM(leaf.Key)
		if err != nil {
			f.Fatal(err)
		}
		chain, roots := pki.EncodeCertsPEM(leaf.Chain...), pki.EncodeCertsPEM(leaf.Roots...)
		f.Add(string(key), string(chain), string(roots))
		f.Add(base64.StdEncoding.EncodeToString(key), string(chain)+string(roots), string(roots))
		f.Add(string(chain)+string(key), string(chain), string(roots))
		f.Add(string(key), string(roots), string(chain))
	}
	f.Add("", "x", "-----BEGIN CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, key, cert, ca string) {
		checkLoad(t, key, cert, ca)
	})
}

const fuzzStorePassword = "fuzz-Pa55w0rd!keystore"

func checkLoad(t *testing.T, key, cert, ca string) {
	env := map[string]string{"TLS_NODE_KEY": key, "TLS_NODE_CERT": cert, "TLS_NODE_CA": ca}
	in := &Inputs{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	req := DefaultRequest("node")
	b, _, err := Load(req, in, pki.VerifyOptions{AllowExpired: true})
	if err != nil {
		fuzzcheck.NoLeak(t, "Load", err, []byte(key), fuzzStorePassword)
		if msg := err.Error(); !strings.Contains(msg, "TLS_NODE_KEY") && !strings.Contains(msg, "TLS_NODE_CERT") && !strings.Contains(msg, "TLS_NODE_CA") {
			t.Fatalf("the error names no input: %v", err)
		}
		return
	}
	if !pki.KeyMatches(b.Key, b.Leaf()) {
		t.Fatal("accepted a key that does not match its leaf")
	}
	files, err := Artifacts("node", b, Options{Dir: t.TempDir(), Formats: Formats{PEM: true, JKS: true, PKCS12: true}, StorePassword: fuzzStorePassword})
	if err != nil {
		fuzzcheck.NoLeak(t, "Artifacts", err, []byte(key), fuzzStorePassword)
		t.Fatalf("artifacts of an accepted bundle: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("no artifacts")
	}
}

// TestLoadBudget loads 1 MiB inputs within 64 MiB allocated: a key
// variable of 1 MiB of base64, certificates of 1 MiB of PEM.
func TestLoadBudget(t *testing.T) {
	b := fuzzcheck.Budget{Alloc: 64 * fuzzcheck.MiB}
	big := string(fuzzcheck.Sized([]byte("QUJD"), fuzzcheck.MiB))
	pemBig := "-----BEGIN CERTIFICATE-----\n" + string(fuzzcheck.Sized([]byte("QUJD\n"), fuzzcheck.MiB)) + "-----END CERTIFICATE-----\n"
	c := b.Check(t, "1 MiB inputs", func() { checkLoad(t, big, pemBig, pemBig) })
	t.Logf("1 MiB inputs: %v", c)
}
