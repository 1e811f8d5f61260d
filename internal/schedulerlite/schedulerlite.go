// Package schedulerlite is the scheduler-lite binary's shell: it wires the
// artifacts (found, never built), the embedded testenv for --master local,
// the state store, the ServiceSpec, the service scheduler
// (internal/sdk/service) and its HTTP API (internal/api), and runs the
// uninstall (internal/sdk/uninstall). The scheduler-lite command and the
// hello-world example are thin wrappers around Start and Run.
//
// Environment variables (each also a flag; see Run):
//
//	MESOS_MASTER                       --master (default "local")
//	SCHEDULER_LITE_LOCAL_AGENTS        --local-agents (default 3)
//	SCHEDULER_LITE_LOCAL_PORTS         --local-ports (default 1024-65535)
//	SCHEDULER_LITE_LOCAL_DISK_MOUNTS   --local-disk-mount MB (repeatable)
//	SCHEDULER_LITE_LOCAL_RESERVED      --local-reserved 'cpus(ROLE):N;...'
//	SCHEDULER_LITE_LOCAL_ATTRIBUTES    --local-attribute NAME=VALUE (repeatable)
//	FRAMEWORK_NAME                     --framework-name (default the spec's name)
//	FRAMEWORK_ROLE                     --role (default <name>-role)
//	FRAMEWORK_USER                     --user
//	FRAMEWORK_PRINCIPAL                --principal
//	SCHEDULER_LITE_SECRET_FILE         --secret-file
//	SCHEDULER_LITE_FAILOVER_TIMEOUT    --failover-timeout (default 336h)
//	SCHEDULER_LITE_WEBUI_URL           --webui-url (default the API URL)
//	SCHEDULER_LITE_CHECKPOINT          --checkpoint (default true)
//	SCHEDULER_LITE_API_LISTEN          --api-listen (default :$PORT_API, :$PORT0, 127.0.0.1:0)
//	SCHEDULER_LITE_API_HOSTNAME        --api-hostname (how tasks reach the API)
//	SCHEDULER_LITE_STATE               --state (default file:$MESOS_SANDBOX/state.db; or zk://host:port[,host:port][/path])
//	SCHEDULER_LITE_ZK_SESSION_TIMEOUT  --zk-session-timeout (default 5s)
//	SCHEDULER_LITE_AGENT_LOST_TIMEOUT  --agent-lost-timeout (default 0: never replace)
//	SCHEDULER_LITE_BACKOFF_INITIAL     --backoff-initial (default 1s)
//	SCHEDULER_LITE_BACKOFF_MAX         --backoff-max (default 30s)
//	SCHEDULER_LITE_API_TOKEN_FILE      --api-token-file
//	SCHEDULER_LITE_EXECUTOR            --executor default|taskkit
//	SCHEDULER_LITE_ARTIFACTS_DIR       --artifacts-dir
//	SCHEDULER_LITE_SECRETS_DIR         --secrets-dir
//	SCHEDULER_LITE_CA_CERT, _CA_KEY    --ca-cert, --ca-key
//	SCHEDULER_LITE_TLS_KEY_TYPE        --tls-key-type (default ecdsa-p256; rsa-2048 as the SDK)
//	SCHEDULER_LITE_STRICT              --strict
//	SCHEDULER_LITE_EXIT_AFTER_DEPLOY   --exit-after-deploy
//	SCHEDULER_LITE_DEPLOY_TIMEOUT      --deploy-timeout
//	SCHEDULER_LITE_LOG_FORMAT          --log-format
//	SDK_UNINSTALL=true                 set by Cosmos for `dcos package uninstall`: uninstall the
//	                                   service instead of deploying it (see sdkuninstall.go)
package schedulerlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskkit/taskkit/internal/api"
	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/pki"
	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/podinfo"
	"github.com/taskkit/taskkit/internal/sdk/service"
	"github.com/taskkit/taskkit/internal/spec"
	"github.com/taskkit/taskkit/internal/store"
	"github.com/taskkit/taskkit/internal/taskenv"
	"github.com/taskkit/taskkit/internal/testenv"
)

