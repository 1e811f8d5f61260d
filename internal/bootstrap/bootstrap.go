// Package bootstrap is the bootstrap command: its flags (urfave/cli, each with
// a BOOTSTRAP_<FLAG> variable), its steps and its exit codes. The bootstrap
// binary is a thin main around Run; the demo under examples/ runs it in
// process.
//
// The steps, in order: print the environment with secrets masked; find the
// task IP and export it as LIBPROCESS_IP and MESOS_CONTAINER_IP; render every
// template in memory (internal/render), failing before any wait when one is
// broken; wait for names and URLs under one deadline (internal/dnswait);
// install the sandbox CA into the Java truststore (internal/truststore); write
// the rendered files atomically; exec the command given after "--".
package bootstrap

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/taskkit/taskkit/internal/cliapp"
	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/jks"
	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/render"
	"github.com/taskkit/taskkit/internal/safefile"
	"github.com/taskkit/taskkit/internal/supervise"
	"github.com/taskkit/taskkit/internal/taskenv"
	"github.com/taskkit/taskkit/internal/truststore"
)

// Exit codes, documented in --help and docs/bootstrap.md. An interrupt while
// waiting exits 128+N for signal N.
const (
	ExitOK         = 0 // success
	ExitInternal   = 1 // unexpected failure
	ExitUsage      = 2 // bad flag, variable or template declaration
	ExitTemplate   = 3 // a template could not be read, rendered or written
	ExitWait       = 4 // the wait deadline passed with targets pending
	ExitTruststore = 5 // the CA could not be added to the truststore
	ExitExec       = 6 // the command after "--" could not be executed
)

// config is everything the flags and environment decided.
type config struct {
	printEnv, insecure          bool
	redactKeys                  string
	resolve, selfResolve        bool
	resolveHosts                []string
	resolveHostsSet             bool
	resolveTimeout              time.Duration
	resolveMaxInterval          time.Duration
	resolveAttemptTimeout       time.Duration
	attemptTimeoutSource        string // the flag or variable that set it, for messages
	resolvers                   []string
	waits                       []dnswait.Target
	template, strict, diff, dry bool
	templateMaxBytes            int64
	configs                     []string
	writeMode                   safefile.Mode
	installCerts                bool
	caFile, truststorePath      string
	truststorePassword          string
	getTaskIP                   bool
	command                     []string
}

// env is the process environment as a lookup plus the list bootstrap passes
// on (templates and the exec'd command see LIBPROCESS_IP and
// MESOS_CONTAINER_IP once set).
type env struct{ list []string }

func (e *env) get(k string) string {
	for i := len(e.list) - 1; i >= 0; i-- {
		if key, v, _ := strings.Cut(e.list[i], "="); key == k {
			return v
		}
	}
	return ""
}

func (e *env) set(k, v string) {
	out := e.list[:0:0]
	for _, kv := range e.list {
		if key, _, _ := strings.Cut(kv, "="); key != k {
			out = append(out, kv)
		}
	}
	e.list = append(out, k+"="+v)
}

// Run runs bootstrap with args (args[0] is the program name) and the
// environment environ, and returns the exit code. It only returns on success
// when there is no command to exec. bootstrap reads nothing from stdin.
func Run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Everything after the first "--" is the command, never bootstrap's
	// flags, whatever it is called.
	args, command, dashes := cliapp.SplitCommand(args)
	sh := cliapp.New("bootstrap", args, environ, stdin, stdout, stderr)
	sh.UsageCode, sh.FailureCode, sh.FlagPrefix = ExitUsage, ExitInternal, "-"
	e := &env{list: append([]string(nil), environ...)}
	return sh.Run(ctx, newApp(sh, e, command, dashes))
}

