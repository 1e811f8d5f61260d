package tlsprov

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/safefile"
	"github.com/taskkit/taskkit/internal/taskenv"
)

// Exit codes of the tlsprov binary. Every error this package returns carries
// one (see internal/exitcode).
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // an unexpected failure (a bug, or the system ran out of something)
	ExitUsage   = 2 // bad command line: unknown command or flag, bad flag value, missing --name
	ExitInput   = 3 // an input is missing, unreadable or malformed (variable, file, stdin)
	ExitInvalid = 4 // inputs parse but are not a valid bundle: key mismatch, untrusted chain, expired leaf
	ExitWrite   = 5 // writing the artifacts failed (nothing was left behind), or would overwrite a CA
)

// File permissions of the artifacts: files holding a private key are 0600.
const (
	SecretPerm = 0o600
	PublicPerm = 0o644
)

// Formats selects the artifact formats to write.
type Formats struct {
	PEM    bool // NAME.key, NAME.crt, NAME.ca
	JKS    bool // NAME.keystore, NAME.truststore
	PKCS12 bool // NAME.p12
}

// DefaultFormats is the --formats default.
const DefaultFormats = "pem,jks"

// ParseFormats parses a --formats value: a comma-separated subset of pem,
// jks and pkcs12 (alias p12). Errors do not name the flag: the caller knows
// whether the flag or TLSPROV_FORMATS gave s.
func ParseFormats(s string) (Formats, error) {
	var f Formats
	for _, part := range strings.Split(s, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "pem":
			f.PEM = true
		case "jks":
			f.JKS = true
		case "pkcs12", "p12":
			f.PKCS12 = true
		case "":
		default:
			return f, fmt.Errorf("unknown format %q (want a comma-separated list of pem, jks, pkcs12)", part)
		}
	}
	if f == (Formats{}) {
		return f, errors.New("no format given (want a comma-separated list of pem, jks, pkcs12)")
	}
	return f, nil
}

// Options say how a bundle becomes files.
type Options struct {
	// Dir is the destination directory.
	Dir string
	// Formats selects the files.
	Formats Formats
	// StorePassword protects NAME.keystore, NAME.truststore and NAME.p12
	// (store and key). It is never logged.
	StorePassword string
	// KeyAlias is the keystore's PrivateKeyEntry alias.
	KeyAlias string
	// CAAlias is the truststore alias of the first CA; further CAs get
	// CAAlias-2, CAAlias-3, ...
	CAAlias string
	// PKCS12Legacy writes NAME.p12 with 3DES/SHA-1 for old readers.
	PKCS12Legacy bool
	// Verify tunes validation.
	Verify pki.VerifyOptions
	// Now stamps the keystore entries; the zero value means time.Now().
	Now time.Time
}

func (o *Options) defaults() {
	if o.StorePassword == "" {
		o.StorePassword = pki.DefaultStorePassword
	}
	if o.KeyAlias == "" {
		o.KeyAlias = pki.DefaultKeyAlias
	}
	if o.CAAlias == "" {
		o.CAAlias = pki.DefaultCAAlias
	}
	if o.Formats == (Formats{}) {
		o.Formats = Formats{PEM: true, JKS: true}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
}

// ValidateName checks that name can be a file name prefix: letters, digits,
// ".", "_" and "-", not starting with "." or "-", at most 200 bytes. The
// error quotes the name; callers say where it came from.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	ok := len(name) <= 200 && name[0] != '.' && name[0] != '-'
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%q is not a valid name (letters, digits, '.', '_', '-'; not starting with '.' or '-'; at most 200 bytes)", name)
	}
	return nil
}

// Request is one NAME to materialize and where its inputs come from.
type Request struct {
	// Name is the artifact NAME (file prefix).
	Name string
	// Key, Cert and CAs are where the private key, the leaf with its
	// intermediates, and the root CA(s) come from.
	Key, Cert, CAs Source
}