// Toolkit are the binaries served as artifacts; every pod fetches all but
// the executor.
var Toolkit = taskenv.Artifacts

// Options configures Start.
type Options struct {
	// SpecPath is the svc.yml.
	SpecPath string
	// Strict fails on variables svc.yml prints that Env lacks.
	Strict bool
	// Env is the scheduler's environment (render context, TASKCFG_*).
	Env []string
	// Master is a master URL or "local"; LocalAgents the local cluster's
	// size (0: 3; testenv takes 1..250).
	Master      string
	LocalAgents int
	// LocalPorts is each local agent's port resource ("a-b,c-d"); default
	// testenv.DefaultPorts, every unprivileged port.
	LocalPorts string
	// LocalDiskMounts are the sizes (MB) of each local agent's MOUNT disks;
	// LocalReserved its statically reserved resources (Mesos' --resources
	// text, each with a role); LocalAttributes its text attributes. See
	// testenv.Config's DiskMounts, Reserved and Attributes.
	LocalDiskMounts []float64
	LocalReserved   string
	LocalAttributes map[string]string
	// LocalWorkDir holds the local cluster's sandboxes (default temporary).
	LocalWorkDir string
	// Framework registration (see service.Config).
	FrameworkName, Role, User, Principal, Secret string
	FailoverTimeout                              time.Duration
	WebUIURL                                     string
	Checkpoint                                   bool
	Executor                                     string
	// APIListen is the API's address; APIHostname how tasks reach it.
	APIListen, APIHostname string
	// State is the store ("file:PATH"); empty means a temporary store in
	// local mode, else file:$MESOS_SANDBOX/state.db, or, against a testenv
	// whose env file is loaded, a file in its work dir
	// (TESTENV_SANDBOX_ROOT), else ./scheduler-lite-state/<name>/state.db.
	State string
	// ArtifactsDir holds the toolkit binaries; empty means next to the
	// running binary. scheduler-lite never builds them
	// (`go run ./examples/hello-world` does, and make build).
	ArtifactsDir string
	// SecretsDir holds pod secrets.
	SecretsDir string
	// CACert and CAKey are PEM files of the CA to issue TLS from.
	CACert, CAKey string
	// TLSKeyType is the TLS leaf key type (default pki.ECDSAP256).
	TLSKeyType pki.KeyType
	// ZKSessionTimeout is the ZooKeeper session timeout with a zk:// State
	// (default 5 s): how long a dead leader blocks its standby.
	ZKSessionTimeout time.Duration
	// AgentLostTimeout and Backoff: see service.Config.
	AgentLostTimeout time.Duration
	Backoff          plan.Backoff
	// APIToken, when set, is the bearer token every mutating API call
	// (POST, PUT, DELETE) must carry.
	APIToken string
	// Logger receives logs.
	Logger *slog.Logger
	// Source names a flag in Start's errors: cliapp.Shell.Source (the flag,
	// or the variable that set it); nil writes --flag.
	Source func(flag string) string
}

// Instance is a running scheduler-lite.
type Instance struct {
	// APIURL is the API's base URL.
	APIURL string
	// Sched is the scheduler.
	Sched *service.Scheduler
	// Cluster is the local testenv, nil with a real master.
	Cluster *testenv.Cluster
	// ArtifactsDir is where the served binaries are.
	ArtifactsDir string
	// LeaderSince is when this instance won the election of a shared
	// (ZooKeeper) store; zero otherwise.
	LeaderSince time.Time

	done    chan struct{}
	err     error
	cleanup []func()
}

// Wait blocks until the instance has stopped (its context ended, or the
// scheduler failed) and everything it started is gone.
func (in *Instance) Wait() error {
	<-in.done
	return in.err
}

// Done is closed when the instance has stopped.
func (in *Instance) Done() <-chan struct{} { return in.done }

