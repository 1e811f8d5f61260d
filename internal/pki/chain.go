package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Sentinel errors of Assemble; match them with errors.Is.
var (
	// ErrKeyMismatch means the private key belongs to none of the
	// certificates offered as the leaf.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrUntrusted means the leaf does not verify through the intermediates
	// to any of the given roots.
	ErrUntrusted = errors.New("certificate chain does not verify")
	// ErrExpired means the leaf's validity ended.
	ErrExpired = errors.New("certificate has expired")
	// ErrNotYetValid means the leaf's validity has not begun.
	ErrNotYetValid = errors.New("certificate is not yet valid")
)

// DefaultExpiryWarning is how close to its end a leaf's validity must be for
// Assemble to warn.
const DefaultExpiryWarning = 30 * 24 * time.Hour

// Bundle is a private key with its certificate chain and trust anchors: what
// a TLS server needs to present itself and what its peers need to trust it.
type Bundle struct {
	// Key is the leaf's private key.
	Key crypto.Signer
	// Chain is the leaf followed by the intermediates that lead to
	// Roots[0], nearest first, without the root — the content of NAME.crt.
	// Only a self-signed leaf is its own root, and then Chain is just it.
	Chain []*x509.Certificate
	// Roots are the trust anchors; Roots[0] anchors Chain, the others
	// (if any) are further roots to trust, in the order given.
	Roots []*x509.Certificate
}

// Leaf returns the end-entity certificate.
func (b *Bundle) Leaf() *x509.Certificate { return b.Chain[0] }

// FullChain returns the chain from the leaf up to and including Roots[0], as
// a Java keystore's key entry holds it.
func (b *Bundle) FullChain() []*x509.Certificate {
	out := append([]*x509.Certificate(nil), b.Chain...)
	if len(b.Roots) > 0 && !out[len(out)-1].Equal(b.Roots[0]) {
		out = append(out, b.Roots[0])
	}
	return out
}

// VerifyOptions tune Assemble. The zero value checks validity against the
// current time, refuses an expired leaf and warns 30 days before expiry.
type VerifyOptions struct {
	// Now is the time to verify at; the zero value means time.Now().
	Now time.Time
	// AllowExpired accepts a leaf outside its validity period (with a
	// warning); the chain is then verified at the nearest time within it.
	AllowExpired bool
	// ExpiryWarning is how long before the leaf expires Assemble warns;
	// 0 means DefaultExpiryWarning, a negative value never warns.
	ExpiryWarning time.Duration
}

// Assemble checks that key, the certificates certs (leaf and intermediates,
// in any order, possibly with the root) and the CA certificates cas form a
// valid bundle, and returns it with the chain ordered leaf → root.
//
// The leaf is the certificate in certs that key belongs to. Self-signed
// certificates in cas are the trust anchors (all of cas when none is
// self-signed); other certificates in cas may serve as intermediates. The
// leaf must be within its validity period (see VerifyOptions.AllowExpired)
// and verify through the intermediates to one of the anchors.
//
// Warnings (a leaf close to expiry, certificates that are not part of the
// chain and are left out) are returned as sentences for the caller to log.
func Assemble(key crypto.Signer, certs, cas []*x509.Certificate, opts VerifyOptions) (*Bundle, []string, error) {
	if key == nil {
		return nil, nil, ErrNoKey
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("%w in the certificate input", ErrNoCertificate)
	}
	if len(cas) == 0 {
		return nil, nil, fmt.Errorf("%w in the CA input", ErrNoCertificate)
	}
	certs, cas = dedupe(certs), dedupe(cas)

	var leaf *x509.Certificate
	for _, c := range certs {
		if KeyMatches(key, c) {
			leaf = c
			break
		}
	}
	if leaf == nil {
		c := likelyLeaf(certs)
		return nil, nil, fmt.Errorf("%w: the %s private key belongs to none of the %d certificate(s); the leaf appears to be %q with a %s key",
			ErrKeyMismatch, DescribeKey(key), len(certs), c.Subject.String(), DescribeKey(c.PublicKey))
	}

	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var warnings []string
	at := now
	switch {
	case now.Before(leaf.NotBefore):
		if !opts.AllowExpired {
			return nil, nil, fmt.Errorf("%w: leaf %q is valid from %s", ErrNotYetValid, leaf.Subject.String(), leaf.NotBefore.UTC().Format(time.RFC3339))
		}
		warnings = append(warnings, fmt.Sprintf("leaf %q is not valid before %s (allowed)", leaf.Subject.String(), leaf.NotBefore.UTC().Format(time.RFC3339)))
		at = leaf.NotBefore
	case now.After(leaf.NotAfter):
		if !opts.AllowExpired {
			return nil, nil, fmt.Errorf("%w: leaf %q expired at %s", ErrExpired, leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		warnings = append(warnings, fmt.Sprintf("leaf %q expired at %s (allowed)", leaf.Subject.String(), leaf.NotAfter.UTC().Format(time.RFC3339)))
		at = leaf.NotAfter
	default:
		warn := opts.ExpiryWarning
		if warn == 0 {
			warn = DefaultExpiryWarning
		}
		if left := leaf.NotAfter.Sub(now); warn > 0 && left < warn {
			warnings = append(warnings, fmt.Sprintf("leaf %q expires in %s, at %s", leaf.Subject.String(), humanDuration(left), leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
	}

	var anchors, others []*x509.Certificate
	for _, c := range cas {
		if isSelfSigned(c) {
			anchors = append(anchors, c)
		} else {
			others = append(others, c)
		}
	}
	if len(anchors) == 0 {
		anchors, others = cas, nil
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range anchors {
		roots.AddCert(c)
	}
	for _, c := range append(append([]*x509.Certificate(nil), certs...), others...) {
		if !c.Equal(leaf) {
			inter.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	// Shortest chain first; among equals, the one whose root was given first.
	rank := func(ch []*x509.Certificate) int {
		for i, a := range anchors {
			if a.Equal(ch[len(ch)-1]) {
				return i
			}
		}
		return len(anchors)
	}
	sort.SliceStable(chains, func(i, j int) bool {
		if len(chains[i]) != len(chains[j]) {
			return len(chains[i]) < len(chains[j])
		}
		return rank(chains[i]) < rank(chains[j])
	})
	chain := chains[0]
	root := chain[len(chain)-1]
	b := &Bundle{Key: key, Roots: []*x509.Certificate{root}}
	if len(chain) == 1 {
		b.Chain = chain
	} else {
		b.Chain = chain[:len(chain)-1]
	}
	for _, a := range anchors {
		if !a.Equal(root) {
			b.Roots = append(b.Roots, a)
		}
	}
	for _, c := range certs {
		if !containsCert(chain, c) {
			warnings = append(warnings, fmt.Sprintf("certificate %q is not part of the chain from the leaf to the root; left out", c.Subject.String()))
		}
	}
	return b, warnings, nil
}

// likelyLeaf guesses which of certs is meant as the leaf, for error
// messages: the first that is not a CA and issued none of the others.
func likelyLeaf(certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if c.IsCA {
			continue
		}
		issuer := false
		for _, o := range certs {
			if o != c && o.CheckSignatureFrom(c) == nil {
				issuer = true
				break
			}
		}
		if !issuer {
			return c
		}
	}
	return certs[0]
}

// isSelfSigned reports whether c is signed by its own key.
func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil || (c.Subject.String() == c.Issuer.String() && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil)
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if days := int(d / (24 * time.Hour)); days >= 2 {
		return fmt.Sprintf("%d days", days)
	}
	return d.Round(time.Minute).String()
}
