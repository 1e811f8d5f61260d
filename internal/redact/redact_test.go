package redact

import (
	"strings"
	"testing"
)

func TestIsSecretKey(t *testing.T) {
	r, err := New(`^MY_API_KEY$`, "-redact-keys")
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
		{"AWS_CREDENTIALS_FILE", true},
		{"MY_API_KEY", true},
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
