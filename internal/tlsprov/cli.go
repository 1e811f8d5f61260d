package tlsprov

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/jks"
	"github.com/taskkit/taskkit/internal/pki"
)

// Run is the tlsprov command: it runs the command line args (args[0] is the
// program name) with the environment environ and returns the exit code (the
// Exit* constants). It installs no signal handlers: every command is short
// and leaves nothing half-written when killed (internal/safefile renames
// complete files into place), so the default SIGTERM/SIGINT behaviour is
// right. Standard input is read only for a "-" source.
func Run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sh := cliapp.New("tlsprov", args, environ, stdin, stdout, stderr)
	sh.UsageCode, sh.FailureCode = ExitUsage, ExitFailure
	return sh.Run(ctx, newApp(sh))
}

// usageError is a wrong or missing setting: a usage error (exit code
// ExitUsage), printed with the command's usage line.
func usageError(format string, a ...any) error {
	return cliapp.BadValue(fmt.Errorf(format, a...))
}

// commonFlags are the logging flags of every command; verbose says what
// --verbose adds to the command's logs.
func commonFlags(verbose string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"TLSPROV_LOG_FORMAT"}, Usage: "log `FORMAT` on stderr: text or json"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: []string{"TLSPROV_VERBOSE"}, Usage: verbose},
	}
}

// verboseWrites is --verbose of the commands that write files.
const verboseWrites = "also log each file written"

func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dir", Aliases: []string{"d"}, EnvVars: []string{"TLSPROV_DIR"}, DefaultText: "$MESOS_SANDBOX, else the working directory",
			Usage: "write the artifacts into `DIR` (created if missing)"},
		&cli.StringFlag{Name: "formats", Value: DefaultFormats, EnvVars: []string{"TLSPROV_FORMATS"},
			Usage: "comma-separated artifact `FORMATS`: pem (NAME.key/.crt/.ca), jks (NAME.keystore/.truststore), pkcs12 (NAME.p12)"},
		&cli.StringFlag{Name: "keystore-password", Value: pki.DefaultStorePassword, EnvVars: []string{"TLSPROV_KEYSTORE_PASSWORD"},
			Usage: "`PASSWORD` of NAME.keystore, NAME.truststore and NAME.p12 (store and key); in JKS files characters up to U+00FF (ASCII and Latin-1), hashed as Java does"},
		&cli.StringFlag{Name: "key-alias", Value: pki.DefaultKeyAlias, EnvVars: []string{"TLSPROV_KEY_ALIAS"}, Usage: "`ALIAS` of the key entry in NAME.keystore and NAME.p12 (its friendlyName), lower-cased as Java stores it"},
		&cli.StringFlag{Name: "ca-alias", Value: pki.DefaultCAAlias, EnvVars: []string{"TLSPROV_CA_ALIAS"},
			Usage: "truststore `ALIAS` of the first CA; further CAs get ALIAS-2, ALIAS-3, ..."},
		&cli.BoolFlag{Name: "pkcs12-legacy", EnvVars: []string{"TLSPROV_PKCS12_LEGACY"},
			Usage: "encrypt NAME.p12 with 3DES/SHA-1 for readers older than OpenSSL 1.1.1 or Java 12, instead of AES-256-CBC/PBKDF2/HMAC-SHA-256"},
		&cli.BoolFlag{Name: "allow-expired", EnvVars: []string{"TLSPROV_ALLOW_EXPIRED"}, Usage: "accept a leaf outside its validity period (with a warning)"},
	}
}

func newApp(sh *cliapp.Shell) *cli.App {
	return &cli.App{
		Name:      "tlsprov",
		Usage:     "turn TLS secrets into PEM, JKS and PKCS#12 files; create CAs and issue certificates",
		UsageText: "tlsprov materialize|ca|issue|inspect [flags]",
		Description: `tlsprov writes the DC/OS SDK's TLS artifact set from a key, a certificate chain and
a root CA handed to a task as secrets, after checking that they fit together:

   tlsprov materialize --name server        # reads TLS_SERVER_KEY, TLS_SERVER_CERT, TLS_SERVER_CA

It can also create a CA and issue certificates from it:

   tlsprov ca --dir ./ca --cn "my CA"
   tlsprov issue --ca-dir ./ca --name server --cn server --san dns:server.example,ip:10.0.0.5

Exit codes: 0 success, 1 unexpected failure, 2 usage, 3 input missing or malformed,
4 inputs invalid (key mismatch, untrusted chain, expired leaf), 5 writing failed
(nothing is left behind) or would overwrite a CA.

See docs/tlsprov.md for every flag, file and compatibility note.`,
		Commands: []*cli.Command{
			materializeCommand(sh),
			caCommand(sh),
			issueCommand(sh),
			inspectCommand(sh),
		},
	}
}