// newApp is bootstrap's command line; command is what follows "--" (dashes:
// there was one).
func newApp(sh *cliapp.Shell, e *env, command []string, dashes bool) *cli.App {
	envVar := func(flag string) []string {
		return []string{"BOOTSTRAP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
	}
	return &cli.App{
		Name:      "bootstrap",
		Usage:     "prepare a task: print env, render templates, wait for DNS and URLs, install the CA, then exec the server",
		UsageText: "bootstrap [flags] [-- command args...]",
		Description: `A drop-in replacement for the DC/OS SDK bootstrap. Steps, in order:
  1. print the environment, sorted, secret values masked (-print-env, -insecure, -redact-keys)
  2. find the task IP (MESOS_CONTAINER_IP, LIBPROCESS_IP, first non-loopback address) and
     export it as LIBPROCESS_IP and MESOS_CONTAINER_IP (-get-task-ip prints it and exits)
  3. render every CONFIG_TEMPLATE_<NAME>=<src>,<dest> and -config <src>,<dest> in memory;
     any failure reports all and writes nothing (-template, -strict, -template-max-bytes)
  4. wait, in parallel under one deadline, for -resolve-hosts to resolve, the task's own
     name <TASK_NAME>.<FRAMEWORK_HOST> to resolve to the task IP, and every -wait URL
     (https:// trusts the system roots and the CA bundle of step 5)
  5. add the CA ($MESOS_SANDBOX/.ssl/ca-bundle.crt or ca.crt) to the Java truststore
  6. write the rendered files atomically, logging a diff with secrets masked
  7. exec the command after "--", if any, in bootstrap's place (same PID)

Every flag also reads BOOTSTRAP_<FLAG> (dashes as underscores), e.g.
BOOTSTRAP_RESOLVE_TIMEOUT=30s; a flag on the command line wins. Relative paths
resolve against $MESOS_SANDBOX.

Exit codes: 0 ok, 1 internal error, 2 usage/configuration error, 3 template error,
4 wait timed out, 5 truststore error, 6 command could not be executed,
128+N interrupted by signal N. See docs/bootstrap.md.`,
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "print-env", Value: true, EnvVars: envVar("print-env"), Usage: "print the environment (sorted, secret values masked) before starting"},
			&cli.BoolFlag{Name: "insecure", EnvVars: envVar("insecure"), Usage: "show secret values in the environment print and diffs"},
			&cli.StringFlag{Name: "redact-keys", EnvVars: envVar("redact-keys"), Usage: "regular expression of more `KEYS` whose values are secret, matched against the name as written (and its last dotted part), besides the default rule (by the name's words, whatever the separator: password, secret, token, credential, private/API/access keys, ...; docs/bootstrap.md, Secrets)"},
			&cli.BoolFlag{Name: "resolve", Value: true, EnvVars: envVar("resolve"), Usage: "wait until -resolve-hosts (and the task's own name) resolve"},
			&cli.StringFlag{Name: "resolve-hosts", EnvVars: envVar("resolve-hosts"), Usage: "comma-separated `HOSTS` to wait for (default <TASK_NAME>.<FRAMEWORK_HOST>)"},
			&cli.DurationFlag{Name: "resolve-timeout", Value: 5 * time.Minute, EnvVars: envVar("resolve-timeout"), Usage: "deadline `D` for all waits together; 0 waits forever"},
			&cli.DurationFlag{Name: "resolve-max-interval", Value: dnswait.DefaultBackoff.Max, EnvVars: envVar("resolve-max-interval"), Usage: "longest pause `D` between two polls of one target (polling starts at 50 ms); larger means fewer DNS queries, slower detection"},
			&cli.DurationFlag{Name: "resolve-attempt-timeout", Value: dnswait.DefaultAttemptTimeout, EnvVars: envVar("resolve-attempt-timeout"), Usage: "longest time `D` one attempt at one target may take (a name's lookup, a connection, an HTTP request with its whole body) before it is asked again; healthd's --timeout default"},
			&cli.StringFlag{Name: "resolvers", EnvVars: envVar("resolvers"), Usage: "comma-separated `ip[:port]` DNS servers to ask, in order; a server silent for 1s no longer holds up the next (default: nameservers of /etc/resolv.conf)"},
			&cli.BoolFlag{Name: "self-resolve", Value: true, EnvVars: envVar("self-resolve"), Usage: "require <TASK_NAME>.<FRAMEWORK_HOST> to resolve to addresses that include the task IP"},
			&cli.StringSliceFlag{Name: "wait", EnvVars: envVar("wait"), Usage: "also wait for `URL`: tcp://host:port, http(s)://..., file:///path, unix:///path (repeatable; whitespace separates several)"},
			&cli.BoolFlag{Name: "template", Value: true, EnvVars: envVar("template"), Usage: "render CONFIG_TEMPLATE_* and -config templates"},
			&cli.Int64Flag{Name: "template-max-bytes", Value: render.DefaultMaxBytes, EnvVars: envVar("template-max-bytes"), Usage: "largest template accepted, `N` bytes; 0 for no limit"},
			&cli.StringSliceFlag{Name: "config", EnvVars: envVar("config"), Usage: "render template `SRC,DEST` too (repeatable; newlines separate several)"},
			&cli.BoolFlag{Name: "strict", EnvVars: envVar("strict"), Usage: "fail when a template uses a variable that is not set, naming every one"},
			&cli.StringFlag{Name: "write-mode", Value: "auto", EnvVars: envVar("write-mode"), Usage: "how files are written, `MODE`: auto (rename, else in place), rename, inplace"},
			&cli.BoolFlag{Name: "diff", Value: true, EnvVars: envVar("diff"), Usage: "log a unified diff of each changed file, secret values masked"},
			&cli.BoolFlag{Name: "dry-run", EnvVars: envVar("dry-run"), Usage: "render, check and diff templates but write nothing, wait for nothing, install nothing"},
			&cli.BoolFlag{Name: "install-certs", Value: true, EnvVars: envVar("install-certs"), Usage: "add the sandbox CA to the Java truststore"},
			&cli.StringFlag{Name: "ca-file", EnvVars: envVar("ca-file"), Usage: "the task's CA bundle `FILE` (PEM): https:// waits trust it besides the system roots, and it is added to the Java truststore (default $MESOS_SANDBOX/.ssl/ca-bundle.crt, else .ssl/ca.crt, when present)"},
			&cli.StringFlag{Name: "truststore", EnvVars: envVar("truststore"), Usage: "Java truststore `FILE`, JKS or PKCS#12 (default $JAVA_HOME/lib/security/cacerts)"},
			&cli.StringFlag{Name: "truststore-password", Value: truststore.DefaultPassword, EnvVars: envVar("truststore-password"), Usage: "truststore `PASSWORD` (empty for a password-less PKCS#12 store; for JKS, characters up to U+00FF)"},
			&cli.BoolFlag{Name: "get-task-ip", EnvVars: envVar("get-task-ip"), Usage: "print the task IP and exit"},
			&cli.BoolFlag{Name: "verbose", EnvVars: envVar("verbose"), Usage: "debug logging"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: envVar("log-format"), Usage: "log `FORMAT` on stderr: text or json"},
		},
		Action: func(c *cli.Context) error {
			if err := cliapp.MaxArgs(c, 0, "put the command to exec after --"); err != nil {
				return err
			}
			if dashes && len(command) == 0 {
				return cliapp.UsageError(c, "no command after --")
			}
			log, err := sh.Logger(c)
			if err != nil {
				return err
			}
			var cfg config
			if err := parse(c, sh, &cfg); err != nil {
				return cliapp.BadValue(err)
			}
			cfg.command = command
			return bootstrap(c.Context, sh, &cfg, e, log)
		},
	}
}

