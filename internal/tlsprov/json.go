package tlsprov

import (
	"strconv"
	"strings"
	"time"
)

// filesJSON renders inspect's JSON output (one line). It is written by hand
// rather than with encoding/json's reflection, which would cost tlsprov
// ~45 KB of binary size for this one printer (see BENCHMARKS.md). The shape
// matches the json tags of InspectedFile, pki.Contents, pki.Entry and
// pki.CertInfo.
func filesJSON(files []InspectedFile) string {
	w := &jsonWriter{first: true}
	w.open('[')
	for _, f := range files {
		w.open('{')
		w.str("path", f.Path)
		if f.Contents == nil {
			w.str("error", f.Error)
			w.close('}')
			continue
		}
		w.str("format", f.Format)
		w.key("entries")
		w.open('[')
		for _, e := range f.Entries {
			w.open('{')
			w.strOmit("alias", e.Alias)
			w.str("kind", e.Kind)
			w.strOmit("key_type", e.KeyType)
			if e.KeyMatches != nil {
				w.lit("key_matches", strconv.FormatBool(*e.KeyMatches))
			}
			if len(e.Certificates) > 0 {
				w.key("certificates")
				w.open('[')
				for _, c := range e.Certificates {
					w.open('{')
					w.str("subject", c.Subject)
					w.str("issuer", c.Issuer)
					if len(c.SANs) > 0 {
						w.key("sans")
						w.open('[')
						for _, s := range c.SANs {
							w.str("", s)
						}
						w.close(']')
					}
					w.str("not_before", c.NotBefore.Format(time.RFC3339))
					w.str("not_after", c.NotAfter.Format(time.RFC3339))
					w.str("key_type", c.KeyType)
					w.lit("is_ca", strconv.FormatBool(c.IsCA))
					w.lit("self_signed", strconv.FormatBool(c.SelfSigned))
					w.str("serial", c.Serial)
					w.str("sha256", c.SHA256)
					w.close('}')
				}
				w.close(']')
			}
			w.close('}')
		}
		w.close(']')
		w.close('}')
	}
	w.close(']')
	return w.b.String() + "\n"
}

// jsonWriter writes JSON tokens, placing commas itself.
type jsonWriter struct {
	b     strings.Builder
	first bool // no comma before the next value
}

func (w *jsonWriter) comma() {
	if !w.first {
		w.b.WriteByte(',')
	}
	w.first = false
}

// key writes `"k":` (nothing for an array element, k == "").
func (w *jsonWriter) key(k string) {
	w.comma()
	if k != "" {
		w.quote(k)
		w.b.WriteByte(':')
	}
	w.first = true
}

func (w *jsonWriter) open(c byte)     { w.comma(); w.b.WriteByte(c); w.first = true }
func (w *jsonWriter) close(c byte)    { w.b.WriteByte(c); w.first = false }
func (w *jsonWriter) lit(k, v string) { w.key(k); w.comma(); w.b.WriteString(v) }
func (w *jsonWriter) str(k, v string) { w.key(k); w.comma(); w.quote(v) }
func (w *jsonWriter) strOmit(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

// quote writes s as a JSON string (RFC 8259); invalid UTF-8 becomes U+FFFD.
func (w *jsonWriter) quote(s string) {
	const hex = "0123456789abcdef"
	w.b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			w.b.WriteByte('\\')
			w.b.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			w.b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				w.b.WriteByte(hex[(r>>shift)&0xf])
			}
		default:
			w.b.WriteRune(r) // range yields U+FFFD for invalid bytes
		}
	}
	w.b.WriteByte('"')
}
