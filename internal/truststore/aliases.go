package truststore

import (
	"encoding/asn1"
	"unicode/utf16"
)

// The PKCS#12 structures needed to read the friendly names (aliases) of an
// unencrypted trust store, the form JDK 18+ uses for cacerts. go-pkcs12 decodes
// the certificates but not their names; keeping the names means rewriting a
// JDK's cacerts leaves every existing alias as it was.

var (
	oidData         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidCertBag      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidFriendlyName = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
)

type pfx struct {
	Version  int
	AuthSafe contentInfo
	MacData  asn1.RawValue `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
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
// or nil when any part of the store is encrypted or unreadable (the caller then
// names entries itself).
func pkcs12Aliases(der []byte) []string {
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
		if !ci.ContentType.Equal(oidData) {
			return nil // encrypted
		}
		var raw []byte
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &raw); err != nil {
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