// parse fills cfg from the flags; every error names its flag or variable.
func parse(c *cli.Context, sh *cliapp.Shell, cfg *config) error {
	*cfg = config{
		printEnv: c.Bool("print-env"), insecure: c.Bool("insecure"), redactKeys: c.String("redact-keys"),
		resolve: c.Bool("resolve"), selfResolve: c.Bool("self-resolve"),
		resolveTimeout: c.Duration("resolve-timeout"), resolveHostsSet: c.IsSet("resolve-hosts"),
		resolveMaxInterval: c.Duration("resolve-max-interval"), resolveAttemptTimeout: c.Duration("resolve-attempt-timeout"),
		template: c.Bool("template"), strict: c.Bool("strict"), diff: c.Bool("diff"), dry: c.Bool("dry-run"),
		templateMaxBytes: c.Int64("template-max-bytes"), installCerts: c.Bool("install-certs"),
		caFile: c.String("ca-file"), truststorePath: c.String("truststore"),
		truststorePassword: c.String("truststore-password"), getTaskIP: c.Bool("get-task-ip"),
	}
	if cfg.resolveTimeout < 0 {
		return fmt.Errorf("%s: must not be negative, got %s", sh.Source("resolve-timeout"), cfg.resolveTimeout)
	}
	if cfg.resolveMaxInterval < dnswait.DefaultBackoff.Initial {
		return fmt.Errorf("%s: must be at least %s, got %s", sh.Source("resolve-max-interval"), dnswait.DefaultBackoff.Initial, cfg.resolveMaxInterval)
	}
	cfg.attemptTimeoutSource = sh.Source("resolve-attempt-timeout")
	if cfg.resolveAttemptTimeout <= 0 {
		return fmt.Errorf("%s: must be positive, got %s", cfg.attemptTimeoutSource, cfg.resolveAttemptTimeout)
	}
	if cfg.templateMaxBytes < 0 {
		return fmt.Errorf("%s: must not be negative, got %d", sh.Source("template-max-bytes"), cfg.templateMaxBytes)
	}
	for _, h := range strings.Split(c.String("resolve-hosts"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.resolveHosts = append(cfg.resolveHosts, h)
		}
	}
	if s := c.String("resolvers"); s != "" {
		rs, err := dnswait.ParseResolvers(s)
		if err != nil {
			return fmt.Errorf("%s: %w", sh.Source("resolvers"), err)
		}
		cfg.resolvers = rs
	}
	for _, v := range c.StringSlice("wait") {
		for _, u := range strings.Fields(v) {
			t, err := dnswait.ParseTarget(u)
			if err != nil { // err names the target, its password masked
				return fmt.Errorf("%s: %w", sh.Source("wait"), err)
			}
			cfg.waits = append(cfg.waits, t)
		}
	}
	for _, v := range c.StringSlice("config") {
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				cfg.configs = append(cfg.configs, line)
			}
		}
	}
	m, err := safefile.ParseMode(c.String("write-mode"))
	if err != nil {
		return fmt.Errorf("%s: %w", sh.Source("write-mode"), err)
	}
	cfg.writeMode = m
	return nil
}

