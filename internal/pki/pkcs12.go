package pki

import (
	"crypto"
	"crypto/des"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"

	"github.com/taskkit/taskkit/internal/pkcs12der"
)

// The PKCS#12 writer (RFC 7292). go-pkcs12, which reads these files here,
// writes no friendlyName on a key entry, so the alias a keystore's key
// entry has (--key-alias) could not reach NAME.p12 and Java listed the entry
// as "1". The file is laid out as OpenSSL's PKCS12_create and
// `openssl pkcs12 -export -name ALIAS` lay it out, which keytool reads as a
// PrivateKeyEntry named ALIAS:
//
//	PFX
//	├─ authSafe: data
//	│  ├─ encryptedData (password-encrypted): SafeContents
//	│  │  ├─ certBag: the leaf   [friendlyName ALIAS, localKeyId]
//	│  │  └─ certBag: each further certificate of the chain
//	│  └─ data: SafeContents
//	│     └─ pkcs8ShroudedKeyBag: the key   [friendlyName ALIAS, localKeyId]
//	└─ macData: HMAC over the authSafe's content, keyed from the password
//
// localKeyId is the SHA-1 hash of the leaf, which ties the key to it. The
// structures, OIDs and PBES2 are internal/pkcs12der's.

// p12Profile is one set of PKCS#12 algorithms. The iteration counts and salt
// lengths are go-pkcs12's Modern2023 and LegacyDES ones, which tlsprov wrote
// before and OpenSSL's defaults match.
type p12Profile struct {
	legacy        bool // 3DES and a SHA-1 MAC, else PBES2/AES-256-CBC and SHA-256
	iterations    int  // of the encryption key derivation
	macIterations int
	saltLen       int
}

var (
	p12Modern = p12Profile{iterations: 2048, macIterations: 2048, saltLen: 16}
	p12Legacy = p12Profile{legacy: true, iterations: 2048, macIterations: 1, saltLen: 8}
)

// EncodePKCS12 returns a PKCS#12 file holding key and chain (leaf first),
// with alias as the friendlyName of the key and the leaf, as
// `openssl pkcs12 -export -name` writes it: Java lists the key entry under
// alias, lower-cased as EncodeJKSKeystore stores it, so both stores of one
// key show one alias. It is protected by password. By default it uses PBES2
// with PBKDF2-HMAC-SHA-256 and AES-256-CBC and an HMAC-SHA-256 MAC, which
// OpenSSL 1.1.1+/3 and Java 12+ read; legacy selects 3DES and SHA-1 for
// older readers.
func EncodePKCS12(key crypto.Signer, chain []*x509.Certificate, alias, password string, legacy bool) ([]byte, error) {
	alias, err := jksAlias(alias)
	if err != nil {
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("PKCS#12: %w", ErrNoCertificate)
	}
	p := p12Modern
	if legacy {
		p = p12Legacy
	}
	out, err := p.encode(key, chain, alias, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 with a %s key: %w", DescribeKey(key), err)
	}
	return out, nil
}

