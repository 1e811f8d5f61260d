package tlsprov

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/safefile"
)

// Files of a CA directory written by CreateCA and read by LoadCA.
const (
	CACertFile = "ca.crt" // the CA certificate, then any chain above it up to the root (PEM)
	CAKeyFile  = "ca.key" // the CA's private key (PKCS#8 PEM, mode 0600)
)

// ParseValidity parses a --validity value: a Go duration ("720h"), or a
// whole number of days ("90d") or 365-day years ("10y").
func ParseValidity(s, flag string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	var err error
	switch unit := s[len(s)-1]; unit {
	case 'd', 'y':
		var n int
		n, err = strconv.Atoi(s[:len(s)-1])
		d = time.Duration(n) * 24 * time.Hour
		if unit == 'y' {
			d *= 365
		}
		if n > 1000*365 {
			err = errors.New("too long")
		}
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration (examples: 720h, 90d, 10y)", flag, s)
	}
	return d, nil
}

// CAOptions describe the CA that CreateCA makes.
type CAOptions struct {
	// Dir receives CACertFile and CAKeyFile.
	Dir string
	// CommonName is the CA's subject CN.
	CommonName string
	// KeyType is the CA key's type.
	KeyType pki.KeyType
	// Validity is how long the CA is valid; 0 means ten years.
	Validity time.Duration
	// Force replaces an existing CA in Dir.
	Force bool
}

// CreateCA creates a self-signed root CA in opts.Dir. It refuses to replace
// an existing CA key unless opts.Force.
func CreateCA(opts CAOptions, log *slog.Logger) (*pki.Issuer, error) {
	keyPath, crtPath := filepath.Join(opts.Dir, CAKeyFile), filepath.Join(opts.Dir, CACertFile)
	if !opts.Force {
		for _, p := range []string{keyPath, crtPath} {
			if _, err := os.Stat(p); err == nil {
				return nil, exitcode.Wrap(ExitWrite, fmt.Errorf("%s already exists; pass --force to replace the CA", p))
			}
		}
	}
	ca, err := pki.NewCA(pki.CARequest{CommonName: opts.CommonName, KeyType: opts.KeyType, Validity: opts.Validity})
	if err != nil {
		return nil, exitcode.Wrap(ExitFailure, err)
	}
	key, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		return nil, exitcode.Wrap(ExitFailure, err)
	}
	_, err = write([]safefile.File{
		{Path: keyPath, Data: key, Perm: SecretPerm},
		{Path: crtPath, Data: pki.EncodeCertsPEM(ca.Cert), Perm: PublicPerm},
	}, log)
	if err != nil {
		return nil, err
	}
	log.Info("created CA", "dir", opts.Dir, "subject", ca.Cert.Subject.String(), "key", pki.DescribeKey(ca.Key),
		"not_after", ca.Cert.NotAfter.UTC().Format(time.RFC3339), "sha256", pki.Describe(ca.Cert).SHA256)
	return ca, nil
}

// LoadCA reads the CA in dir: CACertFile (the CA certificate first, then the
// chain above it) and CAKeyFile, which must match.
func LoadCA(dir string) (*pki.Issuer, error) {
	in := &Inputs{}
	crtSrc := Source{Kind: "file", Ref: filepath.Join(dir, CACertFile)}
	keySrc := Source{Kind: "file", Ref: filepath.Join(dir, CAKeyFile)}
	crtData, cerr := in.Read(crtSrc)
	keyData, kerr := in.Read(keySrc)
	if err := joinErrors(cerr, kerr); err != nil {
		return nil, exitcode.Wrap(ExitInput, fmt.Errorf("--ca-dir: %w", err))
	}
	certs, err := pki.ParseCertificates(crtData)
	if err != nil {
		return nil, exitcode.Wrap(ExitInput, fmt.Errorf("%s: %w", crtSrc, err))
	}
	key, err := pki.ParsePrivateKey(keyData)
	if err != nil {
		return nil, exitcode.Wrap(ExitInput, fmt.Errorf("%s: %w", keySrc, err))
	}
	if !pki.KeyMatches(key, certs[0]) {
		return nil, exitcode.Wrap(ExitInvalid, fmt.Errorf("%s does not match %s (%q): %w", keySrc, crtSrc, certs[0].Subject.String(), pki.ErrKeyMismatch))
	}
	if !certs[0].IsCA {
		return nil, exitcode.Wrap(ExitInvalid, fmt.Errorf("%s: %q is not a CA certificate", crtSrc, certs[0].Subject.String()))
	}
	return &pki.Issuer{Cert: certs[0], Key: key, Chain: certs[1:]}, nil
}

