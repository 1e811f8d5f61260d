package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cbroglie/mustache"
)

// TestMissesComeFromTheRenderer is the regression table of one kind of
// fault: -strict judging a template differently from how it renders
// (defunkt/pystache#141: dotted names). Each row renders one template, with
// partials beside it, and checks the output, the misses and the strict
// error. Every row also renders without the recording context and must get
// the same output: recording never changes what is written.
func TestMissesComeFromTheRenderer(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		tmpl     string
		partials map[string]string // file name -> content, beside the template
		want     string            // output (when no strict error)
		vars     []string          // missing variables
		parts    []string          // missing partials
	}{
		{name: "dotted variable renders its value (raw and escaped)",
			env:  []string{"spring.datasource.url=jdbc:h2:mem:x", "server.port=8443"},
			tmpl: "url={{{spring.datasource.url}}} port={{server.port}}", want: "url=jdbc:h2:mem:x port=8443"},
		{name: "a name and dotted names under it",
			env:  []string{"server=web", "server.port=80", "server.ssl.port=443"},
			tmpl: "{{server}} {{server.port}} {{server.ssl.port}}", want: "web 80 443"},
		{name: "dotted variable as a section",
			env:  []string{"feature.tls=true", "PORT=1"},
			tmpl: "{{#feature.tls}}tls on {{PORT}}{{/feature.tls}}{{^feature.tls}}off{{/feature.tls}}", want: "tls on 1"},
		{name: "dotted variable false in sections, printed as itself",
			env:  []string{"feature.tls=False"},
			tmpl: "{{#feature.tls}}on{{/feature.tls}}{{^feature.tls}}off{{/feature.tls}} {{feature.tls}}", want: "off False"},
		{name: "missing dotted name beside a set one",
			env:  []string{"catalina.home=/opt/tomcat"},
			tmpl: "home={{catalina.home}} base={{catalina.base}}", want: "home=/opt/tomcat base=", vars: []string{"catalina.base"}},
		{name: "missing dotted name, nothing under its prefix",
			tmpl: "host={{db.host}} port={{{db.port}}}", want: "host= port=", vars: []string{"db.host", "db.port"}},
		{name: "a prefix alone prints nothing and is missing",
			env:  []string{"catalina.home=/opt"},
			tmpl: "[{{catalina}}]", want: "[]", vars: []string{"catalina"}},
		{name: "missing name under a plain value",
			env:  []string{"db=postgres"},
			tmpl: "{{db}}:{{db.port}}", want: "postgres:", vars: []string{"db.port"}},
		{name: "every miss once, in printed order",
			env:  []string{"A=1"},
			tmpl: "{{B}}{{A}}{{{C}}}{{B}}", want: "1", vars: []string{"B", "C"}},
		{name: "inside a rendered section",
			env:  []string{"TLS=yes"},
			tmpl: "{{#TLS}}cert={{TLS_CERT}}{{/TLS}}", want: "cert=", vars: []string{"TLS_CERT"}},
		{name: "inside a skipped section: not rendered, not missing",
			env:  []string{"TLS=false"},
			tmpl: "{{#TLS}}cert={{TLS_CERT}}{{/TLS}}{{#NOPE}}{{ALSO}}{{/NOPE}}", want: ""},
		{name: "inside a rendered inverted section",
			tmpl: "{{^DEBUG}}level={{LOG_LEVEL}}{{/DEBUG}}", want: "level=", vars: []string{"LOG_LEVEL"}},
		{name: "inside a skipped inverted section",
			env:  []string{"DEBUG=1"},
			tmpl: "{{^DEBUG}}level={{LOG_LEVEL}}{{/DEBUG}}", want: ""},
		{name: "default idiom, dotted too",
			tmpl: "{{a.b}}{{^a.b}}dflt{{/a.b}} {{N}}{{^N}}2{{/N}}", want: "dflt 2"},
		{name: "changed delimiters",
			env:  []string{"A=1"},
			tmpl: "{{=<% %>=}}a=<%A%> b=<%B%> c=<%{C}%>", want: "a=1 b= c=", vars: []string{"B", "C"}},
		{name: "delimiters changed back",
			tmpl: "{{=| |=}}|X||={{ }}=|{{Y}}", want: "", vars: []string{"X", "Y"}},
		{name: "partial from the template's directory",
			env:  []string{"PORT=80"},
			tmpl: "{{> listen}};", partials: map[string]string{"listen.mustache": "listen {{PORT}} {{MISSING_IN_PARTIAL}}"},
			want: "listen 80 ;", vars: []string{"MISSING_IN_PARTIAL"}},
		{name: "partial in a subdirectory, nested partial",
			env:  []string{"A=1"},
			tmpl: "{{> inc/outer}}", partials: map[string]string{"inc/outer": "[{{> inc/inner}}]", "inc/inner": "a={{A}}"},
			want: "[a=1]"},
		{name: "missing partial",
			tmpl: "x{{> nope}}y", want: "xy", parts: []string{"nope"}},
		{name: "missing partial in a skipped section is not missing",
			tmpl: "{{#OFF}}{{> nope}}{{/OFF}}", want: ""},
		{name: "dotted name whose prefix is a section and absent: not recordable (documented limit)",
			tmpl: "{{^a}}{{a.b}}{{/a}}", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.partials {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, m, err := Text(tt.tmpl, tt.env, TextOptions{PartialsDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.want {
				t.Errorf("output %q, want %q", out, tt.want)
			}
			if strings.Join(m.Variables, ",") != strings.Join(tt.vars, ",") || strings.Join(m.Partials, ",") != strings.Join(tt.parts, ",") {
				t.Errorf("misses %+v, want variables %q partials %q", m, tt.vars, tt.parts)
			}
			// The same render without the recorders prints the same.
			p, _ := newPartials(dir, 0, 0)
			defer p.Close()
			plain, err := mustache.ParseStringPartials(tt.tmpl, p)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := plain.Render(Context(tt.env)); got != out {
				t.Errorf("recording changed the output: %q, plain render %q", out, got)
			}

			// Through RenderAll: strict fails naming every miss and writes
			// nothing; lenient writes the output.
			src := filepath.Join(dir, "t.tmpl")
			os.WriteFile(src, []byte(tt.tmpl), 0o644)
			dst := filepath.Join(dir, "out", "t.conf")
			tpl := []Template{{Origin: "CONFIG_TEMPLATE_T", Source: src, Dest: dst}}
			_, err = RenderAll(tpl, Options{Env: tt.env, Strict: true})
			if len(tt.vars)+len(tt.parts) == 0 {
				if err != nil {
					t.Fatalf("strict: %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("strict render passed")
				}
				if len(tt.vars) > 0 && (!errors.Is(err, ErrMissingVariables) || !strings.Contains(err.Error(), strings.Join(tt.vars, ", "))) {
					t.Errorf("strict error %v does not name %q", err, tt.vars)
				}
				if len(tt.parts) > 0 && (!errors.Is(err, ErrMissingPartials) || !strings.Contains(err.Error(), strings.Join(tt.parts, ", "))) {
					t.Errorf("strict error %v does not name %q", err, tt.parts)
				}
				if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
					t.Error("strict failure wrote the destination")
				}
				if _, err := RenderAll(tpl, Options{Env: tt.env}); err != nil {
					t.Fatalf("lenient: %v", err)
				}
			}
			if b, _ := os.ReadFile(dst); string(b) != tt.want {
				t.Errorf("written %q, want %q", b, tt.want)
			}
		})
	}
}

// TestPartialsStayInTheTemplateDirectory: partials are read from the
// template's directory, never the working directory or outside, and count
// toward -template-max-bytes.
func TestPartialsStayInTheTemplateDirectory(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside data"), 0o644)
	cwd := t.TempDir()
	os.WriteFile(filepath.Join(cwd, "header"), []byte("from the working directory"), 0o644)
	t.Chdir(cwd)

	tests := []struct {
		name     string
		tmpl     string
		files    map[string]string
		link     [2]string // symlink name -> target
		maxBytes int64
		want     string
		wantErr  string
	}{
		{name: "not from the working directory", tmpl: "{{> header}}", files: map[string]string{"header": "from the template directory"}, want: "from the template directory"},
		{name: "absent beside the template, present in the cwd", tmpl: "[{{> header}}]", want: "[]"},
		{name: "dot-dot", tmpl: "{{> ../" + filepath.Base(outside) + "/secret}}", wantErr: "partial"},
		{name: "absolute", tmpl: "{{> " + filepath.Join(outside, "secret") + "}}", wantErr: "absolute"},
		{name: "symbolic link out", tmpl: "{{> evil}}", link: [2]string{"evil", filepath.Join(outside, "secret")}, wantErr: "partial \"evil\""},
		{name: "directory link out", tmpl: "{{> d/secret}}", link: [2]string{"d", outside}, wantErr: "partial \"d/secret\""},
		{name: "partials count toward the limit", tmpl: "{{> big}}", files: map[string]string{"big": strings.Repeat("x", 100)}, maxBytes: 64, wantErr: "over the limit of 64 bytes"},
		{name: "within the limit", tmpl: "{{> small}}", files: map[string]string{"small": "ok"}, maxBytes: 64, want: "ok"},
		{name: "a partial including itself", tmpl: "{{> loop}}", files: map[string]string{"loop": "x{{> loop}}"}, wantErr: ErrPartialLimit.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, c := range tt.files {
				os.WriteFile(filepath.Join(dir, name), []byte(c), 0o644)
			}
			if tt.link[0] != "" {
				if err := os.Symlink(tt.link[1], filepath.Join(dir, tt.link[0])); err != nil {
					t.Fatal(err)
				}
			}
			src := filepath.Join(dir, "t.tmpl")
			os.WriteFile(src, []byte(tt.tmpl), 0o644)
			dst := filepath.Join(dir, "t.conf")
			_, err := RenderAll([]Template{{Origin: "CONFIG_TEMPLATE_T", Source: src, Dest: dst}}, Options{MaxBytes: tt.maxBytes})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "outside data") {
					t.Fatalf("error shows the outside file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dst); string(b) != tt.want {
				t.Errorf("rendered %q, want %q", b, tt.want)
			}
		})
	}
}

