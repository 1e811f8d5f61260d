// Command tlsprov turns TLS secrets into the files servers load — PEM, a JKS
// keystore and truststore, PKCS#12 — and can create a CA and issue
// certificates. It is a thin wrapper around internal/tlsprov and internal/pki;
// see docs/tlsprov.md.
//
// Exit codes: 0 success, 1 unexpected failure, 2 usage, 3 input missing or
// malformed, 4 inputs invalid (key mismatch, untrusted chain, expired leaf),
// 5 writing failed (nothing left behind) or would overwrite a CA.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/buildinfo"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/logging"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/tlsprov"
)

// main runs tlsprov. It installs no signal handlers: every command is short
// and leaves nothing half-written when killed (internal/safefile renames
// complete files into place), so the default SIGTERM/SIGINT behaviour is right.
func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var logFormat = "text"
	app := newApp(stdin, stdout, stderr, &logFormat)
	err := app.RunContext(ctx, args)
	if err == nil {
		return tlsprov.ExitOK
	}
	code := exitcode.Code(err, tlsprov.ExitFailure)
	if logFormat == "json" {
		log, _ := logging.New(stderr, "json", false, "--log-format")
		log.Error(err.Error(), "exit_code", code)
	} else {
		fmt.Fprintf(stderr, "tlsprov: %s\n", err)
	}
	return code
}

func usageError(format string, a ...any) error {
	return exitcode.Wrap(tlsprov.ExitUsage, fmt.Errorf(format, a...))
}

func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	cmd := "tlsprov"
	if c.Command != nil && c.Command.Name != "" {
		cmd += " " + c.Command.Name
	}
	return usageError("%w (see '%s --help')", err, cmd)
}

func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"TLSPROV_LOG_FORMAT"}, Usage: "log `FORMAT` on stderr: text or json"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: []string{"TLSPROV_VERBOSE"}, Usage: "also log each file written"},
	}
}

func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dir", Aliases: []string{"d"}, EnvVars: []string{"TLSPROV_DIR"}, DefaultText: "$MESOS_SANDBOX, else the working directory",
			Usage: "write the artifacts into `DIR` (created if missing)"},
		&cli.StringFlag{Name: "formats", Value: tlsprov.DefaultFormats, EnvVars: []string{"TLSPROV_FORMATS"},
			Usage: "comma-separated artifact `FORMATS`: pem (NAME.key/.crt/.ca), jks (NAME.keystore/.truststore), pkcs12 (NAME.p12)"},
		&cli.StringFlag{Name: "keystore-password", Value: pki.DefaultStorePassword, EnvVars: []string{"TLSPROV_KEYSTORE_PASSWORD"},
			Usage: "`PASSWORD` of NAME.keystore, NAME.truststore and NAME.p12 (store and key)"},
		&cli.StringFlag{Name: "key-alias", Value: pki.DefaultKeyAlias, EnvVars: []string{"TLSPROV_KEY_ALIAS"}, Usage: "keystore `ALIAS` of the key entry"},
		&cli.StringFlag{Name: "ca-alias", Value: pki.DefaultCAAlias, EnvVars: []string{"TLSPROV_CA_ALIAS"},
			Usage: "truststore `ALIAS` of the first CA; further CAs get ALIAS-2, ALIAS-3, ..."},
		&cli.BoolFlag{Name: "pkcs12-legacy", EnvVars: []string{"TLSPROV_PKCS12_LEGACY"},
			Usage: "encrypt NAME.p12 with 3DES/SHA-1 for readers older than OpenSSL 1.1.1 or Java 12, instead of AES-256-CBC/PBKDF2/HMAC-SHA-256"},
		&cli.BoolFlag{Name: "allow-expired", EnvVars: []string{"TLSPROV_ALLOW_EXPIRED"}, Usage: "accept a leaf outside its validity period (with a warning)"},
	}
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, logFormat *string) *cli.App {
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintln(c.App.Writer, buildinfo.String("tlsprov")) }
	return &cli.App{
		Name:    "tlsprov",
		Usage:   "turn TLS secrets into PEM, JKS and PKCS#12 files; create CAs and issue certificates",
		Version: buildinfo.Version,
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
		Writer:          stdout,
		ErrWriter:       stderr,
		Reader:          stdin,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError:    onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageError("unknown command %q (want materialize, ca, issue or inspect; see 'tlsprov --help')", c.Args().First())
			}
			_ = cli.ShowAppHelp(c)
			return usageError("no command given")
		},
		Commands: []*cli.Command{
			materializeCommand(stdin, logFormat),
			caCommand(logFormat),
			issueCommand(logFormat),
			inspectCommand(logFormat),
		},
	}
}

