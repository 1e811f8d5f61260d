package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
)

// PKCS#7 (RFC 2315) certificate bundles — .p7b/.p7c files, PEM "PKCS7" —
// are how Windows' certificate export, Active Directory Certificate
// Services and several commercial CAs hand out a certificate with its
// chain; keytool -importcert reads them. Only the certificates are taken:
// a degenerate SignedData (no content, no signers) is what such a bundle
// is.
var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// pkcs7PEMTypes are the PEM labels of a PKCS#7 bundle (RFC 7468 §8 and
// what OpenSSL writes).
var pkcs7PEMTypes = map[string]bool{"PKCS7": true, "PKCS #7 SIGNED DATA": true, "CMS": true}

type pkcs7ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type pkcs7SignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	ContentInfo      asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
}

// errNotPKCS7 means der is not a PKCS#7 SignedData at all.
var errNotPKCS7 = errors.New("not PKCS#7 SignedData")

// parsePKCS7Certificates returns the certificates of a PKCS#7 SignedData.
func parsePKCS7Certificates(der []byte) ([]*x509.Certificate, error) {
	var ci pkcs7ContentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return nil, errNotPKCS7
	}
	inner := ci.Content.FullBytes
	if ci.Content.Class == asn1.ClassContextSpecific { // the [0] around SignedData
		inner = ci.Content.Bytes
	}
	var sd pkcs7SignedData
	if _, err := asn1.Unmarshal(inner, &sd); err != nil {
		return nil, err
	}
	if len(sd.Certificates.Bytes) == 0 {
		return nil, nil
	}
	return x509.ParseCertificates(sd.Certificates.Bytes)
}
