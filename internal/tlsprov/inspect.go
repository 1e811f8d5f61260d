package tlsprov

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/pki"
)

// InspectedFile is one file's contents as Inspect reports them.
type InspectedFile struct {
	// Path is the file as given on the command line.
	Path string `json:"path"`
	// Contents is what the file holds; nil when it could not be read.
	*pki.Contents
	// Error says why the file could not be read.
	Error string `json:"error,omitempty"`
}

// Inspect describes each of paths (PEM, JKS or PKCS#12; the stores opened
// with password) on w, as text or, with asJSON, as a JSON array. A PEM key
// file is also matched against the certificates of the other files. Files
// that cannot be read are reported and make the error (ExitInput); the
// others are still described. Key material is never printed.
func Inspect(w io.Writer, paths []string, password string, asJSON bool, now time.Time) error {
	var out []InspectedFile
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil {
			var c *pki.Contents
			if c, err = pki.Inspect(data, password); err == nil {
				out = append(out, InspectedFile{Path: p, Contents: c})
				continue
			}
		}
		err = fmt.Errorf("%s: %w", p, err)
		errs = append(errs, err)
		out = append(out, InspectedFile{Path: p, Error: err.Error()})
	}
	matchAcrossFiles(out)
	if asJSON {
		if _, err := io.WriteString(w, filesJSON(out)); err != nil {
			return exitcode.Wrap(ExitFailure, err)
		}
	} else {
		for i, f := range out {
			if i > 0 {
				fmt.Fprintln(w)
			}
			writeText(w, f, now)
		}
	}
	if err := joinErrors(errs...); err != nil {
		return exitcode.Wrap(ExitInput, err)
	}
	return nil
}

// matchAcrossFiles sets KeyMatches of lone PEM keys from the first
// certificate of the other files that the key belongs to, if any.
func matchAcrossFiles(files []InspectedFile) {
	for i := range files {
		if files[i].Contents == nil {
			continue
		}
		for j := range files[i].Entries {
			e := &files[i].Entries[j]
			if e.Kind != pki.KindPrivateKey || e.KeyMatches != nil {
				continue
			}
			for _, f := range files {
				if f.Contents == nil {
					continue
				}
				for _, o := range f.Entries {
					if len(o.Certs) > 0 && o.Kind != pki.KindTrustedCertEntry {
						m := pki.KeyMatches(e.PrivateKey, o.Certs[0])
						if e.KeyMatches == nil || m {
							e.KeyMatches = &m
						}
					}
				}
			}
		}
	}
}

func writeText(w io.Writer, f InspectedFile, now time.Time) {
	if f.Contents == nil {
		fmt.Fprintf(w, "%s: ERROR %s\n", f.Path, strings.TrimPrefix(f.Error, f.Path+": "))
		return
	}
	fmt.Fprintf(w, "%s: %s, %d entr%s\n", f.Path, f.Format, len(f.Entries), plural(len(f.Entries), "y", "ies"))
	for _, e := range f.Entries {
		head := "  " + e.Kind
		if e.Alias != "" {
			head = fmt.Sprintf("  alias %q: %s", e.Alias, e.Kind)
		}
		if e.KeyType != "" {
			head += ", key " + e.KeyType
		}
		if e.KeyMatches != nil {
			head += ", key matches certificate: " + map[bool]string{true: "yes", false: "NO"}[*e.KeyMatches]
		}
		if n := len(e.Certificates); n > 0 && e.Kind != pki.KindTrustedCertEntry {
			head += fmt.Sprintf(", chain length %d", n)
		}
		fmt.Fprintln(w, head)
		for i, c := range e.Certificates {
			fmt.Fprintf(w, "    [%d] subject: %s\n", i, c.Subject)
			fmt.Fprintf(w, "        issuer:  %s%s\n", c.Issuer, map[bool]string{true: " (self-signed)", false: ""}[c.SelfSigned])
			if len(c.SANs) > 0 {
				fmt.Fprintf(w, "        SANs:    %s\n", strings.Join(c.SANs, ", "))
			}
			fmt.Fprintf(w, "        valid:   %s to %s (%s)\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), validityNote(c, now))
			ca := ""
			if c.IsCA {
				ca = ", CA"
			}
			fmt.Fprintf(w, "        key:     %s%s\n", c.KeyType, ca)
			fmt.Fprintf(w, "        serial:  %s\n        sha256:  %s\n", c.Serial, c.SHA256)
		}
	}
}

func validityNote(c pki.CertInfo, now time.Time) string {
	switch {
	case now.Before(c.NotBefore):
		return "NOT YET VALID"
	case now.After(c.NotAfter):
		return "EXPIRED"
	}
	days := int(c.NotAfter.Sub(now) / (24 * time.Hour))
	return fmt.Sprintf("expires in %d day%s", days, plural(days, "", "s"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
