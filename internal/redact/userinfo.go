package redact

import "strings"

// This file finds the passwords of URL userinfo (RFC 3986 §3.2.1) and of
// the DSNs that carry one the same way, without a scheme.

// isTokenStop reports whether c ends the text a URL or DSN can be part of:
// whitespace, a double quote, angle brackets or a backquote, none of which
// RFC 3986 allows unescaped. A single quote is a sub-delim, allowed in a
// password; it ends a URL only when one opened it (see quotedAt). A URL
// password holding stops unescaped is found by strayStopSpans.
func isTokenStop(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '"', '<', '>', '`':
		return true
	}
	return false
}

// quotedAt reports whether the text starting at i is opened by a single
// quote ('postgres://...' or dsn='app:pw@/db'), so a single quote ends it.
func quotedAt(s string, i int) bool { return i > 0 && s[i-1] == '\'' }

// userinfoSpans appends to dst the password of every URL userinfo and
// scheme-less DSN in s (see urlPasswordSpan and dsnPasswordSpan). Each
// text between token stops is looked at once, when it holds an '@'; a URL
// password holding token stops is found by strayStopSpans.
func userinfoSpans(s string, dst []span) []span {
	if strings.Contains(s, "://") {
		dst = strayStopSpans(s, dst)
	}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '@')
		if j < 0 {
			break
		}
		at := i + j
		ts, te := at, at
		for ts > i && !isTokenStop(s[ts-1]) {
			ts--
		}
		for te < len(s) && !isTokenStop(s[te]) {
			te++
		}
		dst = tokenSpans(s, ts, te, dst)
		i = te + 1
	}
	return dst
}

// strayStopSpans appends the password of every URL in s whose userinfo
// holds token stops RFC 3986 wants escaped (a blank, '"', '<', '>', '`'),
// which users write unescaped all the same (generated passwords hold
// them): postgres://app:p<w>d@db:5432/app. Such a password runs from the
// first ':' after scheme:// to an '@' followed by a host (text up to a
// token stop, '/', '?', '#' or the end, holding no '@', so the last '@'
// of the authority ends it), provided nothing between marks the text as
// something other than one URL's authority:
//
//   - a '/', '?', '#' or line break (the authority ended);
//   - the closer of what opened the URL: a quote after the same quote,
//     '>' after '<', a backquote after one (<http://h:x> <a@b> is two texts);
//   - a blank, unless the URL starts the text or follows '=' (a
//     variable's value, DATABASE_URL=postgres://app:pa ss@db; in prose a
//     blank ends a URL);
//   - a token stop in the user, or digits alone before the first token
//     stop after the ':' (a port: http://h:8080 <a@b>).
//
// It walks s once, so its cost is linear in len(s).
func strayStopSpans(s string, dst []span) []span {
	sep, colon, stop := -1, -1, -1 // the open URL's "://", first ':', first stop after it
	blanks, closer := false, byte(0)
	for i := 0; i < len(s); i++ {
		if sep < 0 { // skip to the next URL's "://"
			k := strings.Index(s[i:], "://")
			if k < 0 {
				break
			}
			i += k + 2
		}
		c := s[i]
		switch {
		case c == '/' && i >= 2 && s[i-2:i+1] == "://":
			sep, colon, stop = i-2, -1, -1
			start := schemeStart(s, 0, sep)
			if start == sep {
				sep = -1 // no scheme
				continue
			}
			closer, blanks = 0, start == 0
			if start > 0 {
				switch s[start-1] {
				case '"', '\'', '`':
					closer = s[start-1]
				case '<':
					closer = '>'
				case '=':
					blanks = true
				}
			}
		case strings.IndexByte("/?#\r\n", c) >= 0 || c == closer || isBlank(c) && !blanks:
			sep = -1
		case c == ':' && colon < 0:
			colon = i
		case isTokenStop(c) && colon < 0:
			sep = -1 // a user holds no stop
		case isTokenStop(c) && stop < 0:
			stop = i
			if allDigits(s[colon+1 : i]) {
				sep = -1 // a port
			}
		case c == '@' && stop >= 0 && strayHostAt(s, i+1):
			dst = append(dst, span{colon + 1, i})
		}
	}
	return dst
}

// strayHostAt reports whether s[i:] starts with a host that ends an
// authority: at least one character, then a token stop, '/', '?', '#' or
// the end, with no '@' before it.
func strayHostAt(s string, i int) bool {
	h := i
	for h < len(s) && !isTokenStop(s[h]) && strings.IndexByte("/?#", s[h]) < 0 {
		if s[h] == '@' {
			return false
		}
		h++
	}
	return h > i
}

