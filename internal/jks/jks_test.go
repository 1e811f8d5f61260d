package jks_test

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/jks"
	"github.com/taskkit/taskkit/internal/pki"
)

const password = "fuzz-Pa55w0rd!store"

// stores returns a JKS keystore and truststore written by pki, and
// Debian's cacerts when the machine has one.
func stores(tb testing.TB) [][]byte {
	tb.Helper()
	ca, err := pki.NewCA(pki.CARequest{CommonName: "CA", KeyType: pki.ECDSAP256})
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafRequest{CommonName: "leaf", KeyType: pki.ECDSAP256})
	if err != nil {
		tb.Fatal(err)
	}
	ks, err := pki.EncodeJKSKeystore(leaf.Key, leaf.FullChain(), "server", password, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := pki.EncodeJKSTruststore(leaf.Roots, "ca", password, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	out := [][]byte{ks, ts}
	if b, err := os.ReadFile("/etc/ssl/certs/java/cacerts"); err == nil && jks.Check(b) == nil {
		out = append(out, b)
	}
	return out
}

// store writes a JKS file from its fields: uint16, uint32 and uint64
// values in big-endian order, strings and byte slices as they are.
func store(fields ...any) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		switch f := f.(type) {
		case string:
			b.WriteString(f)
		case []byte:
			b.Write(f)
		default:
			binary.Write(&b, binary.BigEndian, f)
		}
	}
	return b.Bytes()
}

// shortKey is an encrypted key that parses but is shorter than its salt
// and digest.
func shortKey() []byte {
	der, _ := asn1.Marshal(struct {
		Algo pkix.AlgorithmIdentifier
		Key  []byte
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1}}, []byte("short")})
	return der
}

func TestCheck(t *testing.T) {
	for i, s := range stores(t) {
		if err := jks.Check(s); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	const magic, v2 = uint32(0xfeedfeed), uint32(2)
	digest := make([]byte, 20)
	tests := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "magic", nil},
		{"not JKS", "no JKS magic", []byte("PK\x03\x04 a zip")},
		{"version 3", "version 3", store(magic, uint32(3), uint32(0), digest)},
		{"a 4 GiB certificate", "certificate of 4294967295 bytes", store(magic, v2, uint32(1), uint32(2), uint16(1), "a", uint64(0), uint16(4), "X509", uint32(0xffffffff))},
		{"4 billion entries", "entry 1 tag", store(magic, v2, uint32(0xffffffff))},
		{"a chain of 4 billion certificates", "entry 1 certificate 1 type length", store(magic, v2, uint32(1), uint32(1), uint16(1), "k", uint64(0), uint32(0), uint32(0xffffffff))},
		{"an encrypted key shorter than its salt", "shorter than its salt", store(magic, v2, uint32(1), uint32(1), uint16(1), "k", uint64(0), uint32(len(shortKey())), shortKey(), uint32(0), digest)},
		{"no digest", "digest of 20 bytes", store(magic, v2, uint32(0), "short")},
		{"unknown tag", "tag 7", store(magic, v2, uint32(1), uint32(7), uint16(0), uint64(0), digest)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := jks.Check(tt.data)
			if !errors.Is(err, jks.ErrMalformed) || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Fatalf("Check: %v, want an error about %q", err, tt.want)
			}
		})
	}
}

// TestRefusedBeforeAllocating is the regression test of the faults
// FuzzLoad (internal/jks/jksfuzz) found in keystore-go: a file of a few bytes declaring a 4 GiB
// certificate (or a chain of 4 billion certificates, an out-of-memory
// crash), and an encrypted key shorter than its salt (a panic when the
// key is read). pki.Inspect and truststore (through Check) now refuse
// them having allocated almost nothing.
func TestRefusedBeforeAllocating(t *testing.T) {
	const magic, v2 = uint32(0xfeedfeed), uint32(2)
	for name, data := range map[string][]byte{
		"4 GiB certificate": store(magic, v2, uint32(1), uint32(2), uint16(1), "a", uint64(0), uint16(4), "X509", uint32(0xffffffff)),
		"4 billion chain":   store(magic, v2, uint32(1), uint32(1), uint16(1), "k", uint64(0), uint32(0), uint32(0xffffffff)),
		"short key":         fuzzcheck.FixJKSDigest(store(magic, v2, uint32(1), uint32(1), uint16(1), "k", uint64(0), uint32(len(shortKey())), shortKey(), uint32(0), make([]byte, 20)), password),
	} {
		fuzzcheck.Budget{Alloc: fuzzcheck.MiB}.Check(t, name, func() {
			if _, err := pki.Inspect(data, password); !errors.Is(err, jks.ErrMalformed) {
				t.Errorf("%s: Inspect: %v", name, err)
			}
		})
	}
}
