// Package truststore adds CA certificates to a Java truststore without
// keytool, for bootstrap's -install-certs. It reads and writes both formats a
// JDK uses for cacerts: JKS (Debian's /etc/ssl/certs/java/cacerts, JDK 8) and
// PKCS#12 (JDK 9+, password-less from JDK 18), detected from the file's
// content.
//
// Install is idempotent: a certificate the store already trusts (under any
// alias) is not added again, and an alias that holds a different certificate
// is replaced, so a task restarted with a rotated CA ends with exactly the new
// one. The store is written atomically with its mode and owner kept; when it
// cannot be written (a read-only JDK image), the updated copy goes to a
// fallback path the caller names, for use with -Djavax.net.ssl.trustStore.
package truststore

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/taskkit/taskkit/internal/jks"
	"github.com/taskkit/taskkit/internal/safefile"
)

// Format is a truststore's file format.
type Format string

// The supported formats.
const (
	JKS    Format = "JKS"
	PKCS12 Format = "PKCS12"
)

// DefaultAlias and DefaultPassword are the SDK bootstrap's values.
const (
	DefaultAlias    = "dcoscert"
	DefaultPassword = "changeit"
)

// jksMagic starts every JKS file.
var jksMagic = []byte{0xFE, 0xED, 0xFE, 0xED}

// Options controls Install.
type Options struct {
	// Path is the truststore to update.
	Path string
	// Password is the store password ("" for a password-less PKCS#12 store).
	Password string
	// Alias names the first CA; further CAs of a bundle get Alias-1, Alias-2...
	Alias string
	// Fallback is where the updated store is written when Path cannot be;
	// "" disables the fallback.
	Fallback string
	// Now stamps new JKS entries; zero means time.Now.
	Now time.Time
}

// Result says what Install did.
type Result struct {
	Format Format
	// Added and Replaced list the aliases written; Present lists the CAs
	// already trusted (by alias, or "(subject)" under another alias);
	// Removed lists Alias-N entries of an earlier, longer bundle.
	Added, Replaced, Present, Removed []string
	// WrittenTo is the file written: Path, Fallback, or "" when nothing
	// changed.
	WrittenTo string
}

// Changed reports whether the store was written.
func (r Result) Changed() bool { return r.WrittenTo != "" }

// ParseCerts decodes every CERTIFICATE block of a PEM bundle. name is used in
// errors.
func ParseCerts(data []byte, name string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", name, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block found", name)
	}
	return certs, nil
}

// entry is one trusted certificate of a store.
type entry struct {
	alias string
	cert  *x509.Certificate
}

// store is a loaded truststore.
type store struct {
	format  Format
	jks     keystore.KeyStore // JKS only: kept whole so other entries survive
	entries []entry           // PKCS12 only
}

// Detect returns the format of a truststore's content.
func Detect(data []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(data, jksMagic):
		return JKS, nil
	case len(data) > 0 && data[0] == 0x30: // DER SEQUENCE
		return PKCS12, nil
	}
	return "", errors.New("neither JKS nor PKCS#12")
}

func load(data []byte, password string) (*store, error) {
	format, err := Detect(data)
	if err != nil {
		return nil, err
	}
	s := &store{format: format}
	switch format {
	case JKS:
		if err := jks.Check(data); err != nil {
			return nil, fmt.Errorf("loading JKS: %w", err)
		}
		pw, err := jks.Password(password)
		if err != nil {
			return nil, fmt.Errorf("loading JKS: %w", err)
		}
		s.jks = keystore.New(keystore.WithOrderedAliases(), keystore.WithCaseExactAliases())
		if err := s.jks.Load(bytes.NewReader(data), pw); err != nil {
			return nil, fmt.Errorf("loading JKS (wrong password?): %w", err)
		}
	case PKCS12:
		certs, err := pkcs12.DecodeTrustStore(data, password)
		if err != nil {
			return nil, fmt.Errorf("loading PKCS#12 (wrong password?): %w", err)
		}
		// Entries whose names cannot be read (a legacy-encrypted store,
		// aliases.go) are named cert-N.
		aliases := pkcs12Aliases(data, password)
		for i, c := range certs {
			a := fmt.Sprintf("cert-%d", i+1)
			if len(aliases) == len(certs) && aliases[i] != "" {
				a = aliases[i]
			}
			s.entries = append(s.entries, entry{alias: a, cert: c})
		}
	}
	return s, nil
}

// find returns the certificate under alias, if any, and whether cert is
// trusted under any alias.
func (s *store) find(alias string, cert *x509.Certificate) (atAlias *x509.Certificate, trusted bool) {
	switch s.format {
	case JKS:
		for _, a := range s.jks.Aliases() {
			if !s.jks.IsTrustedCertificateEntry(a) {
				continue
			}
			e, err := s.jks.GetTrustedCertificateEntry(a)
			if err != nil {
				continue
			}
			same := bytes.Equal(e.Certificate.Content, cert.Raw)
			trusted = trusted || same
			if a == alias {
				atAlias, _ = x509.ParseCertificate(e.Certificate.Content)
			}
		}
	case PKCS12:
		for _, e := range s.entries {
			trusted = trusted || bytes.Equal(e.cert.Raw, cert.Raw)
			if e.alias == alias {
				atAlias = e.cert
			}
		}
	}
	return atAlias, trusted
}