func bootstrap(ctx context.Context, sh *cliapp.Shell, cfg *config, e *env, log *slog.Logger) error {
	red, err := redact.New(cfg.redactKeys, sh.Source("redact-keys"))
	if err != nil {
		return cliapp.BadValue(err)
	}
	red.LearnEnv(e.list)
	// From here on the logger and the environment print mask with red;
	// -insecure shows everything.
	if cfg.insecure {
		sh.Secrets().Set(nil)
	} else {
		sh.Secrets().Set(red)
	}
	stdout, stderr := sh.Stdout, sh.Stderr

	// 2. Task IP, before anything prints or renders it.
	ip, from, ipErr := dnswait.TaskIP(dnswait.TaskIPSource{Getenv: e.get})
	if cfg.getTaskIP {
		if ipErr != nil {
			return exitcode.Wrap(ExitInternal, fmt.Errorf("finding the task IP: %w", ipErr))
		}
		fmt.Fprintln(stdout, ip)
		return nil
	}
	if ipErr == nil {
		e.set("LIBPROCESS_IP", ip.String())
		e.set("MESOS_CONTAINER_IP", ip.String())
	}

	// 1. The environment print.
	if cfg.printEnv {
		printEnv(log, stderr, e.list, red, cfg.insecure, sh.Secrets())
	}
	if ipErr != nil {
		log.Warn("no task IP found", "error", ipErr.Error())
	} else {
		log.Info("task IP", "ip", ip.String(), "from", from)
	}

	sandbox := e.get("MESOS_SANDBOX")
	if sandbox == "" {
		if sandbox, err = os.Getwd(); err != nil {
			return exitcode.Wrap(ExitInternal, fmt.Errorf("working directory: %w", err))
		}
	}

	// 3. Templates: render everything into memory and check that every
	// destination can be written (without writing it) before waiting, so a
	// broken template fails in milliseconds, not after a five-minute wait;
	// the files are written once, after the waits.
	var batch *render.Batch
	var templates []render.Template
	renderOpts := render.Options{
		MaxBytes: cfg.templateMaxBytes, Strict: cfg.strict, WriteMode: cfg.writeMode,
		Diff: cfg.diff, Redactor: red, DryRun: cfg.dry,
	}
	if cfg.insecure {
		renderOpts.Redactor = redact.Default() // learns no values: diffs show them (URL passwords stay masked)
	}
	if cfg.template {
		if templates, err = render.Collect(e.list, cfg.configs, sandbox); err != nil {
			return exitcode.Wrap(ExitUsage, err)
		}
	} else {
		log.Info("templates disabled (-template=false)")
	}
	// The command after "--" must exist (or be one of the templates) before
	// anything is written; when the templates fail too, both are told
	// (exit 3, the earlier step's).
	var cmdErr error
	if len(cfg.command) > 0 {
		cmdErr = checkCommand(cfg.command[0], templates)
	}
	if len(templates) > 0 {
		renderOpts.Env = e.list
		if batch, err = render.Prepare(templates, renderOpts); err != nil {
			if cmdErr != nil {
				err = fmt.Errorf("%w; %w", err, cmdErr)
			}
			return exitcode.Wrap(ExitTemplate, err)
		}
	}
	if cmdErr != nil {
		return exitcode.Wrap(ExitExec, cmdErr)
	}
	if cfg.dry {
		if batch != nil {
			logResults(log, stderr, batch.Plan(), true)
		}
		return nil
	}

	// 4. Waits. https targets trust the task's CA bundle besides the
	// system roots; a bad bundle fails here, before anything is written.
	var roots *x509.CertPool
	if hasHTTPS(cfg.waits) {
		if roots, err = waitRoots(sh, cfg, sandbox, log); err != nil {
			return exitcode.Wrap(ExitUsage, err)
		}
	}
	if err := wait(ctx, cfg, e, ip, ipErr, roots, log); err != nil {
		return err
	}

	// 5. CA.
	if cfg.installCerts {
		if err := installCA(sh, cfg, e, sandbox, log); err != nil {
			return exitcode.Wrap(ExitTruststore, err)
		}
	}

	// 6. Write the templates, once.
	if batch != nil {
		results, err := batch.Write()
		if err != nil {
			return exitcode.Wrap(ExitTemplate, err)
		}
		logResults(log, stderr, results, false)
	}
	log.Info("bootstrap complete")

	// 7. Exec.
	if len(cfg.command) > 0 {
		return execCommand(cfg.command, e.list, log)
	}
	return nil
}

