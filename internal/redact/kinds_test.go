package redact

import (
	"strings"
	"testing"
)

// TestSecretNameWords: a name is judged by its words whatever separates
// them, and by the same rule as an environment key, a URL query parameter,
// a JSON key, a Java property and a command-line option.
func TestSecretNameWords(t *testing.T) {
	r := Default()
	const v = "Va1ue-of-it"
	for _, tt := range []struct {
		name string
		want bool
	}{
		// The same words, every spelling.
		{"JWT_PRIVATE_KEY", true},
		{"jwt.private.key", true},
		{"jwt-private-key", true},
		{"jwtPrivateKey", true},
		{"JwtPrivateKey", true},
		{"jwt.privateKey", true},
		{"JWT.Private-Key", true},
		{"aws.access.key", true},
		{"AWS_ACCESS_KEY_ID", true},
		{"awsAccessKeyId", true},
		{"app.api.key", true},
		{"APIKey", true},
		{"apikey", true},
		{"X-API-KEY", true},
		{"api_keys", true},
		{"AWSACCESSKEYID", true},
		{"STRIPE_PRIVATEKEY", true},
		{"jwt.signing.key", true},
		{"ENCRYPTION_KEY", true},
		{"hmacKey", true},
		{"deploy.ssh.key", true},
		{"TLS_SERVER_KEY", true},
		{"tls.server.key", true},
		{"TLS_KEY", true},
		{"SSL_KEY", true},
		{"kafka.ssl.key", true},
		{"spring.datasource.password", true},
		{"dbPassWord", true},
		{"MYSQLPASSWORD", true},
		{"ssl.key.passphrase", true},
		{"client_secret", true},
		{"clientSecret", true},
		{"accessToken", true},
		{"X-Amz-Security-Token", true},
		{"X-Goog-Credential", true},
		{"DB_PASS", true},
		{"redis.pwd", true},
		{"X-Goog-Signature", true},
		{"x-goog-signature", true},
		{"X-Amz-Signature", true},
		{"Signature", true},
		{"sig", true},
		{"Authorization", true},
		{"Proxy-Authorization", true},
		{"HTTP_AUTHORIZATION", true},
		{"Cookie", true},
		{"Set-Cookie", true},
		// Names of keys that are not secret, and near misses.
		{"PRIMARY_KEY_COLUMN", false},
		{"primary.key", false},
		{"partitionKey", false},
		{"cache_key", false},
		{"API_KEYSPACE", false},
		{"KEY", false},
		{"PUBLIC_KEY", false},
		{"publicKey", false},
		{"Key-Pair-Id", false},
		{"MONKEY", false},
		{"KEYCLOAK_URL", false},
		{"TLS_SERVER_CERT", false},
		{"SSL_KEY_ALIAS", false},
		{"BYPASS_CACHE", false},
		{"COMPASS", false},
		{"PASS_THROUGH", false},
		{"SIGNATURE_VERSION", false},
		{"SIGTERM_GRACE", false},
		{"X-Goog-SignedHeaders", false},
		{"X-Amz-Algorithm", false},
		{"X-Goog-Expires", false},
		{"CONFIG", false},
		{"AUTHORIZATION_URL", false},
		{"authorizationEndpoint", false},
		{"COOKIE_DOMAIN", false},
		{"SESSION_COOKIE_NAME", false},
		// Paths of secrets, whatever the spelling.
		{"jwt.private.key.file", false},
		{"tlsPrivateKeyPath", false},
		{"SECRETS_DIR", false},
		{"api-key-file", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.IsSecretKey(tt.name); got != tt.want {
				t.Errorf("IsSecretKey(%q) = %v, want %v", tt.name, got, tt.want)
			}
			masked := func(in, want string) {
				t.Helper()
				if !tt.want {
					want = in
				}
				if got := r.String(in); got != want {
					t.Errorf("String(%q) = %q, want %q", in, got, want)
				}
			}
			M := Mask
			masked(tt.name+"="+v, tt.name+"="+M)
			masked("https://h/x?a=1&"+tt.name+"="+v+"&b=2", "https://h/x?a=1&"+tt.name+"="+M+"&b=2")
			masked(`{"`+tt.name+`": "`+v+`"}`, `{"`+tt.name+`": "`+M+`"}`)
			masked("java -D"+tt.name+"="+v+" -jar x", "java -D"+tt.name+"="+M+" -jar x")
			masked("app --"+tt.name+" "+v, "app --"+tt.name+" "+M)
			env := r.Env([]string{tt.name + "=" + v})
			if want := tt.name + "=" + map[bool]string{true: M, false: v}[tt.want]; env[0] != want {
				t.Errorf("Env = %q, want %q", env[0], want)
			}
			// A masked value is learned: masked in any other text too.
			learned := Default().LearnEnv([]string{tt.name + "=" + v}).String("echo " + v)
			if want := map[bool]string{true: "echo " + M, false: "echo " + v}[tt.want]; learned != want {
				t.Errorf("after LearnEnv, String = %q, want %q", learned, want)
			}
		})
	}
}

