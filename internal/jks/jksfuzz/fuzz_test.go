package jksfuzz

import (
	"bytes"
	"os"
	"testing"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
	"github.com/taskkit/taskkit/internal/jks"
)

// password protects the seed stores in testdata/fuzz/FuzzLoad, written by
// pki (a keystore and a truststore, as internal/jks's tests make them).
const password = "fuzz-Pa55w0rd!store"

// FuzzLoad feeds JKS files to Check and, when Check accepts them, to
// keystore-go with the password, reading every entry as pki.Inspect
// does. The store's digest is recomputed after mutation
// (fuzzcheck.FixJKSDigest) so the entries are reached. Properties: no
// panic; a file Check accepts loads within a budget of 16 MiB plus 4
// times its size (keystore-go copies each field once; the digest is over
// all of it). Seeds: the stores in testdata/fuzz/FuzzLoad, and Debian's
// cacerts when the machine has one.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("/etc/ssl/certs/java/cacerts"); err == nil && jks.Check(b) == nil && len(b) < 64<<10 {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = fuzzcheck.FixJKSDigest(data, password)
		if jks.Check(data) != nil {
			return
		}
		b := fuzzcheck.Budget{Alloc: 16*fuzzcheck.MiB + 4*uint64(len(data))}
		check := func() {
			ks := keystore.New(keystore.WithOrderedAliases())
			if ks.Load(bytes.NewReader(data), []byte(password)) != nil {
				return
			}
			for _, a := range ks.Aliases() {
				ks.GetPrivateKeyEntry(a, []byte(password))
				ks.GetTrustedCertificateEntry(a)
			}
		}
		if len(data) > 4<<10 {
			b.Check(t, "keystore-go", check)
		} else {
			check()
		}
	})
}
