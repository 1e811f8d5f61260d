package podinfo

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/sdk/evaluate"
)

// TestIssueWithPooledKey: a key the pool generated ahead of need is
// PEM-encoded there; Issue hands out that encoding, and it is the key of
// the certificate issued (as for a key generated on the spot).
func TestIssueWithPooledKey(t *testing.T) {
	for _, kt := range []pki.KeyType{pki.ECDSAP256, pki.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			p := NewKeyPool(kt)
			iss := &TLS{CA: testCA(t), Keys: p}
			claim := evaluate.TLSClaim{Name: "server", Type: "TLS", CommonName: "web-0-server-svc", DNSNames: []string{"web-0-server.svc.autoip.dcos.thisdcos.directory"}}
			check := func(what string) string {
				keyPEM, certPEM, _, err := iss.Issue(claim)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if _, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM)); err != nil {
					t.Errorf("%s: the key is not the certificate's: %v", what, err)
				}
				return keyPEM
			}
			check("on the spot")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { p.Run(ctx); close(done) }() // joined below
			p.Want(1)
			for deadline := time.Now().Add(time.Minute); p.Ready() < 1 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			p.Want(0)
			cancel()
			<-done
			if p.Ready() != 1 {
				t.Fatalf("ready %d, want 1", p.Ready())
			}
			p.mu.Lock()
			pooled := p.ready[0].pem
			p.mu.Unlock()
			if pooled == nil {
				t.Fatal("the pool did not encode its key")
			}
			if keyPEM := check("from the pool"); keyPEM != string(pooled) {
				t.Errorf("issued with another key than the pool's")
			}
		})
	}
}