func newLogger(c *cli.Context, logFormat *string) (*slog.Logger, error) {
	*logFormat = c.String("log-format")
	log, err := logging.New(c.App.ErrWriter, *logFormat, c.Bool("verbose"), "--log-format")
	if err != nil {
		*logFormat = "text"
		return nil, exitcode.Wrap(tlsprov.ExitUsage, err)
	}
	return log, nil
}

// startCommand sets up logging and refuses positional arguments, as every
// command but inspect starts.
func startCommand(c *cli.Context, logFormat *string) (*slog.Logger, error) {
	log, err := newLogger(c, logFormat)
	if err != nil {
		return nil, err
	}
	if err := noArgs(c); err != nil {
		return nil, err
	}
	return log, nil
}

func noArgs(c *cli.Context) error {
	if c.Args().Present() {
		return usageError("unexpected argument %q (flags must come before arguments; see 'tlsprov %s --help')", c.Args().First(), c.Command.Name)
	}
	return nil
}

// outputDir resolves --dir: the flag (or TLSPROV_DIR), else $MESOS_SANDBOX,
// else the working directory.
func outputDir(c *cli.Context) string {
	if d := c.String("dir"); d != "" {
		return d
	}
	if d := os.Getenv("MESOS_SANDBOX"); d != "" {
		return d
	}
	return "."
}

func outputOptions(c *cli.Context) (tlsprov.Options, error) {
	formats, err := tlsprov.ParseFormats(c.String("formats"))
	if err != nil {
		return tlsprov.Options{}, exitcode.Wrap(tlsprov.ExitUsage, err)
	}
	if c.String("keystore-password") == "" {
		return tlsprov.Options{}, usageError("--keystore-password: empty")
	}
	if strings.TrimSpace(c.String("key-alias")) == "" || strings.TrimSpace(c.String("ca-alias")) == "" {
		return tlsprov.Options{}, usageError("--key-alias and --ca-alias must not be empty")
	}
	dir, err := filepath.Abs(outputDir(c))
	if err != nil {
		return tlsprov.Options{}, exitcode.Wrap(tlsprov.ExitWrite, fmt.Errorf("--dir: %w", err))
	}
	return tlsprov.Options{
		Dir:           dir,
		Formats:       formats,
		StorePassword: c.String("keystore-password"),
		KeyAlias:      c.String("key-alias"),
		CAAlias:       c.String("ca-alias"),
		PKCS12Legacy:  c.Bool("pkcs12-legacy"),
		Verify:        pki.VerifyOptions{AllowExpired: c.Bool("allow-expired")},
	}, nil
}

