package render

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/cbroglie/mustache"
)

// partialExtensions are tried in order after a partial's name, as mustache's
// own file provider does ({{> header}} reads header, header.mustache or
// header.stache).
var partialExtensions = []string{"", ".mustache", ".stache"}

// maxInclusions bounds how many partials one render may include, so that a
// partial including itself ends in an error instead of a crash.
const maxInclusions = 10000

// ErrPartialLimit is wrapped by the error of a render that included more
// than maxInclusions partials (a partial that includes itself, usually).
var ErrPartialLimit = errors.New("too many partial inclusions")

// partials resolves {{> name}} from one directory — the template's own,
// never the process's working directory — through an os.Root, so a partial
// cannot be read from outside it (no "..", no absolute name, no symbolic
// link out). Every partial read counts toward the same byte budget as the
// template (-template-max-bytes), and so does every inclusion of one while
// rendering: the template's text and all the partial text it includes
// together stay within the limit, so a partial read once cannot be
// included thousands of times (up to maxInclusions) to render far more
// than the limit. A partial that does not exist renders empty, as the
// mustache spec says, and is recorded as missing.
type partials struct {
	root      *os.Root // nil: no directory, every partial is missing
	dir       string   // for messages
	budget    int64    // bytes left for partials; <0 means no limit
	inclusion int64    // bytes left for inclusions while rendering; <0 means no limit
	limit     int64    // the whole limit, for messages
	cache     map[string]partialFile
	included  int
	missing   []string // names whose partial did not exist, as rendered
	rendering bool     // Get records misses only while rendering
}

type partialFile struct {
	data  string
	found bool
}

// newPartials returns a provider reading from dir ("" for none) that lets
// the template (of used bytes) and its partials read limit bytes together (0:
// no limit). Close it when done.
func newPartials(dir string, limit, used int64) (*partials, error) {
	p := &partials{dir: dir, budget: -1, inclusion: -1, limit: limit, cache: map[string]partialFile{}}
	if limit > 0 {
		p.budget = max(limit-used, 0)
		p.inclusion = p.budget
	}
	if dir == "" {
		return p, nil
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the template's directory for partials: %w", err)
	}
	p.root = r
	return p, nil
}

func (p *partials) Close() {
	if p.root != nil {
		p.root.Close()
	}
}

// Get is mustache's PartialProvider: the renderer calls it for every
// partial it includes.
func (p *partials) Get(name string) (string, error) {
	if p.included++; p.included > maxInclusions {
		return "", fmt.Errorf("partial %q: %w (over %d; does a partial include itself?)", name, ErrPartialLimit, maxInclusions)
	}
	f, err := p.load(name)
	if err != nil {
		return "", err
	}
	if !f.found && p.rendering && !slices.Contains(p.missing, name) {
		p.missing = append(p.missing, name)
	}
	if p.rendering && p.inclusion >= 0 {
		if int64(len(f.data)) > p.inclusion {
			return "", fmt.Errorf("partial %q: the template and the partials it includes are over the limit of %d bytes (-template-max-bytes)", name, p.limit)
		}
		p.inclusion -= int64(len(f.data))
	}
	return f.data, nil
}

// load reads the partial name once and caches it.
func (p *partials) load(name string) (partialFile, error) {
	if f, ok := p.cache[name]; ok {
		return f, nil
	}
	var f partialFile
	if p.root != nil {
		for _, ext := range partialExtensions {
			data, err := p.read(name + ext)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return f, fmt.Errorf("partial %q: %w", name, err)
			}
			f = partialFile{data: data, found: true}
			break
		}
	}
	p.cache[name] = f
	return f, nil
}

// read reads one file under the root, spending the byte budget.
func (p *partials) read(name string) (string, error) {
	if filepath.IsAbs(name) {
		return "", fmt.Errorf("absolute name: partials are read from the template's directory %s", p.dir)
	}
	fh, err := p.root.Open(name)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", filepath.Join(p.dir, name))
	}
	var r io.Reader = fh
	if p.budget >= 0 {
		r = io.LimitReader(fh, p.budget+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	if p.budget >= 0 {
		if int64(len(b)) > p.budget {
			return "", fmt.Errorf("the template and its partials are over the limit of %d bytes (-template-max-bytes)", p.limit)
		}
		p.budget -= int64(len(b))
	}
	return string(b), nil
}

// collectTags walks a parsed template and every partial it names, each once,
// whether or not it will render, and returns their tag names.
func collectTags(tmpl *mustache.Template, p *partials) (*tagNames, error) {
	tn := &tagNames{}
	tn.walk(tmpl.Tags())
	seen := map[string]bool{}
	for i := 0; i < len(tn.partials); i++ {
		name := tn.partials[i]
		if seen[name] {
			continue
		}
		seen[name] = true
		f, err := p.load(name)
		if err != nil {
			return nil, err
		}
		if !f.found {
			continue
		}
		pt, err := mustache.ParseStringPartials(f.data, p)
		if err != nil {
			return nil, fmt.Errorf("partial %q: parsing: %w", name, err)
		}
		tn.walk(pt.Tags())
	}
	return tn, nil
}
