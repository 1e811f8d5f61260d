package truststore

import (
	"encoding/asn1"

	"github.com/taskkit/taskkit/internal/pkcs12der"
)

// The friendly names (aliases) of a PKCS#12 trust store's certificate bags
// (RFC 7292 section 4), in the clear (the form JDK 18+ uses for cacerts) or
// in an encryptedData safe under PBES2 (RFC 8018 section 6.2: PBKDF2 and
// AES-CBC, what keytool writes since JDK 12 and go-pkcs12's Modern
// encoders). go-pkcs12 decodes the certificates but not their names, and
// exports neither its decryption nor the bags' attributes; keeping the names
// means rewriting a store leaves every existing alias as it was. Only what
// the names need is decoded here, with internal/pkcs12der's structures and
// decryption: go-pkcs12 has already checked the store's MAC with the
// password and decoded the certificates before these are read.

// pkcs12Aliases returns the friendly name of every certificate bag in order,
// or nil when any part of the store is unreadable, or encrypted other than
// with PBES2 (the legacy PKCS#12 PBE of JDK 11.0.11 and earlier); the caller
// then names entries itself. password is the store's, as for
// pkcs12.DecodeTrustStore.
func pkcs12Aliases(der []byte, password string) []string {
	infos, err := pkcs12der.ParseAuthSafe(der)
	if err != nil {
		return nil
	}
	var names []string
	for _, ci := range infos {
		var raw []byte
		switch {
		case ci.ContentType.Equal(pkcs12der.OIDData):
			if raw, err = ci.Data(); err != nil {
				return nil
			}
		case ci.ContentType.Equal(pkcs12der.OIDEncryptedData):
			var ed pkcs12der.EncryptedData
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
				return nil
			}
			if raw, err = pkcs12der.DecryptPBES2(ed.Info.Algorithm, ed.Info.Content, password); err != nil {
				return nil
			}
		default:
			return nil
		}
		bags, err := pkcs12der.ParseSafeContents(raw)
		if err != nil {
			return nil
		}
		for _, b := range bags {
			if b.ID.Equal(pkcs12der.OIDCertBag) {
				names = append(names, b.FriendlyName())
			}
		}
	}
	return names
}