// Start brings scheduler-lite up and returns once the API listens and the
// scheduler is running; it stops when ctx ends.
func Start(ctx context.Context, o Options) (_ *Instance, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Instance{done: make(chan struct{})}
	defer func() {
		if err != nil {
			in.runCleanup()
		}
	}()
	getenv := getenvOf(o.Env)
	local := o.Master == "" || o.Master == "local"
	source := o.Source
	if source == nil {
		source = func(flag string) string { return "--" + flag }
	}

	// The CA, read before anything is started.
	var ca *pki.Issuer
	if o.CACert != "" || o.CAKey != "" {
		c, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, usage(fmt.Errorf("%s: %w", source("ca-cert"), err))
		}
		k, err := os.ReadFile(o.CAKey)
		if err != nil {
			return nil, usage(fmt.Errorf("%s: %w", source("ca-key"), err))
		}
		if ca, err = podinfo.IssuerFromPEM(c, k); err != nil {
			return nil, usage(fmt.Errorf("%s/%s: %w", source("ca-cert"), source("ca-key"), err))
		}
	}

	// Artifacts.
	artifacts, err := findArtifacts(o.ArtifactsDir, source)
	if err != nil {
		return nil, err
	}
	in.ArtifactsDir = artifacts

	// API listener first: its address goes into the render context.
	listen := apiListen(o.APIListen, getenv)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, usage(fmt.Errorf("%s %s: %w", source("api-listen"), listen, err))
	}
	in.cleanup = append(in.cleanup, func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	host := o.APIHostname
	if host == "" {
		h, _, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
			h = "127.0.0.1"
			if !local {
				if hn, err := os.Hostname(); err == nil {
					h = hn
				}
			}
		}
		host = h
	}
	in.APIURL = "http://" + net.JoinHostPort(host, strconv.Itoa(port))

	// The spec, rendered from the environment plus ARTIFACTS_URL.
	artifactsURL := in.APIURL + strings.TrimSuffix(taskenv.ArtifactBinPath, "/")
	env, identity := specEnv(artifactsURL, o.Env)
	loaded, err := spec.Load(o.SpecPath, spec.Options{Env: env, IdentityEnv: identity, Strict: o.Strict})
	if err != nil {
		return nil, usage(err)
	}
	for _, m := range loaded.Missing {
		log.Warn("svc.yml prints a variable the environment lacks; rendered empty", "variable", m)
	}
	for _, w := range loaded.Warnings {
		log.Warn("svc.yml: "+w.Msg, "field", w.Path, "line", w.Line)
	}

	// Local cluster.
	var taskEnv []string
	master := o.Master
	if local {
		agents := o.LocalAgents
		if agents == 0 {
			agents = 3
		}
		cctx, cancel := context.WithCancel(context.Background())
		cl, err := testenv.Start(cctx, testenv.Config{
			Agents: agents, Ports: o.LocalPorts, WorkDir: o.LocalWorkDir, ExecutorPath: filepath.Join(artifacts, "executor"),
			DiskMounts: o.LocalDiskMounts, Reserved: o.LocalReserved, Attributes: o.LocalAttributes,
			Logger: log.With("component", "testenv"),
		})
		if errors.Is(err, testenv.ErrConfig) {
			cancel()
			return nil, usage(fmt.Errorf("the local cluster: %w", err))
		}
		if err != nil {
			cancel()
			return nil, fmt.Errorf("starting the local cluster: %w", err)
		}
		in.cleanup = append(in.cleanup, func() { cancel(); cl.Wait() })
		in.Cluster = cl
		master = cl.MasterURL()
		if d := cl.DNSAddr(); d != "" {
			taskEnv = append(taskEnv, taskenv.EnvBootstrapResolvers+"="+d)
		}
	}
	// A separately started testenv (its env file loaded): tasks resolve
	// through its DNS, as with --master local, unless TASKCFG_ALL_ names
	// other resolvers. DC/OS sets no TESTENV_ variable: nothing changes there.
	schedEnv := o.Env
	if !local {
		if d := testenvResolvers(master, getenv); d != "" {
			log.Info("the master is a testenv: tasks resolve through its DNS", "dns", d)
			schedEnv = append([]string{taskenv.TaskCfgAllPrefix + taskenv.EnvBootstrapResolvers + "=" + d}, o.Env...)
		} else if d := getenv(testenv.EnvDNSAddr); d != "" && getenv(taskenv.TaskCfgAllPrefix+taskenv.EnvBootstrapResolvers) == "" {
			log.Warn("TESTENV_DNS_ADDR is set but the master is not that testenv's (TESTENV_MASTER_ADDR): tasks use their agents' resolvers", "dns", d, "master", master)
		} else if d == "" && getenv(taskenv.TaskCfgAllPrefix+taskenv.EnvBootstrapResolvers) == "" && masterIsTestenv(ctx, master) {
			// A `testenv up` whose env file was not loaded: its tasks
			// would wait 5 minutes for names only its DNS knows.
			log.Warn("the master is a testenv whose DNS this scheduler does not know (TESTENV_DNS_ADDR unset): "+
				"tasks' bootstrap asks this host's resolvers for their own names and waits its -resolve-timeout (5m); "+
				"load the testenv's env file first (set -a; . WORK_DIR/testenv.env; set +a), or set TASKCFG_ALL_BOOTSTRAP_RESOLVERS", "master", master)
		}
	}

	// State store.
	state := o.State
	if state == "" {
		switch {
		case local:
			tmp, err := os.MkdirTemp("", "scheduler-lite-state-")
			if err != nil {
				return nil, err
			}
			in.cleanup = append(in.cleanup, func() { os.RemoveAll(tmp) })
			state = "file:" + filepath.Join(tmp, "state.db")
		case getenv("MESOS_SANDBOX") != "":
			state = "file:" + filepath.Join(getenv("MESOS_SANDBOX"), "state.db")
		case testenvWorkDir(master, getenv) != "":
			// The state of a service on a `testenv up` goes with that
			// cluster: a ./scheduler-lite-state kept from an earlier one
			// names agents a new cluster never has, and the deploy
			// waits for them for good.
			state = "file:" + filepath.Join(testenvWorkDir(master, getenv), "scheduler-lite-state", loaded.Spec.Name, "state.db")
		default:
			state = "file:" + filepath.Join("scheduler-lite-state", loaded.Spec.Name, "state.db")
		}
	}
	st, err := store.Open(state, store.Options{Service: loaded.Spec.Name, SessionTimeout: o.ZKSessionTimeout, Logger: log.With("component", "store")})
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", source("state"), err))
	}
	in.cleanup = append(in.cleanup, func() { st.Close() })
	// With a shared store, only the elected instance goes on; a standby
	// waits here (until ctx ends) and takes over when the leader dies.
	var lost <-chan struct{}
	if l, ok := st.(store.Leader); ok {
		if lost, err = l.Lead(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", source("state"), err)
		}
		in.LeaderSince = time.Now()
	}

	webui := o.WebUIURL
	if webui == "" {
		webui = in.APIURL + "/"
	}
	var arts []string
	digests := map[string]string{}
	for _, a := range Toolkit {
		if d, err := fileDigest(filepath.Join(artifacts, a)); err == nil {
			arts = append(arts, a)
			digests[a] = d
		} else {
			log.Warn("artifact missing; tasks will not have it", "artifact", a, "dir", artifacts)
		}
	}
	// The service's own files: a missing one is a task that fails to
	// fetch it (404) and crash-loops, so say so once, up front.
	svcArts := serviceArtifacts(loaded.Spec, artifactsURL)
	for _, a := range missingArtifacts(artifacts, svcArts) {
		log.Warn("artifact missing; svc.yml fetches it from ARTIFACTS_URL, so its tasks will fail to fetch it (404) until it is there",
			"artifact", a, "dir", artifacts)
	}
	sched, err := service.New(service.Config{
		Loaded: loaded, Store: st, MasterURL: master,
		FrameworkName: o.FrameworkName, Role: o.Role, User: o.User, Principal: o.Principal, Secret: o.Secret,
		FailoverTimeout: o.FailoverTimeout, WebUIURL: webui, Checkpoint: o.Checkpoint, Executor: o.Executor,
		APIHostname: host, APIPort: port, Artifacts: arts, ArtifactDigests: digests, SecretsDir: o.SecretsDir, CA: ca, TLSKeyType: o.TLSKeyType,
		Env: schedEnv, TaskEnv: taskEnv, Logger: log,
		AgentLostTimeout: o.AgentLostTimeout, Backoff: o.Backoff,
	})
	if errors.Is(err, service.ErrInvalidConfig) {
		return nil, usage(err)
	}
	if err != nil {
		return nil, err
	}
	in.Sched = sched
	handler := (&api.Server{Sched: sched, ArtifactsDir: artifacts, ServiceArtifacts: svcArts, Files: st, Logger: log}).Handler()
	if o.APIToken != "" {
		handler = api.RequireToken(o.APIToken, handler)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // owned by the instance: ends at srv.Shutdown below
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server", "err", err)
		}
	}()
	runErr := make(chan error, 1)
	sctx, cancel := context.WithCancel(ctx)
	go func() { // owned by the instance: ends when sctx ends
		defer wg.Done()
		runErr <- sched.Run(sctx)
	}()
	log.Info("scheduler-lite started", "api", in.APIURL, "master", master, "framework", sched.FrameworkName(), "state", state, "artifacts", artifacts)
	go func() { // the instance's supervisor: stops everything and closes done
		var err error
		select {
		case <-ctx.Done():
		case err = <-runErr:
		case <-lost: // nil (never ready) without a Leader store
			err = store.ErrLeadershipLost
		}
		if err != nil {
			log.Error("scheduler-lite stopping", "reason", err.Error())
		} else {
			log.Info("scheduler-lite stopping", "reason", context.Cause(ctx).Error())
		}
		cancel()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		c2()
		wg.Wait()
		in.runCleanup()
		in.err = err
		close(in.done)
	}()
	return in, nil
}

