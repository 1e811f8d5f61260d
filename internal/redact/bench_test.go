package redact

import (
	"fmt"
	"strings"
	"testing"
)

// benchDiff is a 50-line unified diff of a rendered config file, what
// bootstrap masks for each changed template: mostly plain settings, a few
// URLs, parameters and learned secrets.
func benchDiff() string {
	var b strings.Builder
	b.WriteString("--- a/conf/app.properties\n+++ b/conf/app.properties\n@@ -1,48 +1,48 @@\n")
	for i := 0; i < 47; i++ {
		switch i % 8 {
		case 0:
			fmt.Fprintf(&b, "+spring.datasource.url=jdbc:postgresql://db-%d.example:5432/app?user=app&password=Pg%dSecret\n", i, i)
		case 1:
			fmt.Fprintf(&b, "-server.port=%d\n", 8080+i)
		case 2:
			fmt.Fprintf(&b, "+cache.url=redis://:hunter2-and-more@cache-%d:6379/0\n", i)
		case 3:
			fmt.Fprintf(&b, " logging.level.org.example.service%d=INFO\n", i)
		case 4:
			fmt.Fprintf(&b, "+artifact=https://storage.googleapis.com/b/app-%d.tgz?X-Goog-Date=20261130T000000Z&X-Goog-Signature=ab%dcd\n", i, i)
		case 5:
			fmt.Fprintf(&b, " management.endpoints.web.exposure.include=health,info,metrics%d\n", i)
		case 6:
			fmt.Fprintf(&b, "+jwt.issuer=https://auth.example/realms/r%d\n", i)
		default:
			fmt.Fprintf(&b, " app.feature.flag%d=true\n", i)
		}
	}
	return b.String()
}

// BenchmarkString masks the texts taskkit's printers mask: a 50-line diff
// (bootstrap), a typical log record's message (every binary), and an
// environment of 40 variables (bootstrap's print).
func BenchmarkString(b *testing.B) {
	r := Default().LearnEnv([]string{"DB_PASSWORD=hunter2-and-more", "API_TOKEN=tok-0123456789"})
	diff := benchDiff()
	b.Run("diff50", func(b *testing.B) {
		b.SetBytes(int64(len(diff)))
		for i := 0; i < b.N; i++ {
			r.String(diff)
		}
	})
	line := `task hello-0-server launched on agent a1 (cpus=0.5 mem=256) command="./server --port 8080 --log-level info"`
	b.Run("logline", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for i := 0; i < b.N; i++ {
			r.String(line)
		}
	})
	var env []string
	for i := 0; i < 40; i++ {
		env = append(env, fmt.Sprintf("MESOS_VAR_%d=value-%d", i, i))
	}
	env = append(env, "DATABASE_URL=postgres://app:pw-123456@db:5432/app", "jwt.private.key=abcdefgh", "JAVA_OPTS=-Xmx1g -Dssl.keyStorePassword=changeit")
	b.Run("env43", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, kv := range r.Env(env) {
				r.String(kv)
			}
		}
	})
}
