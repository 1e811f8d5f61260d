package render

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/safefile"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/golden")

// golden is one testdata/golden case: a comment, then sections introduced by
// "-- name --" lines (env, template, flags, want or error).
type golden struct {
	comment  string
	sections map[string]string
	order    []string
}

func readGolden(t testing.TB, path string) golden {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := golden{sections: map[string]string{}}
	cur := ""
	var sb strings.Builder
	flush := func() {
		if cur == "" {
			g.comment = sb.String()
		} else {
			g.sections[cur] = sb.String()
			g.order = append(g.order, cur)
		}
		sb.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			flush()
			cur = strings.TrimSuffix(strings.TrimPrefix(line, "-- "), " --")
			continue
		}
		sb.WriteString(line + "\n")
	}
	flush()
	return g
}

func (g golden) write(path string) error {
	var sb strings.Builder
	sb.WriteString(g.comment)
	for _, name := range g.order {
		sb.WriteString("-- " + name + " --\n" + g.sections[name])
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

func TestGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/golden/*.txt")
	if len(paths) == 0 {
		t.Fatal("no golden files")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := readGolden(t, path)
			dir := t.TempDir()
			src := filepath.Join(dir, "in.tmpl")
			os.WriteFile(src, []byte(g.sections["template"]), 0o644)
			env := strings.Split(strings.TrimSuffix(g.sections["env"], "\n"), "\n")
			opts := Options{Env: env, MaxBytes: DefaultMaxBytes, Strict: strings.Contains(g.sections["flags"], "strict")}
			dst := filepath.Join(dir, "out.conf")
			_, err := RenderAll([]Template{{Origin: "CONFIG_TEMPLATE_T", Source: src, Dest: dst}}, opts)
			if wantErr, ok := g.sections["error"]; ok {
				if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(wantErr)) {
					t.Fatalf("error = %v, want it to contain %q", err, strings.TrimSpace(wantErr))
				}
				if _, statErr := os.Stat(dst); statErr == nil {
					t.Fatal("destination written despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dst)
			if *update {
				g.sections["want"] = string(got)
				if err := g.write(path); err != nil {
					t.Fatal(err)
				}
				return
			}
			if string(got) != g.sections["want"] {
				t.Errorf("rendered:\n%s\nwant:\n%s", got, g.sections["want"])
			}
		})
	}
}

// tree lists every path under dir with its mode, to prove a failed run left
// nothing behind (no destination, no temporary file, no directory).
func tree(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		fi, _ := d.Info()
		rel, _ := filepath.Rel(dir, p)
		sb.WriteString(rel + " " + fi.Mode().String() + "\n")
		return nil
	})
	return sb.String()
}

func TestAllOrNothing(t *testing.T) {
	blocker := "blocker"
	cases := []struct {
		name    string
		setup   func(dir string) Template
		wantErr string
	}{
		{"missing source", func(dir string) Template {
			return Template{Origin: "CONFIG_TEMPLATE_BAD", Source: filepath.Join(dir, "nope.tmpl"), Dest: filepath.Join(dir, "out", "bad.conf")}
		}, "CONFIG_TEMPLATE_BAD"},
		{"source is a directory", func(dir string) Template {
			os.Mkdir(filepath.Join(dir, "srcdir"), 0o755)
			return Template{Origin: "CONFIG_TEMPLATE_BAD", Source: filepath.Join(dir, "srcdir"), Dest: filepath.Join(dir, "bad.conf")}
		}, "not a regular file"},
		{"over the size limit", func(dir string) Template {
			os.WriteFile(filepath.Join(dir, "big.tmpl"), make([]byte, 2048), 0o644)
			return Template{Origin: "CONFIG_TEMPLATE_BAD", Source: filepath.Join(dir, "big.tmpl"), Dest: filepath.Join(dir, "bad.conf")}
		}, "over the limit of 1024"},
		{"parse error", func(dir string) Template {
			os.WriteFile(filepath.Join(dir, "p.tmpl"), []byte("{{#x}}"), 0o644)
			return Template{Origin: "CONFIG_TEMPLATE_BAD", Source: filepath.Join(dir, "p.tmpl"), Dest: filepath.Join(dir, "bad.conf")}
		}, "parsing"},
		{"strict miss", func(dir string) Template {
			os.WriteFile(filepath.Join(dir, "s.tmpl"), []byte("{{NOPE}}"), 0o644)
			return Template{Origin: "CONFIG_TEMPLATE_BAD", Source: filepath.Join(dir, "s.tmpl"), Dest: filepath.Join(dir, "bad.conf")}
		}, "missing variables: NOPE"},
		{"unwritable destination", func(dir string) Template {
			os.WriteFile(filepath.Join(dir, blocker), nil, 0o644)
			os.WriteFile(filepath.Join(dir, "u.tmpl"), []byte("x"), 0o644)
			return Template{Origin: "CONFIG_TEMPLATE_BAD", Source: filepath.Join(dir, "u.tmpl"), Dest: filepath.Join(dir, blocker, "bad.conf")}
		}, "blocker/bad.conf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good := filepath.Join(dir, "good.tmpl")
			os.WriteFile(good, []byte("port={{PORT}}\n"), 0o644)
			existing := filepath.Join(dir, "existing.conf")
			os.WriteFile(existing, []byte("old\n"), 0o644)
			bad := tc.setup(dir)
			before := tree(t, dir)
			_, err := RenderAll([]Template{
				{Origin: "CONFIG_TEMPLATE_A", Source: good, Dest: filepath.Join(dir, "new", "a.conf")},
				bad,
				{Origin: "CONFIG_TEMPLATE_C", Source: good, Dest: existing},
			}, Options{Env: []string{"PORT=1"}, MaxBytes: 1024, Strict: true})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if after := tree(t, dir); after != before {
				t.Errorf("tree changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func TestAllFailuresReportedAtOnce(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "ok.tmpl"), []byte("x"), 0o644)
	_, err := RenderAll([]Template{
		{Origin: "CONFIG_TEMPLATE_ONE", Source: filepath.Join(dir, "missing1"), Dest: filepath.Join(dir, "1")},
		{Origin: "CONFIG_TEMPLATE_TWO", Source: filepath.Join(dir, "missing2"), Dest: filepath.Join(dir, "2")},
		{Origin: "CONFIG_TEMPLATE_THREE", Source: filepath.Join(dir, "ok.tmpl"), Dest: filepath.Join(dir, "blocker", "3")},
	}, Options{})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"CONFIG_TEMPLATE_ONE", "CONFIG_TEMPLATE_TWO", "blocker/3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestModes(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh.tmpl")
	os.WriteFile(script, []byte("#!/bin/sh\necho {{X}}\n"), 0o755)
	os.Chmod(script, 0o755)
	existing := filepath.Join(dir, "existing.sh")
	os.WriteFile(existing, []byte("old"), 0o600)
	os.Chmod(existing, 0o600)
	res, err := RenderAll([]Template{
		{Origin: "A", Source: script, Dest: filepath.Join(dir, "run.sh")},
		{Origin: "B", Source: script, Dest: existing},
	}, Options{Env: []string{"X=1"}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{filepath.Join(dir, "run.sh"): 0o755, existing: 0o600} {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	if !res[0].Created || res[1].Created || !res[1].Changed {
		t.Errorf("results = %+v", res)
	}
}

func TestDiffMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "db.tmpl")
	os.WriteFile(src, []byte("user={{DB_USER}}\npassword={{{DB_PASSWORD}}}\nkey={{{TLS_KEY_SECRET}}}\n"), 0o644)
	dst := filepath.Join(dir, "db.conf")
	os.WriteFile(dst, []byte("user=old\npassword=old-pw-value\n"), 0o644)
	key := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
	env := []string{"DB_USER=alice", "DB_PASSWORD=s3cr3t-hunter2", "TLS_KEY_SECRET=" + key}
	res, err := RenderAll([]Template{{Origin: "CONFIG_TEMPLATE_DB", Source: src, Dest: dst}}, Options{Env: env, Diff: true})
	if err != nil {
		t.Fatal(err)
	}
	d := res[0].Diff
	if !strings.Contains(d, "+user=alice") || !strings.Contains(d, "+password=********") {
		t.Errorf("diff lacks the expected lines:\n%s", d)
	}
	for _, secret := range []string{"s3cr3t-hunter2", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"} {
		if strings.Contains(d, secret) {
			t.Errorf("diff leaks %q:\n%s", secret, d)
		}
	}
	if b, _ := os.ReadFile(dst); !strings.Contains(string(b), "s3cr3t-hunter2") {
		t.Error("the file itself must hold the real secret")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.tmpl")
	os.WriteFile(src, []byte("a={{A}}\n"), 0o644)
	res, err := RenderAll([]Template{{Origin: "A", Source: src, Dest: filepath.Join(dir, "sub", "a.conf")}}, Options{Env: []string{"A=1"}, DryRun: true, Diff: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); !errors.Is(err, os.ErrNotExist) {
		t.Error("dry run created the destination directory")
	}
	if !res[0].Changed || !strings.Contains(res[0].Diff, "+a=1") {
		t.Errorf("result = %+v", res[0])
	}
}

// TestDryRunWithoutDiffSeesUnchanged: a dry run compares with the file
// even when no diff is asked for.
func TestDryRunWithoutDiffSeesUnchanged(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.tmpl")
	os.WriteFile(src, []byte("a={{A}}\n"), 0o644)
	dst := filepath.Join(dir, "a.conf")
	os.WriteFile(dst, []byte("a=1\n"), 0o644)
	res, err := RenderAll([]Template{{Origin: "A", Source: src, Dest: dst}}, Options{Env: []string{"A=1"}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Changed || res[0].Created {
		t.Errorf("unchanged file reported as %+v", res[0])
	}
}

func TestInPlaceMode(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.tmpl")
	os.WriteFile(src, []byte("a={{A}}\n"), 0o644)
	dst := filepath.Join(dir, "a.conf")
	os.WriteFile(dst, []byte("old"), 0o644)
	res, err := RenderAll([]Template{{Origin: "A", Source: src, Dest: dst}}, Options{Env: []string{"A=1"}, WriteMode: safefile.InPlace})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Method != safefile.InPlace {
		t.Errorf("method = %v", res[0].Method)
	}
}

func TestCollect(t *testing.T) {
	env := []string{
		"CONFIG_TEMPLATE_B=b.tmpl,conf/b.conf",
		"CONFIG_TEMPLATE_A= /abs/a.tmpl , /sandbox/a,1.conf",
		"OTHER=x",
	}
	got, err := Collect(env, []string{"c.tmpl,/c.conf"}, "/sandbox")
	if err != nil {
		t.Fatal(err)
	}
	want := []Template{
		{Origin: "CONFIG_TEMPLATE_A", Source: "/abs/a.tmpl", Dest: "/sandbox/a,1.conf", Within: "/sandbox"},
		{Origin: "CONFIG_TEMPLATE_B", Source: "/sandbox/b.tmpl", Dest: "/sandbox/conf/b.conf", Within: "/sandbox"},
		{Origin: `-config #1 ("c.tmpl,/c.conf")`, Source: "/sandbox/c.tmpl", Dest: "/c.conf"}, // not confined
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}

	_, err = Collect([]string{"CONFIG_TEMPLATE_X=nocomma", "CONFIG_TEMPLATE_Y=,dest"}, []string{"src,"}, "/s")
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"CONFIG_TEMPLATE_X: ", "no comma", "CONFIG_TEMPLATE_Y: ", "source is empty", "-config #1", "destination is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"a,b", "a,b,c", ",", "", " a , b ", "a", "\x00,\xff", "CONFIG_TEMPLATE_X=a,b", "0,/", "a,../b", "a,/sb/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		src, dest, err := ParseSpec(spec)
		if err != nil {
			if src != "" || dest != "" {
				t.Fatalf("error with values %q %q", src, dest)
			}
			return
		}
		if src == "" || dest == "" || strings.Contains(src, ",") {
			t.Fatalf("ParseSpec(%q) = %q, %q", spec, src, dest)
		}
		if src != strings.TrimSpace(src) || dest != strings.TrimSpace(dest) {
			t.Fatalf("untrimmed: %q %q", src, dest)
		}
		// Collect accepts exactly what ParseSpec accepts with a destination
		// inside the sandbox, and refuses the rest saying so.
		ts, cerr := Collect([]string{"CONFIG_TEMPLATE_F=" + spec}, nil, "/sb")
		d := dest
		if !filepath.IsAbs(d) {
			d = filepath.Join("/sb", d)
		}
		if rel, err := filepath.Rel("/sb", d); err != nil || !filepath.IsLocal(rel) {
			if cerr == nil || !strings.Contains(cerr.Error(), "is outside the sandbox") {
				t.Fatalf("Collect(%q) with a destination outside the sandbox = %+v, %v", spec, ts, cerr)
			}
			return
		}
		if cerr != nil || len(ts) != 1 || !filepath.IsAbs(ts[0].Source) || !filepath.IsAbs(ts[0].Dest) {
			t.Fatalf("Collect(%q) = %+v, %v", spec, ts, cerr)
		}
	})
}

// TestCollectConfinesConfigTemplates: a CONFIG_TEMPLATE_ destination
// outside the sandbox is refused, naming the variable; -config is not
// confined.
func TestCollectConfinesConfigTemplates(t *testing.T) {
	sb := t.TempDir()
	for _, dest := range []string{"/tmp/evil", "../../../../tmp/evil", "a/../../evil", ".."} {
		_, err := Collect([]string{"CONFIG_TEMPLATE_A=good.mustache," + dest}, nil, sb)
		if err == nil || !strings.Contains(err.Error(), "CONFIG_TEMPLATE_A") || !strings.Contains(err.Error(), "outside the sandbox") {
			t.Errorf("dest %q: err %v", dest, err)
		}
	}
	for _, dest := range []string{"conf/a.conf", filepath.Join(sb, "b.conf"), "./c"} {
		if ts, err := Collect([]string{"CONFIG_TEMPLATE_A=good.mustache," + dest}, nil, sb); err != nil || !strings.HasPrefix(ts[0].Dest, sb+"/") {
			t.Errorf("dest %q: %v %v", dest, ts, err)
		}
	}
	if _, err := Collect(nil, []string{"good.mustache,/tmp/x"}, sb); err != nil {
		t.Errorf("-config: %v", err)
	}
}

// TestCollectConfinesThroughSymlinks: the write follows symbolic links
// (safefile.Target), so confinement judges where they lead: a link in the
// sandbox to a file or directory outside it is refused, one inside it is
// fine, and so is a sandbox that is itself reached through a link.
func TestCollectConfinesThroughSymlinks(t *testing.T) {
	top := t.TempDir()
	sb, outside := filepath.Join(top, "sandbox"), filepath.Join(top, "etc")
	os.MkdirAll(filepath.Join(sb, "real"), 0o755)
	os.MkdirAll(outside, 0o755)
	os.Symlink(filepath.Join(outside, "app.conf"), filepath.Join(sb, "out.conf"))
	os.Symlink(outside, filepath.Join(sb, "outdir"))
	os.Symlink("real/app.conf", filepath.Join(sb, "in.conf"))
	os.Symlink(sb, filepath.Join(top, "sandbox-link"))
	os.Symlink("outdir/../up.conf", filepath.Join(sb, "up.conf")) // outdir/.. is top, as open(2) goes
	for _, dest := range []string{"out.conf", "outdir/app.conf", "outdir/new/x.conf", "up.conf"} {
		_, err := Collect([]string{"CONFIG_TEMPLATE_A=good.mustache," + dest}, nil, sb)
		if err == nil || !strings.Contains(err.Error(), "CONFIG_TEMPLATE_A") || !strings.Contains(err.Error(), "outside the sandbox") {
			t.Errorf("dest %q: err %v", dest, err)
		}
	}
	for _, root := range []string{sb, filepath.Join(top, "sandbox-link")} {
		for _, dest := range []string{"in.conf", "real/app.conf", "new/dir/x.conf"} {
			if _, err := Collect([]string{"CONFIG_TEMPLATE_A=good.mustache," + dest}, nil, root); err != nil {
				t.Errorf("sandbox %s, dest %q: %v", root, dest, err)
			}
		}
	}
	if _, err := Collect(nil, []string{"good.mustache,out.conf"}, sb); err != nil {
		t.Errorf("-config: %v", err)
	}
}

// TestCollectRefusesTwoTemplatesForOneFile: two templates writing one file,
// by the same path spelt differently or through a symbolic link, are a
// configuration error naming both; the second silently replaced the first
// one's output.
func TestCollectRefusesTwoTemplatesForOneFile(t *testing.T) {
	sb := t.TempDir()
	os.Symlink("out.conf", filepath.Join(sb, "link.conf"))
	tests := []struct {
		name    string
		env     []string
		configs []string
		want    string
	}{
		{"same path", []string{"CONFIG_TEMPLATE_A=a.t,out.conf", "CONFIG_TEMPLATE_B=b.t,./out.conf"}, nil, "CONFIG_TEMPLATE_B: destination " + filepath.Join(sb, "out.conf") + " is the file CONFIG_TEMPLATE_A writes too"},
		{"through a link", []string{"CONFIG_TEMPLATE_A=a.t,out.conf", "CONFIG_TEMPLATE_B=b.t,link.conf"}, nil, "CONFIG_TEMPLATE_B: destination " + filepath.Join(sb, "link.conf") + " is the file CONFIG_TEMPLATE_A writes too"},
		{"a -config", []string{"CONFIG_TEMPLATE_A=a.t,out.conf"}, []string{"c.t," + filepath.Join(sb, "out.conf")}, `-config #1 ("c.t,` + filepath.Join(sb, "out.conf") + `"): destination`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Collect(tt.env, tt.configs, sb)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Collect([]string{"CONFIG_TEMPLATE_A=a.t,out.conf", "CONFIG_TEMPLATE_B=a.t,other.conf"}, nil, sb); err != nil {
		t.Errorf("one source, two destinations: %v", err)
	}
}

// TestResultsTellMisses: without Strict a template's misses are no error
// but are in its Result, of a write and of a dry run alike, for the caller
// to tell (bootstrap logs them); a template missing nothing has none.
func TestResultsTellMisses(t *testing.T) {
	for _, dry := range []bool{false, true} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "miss.tmpl"), []byte("port={{PORT}} host={{HOST}} {{> nope}}\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "ok.tmpl"), []byte("port={{PORT}}\n"), 0o644)
		results, err := RenderAll([]Template{
			{Origin: "CONFIG_TEMPLATE_MISS", Source: filepath.Join(dir, "miss.tmpl"), Dest: filepath.Join(dir, "miss.conf")},
			{Origin: "CONFIG_TEMPLATE_OK", Source: filepath.Join(dir, "ok.tmpl"), Dest: filepath.Join(dir, "ok.conf")},
		}, Options{Env: []string{"PORT=1"}, DryRun: dry})
		if err != nil {
			t.Fatalf("dry run %v: %v", dry, err)
		}
		if m := results[0].Misses; !slices.Equal(m.Variables, []string{"HOST"}) || !slices.Equal(m.Partials, []string{"nope"}) {
			t.Errorf("dry run %v: misses of miss.tmpl = %+v, want variables [HOST], partials [nope]", dry, m)
		}
		if m := results[1].Misses; len(m.Variables)+len(m.Partials) != 0 {
			t.Errorf("dry run %v: misses of ok.tmpl = %+v, want none", dry, m)
		}
	}
}

// TestWriteConfinedWhenWritten: a CONFIG_TEMPLATE_* destination is judged
// again when it is written, not only by Collect. bootstrap collects and
// checks before its waits (up to -resolve-timeout, 5 minutes) and writes
// after them; a link made in the sandbox meanwhile (by another process of
// the task) was followed, so a rendered template, secrets and all, went
// outside the sandbox.
func TestWriteConfinedWhenWritten(t *testing.T) {
	tests := []struct {
		name   string
		dest   string
		change func(t *testing.T, sb, outside string) // after Prepare, before Write
	}{
		{"destination now a link to a file outside", "app.conf", func(t *testing.T, sb, outside string) {
			os.WriteFile(filepath.Join(outside, "app.conf"), []byte("theirs"), 0o644)
			os.Symlink(filepath.Join(outside, "app.conf"), filepath.Join(sb, "app.conf"))
		}},
		{"destination now a dangling link outside", "app.conf", func(t *testing.T, sb, outside string) {
			os.Symlink("../etc/app.conf", filepath.Join(sb, "app.conf"))
		}},
		{"directory now a link to one outside", "conf/app.conf", func(t *testing.T, sb, outside string) {
			os.Remove(filepath.Join(sb, "conf"))
			os.Symlink(outside, filepath.Join(sb, "conf"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			sb, outside := filepath.Join(top, "sandbox"), filepath.Join(top, "etc")
			os.MkdirAll(filepath.Join(sb, "conf"), 0o755)
			os.MkdirAll(outside, 0o755)
			os.WriteFile(filepath.Join(sb, "t.mustache"), []byte("secret={{S}}\n"), 0o644)
			templates, err := Collect([]string{"CONFIG_TEMPLATE_A=t.mustache," + tt.dest}, nil, sb)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Prepare(templates, Options{Env: []string{"S=hunter2"}})
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, sb, outside)
			_, err = b.Write()
			if err == nil || !strings.Contains(err.Error(), "outside") {
				t.Errorf("Write: %v, want a refusal naming where the link leads", err)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "app.conf")); strings.Contains(string(b), "hunter2") {
				t.Errorf("the template was written outside the sandbox: %s", filepath.Join(outside, "app.conf"))
			}
		})
	}
}
