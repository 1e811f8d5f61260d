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
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 {
		// BER: indefinite lengths, as Bouncy Castle's CMS and openssl cms
		// -stream write them (keytool reads them); encoding/asn1 reads DER
		// only.
		ci = pkcs7ContentInfo{}
		if d, berr := berToDER(der); berr == nil {
			if rest, err := asn1.Unmarshal(d, &ci); err != nil || len(rest) != 0 {
				ci = pkcs7ContentInfo{}
			}
		}
	}
	if ci.ContentType == nil || !ci.ContentType.Equal(oidSignedData) {
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

// errBER means data is not BER that berToDER can rewrite.
var errBER = errors.New("malformed BER")

// berToDER rewrites the indefinite lengths of BER (X.690 8.1.3.6: 0x80,
// contents, end-of-contents 00 00) and any non-minimal lengths as DER's
// definite, minimal ones; tags and contents are kept as they are. It is
// what encoding/asn1 needs to read a streamed PKCS#7.
func berToDER(data []byte) ([]byte, error) {
	out, rest, err := berElement(data, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errBER
	}
	return out, nil
}

func berElement(b []byte, depth int) (out, rest []byte, err error) {
	if depth > 64 || len(b) < 2 {
		return nil, nil, errBER
	}
	i := 1
	if b[0]&0x1f == 0x1f { // high tag number form
		for i < len(b) && b[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if i >= len(b) {
		return nil, nil, errBER
	}
	tag, constructed := b[:i], b[0]&0x20 != 0
	l := b[i]
	i++
	var content []byte
	switch {
	case l == 0x80: // indefinite: elements up to the end-of-contents
		if !constructed {
			return nil, nil, errBER
		}
		rest = b[i:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			el, r, err := berElement(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			content, rest = append(content, el...), r
		}
	default:
		n := int(l)
		if l&0x80 != 0 {
			k := int(l & 0x7f)
			if k > 4 || i+k > len(b) {
				return nil, nil, errBER
			}
			n = 0
			for _, c := range b[i : i+k] {
				n = n<<8 | int(c)
			}
			i += k
		}
		if n < 0 || n > len(b)-i {
			return nil, nil, errBER
		}
		content, rest = b[i:i+n], b[i+n:]
		if constructed { // its elements may be indefinite themselves
			var c []byte
			for r := content; len(r) > 0; {
				el, rr, err := berElement(r, depth+1)
				if err != nil {
					return nil, nil, err
				}
				c, r = append(c, el...), rr
			}
			content = c
		}
	}
	out = append(append([]byte{}, tag...), derLength(len(content))...)
	return append(out, content...), rest, nil
}

// derLength encodes n as a DER length: short form below 128, else the
// fewest bytes.
func derLength(n int) []byte {
	if n < 0x80 {
		return []byte{byte(n)}
	}
	var b []byte
	for ; n > 0; n >>= 8 {
		b = append([]byte{byte(n)}, b...)
	}
	return append([]byte{0x80 | byte(len(b))}, b...)
}