// SANs are parsed subject alternative names.
type SANs struct {
	DNS   []string   // DNS names, wildcards allowed
	IPs   []net.IP   // IP addresses
	Email []string   // email addresses
	URIs  []*url.URL // absolute URIs (SPIFFE IDs, for example)
}

// ParseSANs parses --san values: "dns:NAME", "ip:ADDR", "email:ADDR",
// "uri:URI", or a bare value (an IP address if it parses as one, else a DNS
// name).
func ParseSANs(values []string) (SANs, error) {
	var s SANs
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		kind, val, ok := strings.Cut(v, ":")
		if !ok || net.ParseIP(v) != nil {
			kind, val = "", v
		}
		switch strings.ToLower(kind) {
		case "dns":
			if !pki.ValidDNSName(val) {
				return s, fmt.Errorf("--san: %q is not a valid DNS name", v)
			}
			s.DNS = append(s.DNS, val)
		case "ip":
			ip := net.ParseIP(val)
			if ip == nil {
				return s, fmt.Errorf("--san: %q is not a valid IP address", v)
			}
			s.IPs = append(s.IPs, ip)
		case "email":
			if !strings.Contains(val, "@") {
				return s, fmt.Errorf("--san: %q is not an email address", v)
			}
			s.Email = append(s.Email, val)
		case "uri":
			u, err := url.Parse(val)
			if err != nil || u.Scheme == "" {
				return s, fmt.Errorf("--san: %q is not an absolute URI", v)
			}
			s.URIs = append(s.URIs, u)
		case "":
			if ip := net.ParseIP(val); ip != nil {
				s.IPs = append(s.IPs, ip)
			} else if pki.ValidDNSName(val) {
				s.DNS = append(s.DNS, val)
			} else {
				return s, fmt.Errorf("--san: %q is neither an IP address nor a DNS name", v)
			}
		default:
			return s, fmt.Errorf("--san: %q has unknown type %q (want dns:, ip:, email: or uri:)", v, kind)
		}
	}
	return s, nil
}

// IssueOptions describe the leaf that Issue makes.
type IssueOptions struct {
	// CADir holds the issuing CA (see LoadCA).
	CADir string
	// Name is the artifact NAME.
	Name string
	// CommonName is the leaf's subject CN.
	CommonName string
	// SANs are the subject alternative names; when empty, the CN is used.
	SANs SANs
	// KeyType is the leaf key's type.
	KeyType pki.KeyType
	// Validity is how long the leaf is valid; 0 means one year. It is cut
	// to the CA's validity.
	Validity time.Duration
	// Output says how the issued bundle becomes files.
	Output Options
}

// Issue issues a leaf certificate from the CA in opts.CADir and writes its
// artifacts as Materialize would.
func Issue(opts IssueOptions, log *slog.Logger) ([]string, error) {
	ca, err := LoadCA(opts.CADir)
	if err != nil {
		return nil, err
	}
	b, err := ca.Issue(pki.LeafRequest{
		CommonName:     opts.CommonName,
		DNSNames:       opts.SANs.DNS,
		IPAddresses:    opts.SANs.IPs,
		EmailAddresses: opts.SANs.Email,
		URIs:           opts.SANs.URIs,
		KeyType:        opts.KeyType,
		Validity:       opts.Validity,
	})
	if err != nil {
		return nil, exitcode.Wrap(ExitInvalid, err)
	}
	want := opts.Validity
	if want == 0 {
		want = pki.DefaultLeafValidity
	}
	if leaf := b.Leaf(); leaf.NotAfter.Before(time.Now().Add(want - time.Hour)) {
		log.Warn("leaf validity cut to the CA's", "name", opts.Name, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	// Re-check what was issued exactly as materialize checks its inputs.
	b, warnings, err := pki.Assemble(b.Key, b.Chain, b.Roots, opts.Output.Verify)
	if err != nil {
		return nil, exitcode.Wrap(ExitInvalid, err)
	}
	for _, w := range warnings {
		log.Warn(w, "name", opts.Name)
	}
	files, err := Artifacts(opts.Name, b, opts.Output)
	if err != nil {
		return nil, exitcode.Wrap(ExitFailure, err)
	}
	logBundle(log, opts.Name, b)
	paths, err := write(files, log)
	if err == nil {
		log.Info("issued", "name", opts.Name, "dir", opts.Output.Dir, "files", len(paths), "serial", pki.Describe(b.Leaf()).Serial)
	}
	return paths, err
}
