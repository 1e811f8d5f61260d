// Package render renders bootstrap's configuration templates: mustache
// templates (github.com/cbroglie/mustache) whose context is the task's
// environment, declared as CONFIG_TEMPLATE_<NAME>=<src>,<dest> variables or
// -config flags, with the DC/OS SDK bootstrap's semantics:
//
//   - every environment variable is a mustache variable; {{x}} HTML-escapes and
//     {{{x}}} does not;
//   - a value "false" (any case) is false in sections but renders as itself;
//   - relative paths resolve against $MESOS_SANDBOX.
//
// Beyond the SDK:
//
//   - the environment is flat: a variable whose name holds dots renders with
//     {{catalina.home}} (mustache would otherwise look for "home" inside
//     "catalina"); a name that only prefixes such variables ({{catalina}})
//     is a map to mustache, true in sections, and prints nothing;
//   - partials ({{> name}}) are read from the template's own directory, never
//     the working directory, never from outside it (no "..", absolute name
//     or symbolic link out), and count toward the template's size limit;
//   - in strict mode, a variable the template prints but the environment
//     lacks, or a partial that does not exist, is an error. What is missing
//     is recorded by the render itself (see Text), whatever the tag: dotted
//     names, sections, inverted sections, partials, changed delimiters. One
//     limit: a dotted name a.b whose prefix a is also a section name and
//     absent from the environment cannot be recorded without changing what
//     the section renders, so its miss is not reported.
//
// Beyond the SDK, rendering is all-or-nothing: every template is read,
// parsed and rendered in memory first, and if any fails (missing source, not
// a regular file, over the size limit, parse error, missing variable in strict
// mode, destination that cannot be written) all failures are reported
// together and no destination is written. Writes go through internal/safefile
// (temporary file, fsync, rename, or in place for bind-mounted files). A new
// destination takes its template's mode; an existing one keeps its own. Each
// change can be reported as a unified diff with secret values masked.
package render

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cbroglie/mustache"
	"github.com/hashicorp/go-multierror"

	"github.com/taskkit/taskkit/internal/redact"
	"github.com/taskkit/taskkit/internal/safefile"
	"github.com/taskkit/taskkit/internal/textdiff"
)

// DefaultMaxBytes is the SDK's template size limit.
const DefaultMaxBytes = 1 << 20

// ErrMissingVariables is wrapped by the error of a strict render that printed
// variables missing from the environment.
var ErrMissingVariables = errors.New("missing variables")

// ErrMissingPartials is wrapped by the error of a strict render that
// included partials that do not exist.
var ErrMissingPartials = errors.New("missing partials")

// Options controls RenderAll.
type Options struct {
	// Env is the environment (KEY=VALUE entries) forming the context.
	Env []string
	// MaxBytes limits a template's size; 0 means no limit.
	MaxBytes int64
	// Strict makes a variable missing from Env an error.
	Strict bool
	// WriteMode picks rename, in-place or automatic writes.
	WriteMode safefile.Mode
	// Diff asks for a unified diff of each change in the results.
	Diff bool
	// Redactor masks secret values in diffs; nil means redact.Default()
	// taught Env.
	Redactor *redact.Redactor
	// DryRun renders and checks destinations but writes nothing.
	DryRun bool
}

// Result is what happened to one template.
type Result struct {
	Template
	// Changed is false when the destination already held the output.
	Changed bool
	// Created is true when the destination did not exist.
	Created bool
	// Method is how the file was written (rename or in place).
	Method safefile.Mode
	// Diff is the unified diff of the change with secrets masked, when asked.
	Diff string
	// Misses are the variables the template printed that the environment
	// lacks (rendered empty) and the partials it included that do not
	// exist; always empty with Options.Strict, which makes them an error.
	Misses Misses
}

type rendered struct {
	t      Template
	out    []byte
	perm   os.FileMode
	misses Misses
}

// RenderAll renders every template and writes all destinations, or none:
// Prepare, then Write (or Plan, for a dry run).
func RenderAll(templates []Template, opts Options) ([]Result, error) {
	b, err := Prepare(templates, opts)
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		return b.Plan(), nil
	}
	return b.Write()
}

// Batch is a set of templates rendered into memory and checked, ready to be
// written once.
type Batch struct {
	opts  Options
	red   *redact.Redactor
	done  []rendered
	files []safefile.File
}

// Prepare renders every template into memory and checks that every
// destination can be written (safefile.CheckWritable), without writing,
// creating or syncing anything. Every failure — of a template or of a
// destination — is reported together.
func Prepare(templates []Template, opts Options) (*Batch, error) {
	b := &Batch{opts: opts, red: opts.Redactor}
	if b.red == nil {
		b.red = redact.Default().LearnEnv(opts.Env)
	}
	var errs *multierror.Error
	for _, t := range templates {
		r, err := renderOne(t, opts)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("template %s: %w", t, err))
			continue
		}
		b.done = append(b.done, r)
		b.files = append(b.files, safefile.File{Path: r.t.Dest, Data: r.out, Perm: r.perm, KeepPerm: true, Mode: opts.WriteMode, Within: r.t.Within})
	}
	// Every destination, even after a failed template, so one run reports
	// every problem.
	if err := safefile.CheckWritable(b.files); err != nil {
		errs = multierror.Append(errs, err)
	}
	if err := errs.ErrorOrNil(); err != nil {
		return nil, err
	}
	return b, nil
}

