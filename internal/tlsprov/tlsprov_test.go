package tlsprov

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/exitcode"
	"github.com/taskkit/taskkit/internal/logging"
	"github.com/taskkit/taskkit/internal/pki"
)

func TestParseSource(t *testing.T) {
	tests := []struct {
		spec string
		want Source
		err  bool
	}{
		{"env:TLS_X_KEY", Source{"env", "TLS_X_KEY"}, false},
		{"file:/run/secrets/x.key", Source{"file", "/run/secrets/x.key"}, false},
		{"file:rel/x:y.pem", Source{"file", "rel/x:y.pem"}, false},
		{"-", Source{Kind: "stdin"}, false},
		{"env:", Source{}, true},
		{"file:", Source{}, true},
		{"/etc/x.key", Source{}, true},
		{"", Source{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseSource(tt.spec, "--key")
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseSource(%q) = %+v, %v", tt.spec, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), "--key") {
				t.Fatalf("error does not name the flag: %v", err)
			}
		})
	}
}

func TestEnvNameAndAllNames(t *testing.T) {
	for name, want := range map[string]string{"server": "TLS_SERVER_KEY", "my-node.1": "TLS_MY_NODE_1_KEY", "Kafka_broker": "TLS_KAFKA_BROKER_KEY"} {
		if got := EnvName(name, "KEY"); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", name, got, want)
		}
	}
	env := []string{"TLS_B_KEY=x", "TLS_MY_NODE_KEY=x", "TLS_B_CERT=x", "TLS__KEY=x", "TLS_KEY=x", "PATH=/bin", "XTLS_C_KEY=x", "TLS_web-1_KEY=x"}
	reqs, err := AllRequests(env)
	var got []string
	for _, r := range reqs {
		got = append(got, r.Name+":"+r.Key.String()+","+r.Cert.String()+","+r.CAs.String())
	}
	want := "b:env:TLS_B_KEY,env:TLS_B_CERT,env:TLS_B_CA my_node:env:TLS_MY_NODE_KEY,env:TLS_MY_NODE_CERT,env:TLS_MY_NODE_CA web-1:env:TLS_web-1_KEY,env:TLS_web-1_CERT,env:TLS_web-1_CA"
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("AllRequests = %s, %v", got, err)
	}
	// A NAME tlsprov cannot write is named by its variable.
	if _, err := AllRequests([]string{"TLS_.x_KEY=x"}); err == nil || !strings.Contains(err.Error(), "TLS_.x_KEY: ") {
		t.Errorf("AllRequests(TLS_.x_KEY) = %v", err)
	}
}

func TestInputsRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	os.WriteFile(path, []byte("file content"), 0o600)
	in := &Inputs{
		LookupEnv: func(k string) (string, bool) {
			v, ok := map[string]string{"SET": "value", "BLANK": " \n"}[k]
			return v, ok
		},
		Stdin: strings.NewReader("from stdin"),
	}
	tests := []struct {
		src  Source
		want string
		err  error
	}{
		{Source{"env", "SET"}, "value", nil},
		{Source{"env", "UNSET"}, "", ErrMissing},
		{Source{"env", "BLANK"}, "", ErrMissing},
		{Source{"file", path}, "file content", nil},
		{Source{"file", filepath.Join(dir, "nope")}, "", ErrMissing},
		{Source{Kind: "stdin"}, "from stdin", nil},
		{Source{Kind: "stdin"}, "from stdin", nil}, // read once, shared
	}
	for _, tt := range tests {
		got, err := in.Read(tt.src)
		if !errors.Is(err, tt.err) || string(got) != tt.want {
			t.Errorf("Read(%s) = %q, %v; want %q, %v", tt.src, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), tt.src.String()) {
			t.Errorf("error does not name %s: %v", tt.src, err)
		}
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		in   string
		want Formats
		err  bool
	}{
		{"pem,jks", Formats{PEM: true, JKS: true}, false},
		{" PEM , p12 ", Formats{PEM: true, PKCS12: true}, false},
		{"pkcs12", Formats{PKCS12: true}, false},
		{"", Formats{}, true},
		{",", Formats{}, true},
		{"pem,der", Formats{}, true},
	}
	for _, tt := range tests {
		got, err := ParseFormats(tt.in)
		if (err != nil) != tt.err || (err == nil && got != tt.want) {
			t.Errorf("ParseFormats(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestParseValidity(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"720h", 720 * time.Hour, false},
		{"90d", 90 * 24 * time.Hour, false},
		{"10y", 3650 * 24 * time.Hour, false},
		{"0d", 0, true},
		{"-5h", 0, true},
		{"forever", 0, true},
		{"1.5y", 0, true},
		{"999999y", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseValidity(tt.in, "--validity")
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseValidity(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseSANs(t *testing.T) {
	s, err := ParseSANs([]string{"dns:a.test", "ip:10.0.0.1", "::1", "b.test", "email:x@y.test", "uri:spiffe://t/ns/x", " "})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.DNS, ",") != "a.test,b.test" || len(s.IPs) != 2 || len(s.Email) != 1 || len(s.URIs) != 1 {
		t.Fatalf("%+v", s)
	}
	for _, bad := range []string{"dns:bad name", "ip:300.1.1.1", "email:nobody", "uri:relative", "ftp:x", "bad name"} {
		if _, err := ParseSANs([]string{bad}); err == nil || !strings.Contains(err.Error(), "--san") {
			t.Errorf("ParseSANs(%q) = %v, want an error naming --san", bad, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{"server": true, "kafka-0_broker.x": true, "": false, ".hidden": false, "a/b": false, "..": false, "a b": false} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
}

// TestMaterializeExitCodes checks the code each class of failure carries,
// at the library level (the binary's tests cover the messages).
func TestMaterializeExitCodes(t *testing.T) {
	ca, _ := pki.NewCA(pki.CARequest{CommonName: "R", KeyType: pki.ECDSAP256})
	b, _ := ca.Issue(pki.LeafRequest{CommonName: "s", KeyType: pki.ECDSAP256})
	key, _ := pki.EncodeKeyPEM(b.Key)
	other, _ := pki.GenerateKey(pki.ECDSAP256)
	otherPEM, _ := pki.EncodeKeyPEM(other)
	env := map[string]string{"K": string(key), "O": string(otherPEM), "C": string(pki.EncodeCertsPEM(b.Chain...)), "R": string(pki.EncodeCertsPEM(ca.Cert))}
	in := func() *Inputs {
		return &Inputs{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	}
	req := func(k, c, r string) Request {
		return Request{Name: "s", Key: Source{"env", k}, Cert: Source{"env", c}, CAs: Source{"env", r}}
	}
	notDir := filepath.Join(t.TempDir(), "f")
	os.WriteFile(notDir, nil, 0o600)
	tests := []struct {
		name string
		req  Request
		dir  string
		code int
	}{
		{"ok", req("K", "C", "R"), t.TempDir(), ExitOK},
		{"missing", req("K", "C", "NONE"), t.TempDir(), ExitInput},
		{"malformed", req("C", "C", "R"), t.TempDir(), ExitInput},
		{"mismatch", req("O", "C", "R"), t.TempDir(), ExitInvalid},
		{"unwritable", req("K", "C", "R"), filepath.Join(notDir, "x"), ExitWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, err := Materialize([]Request{tt.req}, in(), Options{Dir: tt.dir}, logging.Discard())
			if got := exitcode.Code(err, -1); got != tt.code {
				t.Fatalf("code %d, want %d (%v)", got, tt.code, err)
			}
			if err == nil && len(paths) != 5 {
				t.Fatalf("wrote %v", paths)
			}
		})
	}
}

// TestFilesJSON checks the hand-written JSON against encoding/json.
func TestFilesJSON(t *testing.T) {
	ca, _ := pki.NewCA(pki.CARequest{CommonName: "Root \"quoted\" \\ \u2028 \x01 ünï", KeyType: pki.ECDSAP256})
	b, _ := ca.Issue(pki.LeafRequest{CommonName: "s", DNSNames: []string{"a.test", "b.test"}, KeyType: pki.Ed25519})
	data, _ := pki.EncodeJKSKeystore(b.Key, b.FullChain(), "default", "notsecure", time.Now())
	c, err := pki.Inspect(data, "notsecure")
	if err != nil {
		t.Fatal(err)
	}
	files := []InspectedFile{{Path: "x.keystore", Contents: c}, {Path: "bad\xff", Error: "bad: \"broken\"\n"}}
	var got []map[string]any
	if err := json.Unmarshal([]byte(filesJSON(files)), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, filesJSON(files))
	}
	want, _ := json.Marshal(files)
	var wantv []map[string]any
	json.Unmarshal(want, &wantv)
	wantv[1]["path"] = "bad\ufffd"
	if !reflect.DeepEqual(got, wantv) {
		t.Fatalf("filesJSON differs from encoding/json:\n got %v\nwant %v", got, wantv)
	}
}

// TestSecretsStayInTheDirectory: a private key, keystore or PKCS#12 file
// of --dir is never written through a symbolic link to a place outside
// --dir. Since writes follow links (4ff05a9), a link planted in the
// sandbox (a fetched artifact's s.key -> /shared/s.key) sent the private
// key there, with exit 0; before, the rename replaced the link and the
// key stayed in --dir. Links inside --dir, and public files' links, are
// still written through.
func TestSecretsStayInTheDirectory(t *testing.T) {
	ca, _ := pki.NewCA(pki.CARequest{CommonName: "R", KeyType: pki.ECDSAP256})
	b, _ := ca.Issue(pki.LeafRequest{CommonName: "s", KeyType: pki.ECDSAP256})
	key, _ := pki.EncodeKeyPEM(b.Key)
	env := map[string]string{"K": string(key), "C": string(pki.EncodeCertsPEM(b.Chain...)), "R": string(pki.EncodeCertsPEM(ca.Cert))}
	in := &Inputs{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	req := Request{Name: "s", Key: Source{"env", "K"}, Cert: Source{"env", "C"}, CAs: Source{"env", "R"}}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, out string)
		code  int
		check string // a file (relative to the top) that must end up holding the key, or ""
	}{
		{"key linked to a file outside", func(t *testing.T, dir, out string) {
			os.WriteFile(filepath.Join(out, "s.key"), []byte("old"), 0o644)
			os.Symlink(filepath.Join(out, "s.key"), filepath.Join(dir, "s.key"))
		}, ExitWrite, ""},
		{"key as a dangling link outside", func(t *testing.T, dir, out string) {
			os.Symlink("../out/s.key", filepath.Join(dir, "s.key"))
		}, ExitWrite, ""},
		{"keystore linked outside", func(t *testing.T, dir, out string) {
			os.Symlink(filepath.Join(out, "s.keystore"), filepath.Join(dir, "s.keystore"))
		}, ExitWrite, ""},
		{"key linked inside the directory", func(t *testing.T, dir, out string) {
			os.MkdirAll(filepath.Join(dir, "v1"), 0o755)
			os.Symlink("v1/s.key", filepath.Join(dir, "s.key"))
		}, ExitOK, "dir/v1/s.key"},
		{"certificate linked outside", func(t *testing.T, dir, out string) {
			os.Symlink(filepath.Join(out, "s.crt"), filepath.Join(dir, "s.crt"))
		}, ExitOK, "dir/s.key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			dir, out := filepath.Join(top, "dir"), filepath.Join(top, "out")
			os.MkdirAll(dir, 0o755)
			os.MkdirAll(out, 0o755)
			tt.setup(t, dir, out)
			_, err := Materialize([]Request{req}, in, Options{Dir: dir}, logging.Discard())
			if got := exitcode.Code(err, -1); got != tt.code {
				t.Fatalf("code %d, want %d (%v)", got, tt.code, err)
			}
			for _, f := range []string{"s.key", "s.keystore", "s.p12"} {
				if b, _ := os.ReadFile(filepath.Join(out, f)); strings.Contains(string(b), "PRIVATE KEY") || (len(b) > 0 && string(b) != "old") {
					t.Errorf("a secret was written outside --dir: %s", filepath.Join(out, f))
				}
			}
			if tt.check != "" {
				if b, _ := os.ReadFile(filepath.Join(top, tt.check)); !strings.Contains(string(b), "PRIVATE KEY") {
					t.Errorf("%s does not hold the key", tt.check)
				}
			}
		})
	}
}