func (p p12Profile) encode(key crypto.Signer, chain []*x509.Certificate, alias, password string) ([]byte, error) {
	bmpPassword, err := pkcs12der.EncodeBMPString(password)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	bmpPassword = append(bmpPassword, 0, 0) // RFC 7292 B.1: zero-terminated
	name, err := pkcs12der.EncodeBMPString(alias)
	if err != nil {
		return nil, fmt.Errorf("alias %q: %w", alias, err)
	}
	keyID := sha1.Sum(chain[0].Raw)
	attrs, err := p12Attributes(name, keyID[:])
	if err != nil {
		return nil, err
	}

	var certBags []pkcs12der.SafeBag
	for i, c := range chain {
		bag, err := asn1.Marshal(pkcs12der.CertBag{ID: pkcs12der.OIDX509Certificate, Cert: c.Raw})
		if err != nil {
			return nil, err
		}
		b := pkcs12der.SafeBag{ID: pkcs12der.OIDCertBag, Value: asn1.RawValue{FullBytes: explicit0(bag)}}
		if i == 0 {
			b.Attributes = attrs
		}
		certBags = append(certBags, b)
	}
	certSafe, err := asn1.Marshal(certBags)
	if err != nil {
		return nil, err
	}
	certAlg, encCerts, err := p.encrypt(certSafe, password, bmpPassword)
	if err != nil {
		return nil, err
	}
	encData, err := asn1.Marshal(pkcs12der.EncryptedData{Info: pkcs12der.EncryptedContentInfo{
		ContentType: pkcs12der.OIDData, Algorithm: certAlg, Content: encCerts,
	}})
	if err != nil {
		return nil, err
	}

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyAlg, encKey, err := p.encrypt(der, password, bmpPassword)
	if err != nil {
		return nil, err
	}
	shrouded, err := asn1.Marshal(pkcs12der.EncryptedPrivateKeyInfo{Algorithm: keyAlg, Data: encKey})
	if err != nil {
		return nil, err
	}
	keySafe, err := asn1.Marshal([]pkcs12der.SafeBag{{ID: pkcs12der.OIDShroudedKeyBag, Value: asn1.RawValue{FullBytes: explicit0(shrouded)}, Attributes: attrs}})
	if err != nil {
		return nil, err
	}
	keySafeOctets, err := asn1.Marshal(keySafe)
	if err != nil {
		return nil, err
	}

	authSafe, err := asn1.Marshal([]pkcs12der.ContentInfo{
		{ContentType: pkcs12der.OIDEncryptedData, Content: asn1.RawValue{FullBytes: explicit0(encData)}},
		{ContentType: pkcs12der.OIDData, Content: asn1.RawValue{FullBytes: explicit0(keySafeOctets)}},
	})
	if err != nil {
		return nil, err
	}
	authSafeOctets, err := asn1.Marshal(authSafe)
	if err != nil {
		return nil, err
	}

	mac := pkcs12der.MacData{MacSalt: make([]byte, p.saltLen), Iterations: p.macIterations}
	if _, err := rand.Read(mac.MacSalt); err != nil {
		return nil, err
	}
	newHash, macAlg := sha256.New, pkcs12der.OIDSHA256
	if p.legacy {
		newHash, macAlg = sha1.New, pkcs12der.OIDSHA1
	}
	macKey := pkcs12KDF(newHash, 3, bmpPassword, mac.MacSalt, mac.Iterations, newHash().Size())
	h := hmac.New(newHash, macKey)
	h.Write(authSafe)
	mac.Mac = pkcs12der.DigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: macAlg, Parameters: asn1.NullRawValue}, Digest: h.Sum(nil)}

	return asn1.Marshal(pkcs12der.PFX{
		Version:  3,
		AuthSafe: pkcs12der.ContentInfo{ContentType: pkcs12der.OIDData, Content: asn1.RawValue{FullBytes: explicit0(authSafeOctets)}},
		MacData:  mac,
	})
}

// p12Attributes returns the bag attributes of the key and the leaf: the
// friendlyName (a BMPString) and the localKeyId.
func p12Attributes(bmpName, keyID []byte) ([]pkcs12der.Attribute, error) {
	id, err := asn1.Marshal(keyID)
	if err != nil {
		return nil, err
	}
	return []pkcs12der.Attribute{
		pkcs12der.FriendlyNameAttribute(bmpName),
		{ID: pkcs12der.OIDLocalKeyID, Values: []asn1.RawValue{{FullBytes: id}}},
	}, nil
}