// Plan returns what Write would do now, compared with each destination's
// current content (a dry run); nothing is written.
func (b *Batch) Plan() []Result {
	results := make([]Result, len(b.done))
	for i, r := range b.done {
		old, existed := b.current(r.t.Dest)
		results[i] = Result{Template: r.t, Created: !existed, Changed: !existed || old != string(r.out), Misses: r.misses}
		if b.opts.Diff && results[i].Changed {
			results[i].Diff = b.diff(r, old)
		}
	}
	return results
}

// Write writes every destination atomically, all or none
// (safefile.WriteAll), and returns what happened, with the diffs of the
// changes when asked.
func (b *Batch) Write() ([]Result, error) {
	old := make([]string, len(b.done))
	if b.opts.Diff {
		for i, r := range b.done {
			old[i], _ = b.current(r.t.Dest)
		}
	}
	written, err := safefile.WriteAll(b.files)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(b.done))
	for i, r := range b.done {
		w := written[i]
		results[i] = Result{Template: r.t, Changed: w.Changed, Created: !w.Existed, Method: w.Method, Misses: r.misses}
		if b.opts.Diff && w.Changed {
			results[i].Diff = b.diff(r, old[i])
		}
	}
	return results, nil
}

// Dests lists the destinations, in template order.
func (b *Batch) Dests() []string {
	out := make([]string, len(b.done))
	for i, r := range b.done {
		out[i] = r.t.Dest
	}
	return out
}

func (b *Batch) current(path string) (string, bool) {
	data, err := os.ReadFile(path)
	return string(data), err == nil
}

func (b *Batch) diff(r rendered, old string) string {
	return b.red.String(textdiff.Unified(r.t.Dest, r.t.Dest, old, string(r.out)))
}

func renderOne(t Template, opts Options) (rendered, error) {
	fi, err := os.Stat(t.Source)
	if err != nil {
		return rendered{}, fmt.Errorf("reading source: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return rendered{}, fmt.Errorf("source %s is not a regular file", t.Source)
	}
	if opts.MaxBytes > 0 && fi.Size() > opts.MaxBytes {
		return rendered{}, fmt.Errorf("source is %d bytes, over the limit of %d (-template-max-bytes)", fi.Size(), opts.MaxBytes)
	}
	src, err := readLimited(t.Source, opts.MaxBytes)
	if err != nil {
		return rendered{}, err
	}
	out, misses, err := Text(string(src), opts.Env, TextOptions{PartialsDir: filepath.Dir(t.Source), MaxBytes: opts.MaxBytes})
	if err != nil {
		return rendered{}, err
	}
	if opts.Strict {
		if err := misses.Err(); err != nil {
			return rendered{}, err
		}
	}
	return rendered{t: t, out: []byte(out), perm: fi.Mode().Perm(), misses: misses}, nil
}

// TextOptions are the options of Text.
type TextOptions struct {
	// PartialsDir is where {{> name}} is read from (name, name.mustache or
	// name.stache, never outside the directory); "" means nowhere: every
	// partial is missing.
	PartialsDir string
	// MaxBytes limits the text and every partial it includes together; 0
	// means no limit.
	MaxBytes int64
}

// Misses are what one render looked up and did not find.
type Misses struct {
	// Variables the template printed that the environment lacks, in the
	// order they were printed, each once. A variable inside a section that
	// did not render is not there, and neither is one given a default with
	// the idiom {{X}}{{^X}}default{{/X}} (any name the template also uses as
	// an inverted section).
	Variables []string
	// Partials the template included that do not exist.
	Partials []string
}

// Err returns nil when nothing was missing, else an error wrapping
// ErrMissingVariables, ErrMissingPartials or both, naming every miss.
func (m Misses) Err() error {
	var errs []error
	if len(m.Variables) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrMissingVariables, strings.Join(m.Variables, ", ")))
	}
	if len(m.Partials) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", ErrMissingPartials, strings.Join(m.Partials, ", ")))
	}
	return errors.Join(errs...)
}

// Text renders a mustache text with env (KEY=VALUE entries) as its context,
// with the rules of the package documentation, and returns what it printed
// and what it missed. The misses come from the render itself: the context
// holds a recorder for every name the text (or a partial it names) uses and
// env lacks, placed where nothing but that name's own lookup reaches it, so
// the recorder changes nothing in the output. The error is for a text or
// partial that cannot be parsed or read.
func Text(text string, env []string, opts TextOptions) (string, Misses, error) {
	p, err := newPartials(opts.PartialsDir, opts.MaxBytes, int64(len(text)))
	if err != nil {
		return "", Misses{}, err
	}
	defer p.Close()
	tmpl, err := mustache.ParseStringPartials(text, p)
	if err != nil {
		return "", Misses{}, fmt.Errorf("parsing: %w", err)
	}
	tn, err := collectTags(tmpl, p)
	if err != nil {
		return "", Misses{}, err
	}
	var rec missRecorder
	ctx := recordingContext(Context(env), tn, &rec)
	p.rendering = true
	out, err := tmpl.Render(ctx)
	if err != nil {
		return "", Misses{}, fmt.Errorf("rendering: %w", err)
	}
	var m Misses
	for _, name := range rec.names {
		if !slices.Contains(tn.inverted, name) {
			m.Variables = append(m.Variables, name)
		}
	}
	m.Partials = p.missing
	return out, m, nil
}

// readLimited reads path, failing if it grew past max (0: no limit) since it
// was checked.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading source: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if max > 0 {
		r = io.LimitReader(f, max+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading source: %w", err)
	}
	if max > 0 && int64(len(b)) > max {
		return nil, fmt.Errorf("source is over the limit of %d bytes (-template-max-bytes)", max)
	}
	return b, nil
}