// usage marks err as the user's mistake (bad flag or svc.yml): exit 2.
func usage(err error) error { return exitcode.Wrap(ExitUsage, err) }

func (in *Instance) runCleanup() {
	for i := len(in.cleanup) - 1; i >= 0; i-- {
		in.cleanup[i]()
	}
	in.cleanup = nil
}

// findArtifacts returns the directory holding the toolkit binaries: the
// given one, else the running binary's directory when it holds them all.
// Nothing is built at run time.
func findArtifacts(given string, source func(string) string) (string, error) {
	if given != "" {
		if st, err := os.Stat(given); err != nil || !st.IsDir() {
			return "", usage(fmt.Errorf("%s %s: not a directory", source("artifacts-dir"), given))
		}
		return given, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the artifacts next to scheduler-lite: %w", err)
	}
	d := filepath.Dir(exe)
	var missing []string
	for _, a := range Toolkit {
		if _, err := os.Stat(filepath.Join(d, a)); err != nil {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return "", usage(fmt.Errorf("%s: not given, and %s missing next to %s; build them with make build (into bin/, with the example's hello-world.tar.gz) and give their directory, or run go run ./examples/hello-world", source("artifacts-dir"), strings.Join(missing, ", "), exe))
	}
	return d, nil
}

// PrintEndpoints writes the API URL and the local cluster's endpoints as KEY=VALUE lines.
func (in *Instance) PrintEndpoints(w io.Writer) {
	fmt.Fprintf(w, "SCHEDULER_API=%s\n", in.APIURL)
	if in.Cluster != nil {
		fmt.Fprintf(w, "MESOS_MASTER=%s\nTESTENV_DNS_ADDR=%s\nTESTENV_SANDBOX_ROOT=%s\n", in.Cluster.MasterURL(), in.Cluster.DNSAddr(), in.Cluster.WorkDir())
	}
}

// fileDigest returns the first 16 bytes of the SHA-256 of a file, hex.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// apiListen is --api-listen, else :$PORT_API, else :$PORT0 (Marathon's
// ports), else 127.0.0.1:0.
func apiListen(flag string, getenv func(string) string) string {
	switch {
	case flag != "":
		return flag
	case getenv("PORT_API") != "":
		return ":" + getenv("PORT_API")
	case getenv("PORT0") != "":
		return ":" + getenv("PORT0")
	}
	return "127.0.0.1:0"
}

// serviceArtifacts returns the names the spec's pods fetch from base, the
// artifacts URL (ARTIFACTS_URL): the service's own files kept next to the
// toolkit binaries, which the API serves too.
func serviceArtifacts(s *spec.ServiceSpec, base string) []string {
	var out []string
	for _, p := range s.Pods.Values {
		for _, u := range p.URIs {
			name, ok := strings.CutPrefix(u, base+"/")
			if ok && name != "" && !strings.ContainsAny(name, "/?#") && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// missingArtifacts returns those of names that are no regular file in dir.
func missingArtifacts(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || !st.Mode().IsRegular() {
			out = append(out, n)
		}
	}
	return out
}

// artifactsURLVar is the variable svc.yml prints for the URL of the
// scheduler's own artifacts (its /v1/artifacts/bin), which scheduler-lite
// sets unless the environment does.
const artifactsURLVar = "ARTIFACTS_URL"

// specEnv is the environment svc.yml is rendered from: env, and
// ARTIFACTS_URL=artifactsURL unless env sets it. identity then puts a
// placeholder in its place for the configuration's ID
// (spec.Options.IdentityEnv): the scheduler's address changes whenever it
// starts on another port or host (--api-listen's default port 0,
// Marathon's PORT_API, a failover to another agent), its service's
// configuration does not, and a new ID would relaunch every pod whose
// tasks fetch from ARTIFACTS_URL.
func specEnv(artifactsURL string, env []string) (render, identity []string) {
	render = append([]string{artifactsURLVar + "=" + artifactsURL}, env...)
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, artifactsURLVar+"=") }) {
		identity = []string{artifactsURLVar + "=$" + artifactsURLVar}
	}
	return render, identity
}