// TestShellPWD: the shell's PWD and OLDPWD hold directories; pwd is
// secret as a parameter inside a value (ODBC's Pwd=) and as another name's
// last word.
func TestShellPWD(t *testing.T) {
	r := Default()
	for key, want := range map[string]bool{"PWD": false, "OLDPWD": false, "DB_PWD": true, "pwd": true} {
		if got := r.IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
	if got, want := r.String("Uid=sa;PWD=x7y;"), "Uid=sa;PWD="+Mask+";"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

// TestWords pins how names are cut into words.
func TestWords(t *testing.T) {
	for in, want := range map[string]string{
		"jwtPrivateKey":     "jwt_private_key",
		"JWT_PRIVATE_KEY":   "jwt_private_key",
		"jwt.private.key":   "jwt_private_key",
		"--jwt-private-key": "jwt_private_key",
		"APIKey":            "api_key",
		"awsAccessKeyID":    "aws_access_key_id",
		"X-Goog-Signature":  "x_goog_signature",
		"s3Bucket2Name":     "s3_bucket2_name",
		"a..b__c":           "a_b_c",
		"":                  "",
	} {
		if got := words(in); got != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSignedURLs: the signatures and tokens of the major clouds' signed
// URLs and of common APIs are masked, case-insensitively; the other
// parameters of the same URLs are shown.
func TestSignedURLs(t *testing.T) {
	M := Mask
	for _, tt := range []struct{ name, in, want string }{
		{"GCS V4", "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20261130%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20261130T000000Z&X-Goog-Expires=3600&X-Goog-SignedHeaders=host&X-Goog-Signature=0a1b2c",
			"https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=" + M + "&X-Goog-Date=20261130T000000Z&X-Goog-Expires=3600&X-Goog-SignedHeaders=host&X-Goog-Signature=" + M},
		{"GCS V4, lowercase", "https://storage.googleapis.com/b/o?x-goog-signature=0a1b2c&x-goog-date=1", "https://storage.googleapis.com/b/o?x-goog-signature=" + M + "&x-goog-date=1"},
		{"GCS V2", "https://storage.googleapis.com/b/o?GoogleAccessId=sa@p&Expires=1&Signature=abc%2B", "https://storage.googleapis.com/b/o?GoogleAccessId=sa@p&Expires=1&Signature=" + M},
		{"S3 with a session token", "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F1&X-Amz-Security-Token=IQo&X-Amz-SignedHeaders=host&X-Amz-Signature=f00d",
			"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + M + "&X-Amz-Security-Token=" + M + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + M},
		{"S3, lowercase", "https://b.s3/k?x-amz-signature=f00d", "https://b.s3/k?x-amz-signature=" + M},
		{"Azure SAS", "https://a.blob.core.windows.net/c/f?sv=2022-11-02&se=2026-12-01&sr=b&sp=r&sig=AbC%2Bd%3D", "https://a.blob.core.windows.net/c/f?sv=2022-11-02&se=2026-12-01&sr=b&sp=r&sig=" + M},
		{"Azure SAS, upper case", "https://a.blob/c/f?SIG=AbC", "https://a.blob/c/f?SIG=" + M},
		{"CloudFront", "https://d.cloudfront.net/f?Expires=1&Signature=abc~d&Key-Pair-Id=K2J", "https://d.cloudfront.net/f?Expires=1&Signature=" + M + "&Key-Pair-Id=K2J"},
		{"OAuth access_token", "https://api/x?access_token=ya29.a0&alt=json", "https://api/x?access_token=" + M + "&alt=json"},
		{"token", "wss://h/s?token=abc", "wss://h/s?token=" + M},
		{"api_key and apikey", "https://api/x?api_key=k1&apikey=k2&apiKey=k3&format=json", "https://api/x?api_key=" + M + "&apikey=" + M + "&apiKey=" + M + "&format=json"},
		{"client_secret", "https://login/oauth/token?client_id=app&client_secret=cs&grant_type=client_credentials", "https://login/oauth/token?client_id=app&client_secret=" + M + "&grant_type=client_credentials"},
		{"password and secret", "https://h/x?password=p&secret=s&user=u", "https://h/x?password=" + M + "&secret=" + M + "&user=u"},
		{"signature", "https://h/x?signature=s1&signed=yes", "https://h/x?signature=" + M + "&signed=yes"},
		// A URL's user is not a parameter: the host after it stays.
		{"a user named for a secret", "https://x-access-token:ghs_abc123@github.com/o/r", "https://x-access-token:" + M + "@github.com/o/r"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Credentials(tt.in); got != tt.want {
				t.Errorf("Credentials(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestURLUserinfo: the password of a URL's userinfo (RFC 3986 §3.2.1:
// the last '@' before the host ends it, the first ':' in it starts the
// password) and of a DSN without a scheme is masked, and nothing else.
func TestURLUserinfo(t *testing.T) {
	M := Mask
	for _, tt := range []struct{ name, in, want string }{
		{"e-mail address as the user", "smtps://alerts@example.com:Sm1@smtp.example.com:465", "smtps://alerts@example.com:" + M + "@smtp.example.com:465"},
		{"e-mail user, password with @", "imaps://me@corp.example:p@ss@imap.corp.example/INBOX", "imaps://me@corp.example:" + M + "@imap.corp.example/INBOX"},
		{"apostrophe in the password", "postgres://app:It's2@db:5432/app", "postgres://app:" + M + "@db:5432/app"},
		{"every sub-delim in the password", "amqp://u:!$&'()*+,;=x@rabbit:5672/vh", "amqp://u:" + M + "@rabbit:5672/vh"},
		{"':' in the password", "redis://u:a:b:c@cache:6379", "redis://u:" + M + "@cache:6379"},
		{"percent-encoded password", "https://u:p%40ss%2Fw@h/x", "https://u:" + M + "@h/x"},
		{"empty user", "redis://:hunter2@cache:6379/0", "redis://:" + M + "@cache:6379/0"},
		{"IPv6 host", "http://u:pw@[::1]:8080/x", "http://u:" + M + "@[::1]:8080/x"},
		{"quoted URL ends at its quote", "dsn='postgres://u:pw@db/x' alt='a@b'", "dsn='postgres://u:" + M + "@db/x' alt='a@b'"},
		{"double-quoted URL", `url="amqp://u:p'w@mq/" x@y`, `url="amqp://u:` + M + `@mq/" x@y`},
		{"two URLs in one token", "http://a:p1@h1,http://b:p2@h2", "http://a:" + M + "@h1,http://b:" + M + "@h2"},
		{"a URL inside another's query", "https://login/?next=http://u:p3@h/x", "https://login/?next=http://u:" + M + "@h/x"},
		{"scheme-less proxy", "proxyuser:Px3@proxy.corp:3128", "proxyuser:" + M + "@proxy.corp:3128"},
		{"scheme-less proxy after a key", "HTTPS_PROXY=proxyuser:Px3@proxy.corp:3128 NO_PROXY=x", "HTTPS_PROXY=proxyuser:" + M + "@proxy.corp:3128 NO_PROXY=x"},
		{"scheme-less, e-mail user", "alerts@example.com:pw@smtp.example.com:587", "alerts@example.com:" + M + "@smtp.example.com:587"},
		{"scheme-less, apostrophe", "u:It's@proxy:8080", "u:" + M + "@proxy:8080"},
		{"a DSN with a URL in its parameters", "app:Dq5@tcp(db:3306)/app?callback=http://h/x", "app:" + M + "@tcp(db:3306)/app?callback=http://h/x"},
		{"a proxy then a URL", "u:Pq6@proxy:3128,https://u2:Pq7@h/", "u:" + M + "@proxy:3128,https://u2:" + M + "@h/"},
		{"Oracle thin", "jdbc:oracle:thin:scott/tiger@//db:1521/orcl", "jdbc:oracle:thin:scott/" + M + "@//db:1521/orcl"},
		{"Oracle thin, SID form", "url=jdbc:oracle:thin:app/s3c@db:1521:ORCL", "url=jdbc:oracle:thin:app/" + M + "@db:1521:ORCL"},
		// A password holding characters RFC 3986 wants escaped ends only
		// at the '@' before the host (repro 02).
		{"'<' and '>' in the password", "postgres://app:p&ss<w>rd99@db:5432/app", "postgres://app:" + M + "@db:5432/app"},
		{"'`' in the password", "postgres://app:pass`word99@db:5432/app", "postgres://app:" + M + "@db:5432/app"},
		{"'\"' in the password", `postgres://app:pa"ss9999@db:5432/app`, "postgres://app:" + M + "@db:5432/app"},
		{"a blank in the password of a value", "postgres://app:pa ss9999@db:5432/app", "postgres://app:" + M + "@db:5432/app"},
		{"a blank in the password after '='", "DATABASE_URL=postgres://app:pa ss@db:5432/app OTHER=1", "DATABASE_URL=postgres://app:" + M + "@db:5432/app OTHER=1"},
		{"'<' and '@' in the password, host without a path", "url=redis://:a<b@c>d@cache:6379 next", "url=redis://:" + M + "@cache:6379 next"},
		{"'<' in the password, URL in prose", "connect to mysql://root:x<y@db:3306 now", "connect to mysql://root:" + M + "@db:3306 now"},
		{"'\"' in the password, URL opened by '<'", `see <amqp://u:p"w@mq/> ok`, `see <amqp://u:` + M + `@mq/> ok`},
		// ... and never eats text outside the URL.
		{"a blank ends a URL in prose", "see http://a:b and c@d:1", "see http://a:b and c@d:1"},
		{"a URL in angle brackets, then an address", "<http://a:b> <c@d>", "<http://a:b> <c@d>"},
		{"a double-quoted URL, then an address", `{"u":"http://a:b","m":"c@d"}`, `{"u":"http://a:b","m":"c@d"}`},
		{"a backquoted URL, then an address", "use `http://a:b` or `c@d`", "use `http://a:b` or `c@d`"},
		{"a port before the stop", "http://host:8080 <ops@example.com>", "http://host:8080 <ops@example.com>"},
		{"a port before '<'", "url=http://host:8080<br>ops@example.com", "url=http://host:8080<br>ops@example.com"},
		{"a path ends the authority", "http://a:b/c <d@e>", "http://a:b/c <d@e>"},
		{"a line ends the authority", "url=http://a:b\nc d@e", "url=http://a:b\nc d@e"},
		{"prose with an address in angle brackets", "mail <a@b> or x:y z@w", "mail <a@b> or x:y z@w"},
		{"a stop in the user", "http://a<b:c@d", "http://a<b:c@d"},
		// Not passwords: left whole.
		{"Oracle thin without a user", "jdbc:oracle:thin:@db:1521/x", "jdbc:oracle:thin:@db:1521/x"},
		{"a port, then @ in the path", "http://localhost:4873/@scope/pkg", "http://localhost:4873/@scope/pkg"},
		{"a port, then @ in the query", "https://host:8443/login?u=me@x.com", "https://host:8443/login?u=me@x.com"},
		{"@ in the query", "https://h/x?e=a@b.com:80", "https://h/x?e=a@b.com:80"},
		{"a user without a password", "https://user@host/ and ssh://git@github.com:22/x", "https://user@host/ and ssh://git@github.com:22/x"},
		// ... unless it is an access token by its prefix (GitHub's, GitLab's).
		{"a GitHub token as the user", "git clone https://ghp_abc123DEF456@github.com/o/r.git", "git clone https://" + M + "@github.com/o/r.git"},
		{"a fine-grained GitHub token", "https://github_pat_11ABC_xyz@github.com/o/r", "https://" + M + "@github.com/o/r"},
		{"a GitLab token as the user", "https://glpat-abc123@gitlab.example/g/r.git", "https://" + M + "@gitlab.example/g/r.git"},
		{"a prefix alone is a user", "https://ghp_@github.com/o/r", "https://ghp_@github.com/o/r"},
		{"scp-style git", "git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"image digest", "registry:5000/app:1.2@sha256:0123456789abcdef", "registry:5000/app:1.2@sha256:0123456789abcdef"},
		{"mailto", "mailto:ops@example.com", "mailto:ops@example.com"},
		{"user@host:port", "ssh -p 22 user@host:22", "ssh -p 22 user@host:22"},
		{"a time", "at 10:30@home", "at 10:30@home"},
		{"a path before the colon", "/var/x:y@h:80", "/var/x:y@h:80"},
		// A URL inside another's query is percent-encoded (RFC 3986 §2.1).
		{"a redirect URI", "https://login/?redirect_uri=https%3A%2F%2Fuser%3Apa55word%40host%2Fcb&x=1",
			"https://login/?redirect_uri=https%3A%2F%2Fuser%3A" + M + "%40host%2Fcb&x=1"},
		{"lowercase hex, a port", "https://login/?next=http%3a%2f%2fu%3apw%40h%3a80%2fx&y=1", "https://login/?next=http%3a%2f%2fu%3a" + M + "%40h%3a80%2fx&y=1"},
		{"an encoded '@' in the password", "next=https%3A%2F%2Fu%3Ap%2540ss%40h%2F", "next=https%3A%2F%2Fu%3A" + M + "%40h%2F"},
		{"ending the text", "see https%3A%2F%2Fu%3Ap%40h", "see https%3A%2F%2Fu%3A" + M + "%40h"},
		{"a user alone", "next=https%3A%2F%2Fu%40h%2F", "next=https%3A%2F%2Fu%40h%2F"},
		{"an '@' in the path", "next=https%3A%2F%2Fh%3A80%2F%40scope&x=a%40b", "next=https%3A%2F%2Fh%3A80%2F%40scope&x=a%40b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := URLPasswords(tt.in); got != tt.want {
				t.Errorf("URLPasswords(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := Default().Value("NEUTRAL", tt.in); got != tt.want {
				t.Errorf("Value(NEUTRAL, %q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestProxyVariables: the value of a variable named for a proxy is a URL
// even without a scheme or a port, as curl and Go's
// http.ProxyFromEnvironment read it.
func TestProxyVariables(t *testing.T) {
	M := Mask
	got := Default().Env([]string{"HTTPS_PROXY=proxyuser:Px3@proxy.corp", "http_proxy=u:It's@10.0.0.1", "ALL_PROXY=socks5://u:s5@gw:1080",
		"NO_PROXY=localhost,.corp", "OTHER=mailto:ops@example.com"})
	want := []string{"ALL_PROXY=socks5://u:" + M + "@gw:1080", "HTTPS_PROXY=proxyuser:" + M + "@proxy.corp", "NO_PROXY=localhost,.corp",
		"OTHER=mailto:ops@example.com", "http_proxy=u:" + M + "@10.0.0.1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Env:\n got %q\nwant %q", got, want)
	}
	if got := Default().LearnEnv([]string{"HTTPS_PROXY=proxyuser:Px3Secret@proxy.corp"}).String("auth Px3Secret"); got != "auth "+M {
		t.Errorf("proxy password not learned: %q", got)
	}
}

// testKey is a made-up PKCS#8 body: its lines are the shape of a key's,
// nothing more.
const testKeyBody = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZmFrZWtleWZha2Vr\nZXlmYWtla2V5ZmFrZWtleWZha2VroUQDQgAEZmFrZWtleWZha2VrZXlmYWtla2V5"

// TestPEMPrivateKeys: a PEM private-key block is masked in any value and
// text, its armor kept; certificates and public keys are shown.
func TestPEMPrivateKeys(t *testing.T) {
	M := Mask
	block := func(label, body string) string {
		return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n"
	}
	masked := func(label string) string { return block(label, M) }
	encHeaders := "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF\n\n" + testKeyBody
	for _, tt := range []struct{ name, in, want string }{
		{"PKCS#8", block("PRIVATE KEY", testKeyBody), masked("PRIVATE KEY")},
		{"PKCS#1", block("RSA PRIVATE KEY", testKeyBody), masked("RSA PRIVATE KEY")},
		{"PKCS#1 encrypted", block("RSA PRIVATE KEY", encHeaders), masked("RSA PRIVATE KEY")},
		{"PKCS#8 encrypted", block("ENCRYPTED PRIVATE KEY", testKeyBody), masked("ENCRYPTED PRIVATE KEY")},
		{"EC", block("EC PRIVATE KEY", testKeyBody), masked("EC PRIVATE KEY")},
		{"OpenSSH", block("OPENSSH PRIVATE KEY", testKeyBody), masked("OPENSSH PRIVATE KEY")},
		{"key after its certificate", block("CERTIFICATE", testKeyBody) + block("PRIVATE KEY", testKeyBody),
			block("CERTIFICATE", testKeyBody) + masked("PRIVATE KEY")},
		{"in a log line, newlines escaped", `config: {"key":"-----BEGIN PRIVATE KEY-----\n` + strings.ReplaceAll(testKeyBody, "\n", `\n`) + `\n-----END PRIVATE KEY-----\n","port":1}`,
			`config: {"key":"-----BEGIN PRIVATE KEY-----` + M + `-----END PRIVATE KEY-----\n","port":1}`},
		{"truncated", "key: -----BEGIN EC PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG", "key: -----BEGIN EC PRIVATE KEY-----\n" + M},
		{"truncated, escaped newlines", `key="-----BEGIN EC PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG\nCCqGSM49`, `key="-----BEGIN EC PRIVATE KEY-----` + M},
		{"certificate", block("CERTIFICATE", testKeyBody), block("CERTIFICATE", testKeyBody)},
		{"public key", block("PUBLIC KEY", testKeyBody), block("PUBLIC KEY", testKeyBody)},
		{"armor in prose", "no -----BEGIN PRIVATE KEY----- line found", "no -----BEGIN PRIVATE KEY----- line found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Default().String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := Default().Value("X", tt.in); got != tt.want {
				t.Errorf("Value(X, %q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestLearnCredentialsInsideValues: what Value masks inside a neutral
// variable's value is learned, so it is masked wherever else it appears
// (a template that writes it into a file shows it in the diff).
func TestLearnCredentialsInsideValues(t *testing.T) {
	r := Default().LearnEnv([]string{
		"DATABASE_URL=postgres://app:Pg1Secretvalue@db:5432/app",
		"SMTP_URL=smtps://alerts@example.com:Sm2Secretvalue@smtp:465",
		"JAVA_OPTS=-Djavax.net.ssl.keyStorePassword=Ks3Secretvalue",
		"SSL_CERT_AND_KEY=-----BEGIN PRIVATE KEY-----\n" + testKeyBody + "\n-----END PRIVATE KEY-----",
		"jwt.private.key=Jw4Secretvalue",
		"PLAIN=Pl5value",
		"BROKER_URL=amqp://app:Am6 <Secret>@mq:5672/", // repro 02's kind
	})
	for _, line := range strings.Split(testKeyBody, "\n") {
		if got := r.String("+ " + line); got != "+ "+Mask {
			t.Errorf("key line not learned: %q", got)
		}
	}
	in := "+password: Pg1Secretvalue\n+smtp: Sm2Secretvalue\n+ks: Ks3Secretvalue\n+jwt: Jw4Secretvalue\n+plain: Pl5value\n+amqp: Am6 <Secret>"
	want := "+password: " + Mask + "\n+smtp: " + Mask + "\n+ks: " + Mask + "\n+jwt: " + Mask + "\n+plain: Pl5value\n+amqp: " + Mask
	if got := r.String(in); got != want {
		t.Errorf("String:\n got %q\nwant %q", got, want)
	}
}

// maskRow is a text String must print as want.
type maskRow struct{ name, in, want string }

// maskRows checks each row, and that masking its output again changes
// nothing.
func maskRows(t *testing.T, rows []maskRow) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			if got := Default().String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := Default().String(tt.want); got != tt.want {
				t.Errorf("String(%q) = %q: not idempotent", tt.want, got)
			}
		})
	}
}

// TestStructuredValues: the value of a secret name inside a structure —
// JSON, a YAML flow collection, a printed map or object — is masked
// whatever its kind (a number, a literal, an object or array, nested or
// pretty-printed), and nothing of the structure around it: not the ','
// or the closers after a value without quotes, and all of a nested one.
// A value holding one of those characters where no structure is open,
// or before its last one, stays masked whole.
func TestStructuredValues(t *testing.T) {
	M := Mask
	maskRows(t, []maskRow{
		// JSON, every kind of value.
		{"number", `{"token": 12345}`, `{"token": ` + M + `}`},
		{"number, compact, then more", `{"token":-1.5e3,"user":"app"}`, `{"token":` + M + `,"user":"app"}`},
		{"true", `{"password": true}`, `{"password": ` + M + `}`},
		{"false", `{"token":false}`, `{"token":` + M + `}`},
		{"null, then an array", `{"token":null,"x":[1,2]}`, `{"token":` + M + `,"x":[1,2]}`},
		{"in an inner object", `{"a":{"token":true},"b":2}`, `{"a":{` + `"token":` + M + `},"b":2}`},
		{"in objects in an array", `[{"password": 12345}, {"password": 67890}]`, `[{"password": ` + M + `}, {"password": ` + M + `}]`},
		{"an array", `{"api_key": [1, 2], "x": 3}`, `{"api_key": [` + M + `], "x": 3}`},
		{"an object", `{"token": {"a": 1}, "x": 3}`, `{"token": {` + M + `}, "x": 3}`},
		{"an object holding objects", `{"token": {"a": {"b": 1}, "c": 2}, "d": 3}`, `{"token": {` + M + `}, "d": 3}`},
		{"an array of objects", `{"secret": [{"k": "v"}, {"k": "w"}], "x": 1}`, `{"secret": [` + M + `], "x": 1}`},
		{"brackets in strings inside", `{"token": {"a": "}]"}, "x": 1}`, `{"token": {` + M + `}, "x": 1}`},
		{"an empty array and object are shown", `{"password": [], "token": {}, "x": 1}`, `{"password": [], "token": {}, "x": 1}`},
		{"brackets in a string before", `{"user": "a}b", "a": "{", "token": 42}`, `{"user": "a}b", "a": "{", "token": ` + M + `}`},
		{"pretty-printed", "{\n  \"token\": 12345,\n  \"user\": \"app\"\n}", "{\n  \"token\": " + M + ",\n  \"user\": \"app\"\n}"},
		{"pretty-printed object", "{\n  \"token\": {\n    \"a\": 1,\n    \"b\": [2, 3]\n  },\n  \"user\": \"app\"\n}", "{\n  \"token\": {" + M + "},\n  \"user\": \"app\"\n}"},
		{"cut short: masked to the end", `{"token": [1, 2`, `{"token": [` + M},
		{"Python's repr", `{'password': 12345, 'user': 'app'}`, `{'password': ` + M + `, 'user': 'app'}`},
		// YAML flow collections: plain scalars, blanks inside.
		{"YAML flow", `{password: hunter2, user: app}`, `{password: ` + M + `, user: app}`},
		{"YAML flow, blanks in the value", `{password: correct horse, user: app}`, `{password: ` + M + `, user: app}`},
		{"YAML flow, last", `{user: app, token: abc def}`, `{user: app, token: ` + M + `}`},
		{"YAML flow, a sequence", `{password: [a, b], user: app}`, `{password: [` + M + `], user: app}`},
		{"YAML flow, a mapping", `{password: {a: b}, user: app}`, `{password: {` + M + `}, user: app}`},
		{"YAML flow sequence of pairs", `[password: x, token: y]`, `[password: ` + M + `, token: ` + M + `]`},
		// Printed maps and objects, key=value.
		{"Java's Map.toString", `{password=hunter2, user=app}`, `{password=` + M + `, user=app}`},
		{"Java's Map.toString, last", `{user=app, password=hunter2}`, `{user=app, password=` + M + `}`},
		{"Java's, blanks in the value", `{password=pa ss, user=app}`, `{password=` + M + `, user=app}`},
		{"Kotlin's data class", `Config(user=app, password=hunter2)`, `Config(user=app, password=` + M + `)`},
		{"Kotlin's, blanks in the value", `Config(user=app, password=pa ss)`, `Config(user=app, password=` + M + `)`},
		{"Go's map", `map[user:app password:hunter2]`, `map[user:app password:` + M + `]`},
		{"Go's map, nested", `map[db:map[password:hunter2]]`, `map[db:map[password:` + M + `]]`},
		{"Go's struct", `{User:app Password:hunter2}`, `{User:app Password:` + M + `}`},
		{"Go's struct, a list", `{User:app Tokens:[a b]}`, `{User:app Tokens:[` + M + `]}`},
		{"a URL in parentheses", `see (https://h/?token=abc&x=1) now`, `see (https://h/?token=` + M + `&x=1) now`},
		{"a URL in parentheses, last", `see (https://h/?token=abc) now`, `see (https://h/?token=` + M + `) now`},
		// Still masked whole.
		{"a brace with nothing open", `password=ab}cd`, `password=` + M},
		{"a trailing brace with nothing open", `token=abc}`, `token=` + M},
		{"a comma with nothing open", `password=ab,cd host=db`, `password=` + M + ` host=db`},
		{"a brace inside, structure open", `{password=ab}cd, user=x}`, `{password=` + M + `, user=x}`},
		{"a comma inside, structure open", `{password=ab,cd, user=x}`, `{password=` + M + `, user=x}`},
		{"an ODBC braced value", `Uid=sa;PWD={p;a}}ss};Server=db`, `Uid=sa;PWD={` + M + `};Server=db`},
		{"a quoted value", `{"token": "a}b, c", "x": 1}`, `{"token": "` + M + `", "x": 1}`},
		// XML elements.
		{"Maven's settings.xml", "<server><id>x</id><username>u</username><password>s3cret</password></server>",
			"<server><id>x</id><username>u</username><password>" + M + "</password></server>"},
		{"a namespaced element", "<ns:password>x1</ns:password>", "<ns:password>" + M + "</ns:password>"},
		{"an attribute", `<user name="u" password="s3cret"/>`, `<user name="u" password="` + M + `"/>`},
		{"empty elements", "<password/><password></password>", "<password/><password></password>"},
		{"a tag in a string", `{"password": "x", "note": "see <token>"}`, `{"password": "` + M + `", "note": "see <token>"}`},
		// Ruby's and Perl's hashes.
		{"a hash rocket", `{:password => "s3cret", :user => "app"}`, `{:password => "` + M + `", :user => "app"}`},
		{"a hash rocket, unquoted", `{password => 12345}`, `{password => ` + M + `}`},
		// Prose stays prose, in brackets too.
		{"an error in parentheses", `(token: invalid)`, `(token: invalid)`},
		{"Go's error in a JSON string", `{"error": "parsing \"password\": invalid syntax"}`, `{"error": "parsing \"password\": invalid syntax"}`},
	})
}

// TestHeaderValues: values the prose rule ("NAME: text") would show
// though their shape says what they are: a YAML block scalar under a
// secret key, and the credentials of an HTTP Authorization header (a
// logged request, curl -v, a header dump), whatever the scheme.
func TestHeaderValues(t *testing.T) {
	M := Mask
	maskRows(t, []maskRow{
		{"literal block", "password: |\n  line-one-secret\n  line-two-secret\nuser: app", "password: |\n  " + M + "\nuser: app"},
		{"folded block, stripped", "password: >-\n  folded-secret", "password: >-\n  " + M},
		{"kept block in a list, blank line inside", "  - password: |+\n      s1\n    \n      s2\n    user: app", "  - password: |+\n      " + M + "\n    user: app"},
		{"indentation indicator and comment", "private_key: |2 # PEM\n  -----BEGIN X-----\n  AAAA\nnext: 1", "private_key: |2 # PEM\n  " + M + "\nnext: 1"},
		{"CRLF", "token: |\r\n  abc\r\nuser: x\r\n", "token: |\r\n  " + M + "\r\nuser: x\r\n"},
		{"a block scalar of a name not secret", "script: |\n  echo hi\n", "script: |\n  echo hi\n"},
		{"no indented line", "password: |\nnot-indented", "password: |\nnot-indented"},
		{"a bar in prose", "password: | and more", "password: | and more"},
		{"a bar ending the text", "token: >", "token: >"},
		{"Bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "Authorization: Bearer " + M},
		{"Basic", "Authorization: Basic dXNlcjpwYXNz\r\nHost: h", "Authorization: Basic " + M + "\r\nHost: h"},
		{"Proxy-Authorization", "> Proxy-Authorization: Basic dXNlcjpwYXNz", "> Proxy-Authorization: Basic " + M},
		{"lowercase, GitHub's token scheme", "authorization: token ghp_abcdef1234567890", "authorization: token " + M},
		{"Digest, parameters", `Authorization: Digest username="u", response="6629fae4"`, `Authorization: Digest ` + M},
		{"AWS signature", "Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=fe5f", "Authorization: AWS4-HMAC-SHA256 " + M},
		{"a raw key, no scheme", "Authorization: ghp_abcdef1234567890", "Authorization: " + M},
		{"in curl's -H, double quotes", `curl -H "Authorization: Bearer abcdef123" https://h/`, `curl -H "Authorization: Bearer ` + M + `" https://h/`},
		{"in curl's -H, single quotes", `-H 'Authorization: Bearer abc' -H 'X: y'`, `-H 'Authorization: Bearer ` + M + `' -H 'X: y'`},
		{"a JSON header", `{"Authorization": "Bearer abc", "Accept": "*/*"}`, `{"Authorization": "` + M + `", "Accept": "*/*"}`},
		{"Go's http.Header", `map[Accept:[*/*] Authorization:[Bearer abcdef123]]`, `map[Accept:[*/*] Authorization:[` + M + `]]`},
		{"an environment key", "HTTP_AUTHORIZATION=Bearer abc", "HTTP_AUTHORIZATION=Bearer " + M},
		// A secret header or YAML key's value of one word, not prose.
		{"an API key header", "X-API-Key: abc123def456\r\nAccept: */*", "X-API-Key: " + M + "\r\nAccept: */*"},
		{"GitLab's token header", "> Private-Token: glpat-abcdef123456", "> Private-Token: " + M},
		{"a token header", "X-Auth-Token: abc123def456", "X-Auth-Token: " + M},
		{"a YAML value of one word", "user: app\npassword: hunter2\nport: 5432", "user: app\npassword: " + M + "\nport: 5432"},
		{"a YAML value, then a comment", "DB_PASSWORD: abc123 # rotated", "DB_PASSWORD: " + M + " # rotated"},
		{"a Kubernetes Secret's data", "data:\n  password: c2VjcmV0\n  username: YWRtaW4=", "data:\n  password: " + M + "\n  username: YWRtaW4="},
		{"Rails' secret_key_base", "secret_key_base: 0123abcd", "secret_key_base: " + M},
		{"a number", "password: 8080", "password: " + M},
		{"inside a quoted log message", `level=info msg="token: abc123"`, `level=info msg="token: ` + M + `"`},
		{"one word of letters is prose", "token: required", "token: required"},
		{"punctuation alone is prose", "unexpected token: }", "unexpected token: }"},
		{"closing punctuation is prose's", "(token: invalid)", "(token: invalid)"},
		{"several words are prose", "--keystore-password: too short, 3 characters", "--keystore-password: too short, 3 characters"},
		// Cookies are credentials (session ids).
		{"Cookie", "Cookie: session=abc123def; theme=dark\r\nHost: h", "Cookie: " + M + "\r\nHost: h"},
		{"Set-Cookie", "< Set-Cookie: sid=abc123def; Path=/; HttpOnly", "< Set-Cookie: " + M},
		{"curl's --cookie", "curl --cookie 'sid=abc123' https://h/", "curl --cookie '" + M + "' https://h/"},
		{"prose", "Authorization: denied", "Authorization: denied"},
		{"prose, several words", "authorization: failed for user app", "authorization: failed for user app"},
		{"a scheme alone", "Authorization: Bearer", "Authorization: Bearer"},
		{"a URL named for it is not", "authorization_endpoint: https://login/authorize", "authorization_endpoint: https://login/authorize"},
	})
}

// TestCredentialPathVariables: of the well-known variables that name a
// credential, those holding its file's path are shown — the value names
// what to fix in an error — by one rule: the name's last word is file,
// path or dir, or its owner documents it as a path (pathNames); those
// that may hold the credential itself are masked.
func TestCredentialPathVariables(t *testing.T) {
	const path = "/var/run/secrets/cred.json"
	for _, tt := range []struct {
		name string
		path bool
	}{
		// Paths by their last word.
		{"AWS_SHARED_CREDENTIALS_FILE", true},
		{"AWS_WEB_IDENTITY_TOKEN_FILE", true},
		{"AZURE_FEDERATED_TOKEN_FILE", true},
		{"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", true},
		{"POSTGRES_PASSWORD_FILE", true},
		{"TLS_SERVER_KEY_FILE", true},
		{"LIBPROCESS_SSL_KEY_FILE", true},
		{"SSH_PRIVATE_KEY_PATH", true},
		{"VAULT_SECRETS_DIR", true},
		// Paths whose names are not secret at all.
		{"AWS_CONFIG_FILE", true},
		{"KUBECONFIG", true},
		{"SSL_CERT_FILE", true},
		{"PGPASSFILE", true},
		{"VAULT_CACERT", true},
		{"GIT_ASKPASS", true},
		// Paths by their owner's documentation.
		{"GOOGLE_APPLICATION_CREDENTIALS", true},
		{"CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", true},
		{"MESOS_CREDENTIAL", true},
		{"MESOS_CREDENTIALS", true},
		{"MESOS_HTTP_CREDENTIALS", true},
		{"MESOS_JWT_SECRET_KEY", true},
		{"MESOS_EXECUTOR_SECRET_KEY", true},
		// The credential itself, or either.
		{"GOOGLE_CREDENTIALS", false},
		{"DCOS_SERVICE_ACCOUNT_CREDENTIAL", false},
		{"MESOS_EXECUTOR_AUTHENTICATION_TOKEN", false},
		{"MESOS_EXAMPLE_SECRET", false},
		{"AWS_SECRET_ACCESS_KEY", false},
		{"AWS_SESSION_TOKEN", false},
		{"VAULT_TOKEN", false},
		{"PGPASSWORD", false},
		{"JWT_SECRET_KEY", false},
		{"TLS_SERVER_KEY", false},
		{"SECRET_FILENAME", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Default()
			if got := r.IsSecretKey(tt.name); got == tt.path {
				t.Errorf("IsSecretKey(%q) = %v", tt.name, got)
			}
			want := tt.name + "=" + path
			if !tt.path {
				want = tt.name + "=" + Mask
			}
			if got := r.Env([]string{tt.name + "=" + path})[0]; got != want {
				t.Errorf("Env = %q, want %q", got, want)
			}
			if got := r.String(tt.name + "=" + path + " not found"); got != want+" not found" {
				t.Errorf("String = %q, want %q", got, want+" not found")
			}
		})
	}
}

// TestLastWord: lastWord, which allocates nothing, agrees with words on
// the names it judges.
func TestLastWord(t *testing.T) {
	for _, name := range []string{"Authorization", "authorization", "Proxy-Authorization", "HTTP_AUTHORIZATION", "xAuthorization",
		"x2Authorization", "XAuthorization", "XAUTHORIZATION", "proxyauthorization", "authorization_url", "Set-Cookie", "set_cookie",
		"SetCookie", "cookie", "COOKIE", "Cookies", "mycookie", "x.cookie", "reset-cookie", "Set--Cookie"} {
		for _, word := range []string{"authorization", "cookie"} {
			w := words(name)
			want := w == word || strings.HasSuffix(w, "_"+word)
			if _, got := lastWord(name, word); got != want {
				t.Errorf("lastWord(%q, %q) = %v; words %q", name, word, got, w)
			}
		}
		w := words(name)
		if got, want := isCookieHeader(name), w == "cookie" || w == "set_cookie"; got != want {
			t.Errorf("isCookieHeader(%q) = %v; words %q", name, got, w)
		}
	}
}

// TestPositionalPasswords: the passwords the commands users log most often
// take without a name that says so — curl's user:password, a MySQL
// client's -pPASSWORD, SQL's PASSWORD and IDENTIFIED BY — are masked; the
// same shapes in other commands and in prose are not.
func TestPositionalPasswords(t *testing.T) {
	M := Mask
	maskRows(t, []maskRow{
		{"curl -u", "curl -u admin:s3cret https://h/", "curl -u admin:" + M + " https://h/"},
		{"curl --user, quoted, a blank inside", "curl -s --user 'admin:s3 cret' -X POST https://h/", "curl -s --user 'admin:" + M + "' -X POST https://h/"},
		{"curl --user=", "curl --user=admin:s3cret https://h/", "curl --user=admin:" + M + " https://h/"},
		{"curl -u joined", "curl -uadmin:s3cret https://h/", "curl -uadmin:" + M + " https://h/"},
		{"curl -U, a proxy's", "curl -U proxyuser:pw https://h/ -x proxy:3128", "curl -U proxyuser:" + M + " https://h/ -x proxy:3128"},
		{"curl -u without a password", "curl -u admin https://h/", "curl -u admin https://h/"},
		{"another command's -u is a user and group", "docker run -u app:staff img", "docker run -u app:staff img"},
		{"mysql -p joined", "mysql -u root -ps3cret db", "mysql -u root -p" + M + " db"},
		{"mysqldump -p quoted", "mysqldump -h db -u app -p'my secret' app", "mysqldump -h db -u app -p'" + M + "' app"},
		{"mysql -p alone prompts", "mysql -u root -p db", "mysql -u root -p db"},
		{"mysql -P is the port", "mysql -P 3306 -h db", "mysql -P 3306 -h db"},
		{"another command's -p", "ssh -p 2222 host", "ssh -p 2222 host"},
		{"PostgreSQL's PASSWORD", "ALTER USER app WITH PASSWORD 's3cret';", "ALTER USER app WITH PASSWORD '" + M + "';"},
		{"MySQL's IDENTIFIED BY", "CREATE USER 'app'@'%' IDENTIFIED BY 's3cret';", "CREATE USER 'app'@'%' IDENTIFIED BY '" + M + "';"},
		{"IDENTIFIED WITH a plugin BY", "CREATE USER app IDENTIFIED WITH mysql_native_password BY 's3cret';", "CREATE USER app IDENTIFIED WITH mysql_native_password BY '" + M + "';"},
		{"Oracle's, unquoted", "CREATE USER scott IDENTIFIED BY tiger;", "CREATE USER scott IDENTIFIED BY " + M + ";"},
		{"prose", "the password is wrong; identified by its name", "the password is wrong; identified by its name"},
		{"a double-quoted word after password", `reset password "for" user`, `reset password "for" user`},
	})
}