func (s *store) set(alias string, cert *x509.Certificate, now time.Time) error {
	switch s.format {
	case JKS:
		s.jks.DeleteEntry(alias)
		return s.jks.SetTrustedCertificateEntry(alias, keystore.TrustedCertificateEntry{
			CreationTime: now,
			Certificate:  keystore.Certificate{Type: "X509", Content: cert.Raw},
		})
	case PKCS12:
		for i, e := range s.entries {
			if e.alias == alias {
				s.entries[i].cert = cert
				return nil
			}
		}
		s.entries = append(s.entries, entry{alias: alias, cert: cert})
	}
	return nil
}

// removeStale deletes the aliases alias-N with N >= n: CAs of an earlier
// bundle that the current one no longer holds, so a rotated bundle leaves
// exactly its own CAs trusted under alias. It returns the aliases removed.
func (s *store) removeStale(alias string, n int) []string {
	stale := func(a string) bool {
		rest, ok := strings.CutPrefix(a, alias+"-")
		i, err := strconv.Atoi(rest)
		return ok && err == nil && i >= n && strconv.Itoa(i) == rest
	}
	var removed []string
	switch s.format {
	case JKS:
		for _, a := range s.jks.Aliases() {
			if stale(a) {
				s.jks.DeleteEntry(a)
				removed = append(removed, a)
			}
		}
	case PKCS12:
		kept := s.entries[:0]
		for _, e := range s.entries {
			if stale(e.alias) {
				removed = append(removed, e.alias)
				continue
			}
			kept = append(kept, e)
		}
		s.entries = kept
	}
	return removed
}

func (s *store) encode(password string) ([]byte, error) {
	var buf bytes.Buffer
	switch s.format {
	case JKS:
		pw, err := jks.Password(password)
		if err != nil {
			return nil, err
		}
		if err := s.jks.Store(&buf, pw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	default:
		entries := make([]pkcs12.TrustStoreEntry, len(s.entries))
		for i, e := range s.entries {
			entries[i] = pkcs12.TrustStoreEntry{Cert: e.cert, FriendlyName: e.alias}
		}
		enc := pkcs12.Modern2023
		if password == "" {
			enc = pkcs12.Passwordless
		}
		return enc.WithRand(rand.Reader).EncodeTrustStoreEntries(entries, password)
	}
}

// Install adds cas to the truststore at opts.Path.
func Install(cas []*x509.Certificate, opts Options) (Result, error) {
	if opts.Alias == "" {
		opts.Alias = DefaultAlias
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	data, err := os.ReadFile(opts.Path)
	if err != nil {
		return Result{}, fmt.Errorf("truststore %s: %w", opts.Path, err)
	}
	s, err := load(data, opts.Password)
	if err != nil {
		return Result{}, fmt.Errorf("truststore %s: %w", opts.Path, err)
	}
	res := Result{Format: s.format}
	for i, ca := range cas {
		alias := opts.Alias
		if i > 0 {
			alias = fmt.Sprintf("%s-%d", opts.Alias, i)
		}
		atAlias, trusted := s.find(alias, ca)
		switch {
		case atAlias != nil && atAlias.Equal(ca):
			res.Present = append(res.Present, alias)
			continue
		case atAlias == nil && trusted:
			res.Present = append(res.Present, "("+ca.Subject.String()+")")
			continue
		case atAlias != nil:
			res.Replaced = append(res.Replaced, alias)
		default:
			res.Added = append(res.Added, alias)
		}
		if err := s.set(alias, ca, opts.Now); err != nil {
			return Result{}, fmt.Errorf("truststore %s: setting %s: %w", opts.Path, alias, err)
		}
	}
	res.Removed = s.removeStale(opts.Alias, len(cas))
	if len(res.Added)+len(res.Replaced)+len(res.Removed) == 0 {
		return res, nil
	}
	out, err := s.encode(opts.Password)
	if err != nil {
		return Result{}, fmt.Errorf("truststore %s: encoding: %w", opts.Path, err)
	}
	_, err = safefile.Write(safefile.File{Path: opts.Path, Data: out, Perm: 0o644, KeepPerm: true})
	if err == nil {
		res.WrittenTo = opts.Path
		return res, nil
	}
	if opts.Fallback == "" || !safefile.DirRefuses(err) {
		return Result{}, fmt.Errorf("truststore %s: writing: %w", opts.Path, err)
	}
	if _, ferr := safefile.Write(safefile.File{Path: opts.Fallback, Data: out, Perm: 0o644}); ferr != nil {
		return Result{}, fmt.Errorf("truststore %s is not writable (%v) and the fallback %s failed: %w", opts.Path, err, opts.Fallback, ferr)
	}
	res.WrittenTo = opts.Fallback
	return res, nil
}