// getenvOf returns os.Getenv's equivalent over env (KEY=VALUE entries):
// the value of the last entry of the key, "" when there is none.
func getenvOf(env []string) func(string) string {
	return func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if kk, v, ok := strings.Cut(env[i], "="); ok && kk == k {
				return v
			}
		}
		return ""
	}
}

// masterIsTestenv reports whether the master at URL master answers GET
// /version as a testenv does (a "testenv" field beside Mesos' "version"),
// asking for at most 2 s; false for a Mesos master, or no answer.
func masterIsTestenv(ctx context.Context, master string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(master, "/")+"/version", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var v struct {
		Testenv string `json:"testenv"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v) != nil {
		return false
	}
	return v.Testenv != ""
}

// testenvWorkDir is the work dir of the testenv master is, from its env
// file's lines in the environment (TESTENV_SANDBOX_ROOT, an existing
// directory, and TESTENV_MASTER_ADDR naming master's host:port); "" for any
// other master, or without those lines.
func testenvWorkDir(master string, getenv func(string) string) string {
	dir, addr := getenv("TESTENV_SANDBOX_ROOT"), getenv(testenv.EnvMasterAddr)
	if dir == "" || addr == "" {
		return ""
	}
	if u, err := url.Parse(master); err != nil || u.Host != addr {
		return ""
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// testenvResolvers is testenv's DNS address ("ip:port") when the
// scheduler runs against a testenv started with `testenv up` whose env
// file is loaded: TESTENV_DNS_ADDR is set and master is the cluster's
// (TESTENV_MASTER_ADDR, when set, is master's host:port). "" otherwise,
// and when TASKCFG_ALL_BOOTSTRAP_RESOLVERS already names the resolvers
// every task gets (a custom DNS).
func testenvResolvers(master string, getenv func(string) string) string {
	d := getenv(testenv.EnvDNSAddr)
	if d == "" || getenv(taskenv.TaskCfgAllPrefix+taskenv.EnvBootstrapResolvers) != "" {
		return ""
	}
	if addr := getenv(testenv.EnvMasterAddr); addr != "" {
		if u, err := url.Parse(master); err != nil || u.Host != addr {
			return ""
		}
	}
	return d
}
