package redact

import (
	"strings"
	"testing"
)

func TestIsSecretKey(t *testing.T) {
	r, err := New(`^MY_API_KEY$|^MY_TOKEN_FILE$`, "-redact-keys")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want bool
	}{
		{"DCOS_SERVICE_ACCOUNT_CREDENTIAL", true},
		{"DB_PASSWORD", true},
		{"db_Password", true},
		{"CLIENT_SECRET", true},
		{"GITHUB_TOKEN", true},
		// Names of paths hold where a secret is, not the secret.
		{"AWS_CREDENTIALS_FILE", false},
		{"SCHEDULER_LITE_API_TOKEN_FILE", false},
		{"SCHEDULER_LITE_SECRET_FILE", false},
		{"tls_private_key_path", false},
		{"SECRETS_DIR", false},
		// A well-known name holding a credential file's path.
		{"GOOGLE_APPLICATION_CREDENTIALS", false},
		{"google.application.credentials", false},
		{"GOOGLE_CREDENTIALS", true}, // a key's contents, or its path
		{"GOOGLE_APPLICATION_CREDENTIALS_JSON", true},
		{"MY_TOKEN_FILE", true}, // the extra pattern has no exception
		{"SECRET_FILENAME", true},
		{"MY_API_KEY", true},
		{"app.MY_API_KEY", true}, // the extra pattern, by the last dotted part
		{"TLS_SERVER_KEY", true},
		{"STRIPE_PRIVATE_KEY", true},
		{"API_KEY", true},
		{"AWS_ACCESS_KEY_ID", true},
		{"TLS_SERVER_CERT", false},
		{"MONKEY", false},
		{"PATH", false},
		{"TASK_NAME", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := r.IsSecretKey(tt.key); got != tt.want {
				t.Errorf("IsSecretKey(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

func TestNewBadPatternNamesFlag(t *testing.T) {
	_, err := New("(", "-redact-keys")
	if err == nil || !strings.Contains(err.Error(), "-redact-keys") {
		t.Fatalf("want error naming -redact-keys, got %v", err)
	}
}

func TestEnvSortedAndMasked(t *testing.T) {
	got := Default().Env([]string{"B=2", "DB_PASSWORD=hunter2", "A=1", "EMPTY="})
	want := []string{"A=1", "B=2", "DB_PASSWORD=" + Mask, "EMPTY="}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Env = %q, want %q", got, want)
	}
}

func TestStringMasksLearnedValues(t *testing.T) {
	pem := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAbCdEfGhIjKlMnOp\n-----END PRIVATE KEY-----\n"
	r := Default().LearnEnv([]string{
		"DB_PASSWORD=hunter2",
		"DB_PASSWORD_LONG=hunter2-and-more",
		"TLS_SECRET_KEY=" + pem,
		"EMPTY_TOKEN=",
		"PLAIN=hunter3",
		"HTML_SECRET=p&ss<w>\"9x",
	})
	tests := []struct{ in, want string }{
		{"password is hunter2.", "password is " + Mask + "."},
		{"long hunter2-and-more", "long " + Mask},
		{"+ MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "+ " + Mask},
		{pem, Mask},
		{"hunter3 stays", "hunter3 stays"},
		{"-----END PRIVATE KEY----- is not secret by itself", "-----END PRIVATE KEY----- is not secret by itself"},
		{"url=postgres://app:pw123@db:5432/x", "url=postgres://app:" + Mask + "@db:5432/x"},
		{"http://u:p@ss@host/x", "http://u:" + Mask + "@host/x"},
		{"http://u:p/ss@host/x", "http://u:" + Mask + "@host/x"},
		{`{"a":"http://u:pw@h/","b":"x@y"}`, `{"a":"http://u:` + Mask + `@h/","b":"x@y"}`},
		{"https://user@host/ and http://h:80/", "https://user@host/ and http://h:80/"},
		{"escaped p&amp;ss&lt;w&gt;&#34;9x", "escaped " + Mask},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCredentialsInsideValues: a password carried as a parameter inside a
// value, whatever the variable is called, is masked and the rest stays
// readable. Each row is another way users write connection strings and
// command lines.
func TestCredentialsInsideValues(t *testing.T) {
	r, err := New(`(?i)^session$`, "-redact-keys")
	if err != nil {
		t.Fatal(err)
	}
	M := Mask
	tests := []struct{ name, in, want string }{
		{"URL query", "https://api/x?user=app&password=Pg1&ssl=true", "https://api/x?user=app&password=" + M + "&ssl=true"},
		{"URL query, first parameter", "http://h/?token=abc123", "http://h/?token=" + M},
		{"URL query, access_token", "wss://h/s?access_token=eyJhbGciOi.x.y#frag", "wss://h/s?access_token=" + M},
		{"pre-signed URL signature", "https://acct.blob/c/f?sv=2020&sig=AbC%2Bd&se=1", "https://acct.blob/c/f?sv=2020&sig=" + M + "&se=1"},
		{"AWS pre-signed URL", "https://b.s3/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=f00d&X-Amz-Expires=60", "https://b.s3/k?X-Amz-Credential=" + M + "&X-Amz-Signature=" + M + "&X-Amz-Expires=60"},
		{"JDBC MySQL", "jdbc:mysql://db:3306/app?user=app&password=My2", "jdbc:mysql://db:3306/app?user=app&password=" + M},
		{"JDBC SQL Server", "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=Ms4;encrypt=true", "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=" + M + ";encrypt=true"},
		{"JDBC Oracle-style property", "jdbc:oracle:thin:@db:1521/x;Password=Or5", "jdbc:oracle:thin:@db:1521/x;Password=" + M},
		{"libpq key=value", "host=db user=app password=Dsn3 dbname=app", "host=db user=app password=" + M + " dbname=app"},
		{"libpq quoted value with a space", "host=db password='a b c' port=5432", "host=db password='" + M + "' port=5432"},
		{"libpq quoted value with an escaped quote", `host=db password='it\'s-a-secret' dbname=app`, "host=db password='" + M + "' dbname=app"},
		{"libpq quoted value ending in an escaped backslash", `password='a\\' dbname=app`, "password='" + M + "' dbname=app"},
		{"YAML single-quoted value with a doubled quote", "password: 'it''s-a-secret'\nport: 1", "password: '" + M + "'\nport: 1"},
		{"YAML single-quoted value ending the line", "password: 'x'\nuser: 'app'", "password: '" + M + "'\nuser: 'app'"},
		{"an empty single-quoted value is empty", "password='' host=db user='app'", "password='' host=db user='app'"},
		{"libpq sslpassword", "sslmode=verify-full sslpassword=kp6", "sslmode=verify-full sslpassword=" + M},
		{"ODBC", "Server=db;Database=app;User Id=app;Password=Ms4;", "Server=db;Database=app;User Id=app;Password=" + M + ";"},
		{"ODBC Pwd", "Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=x7y;", "Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=" + M + ";"},
		{"ODBC braced value with ;", "Uid=sa;PWD={p;a}}ss};Server=db", "Uid=sa;PWD={" + M + "};Server=db"},
		{"--password=", "mysqldump --user=app --password=Cl1 app", "mysqldump --user=app --password=" + M + " app"},
		{"--password value", "redis-cli --pass Rd2 -h db", "redis-cli --pass " + M + " -h db"},
		{"--db-password value", "server --db-password 's3 cr3t' --port 80", "server --db-password '" + M + "' --port 80"},
		{"-Djava property", "java -Djavax.net.ssl.keyStorePassword=changeit -jar app.jar", "java -Djavax.net.ssl.keyStorePassword=" + M + " -jar app.jar"},
		{"--api-key=", "curl --api-key=k-123 http://h", "curl --api-key=" + M + " http://h"},
		{"JSON", `{"user":"app","password":"p\"w","port":5432}`, `{"user":"app","password":"` + M + `","port":5432}`},
		{"YAML, quoted value", "user: app\npassword: 'Ym8'\nport: 1", "user: app\npassword: '" + M + "'\nport: 1"},
		{"no blank after the colon", "password:Ym9 port:1", "password:" + M + " port:1"},
		{"an error naming a secret flag is prose", "--keystore-password: empty; env:TLS_SERVER_KEY: no private key found",
			"--keystore-password: empty; env:TLS_SERVER_KEY: no private key found"},
		{"an error quoting a secret flag's value", `--truststore-password: "abc" is too short`, `--truststore-password: "` + M + `" is too short`},
		{"extra key rule applies to parameters", "http://h/?session=s9&x=1", "http://h/?session=" + M + "&x=1"},
		{"URL password and query together", "postgres://app:pw1@db/x?sslpassword=pw2", "postgres://app:" + M + "@db/x?sslpassword=" + M},
		{"Go MySQL DSN", "app:My7@tcp(db:3306)/app?parseTime=true", "app:" + M + "@tcp(db:3306)/app?parseTime=true"},
		{"Go MySQL DSN after a key, password holding @ and :", "DSN=root:p@s:s@unix(/run/mysqld.sock)/app", "DSN=root:" + M + "@unix(/run/mysqld.sock)/app"},
		{"Go MySQL DSN without a network", "dsn='app:x1@/app'", "dsn='app:" + M + "@/app'"},
		{"Go MySQL DSN with a secret parameter", "app:x2@(db)/app?tls=custom&password=x3", "app:" + M + "@(db)/app?tls=custom&password=" + M},
		{"an e-mail address is not a DSN", "mailto:ops@example.com and to:a@b.c", "mailto:ops@example.com and to:a@b.c"},
		{"a time before an @ is not a DSN", "at 10:30@home", "at 10:30@home"},
		{"nested: a value naming another parameter", "url=password=pw3", "url=password=" + M},
		{"empty value stays empty", "http://h/?password=&user=x", "http://h/?password=&user=x"},
		{"option without a value", "app --password --verbose", "app --password --verbose"},
		{"prose is left alone", "the password is wrong", "the password is wrong"},
		// A quoted path whose last part reads as a secret name is a file,
		// and what follows its colon Go's error (helper-49's newcomer run:
		// healthd printed "command ...: ******** ...").
		{"a quoted path ending in a secret word", `command "./token-refresher": exec: "./token-refresher": stat ./token-refresher: no such file or directory`,
			`command "./token-refresher": exec: "./token-refresher": stat ./token-refresher: no such file or directory`},
		{"a quoted absolute path", `fork/exec "/etc/passwd": permission denied`, `fork/exec "/etc/passwd": permission denied`},
		{"a JSON key that is a path ending in a secret word", `{"secret/db/password": "x"}`, `{"secret/db/password": "` + M + `"}`},
		{"a JSON key is", `{"token-refresher": "t0k"}`, `{"token-refresher": "` + M + `"}`},
		// Go's `%q: reason` errors quote a name and go on in words: a
		// secret word in the name does not make the reason a value
		// (repro 01: healthd printed `exec: "token-refresher": ********
		// file not found`). A JSON value is never such words, so JSON
		// and YAML flow values after a quoted name stay masked.
		{"Go's exec error for a bare name", `command "token-refresher": exec: "token-refresher": executable file not found in $PATH`,
			`command "token-refresher": exec: "token-refresher": executable file not found in $PATH`},
		{"strconv's error", `strconv.ParseBool: parsing "password": invalid syntax`, `strconv.ParseBool: parsing "password": invalid syntax`},
		{"a stat error", `stat "secret.yml": no such file or directory`, `stat "secret.yml": no such file or directory`},
		{"a decoder's error", `unknown field "api_key": not allowed`, `unknown field "api_key": not allowed`},
		{"a one-word reason ending the text", `field "token": required`, `field "token": required`},
		{"a one-word reason ending a line", "field 'token': required\nnext", "field 'token': required\nnext"},
		{"a reason with a hyphen and an apostrophe", `"api_key": well-known values can't be used`, `"api_key": well-known values can't be used`},
		// A value without quotes ends before the ',', '}' or ']' that
		// ends it in its structure (TestStructuredValues has the kind).
		{"a JSON number", `{"token": 12345}`, `{"token": ` + M + `}`},
		{"a JSON number, then more", `{"token": 12345, "user": "app"}`, `{"token": ` + M + `, "user": "app"}`},
		{"a JSON literal", `{"password": true}`, `{"password": ` + M + `}`},
		{"a JSON array", `{"api_key": [1, 2]}`, `{"api_key": [` + M + `]}`},
		{"a YAML flow value", `{"token": abcdef}`, `{"token": ` + M + `}`},
		{"a YAML flow value, then more", `{"token": abcdef, "user": app}`, `{"token": ` + M + `, "user": app}`},
		{"a YAML flow value before a blank", `["secret": abcdef ]`, `["secret": ` + M + ` ]`},
		{"a word with digits", `"token": abc123 and more`, `"token": ` + M + ` and more`},
		{"a word with a dot", `"token": eyJhbGciOi.eyJzdWIi.c2ln end`, `"token": ` + M + ` end`},
		{"plain parameters are left alone", "host=db user=app port=5432 sslmode=require", "host=db user=app port=5432 sslmode=require"},
		{"a word containing a key is not a parameter", "passwords=3", "passwords=" + M},
		{"already masked", "password=" + M, "password=" + M},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			// Value gives a variable with a neutral name the same masking.
			if got := r.Value("NEUTRAL", tt.in); got != tt.want {
				t.Errorf("Value(NEUTRAL, %q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestEnvMasksCredentialsInsideValues: the environment print (Env) masks
// parameters inside values of variables whose names are not secret.
func TestEnvMasksCredentialsInsideValues(t *testing.T) {
	got := strings.Join(Default().Env([]string{
		"SPRING_DATASOURCE_URL=jdbc:postgresql://db:5432/app?user=app&password=Pg1Secret&ssl=true",
		"DB_DSN=host=db user=app password=Dsn3Secret dbname=app",
		"JAVA_OPTS=-Xmx1g -Djavax.net.ssl.trustStorePassword=ts9 -Dfoo=bar",
	}), "\n")
	for _, leak := range []string{"Pg1Secret", "Dsn3Secret", "ts9"} {
		if strings.Contains(got, leak) {
			t.Errorf("Env leaks %s:\n%s", leak, got)
		}
	}
	for _, keep := range []string{"jdbc:postgresql://db:5432/app?user=app&password=", "&ssl=true", "dbname=app", "-Dfoo=bar"} {
		if !strings.Contains(got, keep) {
			t.Errorf("Env lost %q:\n%s", keep, got)
		}
	}
}

func TestCredentials(t *testing.T) {
	in := "https://u:pw@h/x?token=t0k&v=1"
	if got, want := Credentials(in), "https://u:"+Mask+"@h/x?token="+Mask+"&v=1"; got != want {
		t.Errorf("Credentials = %q, want %q", got, want)
	}
}

// TestFreeTextRule: a secret value is masked wherever it appears only when
// that does no harm (Learnable); as its own key's value it is always
// masked.
func TestFreeTextRule(t *testing.T) {
	r := Default().LearnEnv([]string{"MY_TOKEN=o", "USE_TOKEN_AUTH=true", "DB_PASSWORD=8080", "API_TOKEN= 12345 ",
		"LONG_TOKEN=1234567890123456", "SHORT_SECRET=abcdef", "SCHEDULER_LITE_SECRET_FILE=/tmp/nope/secretfile"})
	for _, tt := range []struct{ in, want string }{
		{"open /tmp/nope/secretfile: no such file or directory", "open /tmp/nope/secretfile: no such file or directory"},
		{"ENABLE_TLS=true on port 8080, 12345 done", "ENABLE_TLS=true on port 8080, 12345 done"},
		{"could not connect to host foo", "could not connect to host foo"},
		{"MY_TOKEN=o USE_TOKEN_AUTH=true", "MY_TOKEN=" + Mask + " USE_TOKEN_AUTH=" + Mask},
		{"id 1234567890123456 and abcdef", "id " + Mask + " and " + Mask},
		{"--secret-file=/run/s.txt --token-path /x", "--secret-file=/run/s.txt --token-path /x"},
		{"GOOGLE_APPLICATION_CREDENTIALS=/var/run/gcp/sa.json: no such file", "GOOGLE_APPLICATION_CREDENTIALS=/var/run/gcp/sa.json: no such file"},
		{`pods.p.secrets.s2.secret: "/etc/abs" must be relative`, `pods.p.secrets.s2.secret: "/etc/abs" must be relative`},
		{`pods.p.secrets.s2.file: "/etc/abs": must be relative`, `pods.p.secrets.s2.file: "/etc/abs": must be relative`},
		{"-Djavax.net.ssl.keyStorePassword=changeit", "-Djavax.net.ssl.keyStorePassword=" + Mask},
		{`{"db.password": "x"}`, `{"db.password": "` + Mask + `"}`},
	} {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, kv := range r.Env([]string{"MY_TOKEN=o", "USE_TOKEN_AUTH=true", "SCHEDULER_LITE_API_TOKEN_FILE=/nonexistent", "GOOGLE_APPLICATION_CREDENTIALS=/var/run/gcp/sa.json"}) {
		if k, v, _ := strings.Cut(kv, "="); (k == "SCHEDULER_LITE_API_TOKEN_FILE" || k == "GOOGLE_APPLICATION_CREDENTIALS") != (v != Mask) {
			t.Errorf("Env: %s", kv)
		}
	}
	for v, want := range map[string]bool{"o": false, "abcde": false, "abcdef": true, "  abcde ": false, "TRUE": false,
		"disabled": false, "-1.5": false, "123456789012345": false, "1234567890123456": true, "hunter2": true} {
		if Learnable(v) != want {
			t.Errorf("Learnable(%q) = %v", v, !want)
		}
	}
}

// TestLearnAgainKeepsOne: values learned again and again (a testenv agent
// learns the secrets of every command it launches) are kept once each,
// whatever other values of the same length came between.
func TestLearnAgainKeepsOne(t *testing.T) {
	r := Default()
	for i := 0; i < 50; i++ {
		r.LearnEnv([]string{"A_TOKEN=secret-aaaa", "B_TOKEN=secret-bbbb", "C_TOKEN=secret-cccc"})
		r.LearnValue("secret-bbbb")
	}
	if len(r.values) != 3 {
		t.Errorf("%d values kept, want 3: %q", len(r.values), r.values)
	}
	if got := r.String("x secret-aaaa secret-cccc"); got != "x "+Mask+" "+Mask {
		t.Errorf("masked %q", got)
	}
}
