package redact

import "strings"

// This file finds where the value of a secret parameter ends when it sits
// inside a structure: a JSON document or a YAML flow collection (RFC 8259,
// YAML 1.2 §7.4), a printed map or object (Java's {k=v, k=v}, Kotlin's
// Config(k=v), Go's map[k:v] and {K:v}), a YAML block scalar (YAML 1.2
// §8.1), an HTTP Authorization or Cookie header (RFC 9110 §11.6.2, RFC
// 6265) and an XML element (XML 1.0 §3.1).

// maxBrackets is how deeply nested brackets a brackets tracker follows;
// deeper ones are not followed, so their closers are masked with a value
// they end (on the safe side).
const maxBrackets = 64

// brackets follows the brackets ('{', '[', '(') left open on the current
// line of a text, outside double-quoted strings, as paramSpans walks the
// text forward: each byte is looked at once, so its cost is linear.
type brackets struct {
	at      int               // how far the text has been read
	opened  [maxBrackets]byte // the openers left open, innermost last
	n       int               // how many
	quoted  bool              // inside a double-quoted string
	escaped bool              // after a backslash in one
}

// open returns the openers left open, innermost last.
func (b *brackets) open() []byte { return b.opened[:b.n] }

// to reads s up to i (not included).
func (b *brackets) to(s string, i int) {
	for ; b.at < i; b.at++ {
		c := s[b.at]
		switch {
		case c == '\n':
			b.n, b.quoted, b.escaped = 0, false, false
		case b.quoted:
			switch {
			case b.escaped:
				b.escaped = false
			case c == '\\':
				b.escaped = true
			case c == '"':
				b.quoted = false
			}
		case c == '"':
			b.quoted = true
		case c == '{' || c == '[' || c == '(':
			if b.n < maxBrackets {
				b.opened[b.n] = c
				b.n++
			}
		case c == '}' || c == ']' || c == ')':
			if b.n > 0 && b.opened[b.n-1] == opener(c) {
				b.n--
			}
		}
	}
}

// opener returns the bracket the closer c closes.
func opener(c byte) byte {
	switch c {
	case '}':
		return '{'
	case ']':
		return '['
	}
	return '('
}

// closer returns the bracket that closes the opener c.
func closer(c byte) byte {
	switch c {
	case '{':
		return '}'
	case '[':
		return ']'
	}
	return ')'
}

// entryStart reports whether the name starting at nameStart (its opening
// quote included, when quoted) starts an entry of a flow collection: right
// after a '{' or '[' or a ',', blanks between.
func entryStart(s string, nameStart int) bool {
	i := nameStart
	for i > 0 && isBlank(s[i-1]) {
		i--
	}
	return i > 0 && (s[i-1] == '{' || s[i-1] == '[' || s[i-1] == ',')
}

