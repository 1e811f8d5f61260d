package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Default validities: ten years for CAs and one year for leaves.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
)

// Backdate is how far before "now" new certificates become valid, so that a
// peer whose clock is slightly behind accepts them.
const Backdate = 5 * time.Minute

// Issuer is a certificate authority that can sign certificates: its
// certificate, its private key and, for an intermediate CA, the chain above
// it up to and including the root.
type Issuer struct {
	// Cert is the CA's certificate.
	Cert *x509.Certificate
	// Key is the CA's private key; it must match Cert.
	Key crypto.Signer
	// Chain holds the certificates above Cert, nearest first, ending with
	// the root. It is empty when Cert is itself a root.
	Chain []*x509.Certificate
}

// Root returns the self-signed certificate at the top of the issuer's chain.
func (is *Issuer) Root() *x509.Certificate {
	if len(is.Chain) > 0 {
		return is.Chain[len(is.Chain)-1]
	}
	return is.Cert
}

// CARequest describes a CA to create. The zero value (apart from CommonName)
// creates a self-signed root with an RSA 2048 key valid for ten years.
type CARequest struct {
	// CommonName is the subject CN; required unless Subject has one.
	CommonName string
	// Subject holds further subject fields (O, OU, L, ST, C); its
	// CommonName is overridden by CommonName when that is set.
	Subject pkix.Name
	// KeyType is the type of key to generate; ignored when Key is set.
	KeyType KeyType
	// Key is the CA's key; nil generates one of KeyType.
	Key crypto.Signer
	// Validity is how long the CA is valid; 0 means DefaultCAValidity.
	Validity time.Duration
	// MaxPathLen limits how many intermediates may follow; 0 means no
	// limit, a negative value means none may (the CA signs only leaves).
	MaxPathLen int
	// Parent signs the new CA, making it an intermediate; nil makes it a
	// self-signed root.
	Parent *Issuer
	// Now is the issuing time; the zero value means time.Now().
	Now time.Time
}

// NewCA creates a certificate authority: a root, or an intermediate signed by
// req.Parent. Its certificate has basicConstraints CA:TRUE and keyUsage
// keyCertSign, cRLSign and digitalSignature, all critical. An intermediate's
// validity is cut to its parent's.
func NewCA(req CARequest) (*Issuer, error) {
	subject := req.Subject
	if req.CommonName != "" {
		subject.CommonName = req.CommonName
	}
	if subject.CommonName == "" {
		return nil, errors.New("CA common name is empty")
	}
	key, err := keyFor(req.Key, req.KeyType)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter, err := validity(req.Now, req.Validity, DefaultCAValidity, req.Parent)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if req.MaxPathLen < 0 {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	} else if req.MaxPathLen > 0 {
		tmpl.MaxPathLen = req.MaxPathLen
	}
	cert, err := sign(tmpl, key, req.Parent)
	if err != nil {
		return nil, fmt.Errorf("creating CA %q: %w", subject.CommonName, err)
	}
	is := &Issuer{Cert: cert, Key: key}
	if req.Parent != nil {
		is.Chain = append([]*x509.Certificate{req.Parent.Cert}, req.Parent.Chain...)
	}
	return is, nil
}

// LeafRequest describes a leaf (end-entity) certificate to issue. The zero
// value apart from CommonName issues an RSA 2048 certificate valid for a year.
type LeafRequest struct {
	// CommonName is the subject CN; required unless Subject has one.
	CommonName string
	// Subject holds further subject fields; its CommonName is overridden by
	// CommonName when that is set.
	Subject pkix.Name
	// DNSNames, IPAddresses, EmailAddresses and URIs are the subject
	// alternative names. When all are empty and CommonName is a valid DNS
	// name, it becomes the one DNS name, since clients ignore the CN.
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string
	URIs           []*url.URL
	// KeyType is the type of key to generate; ignored when Key is set.
	KeyType KeyType
	// Key is the leaf's key; nil generates one of KeyType.
	Key crypto.Signer
	// Validity is how long the leaf is valid; 0 means DefaultLeafValidity.
	// It is cut to the issuer's own validity.
	Validity time.Duration
	// Now is the issuing time; the zero value means time.Now().
	Now time.Time
}

