package truststore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"hash"
	"unicode/utf16"
)

// The PKCS#12 structures needed to read the friendly names (aliases) of a
// trust store's certificate bags (RFC 7292 section 4), in the clear (the form
// JDK 18+ uses for cacerts) or in an encryptedData safe under PBES2 (RFC 8018
// section 6.2: PBKDF2 and AES-CBC, what keytool writes since JDK 12 and
// go-pkcs12's Modern encoders). go-pkcs12 decodes the certificates but not
// their names, and exports neither its decryption nor the bags' attributes;
// keeping the names means rewriting a store leaves every existing alias as it
// was. Only what the names need is decoded here: go-pkcs12 has already
// checked the store's MAC with the password and decoded the certificates
// before these are read.

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidCertBag       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidFriendlyName  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidPBES2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1      = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// maxPBKDF2Iterations bounds the key derivation of a store's encrypted safe;
// keytool writes 10,000 and go-pkcs12's Modern2023 2,048.
const maxPBKDF2Iterations = 1 << 20

type pfx struct {
	Version  int
	AuthSafe contentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

// encryptedData is RFC 5652's EncryptedData with its EncryptedContentInfo.
type encryptedData struct {
	Version int
	Info    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     []byte `asn1:"tag:0,optional"`
	}
}

// pbes2Params and pbkdf2Params are RFC 8018's PBES2-params (appendix A.4)
// and PBKDF2-params (appendix A.2), with an OCTET STRING salt.
type pbes2Params struct {
	KDF        pkix.AlgorithmIdentifier
	Encryption pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes []attribute   `asn1:"set,optional"`
}

type attribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

// pkcs12Aliases returns the friendly name of every certificate bag in order,
// or nil when any part of the store is unreadable, or encrypted other than
// with PBES2 (the legacy PKCS#12 PBE of JDK 11.0.11 and earlier); the caller
// then names entries itself. password is the store's, as for
// pkcs12.DecodeTrustStore.
func pkcs12Aliases(der []byte, password string) []string {
	var p pfx
	if _, err := asn1.Unmarshal(der, &p); err != nil || !p.AuthSafe.ContentType.Equal(oidData) {
		return nil
	}
	var authSafe []byte
	if _, err := asn1.Unmarshal(p.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil
	}
	var infos []contentInfo
	if _, err := asn1.Unmarshal(authSafe, &infos); err != nil {
		return nil
	}
	var names []string
	for _, ci := range infos {
		var raw []byte
		switch {
		case ci.ContentType.Equal(oidData):
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &raw); err != nil {
				return nil
			}
		case ci.ContentType.Equal(oidEncryptedData):
			if raw = decryptPBES2(ci.Content.Bytes, password); raw == nil {
				return nil
			}
		default:
			return nil
		}
		var bags []safeBag
		if _, err := asn1.Unmarshal(raw, &bags); err != nil {
			return nil
		}
		for _, b := range bags {
			if b.ID.Equal(oidCertBag) {
				names = append(names, friendlyName(b.Attributes))
			}
		}
	}
	return names
}

// decryptPBES2 returns the content of a PBES2-encrypted EncryptedData, or
// nil. The password is UTF-8 for PBES2 (RFC 8018 section 3), not the BMP
// string of PKCS#12's own PBE.
func decryptPBES2(der []byte, password string) []byte {
	var ed encryptedData
	if _, err := asn1.Unmarshal(der, &ed); err != nil || !ed.Info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(ed.Info.Algorithm.Parameters.FullBytes, &params); err != nil || !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil || kdf.Iterations < 1 || kdf.Iterations > maxPBKDF2Iterations {
		return nil
	}
	var prf func() hash.Hash
	switch alg := kdf.PRF.Algorithm; {
	case alg == nil || alg.Equal(oidHMACSHA1):
		prf = sha1.New
	case alg.Equal(oidHMACSHA256):
		prf = sha256.New
	case alg.Equal(oidHMACSHA384):
		prf = sha512.New384
	case alg.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil
	}
	var keyLen int
	switch alg := params.Encryption.Algorithm; {
	case alg.Equal(oidAES128CBC):
		keyLen = 16
	case alg.Equal(oidAES192CBC):
		keyLen = 24
	case alg.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Encryption.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil
	}
	text := ed.Info.Content
	if len(text) == 0 || len(text)%aes.BlockSize != 0 {
		return nil
	}
	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	out := make([]byte, len(text))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, text)
	pad := int(out[len(out)-1]) // PKCS #7 padding (RFC 5652 section 6.3)
	if pad == 0 || pad > aes.BlockSize {
		return nil
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil
		}
	}
	return out[:len(out)-pad]
}

func friendlyName(attrs []attribute) string {
	for _, a := range attrs {
		if !a.ID.Equal(oidFriendlyName) {
			continue
		}
		var bmp asn1.RawValue // BMPString: UTF-16BE
		if _, err := asn1.Unmarshal(a.Values.Bytes, &bmp); err != nil || len(bmp.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(bmp.Bytes)/2)
		for i := range u {
			u[i] = uint16(bmp.Bytes[2*i])<<8 | uint16(bmp.Bytes[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	return ""
}