// nestedValueEnd returns the end of the bracketed value opening at i ('['
// or '{'): the index of its matching closer, brackets inside it and
// double-quoted strings (with their escapes) skipped; len(s) when it is not
// closed. It may run over several lines (pretty-printed JSON).
func nestedValueEnd(s string, i int) int {
	depth, quoted := 0, false
	for j := i; j < len(s); j++ {
		c := s[j]
		switch {
		case quoted:
			if c == '\\' {
				j++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return len(s)
}

// trimStructure returns the end of the unquoted value s[vs:ve] without the
// structure's punctuation it swallowed: a ',' separating it from the next
// entry and the closers of the brackets open around it (open, innermost
// last), as many as there are: {"a":{"token":true}}, {user=app,
// password=x}, map[password:x]. jsonLike (a quoted name before ':') trims
// every trailing ',', '}' and ']' however many brackets were seen open on
// the line: a JSON number or literal ends before them (a pretty-printed
// object's "token": 12345,).
func trimStructure(s string, vs, ve int, open []byte, jsonLike bool) int {
	n := len(open)
	for ve > vs {
		c := s[ve-1]
		switch {
		case c == ',' && (n > 0 || jsonLike):
		case (c == '}' || c == ']' || c == ')') && n > 0 && open[n-1] == opener(c):
			n--
		case (c == '}' || c == ']') && jsonLike:
		default:
			return ve
		}
		ve--
	}
	return ve
}

// flowValueEnd returns where an unquoted value at i inside a collection
// whose innermost open bracket is open ends when it may hold blanks (a
// YAML flow scalar, {password: correct horse, user: app}; Java's
// {password=pa ss, user=app}): at a ',', the collection's closer, a line
// break, '&', ';' or a quote, blanks before it trimmed.
func flowValueEnd(s string, i int, open byte) int {
	cl := closer(open)
	j := i
	for j < len(s) && s[j] != ',' && s[j] != cl && !strings.ContainsRune("\r\n&;\"'", rune(s[j])) {
		j++
	}
	for j > i && isBlank(s[j-1]) {
		j--
	}
	return j
}

// blockScalarSpan returns the content of the YAML block scalar whose
// indicator ('|' or '>', then an optional chomping and indentation
// indicator and a comment) is at i, after the key starting at key: the
// lines below more indented than the key, blank lines among them, from
// the first one's text to the last one's end. ok is false when s[i:] is
// not a block scalar's header or it has no content.
func blockScalarSpan(s string, i, key int) (start, end int, ok bool) {
	if i >= len(s) || s[i] != '|' && s[i] != '>' {
		return 0, 0, false
	}
	j := i + 1
	for n := 0; n < 2 && j < len(s) && (s[j] == '-' || s[j] == '+' || s[j] >= '1' && s[j] <= '9'); n++ {
		j++
	}
	for j < len(s) && isBlank(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '#' && j > i+1 && isBlank(s[j-1]) {
		for j < len(s) && s[j] != '\n' {
			j++
		}
	}
	if j < len(s) && s[j] == '\r' {
		j++
	}
	if j >= len(s) || s[j] != '\n' {
		return 0, 0, false
	}
	col := key - (strings.LastIndexByte(s[:key], '\n') + 1)
	start, end = -1, -1
	for line := j + 1; line < len(s); {
		lineEnd := strings.IndexByte(s[line:], '\n')
		if lineEnd < 0 {
			lineEnd = len(s)
		} else {
			lineEnd += line
		}
		text := line
		for text < lineEnd && (s[text] == ' ' || s[text] == '\t') {
			text++
		}
		blank := text == lineEnd || text == lineEnd-1 && s[text] == '\r'
		if !blank {
			if text-line <= col {
				break
			}
			if start < 0 {
				start = text
			}
			end = lineEnd
			if end > text && s[end-1] == '\r' {
				end--
			}
		}
		line = lineEnd + 1
	}
	return start, end, start >= 0
}

// authSchemes are the HTTP authentication schemes (IANA's registry, RFC
// 9110 §11, and those of common APIs: GitHub's token, AWS's signature),
// lowercased, whose credentials an Authorization header's value carries
// after the scheme's name.
var authSchemes = map[string]bool{
	"basic": true, "bearer": true, "digest": true, "negotiate": true, "ntlm": true, "token": true,
	"hoba": true, "mutual": true, "scram-sha-1": true, "scram-sha-256": true, "vapid": true, "dpop": true,
	"aws4-hmac-sha256": true, "apikey": true, "api-key": true, "key": true, "sso-key": true, "ssws": true,
	"oauth": true, "splunk": true, "gssapi": true,
}

// isAuthHeader reports whether name is an HTTP header carrying
// credentials: Authorization, Proxy-Authorization (RFC 9110 §11.6.2,
// §11.7.2) and X-...-Authorization variants.
func isAuthHeader(name string) bool {
	_, ok := lastWord(name, "authorization")
	return ok
}

// lastWord reports whether the last of name's words (see words) is word,
// lowercase, and returns where it starts; it allocates nothing, unlike
// words, as it runs for every secret parameter.
func lastWord(name, word string) (int, bool) {
	n := len(name) - len(word)
	if n < 0 || !strings.EqualFold(name[n:], word) {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	p, c := name[n-1], name[n]
	pUpper, cUpper := p >= 'A' && p <= 'Z', c >= 'A' && c <= 'Z'
	switch {
	case !isLetter(p) && (p < '0' || p > '9'): // a separator
		return n, true
	case cUpper && !pUpper: // xAuthorization, x2Authorization
		return n, true
	case cUpper && pUpper && n+1 < len(name) && name[n+1] >= 'a' && name[n+1] <= 'z': // XAuthorization
		return n, true
	}
	return 0, false
}

// isCookieHeader reports whether name is an HTTP header carrying cookies,
// which are credentials (session ids): Cookie and Set-Cookie (RFC 6265
// §4.1, §4.2).
func isCookieHeader(name string) bool {
	n, ok := lastWord(name, "cookie")
	if !ok || n == 0 {
		return ok
	}
	prefix := strings.TrimRight(name[:n], "-_. ")
	return strings.EqualFold(prefix, "set")
}

// headerEnd returns where the header value at i ends: at a line break or
// at quote (0 for none), blanks before it trimmed.
func headerEnd(s string, i int, quote byte) int {
	j := i
	for j < len(s) && s[j] != '\r' && s[j] != '\n' && (quote == 0 || s[j] != quote) {
		j++
	}
	for j > i && isBlank(s[j-1]) {
		j--
	}
	return j
}

// authCredentialSpan returns the credentials of an Authorization header's
// unquoted value at i, which ends at a line break or at quote (0 for
// none), and in a parameter (equals, HTTP_AUTHORIZATION=Bearer x) at '&'
// or ';' too: what follows a known scheme's name (Bearer, Basic, token,
// ...), or, in a header, the value itself when it is one word holding
// something other than letters (a raw API key) — not "denied" or
// "failed", which are prose.
func authCredentialSpan(s string, i int, quote byte, equals bool) (start, end int, ok bool) {
	stop := func(c byte) bool {
		return c == '\r' || c == '\n' || quote != 0 && c == quote || equals && (c == '&' || c == ';')
	}
	w := i // the first word's end
	for w < len(s) && !stop(s[w]) && !isBlank(s[w]) {
		w++
	}
	next := w
	for next < len(s) && isBlank(s[next]) {
		next++
	}
	if next == len(s) || stop(s[next]) { // one word
		for k := i; k < w && !equals; k++ {
			if !isLetter(s[k]) {
				return i, w, true
			}
		}
		return 0, 0, false
	}
	if w == i || !authSchemes[strings.ToLower(s[i:w])] {
		return 0, 0, false
	}
	end = next
	for end < len(s) && !stop(s[end]) {
		end++
	}
	for end > next && isBlank(s[end-1]) {
		end--
	}
	return next, end, true
}

// xmlSpans appends to dst the text of every XML element whose name is
// secret (Maven's settings.xml <password>, a Tomcat or Spring XML
// configuration's <secret>): what follows its start tag up to the next
// '<', when that is its end tag (XML 1.0 §3.1). Attributes are
// parameters (password="x") and masked as such.
func (r *Redactor) xmlSpans(s string, dst []span) []span {
	for i := 0; i < len(s); {
		k := strings.IndexByte(s[i:], '<')
		if k < 0 {
			break
		}
		i += k + 1
		n := i
		for n < len(s) && (isNameChar(s[n]) || s[n] == ':') {
			n++
		}
		if n == i || !isLetter(s[i]) && s[i] != '_' {
			continue
		}
		name := s[i:n]
		gt := strings.IndexAny(s[n:], "<>\n") // the tag ends before the next one starts
		if gt < 0 {
			break
		}
		start := n + gt + 1
		if s[start-1] != '>' || s[start-2] == '/' || !r.isSecretParam(name) {
			continue // not a tag, an empty element, or not secret
		}
		end := strings.IndexByte(s[start:], '<')
		if end <= 0 || !strings.HasPrefix(s[start+end:], "</"+name) {
			continue
		}
		dst = append(dst, span{start, start + end})
		i = start + end
	}
	return dst
}