// DefaultRequest returns the request for name reading TLS_<NAME>_KEY,
// TLS_<NAME>_CERT and TLS_<NAME>_CA.
func DefaultRequest(name string) Request {
	return Request{
		Name: name,
		Key:  Source{Kind: "env", Ref: taskenv.TLSVar(name, taskenv.TLSKey)},
		Cert: Source{Kind: "env", Ref: taskenv.TLSVar(name, taskenv.TLSCert)},
		CAs:  Source{Kind: "env", Ref: taskenv.TLSVar(name, taskenv.TLSCA)},
	}
}

// AllRequests returns, sorted by NAME, the request of every TLS_<NAME>_KEY
// variable in env (KEY=VALUE entries): NAME lower-cased (TLS_MY_NODE_KEY
// gives "my_node", TLS_web-1_KEY "web-1"), its inputs the very variables
// found, TLS_<NAME>_KEY and the _CERT and _CA of the same spelling
// (taskenv.TLSSecrets). It fails, naming the variables present, when a
// NAME cannot be a file name or two variables are one secret once mapped
// (TLS_A-B_KEY and TLS_A_B_KEY); the error carries ExitInput.
func AllRequests(env []string) ([]Request, error) {
	secrets, err := taskenv.TLSSecrets(env)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	reqs := make([]Request, 0, len(secrets))
	for _, s := range secrets {
		if err := ValidateName(s.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Key, err))
			continue
		}
		reqs = append(reqs, Request{
			Name: s.Name,
			Key:  Source{Kind: "env", Ref: s.Key},
			Cert: Source{Kind: "env", Ref: s.Cert},
			CAs:  Source{Kind: "env", Ref: s.CA},
		})
	}
	if len(errs) > 0 {
		return nil, exitcode.Wrap(ExitInput, errors.Join(errs...))
	}
	return reqs, nil
}

// Load reads and validates one request's inputs into a bundle. Errors name
// the inputs and carry ExitInput or ExitInvalid; warnings are for logging.
func Load(req Request, in *Inputs, v pki.VerifyOptions) (*pki.Bundle, []string, error) {
	// Read and parse each input on its own, so that every broken one is reported at once.
	var errs []error
	var key crypto.Signer
	if data, err := in.Read(req.Key); err != nil {
		errs = append(errs, err)
	} else if key, err = pki.ParsePrivateKey(data); err != nil {
		errs = append(errs, fmt.Errorf("%s: reading the private key: %w", req.Key, err))
	}
	var certs, cas []*x509.Certificate
	if data, err := in.Read(req.Cert); err != nil {
		errs = append(errs, err)
	} else if certs, err = pki.ParseCertificates(data); err != nil {
		errs = append(errs, fmt.Errorf("%s: reading the certificates: %w", req.Cert, err))
	}
	if data, err := in.Read(req.CAs); err != nil {
		errs = append(errs, err)
	} else if cas, err = pki.ParseCertificates(data); err != nil {
		errs = append(errs, fmt.Errorf("%s: reading the CA certificates: %w", req.CAs, err))
	}
	if err := joinErrors(errs...); err != nil {
		return nil, nil, exitcode.Wrap(ExitInput, err)
	}
	b, warnings, err := pki.Assemble(key, certs, cas, v)
	switch {
	case errors.Is(err, pki.ErrKeyMismatch):
		return nil, nil, exitcode.Wrap(ExitInvalid, fmt.Errorf("key %s and certificates %s: %w", req.Key, req.Cert, err))
	case errors.Is(err, pki.ErrUntrusted):
		return nil, nil, exitcode.Wrap(ExitInvalid, fmt.Errorf("certificates %s against CA %s: %w", req.Cert, req.CAs, err))
	case err != nil:
		return nil, nil, exitcode.Wrap(ExitInvalid, fmt.Errorf("certificates %s: %w", req.Cert, err))
	}
	return b, warnings, nil
}

