// Package pkcs12der holds the DER structures of a PKCS#12 file (RFC 7292)
// and the password-based encryption of its safes (PBES2, RFC 8018), for the
// parts of such files go-pkcs12 neither writes nor exposes: internal/pki
// writes a key entry with its alias as friendlyName and reads that alias
// back, and internal/truststore reads the friendly names of a trust store's
// certificate bags. go-pkcs12 still does the decoding (and checks the MAC)
// of every file these are read from.
//
// A PFX, as OpenSSL, Java and go-pkcs12 lay it out (password integrity):
//
//	PFX { version 3, authSafe ContentInfo(data), macData }
//	  authSafe: SEQUENCE OF ContentInfo, each
//	    data:          OCTET STRING holding a SafeContents
//	    encryptedData: EncryptedData (RFC 5652) whose content, once
//	                   decrypted, is a SafeContents
//	  SafeContents: SEQUENCE OF SafeBag { bagId, bagValue, bagAttributes }
//
// The package does no I/O and never puts a password or key material into an
// error.
package pkcs12der

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"unicode/utf16"
)

// Object identifiers of RFC 7292 and of the algorithms the package's
// readers and writers use.
var (
	OIDData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1} // PKCS#7 data
	OIDEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6} // PKCS#7 encryptedData

	OIDKeyBag            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	OIDShroudedKeyBag    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2} // pkcs8ShroudedKeyBag
	OIDCertBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	OIDX509Certificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1} // a CertBag's certId
	OIDFriendlyName      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	OIDLocalKeyID        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	OIDPBEWithSHAAnd3DES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3} // pbeWithSHAAnd3-KeyTripleDES-CBC
	OIDPBES2             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	OIDPBKDF2            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	OIDHMACWithSHA1      = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	OIDHMACWithSHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	OIDHMACWithSHA384    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	OIDHMACWithSHA512    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	OIDAES128CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	OIDAES192CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	OIDAES256CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	OIDSHA1              = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}             // a MAC's digest
	OIDSHA256            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} // a MAC's digest
)

// PFX is the outer structure of a PKCS#12 file (RFC 7292 section 4).
type PFX struct {
	Version  int
	AuthSafe ContentInfo
	MacData  MacData `asn1:"optional"`
}

// MacData is a PFX's integrity check: an HMAC over the authSafe's content.
type MacData struct {
	Mac        DigestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

// DigestInfo is a MAC's algorithm and value.
type DigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// ContentInfo is RFC 5652's ContentInfo: Content holds the EXPLICIT [0]
// content (Content.Bytes its DER).
type ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

// EncryptedData is RFC 5652's EncryptedData.
type EncryptedData struct {
	Version int
	Info    EncryptedContentInfo
}

// EncryptedContentInfo is RFC 5652's EncryptedContentInfo.
type EncryptedContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Algorithm   pkix.AlgorithmIdentifier
	Content     []byte `asn1:"tag:0,optional"`
}

// SafeBag is one entry of a SafeContents (RFC 7292 section 4.2).
type SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes []Attribute   `asn1:"set,optional"`
}

// Attribute is a bag attribute: friendlyName, localKeyId, ...
type Attribute struct {
	ID     asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

// CertBag is a certBag's value (RFC 7292 section 4.2.3).
type CertBag struct {
	ID   asn1.ObjectIdentifier
	Cert []byte `asn1:"tag:0,explicit"`
}

// EncryptedPrivateKeyInfo is a pkcs8ShroudedKeyBag's value (RFC 5208).
type EncryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

// PBES2Params is RFC 8018's PBES2-params (appendix A.4).
type PBES2Params struct {
	KDF              pkix.AlgorithmIdentifier
	EncryptionScheme pkix.AlgorithmIdentifier
}

// PBKDF2Params is RFC 8018's PBKDF2-params (appendix A.2) with an OCTET
// STRING salt. A PRF left out is HMAC-SHA-1.
type PBKDF2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// PBEParams is the parameters of RFC 7292's own password-based encryption
// (appendix C), such as pbeWithSHAAnd3-KeyTripleDES-CBC.
type PBEParams struct {
	Salt       []byte
	Iterations int
}

// ParseAuthSafe returns the ContentInfos of a PFX's authSafe, which must be
// of type data (password integrity, the only mode OpenSSL, Java and
// go-pkcs12 write). It does not check the MAC.
func ParseAuthSafe(der []byte) ([]ContentInfo, error) {
	var pfx PFX
	if _, err := asn1.Unmarshal(der, &pfx); err != nil {
		return nil, err
	}
	if !pfx.AuthSafe.ContentType.Equal(OIDData) {
		return nil, errors.New("PKCS#12: the authSafe is not of type data (public-key integrity is not supported)")
	}
	var authSafe []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil, err
	}
	var infos []ContentInfo
	if _, err := asn1.Unmarshal(authSafe, &infos); err != nil {
		return nil, err
	}
	return infos, nil
}

// Data returns the OCTET STRING content of a ContentInfo of type data: a
// SafeContents, in an authSafe.
func (ci ContentInfo) Data() ([]byte, error) {
	var data []byte
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// ParseSafeContents returns the bags of a SafeContents.
func ParseSafeContents(der []byte) ([]SafeBag, error) {
	var bags []SafeBag
	if _, err := asn1.Unmarshal(der, &bags); err != nil {
		return nil, err
	}
	return bags, nil
}

// FriendlyName returns the bag's friendlyName attribute (RFC 7292 section
// 4.2: a single BMPString), or "" when it has none. An attribute of another
// form is passed over.
func (b SafeBag) FriendlyName() string {
	for _, a := range b.Attributes {
		if !a.ID.Equal(OIDFriendlyName) || len(a.Values) != 1 || a.Values[0].Tag != asn1.TagBMPString {
			continue
		}
		if s, err := DecodeBMPString(a.Values[0].Bytes); err == nil {
			return s
		}
	}
	return ""
}

// FriendlyNameAttribute returns a friendlyName attribute holding bmpName,
// a BMPString's content (EncodeBMPString).
func FriendlyNameAttribute(bmpName []byte) Attribute {
	return Attribute{ID: OIDFriendlyName, Values: []asn1.RawValue{{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: bmpName}}}
}

// EncodeBMPString returns s as a BMPString's content: UCS-2, big-endian. A
// character outside the Basic Multilingual Plane is an error, as UCS-2
// cannot hold it.
func EncodeBMPString(s string) ([]byte, error) {
	out := make([]byte, 0, 2*len(s))
	for _, r := range s {
		if utf16.IsSurrogate(r) || r > 0xFFFF {
			return nil, errors.New("a character outside Unicode's Basic Multilingual Plane (a BMPString cannot hold it)")
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out, nil
}

// DecodeBMPString returns the string of a BMPString's content, read as
// UTF-16BE (as Java and go-pkcs12 read it).
func DecodeBMPString(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("a BMPString of an odd number of bytes")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return string(utf16.Decode(u)), nil
}