// startCommand sets up logging and refuses positional arguments, as every
// command but inspect starts.
func startCommand(sh *cliapp.Shell, c *cli.Context) (*slog.Logger, error) {
	log, err := sh.Logger(c)
	if err != nil {
		return nil, err
	}
	if err := cliapp.NoArgs(c); err != nil {
		return nil, err
	}
	return log, nil
}

// outputDir resolves --dir: the flag (or TLSPROV_DIR), else $MESOS_SANDBOX,
// else the working directory.
func outputDir(sh *cliapp.Shell, c *cli.Context) string {
	if d := c.String("dir"); d != "" {
		return d
	}
	if d := sh.Getenv("MESOS_SANDBOX"); d != "" {
		return d
	}
	return "."
}

func outputOptions(sh *cliapp.Shell, c *cli.Context) (Options, error) {
	formats, err := ParseFormats(c.String("formats"))
	if err != nil {
		return Options{}, cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("formats"), err))
	}
	if c.String("keystore-password") == "" {
		return Options{}, usageError("%s: empty", sh.Source("keystore-password"))
	}
	if formats.JKS {
		if _, err := jks.Password(c.String("keystore-password")); err != nil {
			return Options{}, usageError("%s: %v", sh.Source("keystore-password"), err)
		}
	}
	if strings.TrimSpace(c.String("key-alias")) == "" {
		return Options{}, usageError("%s: empty", sh.Source("key-alias"))
	}
	if strings.TrimSpace(c.String("ca-alias")) == "" {
		return Options{}, usageError("%s: empty", sh.Source("ca-alias"))
	}
	dir, err := filepath.Abs(outputDir(sh, c))
	if err != nil {
		return Options{}, exitcode.Wrap(ExitWrite, fmt.Errorf("%s: %w", sh.Source("dir"), err))
	}
	return Options{
		Dir:           dir,
		Formats:       formats,
		StorePassword: c.String("keystore-password"),
		KeyAlias:      c.String("key-alias"),
		CAAlias:       c.String("ca-alias"),
		PKCS12Legacy:  c.Bool("pkcs12-legacy"),
		Verify:        pki.VerifyOptions{AllowExpired: c.Bool("allow-expired")},
	}, nil
}

func materializeCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:      "materialize",
		Usage:     "write NAME.key/.crt/.ca/.keystore/.truststore (and NAME.p12) from secrets",
		UsageText: "tlsprov materialize --name NAME [--dir DIR] [--key SRC] [--cert SRC] [--ca SRC] [options]\ntlsprov materialize --all [--dir DIR] [options]",
		Description: `Reads a private key, the leaf certificate with its intermediates (any order) and the
root CA(s), checks that the key matches the leaf, that the chain verifies up to a given
root and that the leaf is within its validity period (a warning within 30 days of expiry),
then writes every artifact of every NAME at once — or, on any failure, none.

Each of --key, --cert and --ca takes env:VAR, file:PATH or - (standard input, read once
and shared, so one combined PEM can feed all three). By default they read TLS_<NAME>_KEY,
TLS_<NAME>_CERT and TLS_<NAME>_CA (NAME upper-cased, other characters than A-Z and 0-9 as _);
--all reads each NAME it finds from the variables it found it by (TLS_web-1_KEY, _CERT, _CA:
files web-1.*); TLS_<NAME>_NAME, when set, names the files (TLS_WEB_1_NAME=web-1: web-1.*),
as scheduler-lite sets it for an entry whose name is not NAME lower-cased; set but empty, or
without its TLS_<NAME>_KEY, it is an error.
Values may be PEM, base64-wrapped PEM or DER (also with the __dcos_base64__ prefix); keys
PKCS#1, PKCS#8 or SEC1, RSA, ECDSA or Ed25519, unencrypted.

Files (mode): NAME.key PKCS#8 PEM (0600), NAME.crt leaf+intermediates (0644), NAME.ca
root(s) (0644), NAME.keystore JKS alias "default" with the full chain (0600),
NAME.truststore JKS, every root, first alias "dcos-root" (0644), NAME.p12 the key
and full chain under the same alias as NAME.keystore (0600).

Examples:
   tlsprov materialize --name server
   tlsprov materialize --name web --key file:/run/secrets/web.key --cert file:web.crt --ca env:ROOT_CA
   cat bundle.pem | tlsprov materialize --name web --key - --cert - --ca - --formats pem,pkcs12
   tlsprov materialize --all --dir /etc/tls`,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, EnvVars: []string{"TLSPROV_NAME"}, Usage: "artifact `NAME`: files NAME.key, NAME.crt, ... and default inputs TLS_<NAME>_*"},
			&cli.BoolFlag{Name: "all", EnvVars: []string{"TLSPROV_ALL"}, Usage: "materialize every NAME for which TLS_<NAME>_KEY is set, reading that variable and the _CERT and _CA spelled alike (files: NAME lower-cased); two variables that are one secret once upper-cased with . and - as _ (TLS_A-B_KEY, TLS_A_B_KEY) are an error"},
			&cli.StringFlag{Name: "key", EnvVars: []string{"TLSPROV_KEY"}, DefaultText: "env:TLS_<NAME>_KEY", Usage: "private key `SOURCE`: env:VAR, file:PATH or -"},
			&cli.StringFlag{Name: "cert", EnvVars: []string{"TLSPROV_CERT"}, DefaultText: "env:TLS_<NAME>_CERT", Usage: "leaf and intermediates `SOURCE`: env:VAR, file:PATH or -"},
			&cli.StringFlag{Name: "ca", EnvVars: []string{"TLSPROV_CA"}, DefaultText: "env:TLS_<NAME>_CA", Usage: "root CA(s) `SOURCE`: env:VAR, file:PATH or -"},
		}, outputFlags()...), commonFlags(verboseWrites)...),
		Action: func(c *cli.Context) error {
			log, err := startCommand(sh, c)
			if err != nil {
				return err
			}
			opts, err := outputOptions(sh, c)
			if err != nil {
				return err
			}
			reqs, err := materializeRequests(sh, c)
			if err != nil {
				return err
			}
			start := time.Now()
			paths, err := Materialize(reqs, &Inputs{Stdin: sh.Stdin, LookupEnv: sh.LookupEnv}, opts, log)
			if errors.Is(err, ErrMissing) && !c.Bool("all") {
				// What to do: the inputs need not be the default variables.
				return fmt.Errorf("%w (set them, or name other inputs with --key, --cert and --ca: env:VAR, file:PATH or -)", err)
			}
			if err != nil {
				return err
			}
			names := make([]string, len(reqs))
			for i, r := range reqs {
				names[i] = r.Name
			}
			log.Info("materialized", "names", strings.Join(names, ","), "dir", opts.Dir, "files", len(paths), "took", time.Since(start).Round(time.Microsecond))
			return nil
		},
	}
}

func materializeRequests(sh *cliapp.Shell, c *cli.Context) ([]Request, error) {
	name, all := c.String("name"), c.Bool("all")
	switch {
	case all && name != "":
		return nil, usageError("--all and --name exclude each other")
	case all:
		if c.IsSet("key") || c.IsSet("cert") || c.IsSet("ca") {
			return nil, usageError("--all reads TLS_<NAME>_KEY/CERT/CA; --key, --cert and --ca need --name")
		}
		reqs, err := AllRequests(sh.Environ)
		switch {
		case err != nil:
			return nil, fmt.Errorf("--all: %w", err)
		case len(reqs) == 0:
			return nil, exitcode.Wrap(ExitInput, errors.New("--all: no TLS_<NAME>_KEY variable is set"))
		}
		return reqs, nil
	case name == "":
		return nil, cliapp.UsageError(c, "--name is required (or --all)")
	}
	if err := ValidateName(name); err != nil {
		return nil, cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("name"), err))
	}
	req := DefaultRequest(name)
	for _, f := range []struct {
		flag string
		dst  *Source
	}{{"key", &req.Key}, {"cert", &req.Cert}, {"ca", &req.CAs}} {
		if v := c.String(f.flag); v != "" {
			s, err := ParseSource(v, sh.Source(f.flag))
			if err != nil {
				return nil, cliapp.BadValue(err)
			}
			*f.dst = s
		}
	}
	return []Request{req}, nil
}

