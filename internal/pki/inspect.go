package pki

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/taskkit/taskkit/internal/jks"
)

// Formats Inspect recognises.
const (
	FormatPEM    = "PEM"
	FormatJKS    = "JKS"
	FormatPKCS12 = "PKCS#12"
)

// Kinds of Entry.
const (
	KindPrivateKeyEntry  = "PrivateKeyEntry"  // a key and its chain (JKS, PKCS#12)
	KindTrustedCertEntry = "trustedCertEntry" // a trusted certificate (JKS, PKCS#12 truststore)
	KindPrivateKey       = "PrivateKey"       // a PEM private key
	KindCertificates     = "Certificates"     // the PEM certificates of a file, in order
)

// Contents is what a PEM, JKS or PKCS#12 file holds, described without key
// material.
type Contents struct {
	// Format is FormatPEM, FormatJKS or FormatPKCS12.
	Format string `json:"format"`
	// Entries are the file's entries, in file (JKS: alias) order.
	Entries []Entry `json:"entries"`
}

// Entry is one entry of a file.
type Entry struct {
	// Alias is the JKS alias, or the friendlyName of a PKCS#12 file's key
	// entry (as Java lists it); empty for PEM, a PKCS#12 truststore and a
	// key with no friendlyName.
	Alias string `json:"alias,omitempty"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// KeyType describes the private key (DescribeKey), if the entry has one.
	KeyType string `json:"key_type,omitempty"`
	// KeyMatches tells whether the private key belongs to the entry's first
	// certificate; nil when the entry lacks either.
	KeyMatches *bool `json:"key_matches,omitempty"`
	// Certificates describes the entry's certificates in order.
	Certificates []CertInfo `json:"certificates,omitempty"`
	// PrivateKey is the decoded key, for callers that match it against
	// certificates from elsewhere. It is never serialised or printed.
	PrivateKey crypto.Signer `json:"-"`
	// Certs are the decoded certificates behind Certificates.
	Certs []*x509.Certificate `json:"-"`
}

// CertInfo describes a certificate.
type CertInfo struct {
	Subject    string    `json:"subject"`        // subject DN, RFC 2253 style ("CN=x,O=y")
	Issuer     string    `json:"issuer"`         // issuer DN
	SANs       []string  `json:"sans,omitempty"` // "DNS:x", "IP:x", "email:x", "URI:x"
	NotBefore  time.Time `json:"not_before"`     // start of validity, UTC
	NotAfter   time.Time `json:"not_after"`      // end of validity, UTC
	KeyType    string    `json:"key_type"`       // DescribeKey of the public key
	IsCA       bool      `json:"is_ca"`          // basicConstraints CA:TRUE
	SelfSigned bool      `json:"self_signed"`    // signed by its own key
	Serial     string    `json:"serial"`         // serial number, upper-case hex
	SHA256     string    `json:"sha256"`         // SHA-256 fingerprint of the DER, upper-case hex
}

// Describe returns the public facts about c.
func Describe(c *x509.Certificate) CertInfo {
	sum := sha256.Sum256(c.Raw)
	info := CertInfo{
		Subject:    c.Subject.String(),
		Issuer:     c.Issuer.String(),
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		KeyType:    DescribeKey(c.PublicKey),
		IsCA:       c.IsCA,
		SelfSigned: isSelfSigned(c),
		Serial:     strings.ToUpper(c.SerialNumber.Text(16)),
		SHA256:     strings.ToUpper(hex.EncodeToString(sum[:])),
	}
	for _, n := range c.DNSNames {
		info.SANs = append(info.SANs, "DNS:"+n)
	}
	for _, ip := range c.IPAddresses {
		info.SANs = append(info.SANs, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		info.SANs = append(info.SANs, "email:"+e)
	}
	for _, u := range c.URIs {
		info.SANs = append(info.SANs, "URI:"+u.String())
	}
	return info
}

var jksMagic = []byte{0xfe, 0xed, 0xfe, 0xed}

// Inspect decodes data as a JKS keystore, a PKCS#12 file (both opened with
// password) or PEM/base64/DER keys and certificates, and describes it.
func Inspect(data []byte, password string) (*Contents, error) {
	switch {
	case bytes.HasPrefix(data, jksMagic):
		return inspectJKS(data, password)
	case bytes.HasPrefix(data, []byte{0xce, 0xce, 0xce, 0xce}):
		return nil, errors.New("JCEKS keystores are not supported")
	case looksLikePKCS12(data):
		return inspectPKCS12(data, password)
	}
	return inspectPEM(data)
}

func inspectPEM(data []byte) (*Contents, error) {
	c := &Contents{Format: FormatPEM}
	certs, certErr := ParseCertificates(data)
	if certErr != nil && !errors.Is(certErr, ErrNoCertificate) {
		return nil, certErr
	}
	key, keyErr := ParsePrivateKey(data)
	if keyErr != nil && !errors.Is(keyErr, ErrNoKey) {
		// DER holds one thing: certificates read from it are no key, so
		// a DER certificate or PKCS#7 bundle is not "malformed" as a key.
		if _, isPEM, _ := Unwrap(data); isPEM || len(certs) == 0 {
			return nil, keyErr
		}
		key = nil
	}
	if key == nil && len(certs) == 0 {
		return nil, fmt.Errorf("%w: no private key or certificate found", ErrMalformed)
	}
	if key != nil {
		e := Entry{Kind: KindPrivateKey, KeyType: DescribeKey(key), PrivateKey: key}
		if len(certs) > 0 {
			m := KeyMatches(key, certs[0])
			e.KeyMatches = &m
		}
		c.Entries = append(c.Entries, e)
	}
	if len(certs) > 0 {
		c.Entries = append(c.Entries, certEntry(Entry{Kind: KindCertificates}, certs))
	}
	return c, nil
}

func certEntry(e Entry, certs []*x509.Certificate) Entry {
	e.Certs = certs
	for _, x := range certs {
		e.Certificates = append(e.Certificates, Describe(x))
	}
	if e.PrivateKey != nil && len(certs) > 0 {
		m := KeyMatches(e.PrivateKey, certs[0])
		e.KeyMatches = &m
	}
	return e
}

func inspectJKS(data []byte, password string) (*Contents, error) {
	if err := jks.Check(data); err != nil {
		return nil, fmt.Errorf("reading JKS: %w", err)
	}
	pw, err := jks.Password(password)
	if err != nil {
		return nil, fmt.Errorf("reading JKS: %w", err)
	}
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), pw); err != nil {
		return nil, fmt.Errorf("reading JKS (wrong password?): %w", err)
	}
	c := &Contents{Format: FormatJKS}
	for _, alias := range ks.Aliases() {
		switch {
		case ks.IsPrivateKeyEntry(alias):
			e := Entry{Alias: alias, Kind: KindPrivateKeyEntry}
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil {
				return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
			}
			certs, err := jksCerts(chain)
			if err != nil {
				return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
			}
			if pk, err := ks.GetPrivateKeyEntry(alias, pw); err != nil {
				e.KeyType = "unreadable (key password differs from store password)"
			} else if k, err := parseKeyDER(pk.PrivateKey, "PRIVATE KEY"); err != nil {
				e.KeyType = "unsupported"
			} else {
				e.PrivateKey, e.KeyType = k, DescribeKey(k)
			}
			c.Entries = append(c.Entries, certEntry(e, certs))
		case ks.IsTrustedCertificateEntry(alias):
			tc, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
			}
			certs, err := jksCerts([]keystore.Certificate{tc.Certificate})
			if err != nil {
				return nil, fmt.Errorf("JKS entry %q: %w", alias, err)
			}
			c.Entries = append(c.Entries, certEntry(Entry{Alias: alias, Kind: KindTrustedCertEntry}, certs))
		}
	}
	return c, nil
}

func jksCerts(in []keystore.Certificate) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(in))
	for i, kc := range in {
		x, err := x509.ParseCertificate(kc.Content)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		out = append(out, x)
	}
	return out, nil
}

// looksLikePKCS12 reports whether data has the outer shape of a PFX PDU:
// SEQUENCE { INTEGER 3, ContentInfo SEQUENCE, ... }.
func looksLikePKCS12(data []byte) bool {
	var pfx struct {
		Version  int
		AuthSafe asn1.RawValue
		Rest     asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(data, &pfx)
	return err == nil && len(rest) == 0 && pfx.Version == 3 && pfx.AuthSafe.Tag == asn1.TagSequence
}

func inspectPKCS12(data []byte, password string) (*Contents, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err == nil {
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("PKCS#12: unsupported private key type %T", key)
		}
		e := Entry{Alias: pkcs12KeyAlias(data), Kind: KindPrivateKeyEntry, KeyType: DescribeKey(signer), PrivateKey: signer}
		return &Contents{Format: FormatPKCS12, Entries: []Entry{certEntry(e, append([]*x509.Certificate{leaf}, cas...))}}, nil
	}
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, fmt.Errorf("reading PKCS#12: %w", err)
	}
	if certs, terr := pkcs12.DecodeTrustStore(data, password); terr == nil {
		c := &Contents{Format: FormatPKCS12}
		for _, x := range certs {
			c.Entries = append(c.Entries, certEntry(Entry{Kind: KindTrustedCertEntry}, []*x509.Certificate{x}))
		}
		return c, nil
	}
	return nil, fmt.Errorf("reading PKCS#12: %w", err)
}