// TestPrepareWritesNothing: Prepare renders into memory and checks the
// destinations without creating a file, a temporary file or a directory;
// Write then writes each destination once.
func TestPrepareWritesNothing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.tmpl")
	os.WriteFile(src, []byte("a={{A}}\n"), 0o644)
	existing := filepath.Join(dir, "old.conf")
	os.WriteFile(existing, []byte("old\n"), 0o644)
	templates := []Template{
		{Origin: "A", Source: src, Dest: filepath.Join(dir, "new", "sub", "a.conf")},
		{Origin: "B", Source: src, Dest: existing},
	}
	before := tree(t, dir)
	b, err := Prepare(templates, Options{Env: []string{"A=1"}, Diff: true})
	if err != nil {
		t.Fatal(err)
	}
	if after := tree(t, dir); after != before {
		t.Fatalf("Prepare changed the tree:\n%s\nthen:\n%s", before, after)
	}
	if plan := b.Plan(); !plan[0].Created || !plan[1].Changed || !strings.Contains(plan[1].Diff, "+a=1") {
		t.Errorf("plan %+v", plan)
	}
	res, err := b.Write()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{templates[0].Dest, existing} {
		if got, _ := os.ReadFile(p); string(got) != "a=1\n" {
			t.Errorf("%s = %q", p, got)
		}
	}
	if !res[0].Created || !res[1].Changed || !strings.Contains(res[1].Diff, "-old") {
		t.Errorf("results %+v", res)
	}
}