// encrypt encrypts plain under the profile's password-based scheme with a
// fresh salt (and IV) and returns the scheme's AlgorithmIdentifier: PBES2
// (pkcs12der.EncryptPBES2, the key derived from the password's UTF-8 bytes),
// or PKCS#12's own PBE with 3DES, its key and IV derived from the
// zero-terminated BMPString bmpPassword.
func (p p12Profile) encrypt(plain []byte, password string, bmpPassword []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	if !p.legacy {
		return pkcs12der.EncryptPBES2(plain, password, p.saltLen, p.iterations)
	}
	var alg pkix.AlgorithmIdentifier
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return alg, nil, err
	}
	k := pkcs12KDF(sha1.New, 1, bmpPassword, salt, p.iterations, 24)
	iv := pkcs12KDF(sha1.New, 2, bmpPassword, salt, p.iterations, des.BlockSize)
	block, err := des.NewTripleDESCipher(k)
	if err != nil {
		return alg, nil, err
	}
	params, err := asn1.Marshal(pkcs12der.PBEParams{Salt: salt, Iterations: p.iterations})
	if err != nil {
		return alg, nil, err
	}
	alg = pkix.AlgorithmIdentifier{Algorithm: pkcs12der.OIDPBEWithSHAAnd3DES, Parameters: asn1.RawValue{FullBytes: params}}
	return alg, pkcs12der.EncryptCBC(block, iv, plain), nil
}

// explicit0 wraps der in a context-specific constructed [0] tag, the
// EXPLICIT tagging of ContentInfo's content and SafeBag's bagValue.
func explicit0(der []byte) []byte {
	b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der})
	return b
}

// pkcs12KDF derives n bytes for purpose id (1: an encryption key, 2: an IV,
// 3: a MAC key) from a zero-terminated BMPString password and salt, after
// RFC 7292 appendix B.2. The MAC key is derived this way whatever the MAC's
// hash, as OpenSSL and Java do.
func pkcs12KDF(newHash func() hash.Hash, id byte, password, salt []byte, iterations, n int) []byte {
	h := newHash()
	v := h.BlockSize() // 64 bytes for SHA-1 and SHA-256
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt, v), fill(password, v)...)
	var out []byte
	for {
		h.Reset()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for j := 1; j < iterations; j++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= n {
			return out[:n]
		}
		// Each v-byte block of in becomes (block + B + 1) mod 2^(8v), B
		// being a repeated to v bytes.
		b := make([]byte, v)
		for i := range b {
			b[i] = a[i%len(a)]
		}
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				s := int(in[j+k]) + int(b[k]) + carry
				in[j+k] = byte(s)
				carry = s >> 8
			}
		}
	}
}

// fill repeats s to the shortest multiple of v bytes that holds it (nothing
// for an empty s).
func fill(s []byte, v int) []byte {
	if len(s) == 0 {
		return nil
	}
	out := make([]byte, (len(s)+v-1)/v*v)
	for i := range out {
		out[i] = s[i%len(s)]
	}
	return out
}

// pkcs12KeyAlias returns the friendlyName of the first key bag of a PKCS#12
// file, as Java lists the key entry (keytool -list): "" when it has none,
// or the file is not laid out as OpenSSL, Java and EncodePKCS12 write it
// (the key's bag in a SafeContents of its own, not encrypted but for the
// key itself, whose attributes are in the clear). The caller has checked
// the file's MAC.
func pkcs12KeyAlias(data []byte) string {
	infos, err := pkcs12der.ParseAuthSafe(data)
	if err != nil {
		return ""
	}
	for _, ci := range infos {
		if !ci.ContentType.Equal(pkcs12der.OIDData) {
			continue // an encryptedData safe: the certificates
		}
		safe, err := ci.Data()
		if err != nil {
			continue
		}
		bags, err := pkcs12der.ParseSafeContents(safe)
		if err != nil {
			continue
		}
		for _, b := range bags {
			if b.ID.Equal(pkcs12der.OIDShroudedKeyBag) || b.ID.Equal(pkcs12der.OIDKeyBag) {
				return b.FriendlyName()
			}
		}
	}
	return ""
}