// oneLine escapes what would break a value over several lines.
var oneLine = strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\r", "\\r")

// printEnv prints environ sorted. Unless insecure, values of secret keys are
// masked and learned secret values are masked inside other values too (a
// password embedded in a JDBC URL, say).
func printEnv(log *slog.Logger, w io.Writer, environ []string, red *redact.Redactor, insecure bool, secrets *redact.Shared) {
	var lines []string
	if insecure {
		lines = append(lines, environ...)
		sort.Strings(lines)
	} else {
		lines = red.Env(environ)
	}
	for i, l := range lines {
		// One line per variable: a multi-line value cannot fake more. The
		// value is masked again with every learned secret; the key was
		// judged by Env (as a parameter, PWD=/x would pass for ODBC's).
		k, v, _ := strings.Cut(l, "=")
		lines[i] = oneLine.Replace(k + "=" + secrets.String(v))
	}
	note := "secret values masked"
	if insecure {
		note = "secret values SHOWN (-insecure)"
	}
	if _, ok := log.Handler().(*slog.JSONHandler); ok {
		log.Info("environment", "note", note, "env", lines)
		return
	}
	fmt.Fprintf(w, "bootstrap environment (%d variables, %s):\n", len(lines), note)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

func logResults(log *slog.Logger, w io.Writer, results []render.Result, dry bool) {
	_, jsonLog := log.Handler().(*slog.JSONHandler)
	for _, r := range results {
		attrs := []any{"template", r.Origin, "source", r.Source, "dest", r.Dest, "changed", r.Changed, "created", r.Created}
		if !dry && r.Changed {
			attrs = append(attrs, "method", r.Method.String())
		}
		msg := "rendered template"
		if dry {
			msg = "rendered template (dry run, not written)"
		}
		if jsonLog && r.Diff != "" {
			attrs = append(attrs, "diff", r.Diff)
		}
		log.Info(msg, attrs...)
		if !jsonLog && r.Diff != "" {
			io.WriteString(w, r.Diff)
		}
		// What -strict would have refused, said so that a misspelt name
		// is not only an empty value in the file.
		if m := r.Misses; len(m.Variables) > 0 || len(m.Partials) > 0 {
			attrs := []any{"template", r.Origin}
			if len(m.Variables) > 0 {
				attrs = append(attrs, "variables", strings.Join(m.Variables, ","))
			}
			if len(m.Partials) > 0 {
				attrs = append(attrs, "partials", strings.Join(m.Partials, ","))
			}
			log.Warn("template prints what the environment lacks: rendered empty (-strict makes it an error)", attrs...)
		}
	}
}

func wait(ctx context.Context, cfg *config, e *env, ip netip.Addr, ipErr error, roots *x509.CertPool, log *slog.Logger) error {
	backoff := dnswait.DefaultBackoff
	backoff.Max = cfg.resolveMaxInterval
	wc := dnswait.Config{
		Timeout: cfg.resolveTimeout, Resolvers: cfg.resolvers, Targets: cfg.waits, Backoff: backoff,
		AttemptTimeout: cfg.resolveAttemptTimeout, AttemptTimeoutName: cfg.attemptTimeoutSource,
		RootCAs: roots,
	}
	if cfg.resolve {
		self := taskenv.SelfHost(e.get)
		wc.Hosts = cfg.resolveHosts
		switch {
		case self == "" && !cfg.resolveHostsSet:
			log.Info("TASK_NAME or FRAMEWORK_HOST unset and no -resolve-hosts: skipping name resolution")
		case self != "" && cfg.selfResolve:
			if ipErr != nil {
				return exitcode.Wrap(ExitUsage, fmt.Errorf("-self-resolve needs the task IP: %w", ipErr))
			}
			wc.SelfName, wc.SelfIP = self, ip
		case self != "" && !cfg.resolveHostsSet:
			wc.Hosts = []string{self}
		}
	} else {
		log.Info("name resolution disabled (-resolve=false)")
	}
	if len(wc.Hosts) == 0 && wc.SelfName == "" && len(wc.Targets) == 0 {
		return nil
	}

	// A signal while waiting ends bootstrap with 128+N; before and after the
	// wait, signals keep their default effect.
	wctx, stop := cliapp.SignalContext(ctx, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	err := dnswait.Wait(wctx, wc, log)
	sig := cliapp.Interrupted(wctx)
	switch {
	case err == nil:
		return nil
	case sig != nil:
		return exitcode.Wrap(sig.ExitCode(), fmt.Errorf("%s while waiting: %w", sig, err))
	case errors.Is(err, dnswait.ErrTimeout):
		return exitcode.Wrap(ExitWait, err)
	case errors.Is(err, dnswait.ErrCanceled):
		return exitcode.Wrap(ExitWait, err)
	}
	return exitcode.Wrap(ExitUsage, err)
}

// caFile returns the task's CA bundle: -ca-file (relative to the sandbox),
// else the sandbox's .ssl/ca-bundle.crt, else .ssl/ca.crt; "" with why when
// there is none. source names where it came from, for errors.
func caFile(sh *cliapp.Shell, cfg *config, sandbox string) (path, source, none string) {
	if cfg.caFile != "" {
		if filepath.IsAbs(cfg.caFile) {
			return cfg.caFile, sh.Source("ca-file"), ""
		}
		return filepath.Join(sandbox, cfg.caFile), sh.Source("ca-file"), ""
	}
	sslDir := filepath.Join(sandbox, ".ssl")
	if _, err := os.Stat(sslDir); err != nil {
		return "", "", "no .ssl directory in the sandbox"
	}
	for _, name := range []string{"ca-bundle.crt", "ca.crt"} {
		if p := filepath.Join(sslDir, name); fileExists(p) {
			return p, "the sandbox's CA bundle (the default of " + sh.Source("ca-file") + ")", ""
		}
	}
	return "", "", "no ca-bundle.crt or ca.crt in the sandbox's .ssl"
}

func hasHTTPS(targets []dnswait.Target) bool {
	for _, t := range targets {
		if t.Kind == dnswait.KindHTTPS {
			return true
		}
	}
	return false
}

// waitRoots returns what https waits trust: the system roots plus the
// task's CA bundle (see caFile), or nil (the system roots alone) when there
// is no bundle. A bundle that cannot be read or holds no certificate is an
// error naming the setting and the file.
func waitRoots(sh *cliapp.Shell, cfg *config, sandbox string, log *slog.Logger) (*x509.CertPool, error) {
	path, source, none := caFile(sh, cfg, sandbox)
	if path == "" {
		log.Info("https waits trust the system roots only", "why", none)
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: CA bundle for https waits: %w", source, err)
	}
	cas, err := truststore.ParseCerts(data, path)
	if err != nil {
		return nil, fmt.Errorf("%s: CA bundle for https waits: %w", source, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		log.Warn("no system roots: https waits trust the task's CA bundle only", "error", err.Error())
		pool = x509.NewCertPool()
	}
	for _, c := range cas {
		pool.AddCert(c)
	}
	log.Info("https waits trust the system roots and the task's CA bundle", "ca", path, "certificates", len(cas))
	return pool, nil
}

func installCA(sh *cliapp.Shell, cfg *config, e *env, sandbox string, log *slog.Logger) error {
	caFile, _, none := caFile(sh, cfg, sandbox)
	if caFile == "" {
		log.Info(none+": skipping CA install", "dir", filepath.Join(sandbox, ".ssl"))
		return nil
	}
	store := cfg.truststorePath
	if store == "" {
		jh := e.get("JAVA_HOME")
		if jh == "" {
			log.Info("JAVA_HOME unset and no -truststore: skipping CA install")
			return nil
		}
		store = filepath.Join(jh, "lib", "security", "cacerts")
		if _, err := os.Stat(store); err != nil {
			if alt := filepath.Join(jh, "jre", "lib", "security", "cacerts"); fileExists(alt) { // JDK 8 layout
				store = alt
			}
		}
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("%s: %w", sh.Source("ca-file"), err)
	}
	cas, err := truststore.ParseCerts(data, caFile)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := truststore.Install(cas, truststore.Options{
		Path: store, Password: cfg.truststorePassword,
		Fallback: filepath.Join(sandbox, ".ssl", "cacerts"),
	})
	if errors.Is(err, jks.ErrPassword) {
		return fmt.Errorf("%s: %w", sh.Source("truststore-password"), err)
	}
	if err != nil {
		return err
	}
	attrs := []any{"truststore", store, "format", string(res.Format), "ca", caFile, "took", time.Since(start).Round(time.Microsecond).String()}
	switch {
	case !res.Changed():
		log.Info("CA already in the truststore", append(attrs, "present", res.Present)...)
	case res.WrittenTo != store:
		log.Warn("truststore not writable: wrote an updated copy; start Java with the option shown",
			append(attrs, "copy", res.WrittenTo, "java_option", "-Djavax.net.ssl.trustStore="+res.WrittenTo, "added", res.Added, "replaced", res.Replaced, "removed", res.Removed)...)
	default:
		log.Info("CA installed", append(attrs, "added", res.Added, "replaced", res.Replaced, "removed", res.Removed)...)
	}
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// checkCommand fails unless name can be executed once the templates are
// written: found by exec.LookPath, or the destination of one of them.
func checkCommand(name string, templates []render.Template) error {
	_, err := exec.LookPath(name)
	if err == nil {
		return nil
	}
	if abs, aerr := filepath.Abs(name); aerr == nil && strings.Contains(name, "/") {
		for _, t := range templates {
			if filepath.Clean(t.Dest) == abs {
				return nil // rendered before the exec
			}
		}
	}
	return fmt.Errorf("command %q: %w", name, err)
}

func execCommand(argv, environ []string, log *slog.Logger) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return exitcode.Wrap(ExitExec, fmt.Errorf("command %q: %w", argv[0], err))
	}
	log.Info("exec", "command", path, "args", len(argv)-1)
	err = syscall.Exec(path, argv, environ)
	return exitcode.Wrap(ExitExec, fmt.Errorf("exec %s: %w", path, supervise.ExplainExecError(path, err)))
}