func materializeCommand(stdin io.Reader, logFormat *string) *cli.Command {
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
TLS_<NAME>_CERT and TLS_<NAME>_CA (NAME upper-cased, other characters than A-Z and 0-9 as _).
Values may be PEM, base64-wrapped PEM or DER (also with the __dcos_base64__ prefix); keys
PKCS#1, PKCS#8 or SEC1, RSA, ECDSA or Ed25519, unencrypted.

Files (mode): NAME.key PKCS#8 PEM (0600), NAME.crt leaf+intermediates (0644), NAME.ca
root(s) (0644), NAME.keystore JKS alias "default" with the full chain (0600),
NAME.truststore JKS, every root, first alias "dcos-root" (0644), NAME.p12 (0600).

Examples:
   tlsprov materialize --name server
   tlsprov materialize --name web --key file:/run/secrets/web.key --cert file:web.crt --ca env:ROOT_CA
   cat bundle.pem | tlsprov materialize --name web --key - --cert - --ca - --formats pem,pkcs12
   tlsprov materialize --all --dir /etc/tls`,
		OnUsageError: onUsageError,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, EnvVars: []string{"TLSPROV_NAME"}, Usage: "artifact `NAME`: files NAME.key, NAME.crt, ... and default inputs TLS_<NAME>_*"},
			&cli.BoolFlag{Name: "all", EnvVars: []string{"TLSPROV_ALL"}, Usage: "materialize every NAME for which TLS_<NAME>_KEY is set (NAME lower-cased)"},
			&cli.StringFlag{Name: "key", EnvVars: []string{"TLSPROV_KEY"}, DefaultText: "env:TLS_<NAME>_KEY", Usage: "private key `SOURCE`: env:VAR, file:PATH or -"},
			&cli.StringFlag{Name: "cert", EnvVars: []string{"TLSPROV_CERT"}, DefaultText: "env:TLS_<NAME>_CERT", Usage: "leaf and intermediates `SOURCE`: env:VAR, file:PATH or -"},
			&cli.StringFlag{Name: "ca", EnvVars: []string{"TLSPROV_CA"}, DefaultText: "env:TLS_<NAME>_CA", Usage: "root CA(s) `SOURCE`: env:VAR, file:PATH or -"},
		}, outputFlags()...), commonFlags()...),
		Action: func(c *cli.Context) error {
			log, err := startCommand(c, logFormat)
			if err != nil {
				return err
			}
			opts, err := outputOptions(c)
			if err != nil {
				return err
			}
			reqs, err := materializeRequests(c)
			if err != nil {
				return err
			}
			start := time.Now()
			paths, err := tlsprov.Materialize(reqs, &tlsprov.Inputs{Stdin: stdin}, opts, log)
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

func materializeRequests(c *cli.Context) ([]tlsprov.Request, error) {
	name, all := c.String("name"), c.Bool("all")
	switch {
	case all && name != "":
		return nil, usageError("--all and --name exclude each other")
	case all:
		if c.IsSet("key") || c.IsSet("cert") || c.IsSet("ca") {
			return nil, usageError("--all reads TLS_<NAME>_KEY/CERT/CA; --key, --cert and --ca need --name")
		}
		names := tlsprov.AllNames(os.Environ())
		if len(names) == 0 {
			return nil, exitcode.Wrap(tlsprov.ExitInput, errors.New("--all: no TLS_<NAME>_KEY variable is set"))
		}
		reqs := make([]tlsprov.Request, len(names))
		for i, n := range names {
			if err := tlsprov.ValidateName(n); err != nil {
				return nil, exitcode.Wrap(tlsprov.ExitInput, fmt.Errorf("--all: %s: %w", tlsprov.EnvName(n, "KEY"), err))
			}
			reqs[i] = tlsprov.DefaultRequest(n)
		}
		return reqs, nil
	case name == "":
		return nil, usageError("--name is required (or --all; see 'tlsprov materialize --help')")
	}
	if err := tlsprov.ValidateName(name); err != nil {
		return nil, exitcode.Wrap(tlsprov.ExitUsage, err)
	}
	req := tlsprov.DefaultRequest(name)
	for _, f := range []struct {
		flag string
		dst  *tlsprov.Source
	}{{"key", &req.Key}, {"cert", &req.Cert}, {"ca", &req.CAs}} {
		if v := c.String(f.flag); v != "" {
			s, err := tlsprov.ParseSource(v, "--"+f.flag)
			if err != nil {
				return nil, exitcode.Wrap(tlsprov.ExitUsage, err)
			}
			*f.dst = s
		}
	}
	return []tlsprov.Request{req}, nil
}

// keyTypeAndValidity parses --key-type and --validity of ca and issue.
func keyTypeAndValidity(c *cli.Context) (pki.KeyType, time.Duration, error) {
	kt, err := pki.ParseKeyType(c.String("key-type"))
	if err != nil {
		return "", 0, usageError("--key-type: %w", err)
	}
	validity, err := tlsprov.ParseValidity(c.String("validity"), "--validity")
	if err != nil {
		return "", 0, exitcode.Wrap(tlsprov.ExitUsage, err)
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

func caCommand(logFormat *string) *cli.Command {
	return &cli.Command{
		Name:      "ca",
		Usage:     "create a self-signed root CA (DIR/ca.crt, DIR/ca.key)",
		UsageText: "tlsprov ca --dir DIR [--cn NAME] [--key-type TYPE] [--validity DURATION] [--force]",
		Description: `Creates a root CA: DIR/ca.key (PKCS#8 PEM, 0600) and DIR/ca.crt (PEM, 0644), with
basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign, digitalSignature (critical).
An existing CA is never replaced without --force.

Example:
   tlsprov ca --dir ./ca --cn "staging CA" --key-type ecdsa-p256 --validity 5y`,
		OnUsageError: onUsageError,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "dir", Aliases: []string{"d"}, EnvVars: []string{"TLSPROV_CA_DIR"}, Usage: "write the CA into `DIR` (required)"},
			&cli.StringFlag{Name: "cn", Value: "tlsprov CA", EnvVars: []string{"TLSPROV_CA_CN"}, Usage: "subject common `NAME` of the CA"},
			keyTypeFlag("TLSPROV_CA_KEY_TYPE"),
			&cli.StringFlag{Name: "validity", Value: "10y", EnvVars: []string{"TLSPROV_CA_VALIDITY"}, Usage: "how long the CA is valid: a Go `DURATION` (8760h), days (90d) or years (10y)"},
			&cli.BoolFlag{Name: "force", EnvVars: []string{"TLSPROV_FORCE"}, Usage: "replace an existing CA in DIR"},
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			log, err := startCommand(c, logFormat)
			if err != nil {
				return err
			}
			if c.String("dir") == "" {
				return usageError("--dir is required (see 'tlsprov ca --help')")
			}
			kt, validity, err := keyTypeAndValidity(c)
			if err != nil {
				return err
			}
			if strings.TrimSpace(c.String("cn")) == "" {
				return usageError("--cn: empty")
			}
			_, err = tlsprov.CreateCA(tlsprov.CAOptions{Dir: c.String("dir"), CommonName: c.String("cn"), KeyType: kt, Validity: validity, Force: c.Bool("force")}, log)
			return err
		},
	}
}

func issueCommand(logFormat *string) *cli.Command {
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
		OnUsageError: onUsageError,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "ca-dir", EnvVars: []string{"TLSPROV_CA_DIR"}, Usage: "`DIR` holding ca.crt and ca.key (required)"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, EnvVars: []string{"TLSPROV_NAME"}, Usage: "artifact `NAME` (required)"},
			&cli.StringFlag{Name: "cn", EnvVars: []string{"TLSPROV_CN"}, DefaultText: "NAME", Usage: "subject common `NAME` of the leaf"},
			&cli.StringSliceFlag{Name: "san", EnvVars: []string{"TLSPROV_SANS"}, Usage: "subject alternative `NAMES`, comma-separated or repeated: dns:NAME, ip:ADDR, email:ADDR, uri:URI"},
			keyTypeFlag("TLSPROV_KEY_TYPE"),
			&cli.StringFlag{Name: "validity", Value: "365d", EnvVars: []string{"TLSPROV_VALIDITY"}, Usage: "how long the leaf is valid: a Go `DURATION` (720h), days (90d) or years (1y)"},
		}, outputFlags()...), commonFlags()...),
		Action: func(c *cli.Context) error {
			log, err := startCommand(c, logFormat)
			if err != nil {
				return err
			}
			if c.String("ca-dir") == "" {
				return usageError("--ca-dir is required (see 'tlsprov issue --help')")
			}
			name := c.String("name")
			if name == "" {
				return usageError("--name is required (see 'tlsprov issue --help')")
			}
			if err := tlsprov.ValidateName(name); err != nil {
				return exitcode.Wrap(tlsprov.ExitUsage, err)
			}
			cn := c.String("cn")
			if cn == "" {
				cn = name
			}
			kt, validity, err := keyTypeAndValidity(c)
			if err != nil {
				return err
			}
			sans, err := tlsprov.ParseSANs(c.StringSlice("san"))
			if err != nil {
				return exitcode.Wrap(tlsprov.ExitUsage, err)
			}
			opts, err := outputOptions(c)
			if err != nil {
				return err
			}
			_, err = tlsprov.Issue(tlsprov.IssueOptions{CADir: c.String("ca-dir"), Name: name, CommonName: cn, SANs: sans, KeyType: kt, Validity: validity, Output: opts}, log)
			return err
		},
	}
}

func inspectCommand(logFormat *string) *cli.Command {
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
		OnUsageError: onUsageError,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "password", Value: pki.DefaultStorePassword, EnvVars: []string{"TLSPROV_KEYSTORE_PASSWORD"}, Usage: "`PASSWORD` of JKS and PKCS#12 files"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"TLSPROV_INSPECT_JSON"}, Usage: "print a JSON array instead of text"},
		}, commonFlags()...),
		Action: func(c *cli.Context) error {
			if _, err := newLogger(c, logFormat); err != nil {
				return err
			}
			files := c.Args().Slice()
			if len(files) == 0 {
				return usageError("no FILE given (see 'tlsprov inspect --help')")
			}
			for _, f := range files {
				if strings.HasPrefix(f, "-") {
					return usageError("%q: flags must come before the files", f)
				}
			}
			return tlsprov.Inspect(c.App.Writer, files, c.String("password"), c.Bool("json"), time.Now())
		},
	}
}