// keyTypeAndValidity parses --key-type and --validity of ca and issue.
func keyTypeAndValidity(sh *cliapp.Shell, c *cli.Context) (pki.KeyType, time.Duration, error) {
	kt, err := pki.ParseKeyType(c.String("key-type"))
	if err != nil {
		return "", 0, usageError("%s: %w", sh.Source("key-type"), err)
	}
	validity, err := ParseValidity(c.String("validity"), sh.Source("validity"))
	if err != nil {
		return "", 0, cliapp.BadValue(err)
	}
	return kt, validity, nil
}

func keyTypeFlag(envVar string) *cli.StringFlag {
	names := make([]string, len(pki.KeyTypes))
	for i, k := range pki.KeyTypes {
		names[i] = string(k)
	}
	return &cli.StringFlag{Name: "key-type", Value: string(pki.DefaultKeyType), EnvVars: []string{envVar},
		Usage: "`TYPE` of the new key: " + strings.Join(names, ", ")}
}

func caCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:      "ca",
		Usage:     "create a self-signed root CA (DIR/ca.crt, DIR/ca.key)",
		UsageText: "tlsprov ca --dir DIR [--cn NAME] [--key-type TYPE] [--validity DURATION] [--force]",
		Description: `Creates a root CA: DIR/ca.key (PKCS#8 PEM, 0600) and DIR/ca.crt (PEM, 0644), with
basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign, digitalSignature (critical).
An existing CA is never replaced without --force.

Example:
   tlsprov ca --dir ./ca --cn "staging CA" --key-type ecdsa-p256 --validity 5y`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "dir", Aliases: []string{"d"}, EnvVars: []string{"TLSPROV_CA_DIR"}, Usage: "write the CA into `DIR` (required)"},
			&cli.StringFlag{Name: "cn", Value: "tlsprov CA", EnvVars: []string{"TLSPROV_CA_CN"}, Usage: "subject common `NAME` of the CA"},
			keyTypeFlag("TLSPROV_CA_KEY_TYPE"),
			&cli.StringFlag{Name: "validity", Value: "10y", EnvVars: []string{"TLSPROV_CA_VALIDITY"}, Usage: "how long the CA is valid: a Go `DURATION` (8760h), days (90d) or years (10y)"},
			&cli.BoolFlag{Name: "force", EnvVars: []string{"TLSPROV_FORCE"}, Usage: "replace an existing CA in DIR"},
		}, commonFlags(verboseWrites)...),
		Action: func(c *cli.Context) error {
			log, err := startCommand(sh, c)
			if err != nil {
				return err
			}
			if c.String("dir") == "" {
				return cliapp.UsageError(c, "--dir is required")
			}
			kt, validity, err := keyTypeAndValidity(sh, c)
			if err != nil {
				return err
			}
			if strings.TrimSpace(c.String("cn")) == "" {
				return usageError("%s: empty", sh.Source("cn"))
			}
			_, err = CreateCA(CAOptions{Dir: c.String("dir"), CommonName: c.String("cn"), KeyType: kt, Validity: validity, Force: c.Bool("force")}, log)
			return err
		},
	}
}

func issueCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:      "issue",
		Usage:     "issue a leaf certificate from a CA directory and write its artifacts",
		UsageText: "tlsprov issue --ca-dir DIR --name NAME --cn CN [--san dns:NAME,ip:ADDR,...] [--key-type TYPE] [--validity DURATION] [options]",
		Description: `Generates a key, issues a certificate from the CA in --ca-dir (ca.crt, ca.key, as
'tlsprov ca' writes them) and writes the same artifacts as materialize. The certificate
has keyUsage digitalSignature (+ keyEncipherment for RSA), extKeyUsage serverAuth and
clientAuth, subject CN as given and the SANs given; without --san the CN becomes the one
DNS (or IP) SAN. The validity is cut to the CA's.

Example:
   tlsprov issue --ca-dir ./ca --name server --cn server \
       --san dns:server.example,dns:localhost,ip:127.0.0.1 --key-type ecdsa-p256 --formats pem,jks,pkcs12`,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "ca-dir", EnvVars: []string{"TLSPROV_CA_DIR"}, Usage: "`DIR` holding ca.crt and ca.key (required)"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, EnvVars: []string{"TLSPROV_NAME"}, Usage: "artifact `NAME` (required)"},
			&cli.StringFlag{Name: "cn", EnvVars: []string{"TLSPROV_CN"}, DefaultText: "NAME", Usage: "subject common `NAME` of the leaf"},
			&cli.StringSliceFlag{Name: "san", EnvVars: []string{"TLSPROV_SANS"}, Usage: "subject alternative `NAMES`, comma-separated or repeated: dns:NAME, ip:ADDR, email:ADDR, uri:URI"},
			keyTypeFlag("TLSPROV_KEY_TYPE"),
			&cli.StringFlag{Name: "validity", Value: "365d", EnvVars: []string{"TLSPROV_VALIDITY"}, Usage: "how long the leaf is valid: a Go `DURATION` (720h), days (90d) or years (1y)"},
		}, outputFlags()...), commonFlags(verboseWrites)...),
		Action: func(c *cli.Context) error {
			log, err := startCommand(sh, c)
			if err != nil {
				return err
			}
			if c.String("ca-dir") == "" {
				return cliapp.UsageError(c, "--ca-dir is required")
			}
			name := c.String("name")
			if name == "" {
				return cliapp.UsageError(c, "--name is required")
			}
			if err := ValidateName(name); err != nil {
				return cliapp.BadValue(fmt.Errorf("%s: %w", sh.Source("name"), err))
			}
			cn := c.String("cn")
			if cn == "" {
				cn = name
			}
			kt, validity, err := keyTypeAndValidity(sh, c)
			if err != nil {
				return err
			}
			sans, err := ParseSANs(c.StringSlice("san"))
			if err != nil {
				return cliapp.BadValue(err)
			}
			opts, err := outputOptions(sh, c)
			if err != nil {
				return err
			}
			_, err = Issue(IssueOptions{CADir: c.String("ca-dir"), Name: name, CommonName: cn, SANs: sans, KeyType: kt, Validity: validity, Output: opts}, log)
			return err
		},
	}
}

func inspectCommand(sh *cliapp.Shell) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "describe what PEM, JKS and PKCS#12 files hold (never key material)",
		UsageText: "tlsprov inspect [--password PASSWORD] [--json] FILE...",
		Description: `Prints, for each FILE, its format and entries: aliases, entry kinds, subjects, issuers,
SANs, validity, key types, fingerprints and whether each key matches its certificate
(a lone PEM key is matched against the other files' certificates). Key material is never
printed. Unreadable files are reported and make the exit code 3.

Example:
   tlsprov inspect server.key server.crt server.ca server.keystore server.truststore`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "password", Value: pki.DefaultStorePassword, EnvVars: []string{"TLSPROV_KEYSTORE_PASSWORD"}, Usage: "`PASSWORD` of JKS and PKCS#12 files"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"TLSPROV_INSPECT_JSON"}, Usage: "print a JSON array instead of text"},
		}, commonFlags("no effect: inspect writes no file, prints its result on stdout and logs only its failure")...),
		Action: func(c *cli.Context) error {
			if _, err := sh.Logger(c); err != nil {
				return err
			}
			files := c.Args().Slice()
			if len(files) == 0 {
				return cliapp.UsageError(c, "no FILE given")
			}
			for _, f := range files {
				if strings.HasPrefix(f, "-") {
					return cliapp.UsageError(c, "%q: flags must come before the files", f)
				}
			}
			return Inspect(c.App.Writer, files, c.String("password"), c.Bool("json"), time.Now())
		},
	}
}
