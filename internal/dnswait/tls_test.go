package dnswait_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/logging"
	"github.com/taskkit/taskkit/internal/pki"
)

// TestHTTPSRootCAs is the regression table of one kind of fault: an https
// wait judged a peer by the system roots alone, so a peer whose certificate
// came from the task's own CA (the SDK's $MESOS_SANDBOX/.ssl/ca-bundle.crt)
// never passed (repro h48/07). Config.RootCAs says what is trusted; the
// certificate is still verified (another CA, or none given, fails).
func TestHTTPSRootCAs(t *testing.T) {
	issuer := newCA(t, "service CA")
	ca, other := issuer.Cert, newCA(t, "another CA").Cert
	peer := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	peer.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	peer.TLS = &tls.Config{Certificates: []tls.Certificate{issue(t, issuer)}}
	peer.StartTLS()
	t.Cleanup(peer.Close)
	poolOf := func(certs ...*x509.Certificate) *x509.CertPool {
		p := x509.NewCertPool()
		for _, c := range certs {
			p.AddCert(c)
		}
		return p
	}
	tests := []struct {
		name  string
		roots *x509.CertPool
		want  string // "" = passes
	}{
		{"the peer's CA trusted", poolOf(ca), ""},
		{"the peer's CA among others", poolOf(other, ca), ""},
		{"system roots only", nil, "certificate signed by unknown authority"},
		{"another CA only", poolOf(other), "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := dnswait.Config{Targets: targets(t, peer.URL+"/health"), RootCAs: tt.roots, Timeout: 10 * time.Second}
			if tt.want != "" {
				cfg.Timeout = 500 * time.Millisecond
			}
			err := dnswait.Wait(context.Background(), cfg, logging.Discard())
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("wait failed: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// newCA returns a CA (ECDSA P-256, for speed).
func newCA(t *testing.T, cn string) *pki.Issuer {
	t.Helper()
	ca, err := pki.NewCA(pki.CARequest{CommonName: cn, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue returns a server certificate for 127.0.0.1 signed by ca.
func issue(t *testing.T, ca *pki.Issuer) tls.Certificate {
	t.Helper()
	b, err := ca.Issue(pki.LeafRequest{CommonName: "peer", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{b.Leaf().Raw}, PrivateKey: b.Key}
}