// tokenSpans appends the passwords in s[ts:te], a text between token stops
// holding an '@': of each URL in it (scheme://), and of a DSN before the
// first URL or in a text without one.
func tokenSpans(s string, ts, te int, dst []span) []span {
	k := strings.Index(s[ts:te], "://")
	if k < 0 {
		return dsnPasswordSpan(s, ts, te, dst)
	}
	if first := schemeStart(s, ts, ts+k); strings.IndexByte(s[ts:first], '@') >= 0 {
		dst = dsnPasswordSpan(s, ts, first, dst) // a DSN before the first URL
	}
	for sep := ts + k; sep >= 0; {
		start, end, next := schemeStart(s, ts, sep), te, -1
		if n := strings.Index(s[sep+3:te], "://"); n >= 0 {
			next = sep + 3 + n
			end = schemeStart(s, sep+3, next) // the next URL's scheme ends this one
		}
		if quotedAt(s, start) {
			if q := strings.IndexByte(s[sep+3:end], '\''); q >= 0 {
				end = sep + 3 + q
			}
		}
		dst = urlPasswordSpan(s, sep+3, end, dst)
		sep = next
	}
	return dst
}

// schemeStart returns where the scheme ending at sep ("://") starts, no
// earlier than from: letters, digits, '+', '-' and '.' (RFC 3986 §3.1).
func schemeStart(s string, from, sep int) int {
	i := sep
	for i > from {
		c := s[i-1]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			break
		}
		i--
	}
	return i
}

// urlPasswordSpan appends the password of the URL whose authority starts
// at a and which ends by end. The authority ends at the first '/', '?' or
// '#'; when it holds an '@', the last one ends the userinfo (so a user that
// is an e-mail address, alerts@example.com:pw@smtp, and a password holding
// '@' work) and the first ':' in the userinfo starts the password (RFC 3986
// §3.2.1, as Go's net/url and curl read it). A password holding an
// unescaped '/', '?' or '#' ends the authority early; then the password
// runs from the first ':' to the last '@' of the next part holding one,
// unless what follows the ':' is a port (digits, as in
// http://host:8080/x?mail=a@b).
func urlPasswordSpan(s string, a, end int, dst []span) []span {
	e := a + strings.IndexAny(s[a:end], "/?#")
	if e < a {
		e = end
	}
	if at := strings.LastIndexByte(s[a:e], '@'); at >= 0 {
		at += a
		if c := strings.IndexByte(s[a:at], ':'); c >= 0 {
			if a+c+1 < at {
				dst = append(dst, span{a + c + 1, at})
			}
			return dst
		}
		if isAccessToken(s[a:at]) { // git clone https://ghp_...@github.com/o/r
			return append(dst, span{a, at})
		}
		// A user without a password, or one that is an e-mail address
		// before a password holding '/'.
	}
	c := strings.IndexByte(s[a:e], ':')
	if c < 0 || e == end || allDigits(s[a+c+1:e]) {
		return dst
	}
	p := strings.IndexByte(s[e:end], '@')
	if p < 0 {
		return dst
	}
	p += e
	partEnd := p + strings.IndexAny(s[p:end], "/?#")
	if partEnd < p {
		partEnd = end
	}
	at := p + strings.LastIndexByte(s[p:partEnd], '@')
	return append(dst, span{a + c + 1, at})
}

// allDigits reports whether s is empty or only ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// dsnPasswordSpan appends the password of a DSN without a scheme in
// s[ts:te]: user:password@ followed by what shows it is a DSN, so that
// e-mail addresses, times and image digests are left alone:
//
//   - go-sql-driver/mysql's net(addr) or /dbname: app:pw@tcp(db:3306)/app,
//     app:pw@unix(/run/mysqld.sock)/app, app:pw@/app;
//   - a host and port, as proxies are written (curl -x, HTTPS_PROXY):
//     user:pw@proxy.corp:3128;
//   - Oracle's JDBC thin URL, user/password@: jdbc:oracle:thin:app/pw@//db:1521/svc.
//
// The user starts after a blank, '=', ';', ',', '(' or a quote and may hold
// '@' (an e-mail address); the first ':' after it starts the password and
// the last '@' followed by one of the shapes above ends it.
func dsnPasswordSpan(s string, ts, te int, dst []span) []span {
	c := strings.IndexByte(s[ts:te], ':')
	if c < 0 {
		return dst
	}
	c += ts
	u := c
	for u > ts && !strings.ContainsRune("=;,('", rune(s[u-1])) {
		u--
	}
	user := s[u:c]
	if user == "" || strings.ContainsAny(user, "/\\") {
		return dst
	}
	end := te
	if quotedAt(s, u) {
		if q := strings.IndexByte(s[c:te], '\''); q >= 0 {
			end = c + q
		}
	}
	if strings.EqualFold(user, "jdbc") && len(s)-c > 8 && strings.EqualFold(s[c+1:c+8], "oracle:") {
		return oraclePasswordSpan(s, c+8, end, dst)
	}
	for at := end - 1; at > c; at-- {
		if s[at] != '@' || !dsnHostAt(s, at+1, end) {
			continue
		}
		if at > c+1 && s[at-1] != ':' { // jdbc:oracle:thin:@db is no password
			dst = append(dst, span{c + 1, at})
		}
		break
	}
	return dst
}