// Artifacts renders b as the files of name in opts.Dir, in memory.
func Artifacts(name string, b *pki.Bundle, opts Options) ([]safefile.File, error) {
	opts.defaults()
	path := func(ext string) string { return filepath.Join(opts.Dir, name+ext) }
	var files []safefile.File
	add := func(ext string, data []byte, perm os.FileMode) {
		f := safefile.File{Path: path(ext), Data: data, Perm: perm, Mode: safefile.Auto}
		if perm == SecretPerm {
			// A private key stays in the directory: a symbolic link there
			// is written through only to a file inside it.
			f.Within = filepath.Clean(opts.Dir)
		}
		files = append(files, f)
	}
	if opts.Formats.PEM {
		key, err := pki.EncodeKeyPEM(b.Key)
		if err != nil {
			return nil, err
		}
		add(".key", key, SecretPerm)
		add(".crt", pki.EncodeCertsPEM(b.Chain...), PublicPerm)
		add(".ca", pki.EncodeCertsPEM(b.Roots...), PublicPerm)
	}
	pw := opts.StorePassword
	if opts.Formats.JKS {
		ks, err := pki.EncodeJKSKeystore(b.Key, b.FullChain(), opts.KeyAlias, pw, opts.Now)
		if err != nil {
			return nil, err
		}
		ts, err := pki.EncodeJKSTruststore(b.Roots, opts.CAAlias, pw, opts.Now)
		if err != nil {
			return nil, err
		}
		add(".keystore", ks, SecretPerm)
		add(".truststore", ts, PublicPerm)
	}
	if opts.Formats.PKCS12 {
		p12, err := pki.EncodePKCS12(b.Key, b.FullChain(), opts.KeyAlias, opts.StorePassword, opts.PKCS12Legacy)
		if err != nil {
			return nil, err
		}
		add(".p12", p12, SecretPerm)
	}
	return files, nil
}

// Materialize loads every request, and only when all are valid writes all
// their artifacts as one all-or-nothing set. It returns the paths written.
// Every failing request is reported, each naming its inputs.
func Materialize(reqs []Request, in *Inputs, opts Options, log *slog.Logger) ([]string, error) {
	opts.defaults()
	var files []safefile.File
	var errs []error
	code := 0
	for _, req := range reqs {
		b, warnings, err := Load(req, in, opts.Verify)
		for _, w := range warnings {
			log.Warn(w, "name", req.Name)
		}
		if err == nil {
			var fs []safefile.File
			fs, err = Artifacts(req.Name, b, opts)
			files = append(files, fs...)
			if err != nil {
				err = exitcode.Wrap(ExitFailure, err)
			} else {
				logBundle(log, req.Name, b)
			}
		}
		if err != nil {
			if code == 0 {
				code = exitcode.Code(err, ExitFailure)
			}
			errs = append(errs, fmt.Errorf("%s: %w", req.Name, err))
		}
	}
	if err := joinErrors(errs...); err != nil {
		return nil, exitcode.Wrap(code, err)
	}
	return write(files, log)
}

func write(files []safefile.File, log *slog.Logger) ([]string, error) {
	if _, err := safefile.WriteAll(files); err != nil {
		if me, ok := err.(*multierror.Error); ok {
			me.ErrorFormat = listFormat
		}
		return nil, exitcode.Wrap(ExitWrite, fmt.Errorf("writing artifacts (none written): %w", err))
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
		log.Debug("wrote", "path", f.Path, "mode", fmt.Sprintf("%04o", f.Perm))
	}
	return paths, nil
}

func logBundle(log *slog.Logger, name string, b *pki.Bundle) {
	leaf := b.Leaf()
	log.Info("validated", "name", name, "subject", leaf.Subject.String(), "key", pki.DescribeKey(b.Key),
		"chain", len(b.FullChain()), "roots", len(b.Roots), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}

// listFormat formats several errors one per line, without go-multierror's
// header, so that a single failure reads as a plain message.
func listFormat(es []error) string {
	if len(es) == 1 {
		return es[0].Error()
	}
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = "  - " + strings.ReplaceAll(e.Error(), "\n", "\n    ")
	}
	return fmt.Sprintf("%d errors:\n%s", len(es), strings.Join(lines, "\n"))
}

// joinErrors collects the non-nil errs into one go-multierror error formatted
// by listFormat; nil when there are none.
func joinErrors(errs ...error) error {
	var me *multierror.Error
	for _, e := range errs {
		if e != nil {
			me = multierror.Append(me, e)
		}
	}
	if me == nil {
		return nil
	}
	me.ErrorFormat = listFormat
	return me
}
