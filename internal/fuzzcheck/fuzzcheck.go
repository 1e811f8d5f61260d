// Package fuzzcheck is what taskkit's fuzz targets (func FuzzX(f
// *testing.F) in the packages' fuzz_test.go files) share: the per-input
// budget of time and memory a parser must stay within, inputs of a given
// size built from a seed, and the check that an error text carries no
// secret. Only tests import it.
//
// A Budget bounds what one input may cost: bytes allocated
// (runtime.MemStats.TotalAlloc before and after, so other goroutines'
// allocations count too and budgets leave room for them) and wall time.
// The time bound is generous on purpose — the machine is shared and
// timings are noisy — it catches hangs and work growing faster than the
// input, not slowness; speed is measured by scripts/fuzz.sh and the
// benchmarks (BENCHMARKS.md).
package fuzzcheck

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// MiB is 2^20 bytes: the size of the "parser fed 1 MiB" inputs.
const MiB = 1 << 20

// DefaultTime is the wall-time bound of a Budget that sets none: a
// minute, because a 1 MiB render that takes half a second alone took 15 s
// on the 2-core machine under a load average of 37 (render's
// TestTextBudget); work growing with the square of 1 MiB takes far longer.
const DefaultTime = time.Minute

// Budget is what one input may cost a parser.
type Budget struct {
	// Alloc bounds the bytes allocated while the input is processed.
	Alloc uint64
	// Time bounds the wall time; 0 means DefaultTime.
	Time time.Duration
}

// Cost is what running f once took.
type Cost struct {
	Alloc uint64        // bytes allocated (TotalAlloc delta)
	Time  time.Duration // wall time
}

func (c Cost) String() string {
	return fmt.Sprintf("%.1f MiB allocated in %v", float64(c.Alloc)/MiB, c.Time.Round(time.Millisecond))
}

// Measure runs f once and returns what it cost.
func Measure(f func()) Cost {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return Cost{Alloc: after.TotalAlloc - before.TotalAlloc, Time: elapsed}
}

// Check runs f once and fails t, naming what, when it allocated more than
// b.Alloc bytes or ran longer than b.Time.
func (b Budget) Check(t testing.TB, what string, f func()) Cost {
	t.Helper()
	limit := b.Time
	if limit == 0 {
		limit = DefaultTime
	}
	c := Measure(f)
	if c.Alloc > b.Alloc || c.Time > limit {
		t.Errorf("%s: %v, over the budget of %.1f MiB and %v", what, c, float64(b.Alloc)/MiB, limit)
	}
	return c
}

// Sized returns seed repeated as many whole times as fit in n bytes (at
// least once), so that a structured seed stays well-formed; an empty seed
// gives n zero bytes.
func Sized(seed []byte, n int) []byte {
	if len(seed) == 0 {
		return make([]byte, n)
	}
	return bytes.Repeat(seed, max(n/len(seed), 1))
}

// Window is how long a run of secret bytes must be for Leak to report it:
// long enough that the structural words of an error ("PRIVATE KEY",
// "certificate 2") never match by chance.
const Window = 12

// Leak returns the first run of Window bytes of secret that text contains,
// and whether there is one. Callers pass the parts of an input that are
// secret (a key's DER, a PEM body, a password), never the armor around
// them.
func Leak(text string, secret []byte) (string, bool) {
	if len(secret) < Window {
		if len(secret) >= 4 && strings.Contains(text, string(secret)) {
			return string(secret), true
		}
		return "", false
	}
	for i := 0; i+Window <= len(secret); i++ {
		if w := string(secret[i : i+Window]); strings.Contains(text, w) {
			return w, true
		}
	}
	return "", false
}

// jksMagic starts every JKS file.
var jksMagic = []byte{0xfe, 0xed, 0xfe, 0xed}

// FixJKSDigest returns data with its last 20 bytes replaced by the JKS
// integrity digest of what precedes them under password (SHA-1 of the
// password as UTF-16BE, "Mighty Aphrodite" and the store's bytes, as
// keytool computes it), when data starts like a JKS file; other data is
// returned as is. A fuzzer mutating a store's entries then reaches the
// code that reads them instead of stopping at the digest check.
func FixJKSDigest(data []byte, password string) []byte {
	if len(data) < 12+sha1.Size || !bytes.HasPrefix(data, jksMagic) {
		return data
	}
	h := sha1.New()
	for _, r := range password {
		h.Write([]byte{byte(r >> 8), byte(r)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	body := data[:len(data)-sha1.Size]
	h.Write(body)
	return h.Sum(append([]byte(nil), body...))
}

// SecretParts returns the parts of a key or certificate input that may be
// secret, for Leak: the input without its PEM armor and header lines,
// every PEM block's bytes, the bytes a base64 input (optionally after the
// DC/OS "__dcos_base64__" prefix) decodes to, and the decimal and hex
// forms of those bytes (how %v and %x would print them).
func SecretParts(data []byte) [][]byte {
	var body bytes.Buffer
	for _, line := range bytes.Split(data, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("-----")) && !bytes.Contains(line, []byte(": ")) {
			body.Write(line)
			body.WriteByte('\n')
		}
	}
	parts := [][]byte{body.Bytes()}
	var decoded [][]byte
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		decoded = append(decoded, b.Bytes)
	}
	compact := bytes.Join(bytes.Fields(bytes.TrimPrefix(bytes.TrimSpace(data), []byte("__dcos_base64__"))), nil)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(string(compact)); err == nil {
			decoded = append(decoded, d)
		}
	}
	for _, d := range decoded {
		d = d[:min(len(d), 256)]
		parts = append(parts, d, []byte(fmt.Sprint(d)), []byte(fmt.Sprintf("%x", d)))
	}
	return parts
}

// NoLeak fails t when err's text holds a run of a secret part (see
// SecretParts) of data, or of one of extra (a password).
func NoLeak(t testing.TB, what string, err error, data []byte, extra ...string) {
	t.Helper()
	if err == nil {
		return
	}
	parts := SecretParts(data)
	for _, e := range extra {
		parts = append(parts, []byte(e))
	}
	for _, p := range parts {
		if w, ok := Leak(err.Error(), p); ok {
			t.Fatalf("%s: the error %q holds %q of the input", what, err, w)
		}
	}
}