// Issue signs a leaf certificate for req: keyUsage digitalSignature (plus
// keyEncipherment for RSA keys), extKeyUsage serverAuth and clientAuth, the
// SANs requested. The returned Bundle holds the new key, the chain (leaf and
// the issuer's intermediates) and the issuer's root.
func (is *Issuer) Issue(req LeafRequest) (*Bundle, error) {
	if is == nil || is.Cert == nil || is.Key == nil {
		return nil, errors.New("issuer has no certificate or key")
	}
	subject := req.Subject
	if req.CommonName != "" {
		subject.CommonName = req.CommonName
	}
	if subject.CommonName == "" {
		return nil, errors.New("leaf common name is empty")
	}
	key, err := keyFor(req.Key, req.KeyType)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter, err := validity(req.Now, req.Validity, DefaultLeafValidity, is)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		EmailAddresses:        req.EmailAddresses,
		URIs:                  req.URIs,
	}
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if len(tmpl.DNSNames)+len(tmpl.IPAddresses)+len(tmpl.EmailAddresses)+len(tmpl.URIs) == 0 {
		if ip := net.ParseIP(subject.CommonName); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		} else if ValidDNSName(subject.CommonName) {
			tmpl.DNSNames = []string{subject.CommonName}
		}
	}
	for _, n := range tmpl.DNSNames {
		if !ValidDNSName(n) {
			return nil, fmt.Errorf("invalid DNS name %q in subject alternative names", n)
		}
	}
	cert, err := sign(tmpl, key, is)
	if err != nil {
		return nil, fmt.Errorf("issuing %q: %w", subject.CommonName, err)
	}
	chain := []*x509.Certificate{cert}
	if len(is.Chain) > 0 { // an intermediate: it and those above it, without the root
		chain = append(append(chain, is.Cert), is.Chain[:len(is.Chain)-1]...)
	}
	return &Bundle{Key: key, Chain: chain, Roots: []*x509.Certificate{is.Root()}}, nil
}

// ValidDNSName reports whether s is a host name (or a wildcard "*.name") that
// can go into a DNS subject alternative name.
func ValidDNSName(s string) bool {
	if len(s) > 2 && s[:2] == "*." {
		s = s[2:]
	}
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case c == '_', c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}

func keyFor(key crypto.Signer, kt KeyType) (crypto.Signer, error) {
	if key != nil {
		return key, nil
	}
	return GenerateKey(kt)
}

// validity returns the validity period of a new certificate, cut to parent's.
func validity(now time.Time, d, def time.Duration, parent *Issuer) (time.Time, time.Time, error) {
	if now.IsZero() {
		now = time.Now()
	}
	if d <= 0 {
		d = def
	}
	notBefore, notAfter := now.Add(-Backdate).UTC().Truncate(time.Second), now.Add(d).UTC().Truncate(time.Second)
	if parent != nil && parent.Cert != nil {
		if notAfter.After(parent.Cert.NotAfter) {
			notAfter = parent.Cert.NotAfter
		}
		if notBefore.Before(parent.Cert.NotBefore) {
			notBefore = parent.Cert.NotBefore
		}
		if !notAfter.After(notBefore) {
			return notBefore, notAfter, fmt.Errorf("issuer %q is not valid in the requested period (%s to %s)",
				parent.Cert.Subject.String(), parent.Cert.NotBefore.Format(time.RFC3339), parent.Cert.NotAfter.Format(time.RFC3339))
		}
	}
	return notBefore, notAfter, nil
}

// sign completes tmpl (serial number, key identifiers) and signs it with
// parent, or self-signs it with key when parent is nil.
func sign(tmpl *x509.Certificate, key crypto.Signer, parent *Issuer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1)) // positive, never zero
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(pubDER, &spki); err != nil {
		return nil, err
	}
	ski := sha1.Sum(spki.PublicKey.Bytes) // RFC 5280 4.2.1.2 method (1)
	tmpl.SubjectKeyId = ski[:]
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
		if !KeyMatches(parent.Key, parent.Cert) {
			return nil, fmt.Errorf("issuer key does not match issuer certificate %q: %w", parent.Cert.Subject.String(), ErrKeyMismatch)
		}
		if !parent.Cert.IsCA {
			return nil, fmt.Errorf("issuer certificate %q is not a CA", parent.Cert.Subject.String())
		}
	}
	tmpl.SignatureAlgorithm = signatureAlgorithm(signerKey)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