// dsnHostAt reports whether s[i:end] starts the way a DSN's address does
// after its '@': '/' or net( (go-sql-driver/mysql), or host:port with a
// port of 1 to 5 digits.
func dsnHostAt(s string, i, end int) bool {
	if i >= end {
		return false
	}
	if s[i] == '/' {
		return true
	}
	j := i
	for j < end && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == '-' || s[j] == '_') {
		j++
	}
	if j < end && s[j] == '(' {
		return true
	}
	if j == i || j >= end || s[j] != ':' {
		return false
	}
	p := j + 1
	for p < end && p-j <= 6 && s[p] >= '0' && s[p] <= '9' {
		p++
	}
	digits := p - j - 1
	return digits >= 1 && digits <= 5 && (p == end || !isNameChar(s[p]))
}

// oraclePasswordSpan appends the password of Oracle's thin or OCI JDBC URL
// after "jdbc:oracle:" (i): a driver type, ':', then user/password@.
func oraclePasswordSpan(s string, i, end int, dst []span) []span {
	c := strings.IndexByte(s[i:end], ':')
	if c < 0 {
		return dst
	}
	rest := i + c + 1
	at := strings.IndexByte(s[rest:end], '@')
	if at < 0 {
		return dst
	}
	at += rest
	if slash := strings.IndexByte(s[rest:at], '/'); slash >= 0 && rest+slash+1 < at {
		dst = append(dst, span{rest + slash + 1, at})
	}
	return dst
}

// encodedUserinfoSpans appends the password of every URL in s that is
// percent-encoded (RFC 3986 §2.1), as a URL is when it is a parameter of
// another's query (?redirect_uri=https%3A%2F%2Fuser%3Apw%40host%2Fcb):
// after an encoded "://" (%3A%2F%2F, either case), the authority runs to
// an encoded '/', '?' or '#', or to what ends a query parameter ('&', ';',
// '#', a blank or a quote); its last encoded '@' (%40) ends the userinfo
// and the first encoded ':' (%3A) in it starts the password.
func encodedUserinfoSpans(s string, dst []span) []span {
	const sep = "%3A%2F%2F"
	for i := 0; i+len(sep) <= len(s); {
		k := strings.IndexByte(s[i:], '%')
		if k < 0 {
			break
		}
		i += k
		if i+len(sep) > len(s) || !strings.EqualFold(s[i:i+len(sep)], sep) {
			i++
			continue
		}
		a := i + len(sep)
		e := a
		for e < len(s) && !isTokenStop(s[e]) && strings.IndexByte("&;#'/?", s[e]) < 0 &&
			!(s[e] == '%' && e+3 <= len(s) && encodedOneOf(s[e+1:e+3], "2F", "3F", "23")) {
			e++
		}
		at := -1
		for j := a; j+3 <= e; j++ {
			if s[j] == '%' && encodedOneOf(s[j+1:j+3], "40") {
				at = j
			}
		}
		if at > a {
			for j := a; j+3 <= at; j++ {
				if s[j] == '%' && encodedOneOf(s[j+1:j+3], "3A") {
					if j+3 < at {
						dst = append(dst, span{j + 3, at})
					}
					break
				}
			}
		}
		i = e
	}
	return dst
}

// encodedOneOf reports whether the two hex digits h are one of codes,
// whatever their case.
func encodedOneOf(h string, codes ...string) bool {
	for _, c := range codes {
		if strings.EqualFold(h, c) {
			return true
		}
	}
	return false
}

// tokenPrefixes start the access tokens that Git hosts document as a URL's
// user with no password (https://TOKEN@host/...): GitHub's personal,
// OAuth, user-to-server, server-to-server and refresh tokens and
// fine-grained personal tokens ("About authentication to GitHub", token
// formats), GitLab's personal, deploy and CI job tokens ("Token overview",
// token prefixes).
var tokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-", "glcbt-"}

// isAccessToken reports whether a URL's user is an access token by its
// prefix.
func isAccessToken(user string) bool {
	for _, p := range tokenPrefixes {
		if len(user) > len(p) && strings.HasPrefix(user, p) {
			return true
		}
	}
	return false
}
