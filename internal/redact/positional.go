package redact

import "strings"

// This file finds the passwords the commands users log most often take
// without a name that says so: curl's user:password option, a MySQL
// client's -pPASSWORD, and SQL's PASSWORD 'x' and IDENTIFIED BY 'x'.

// curlUserSpans appends the password of every curl -u, --user, -U and
// --proxy-user option in s (curl(1): "-u, --user <user:password>"): what
// follows the first ':' of its value, joined (-uuser:pw, --user=user:pw)
// or the next word, quoted or not. It looks only at texts that name
// curl: other commands' -u is a user and group (docker run -u app:staff).
func curlUserSpans(s string, dst []span) []span {
	if !strings.Contains(s, "curl") {
		return dst
	}
	for i := 0; i < len(s); {
		k := strings.IndexByte(s[i:], '-')
		if k < 0 {
			break
		}
		i += k
		if i > 0 && !isSpace(s[i-1]) {
			i++
			continue
		}
		v := -1
		for _, opt := range []string{"--proxy-user", "--user", "-u", "-U"} {
			if !strings.HasPrefix(s[i:], opt) {
				continue
			}
			v = i + len(opt)
			switch {
			case v < len(s) && (s[v] == '=' && opt[1] == '-'):
				v++
			case v < len(s) && isBlank(s[v]):
				for v < len(s) && isBlank(s[v]) {
					v++
				}
			case len(opt) == 2 && v < len(s) && !isSpace(s[v]): // -uuser:pw
			default:
				v = -1
			}
			break
		}
		if v < 0 {
			i++
			continue
		}
		vs, ve := valueSpan(s, v, false)
		if c := strings.IndexByte(s[vs:ve], ':'); c >= 0 && vs+c+1 < ve {
			dst = append(dst, span{vs + c + 1, ve})
		}
		i = max(ve, i+1)
	}
	return dst
}

// mysqlPasswordSpans appends the password of every -pPASSWORD option in a
// text that names a MySQL or MariaDB client (mysql, mysqldump,
// mysqladmin, mariadb: "--password[=password], -p[password]", the
// password joined to -p; -p alone prompts for it): to the next blank, or
// inside its quotes.
func mysqlPasswordSpans(s string, dst []span) []span {
	if !strings.Contains(s, "mysql") && !strings.Contains(s, "mariadb") {
		return dst
	}
	for i := 0; i+2 < len(s); {
		k := strings.Index(s[i:], "-p")
		if k < 0 {
			break
		}
		i += k
		v := i + 2
		if i > 0 && !isSpace(s[i-1]) || v >= len(s) || isSpace(s[v]) || s[v] == '-' {
			i = v
			continue
		}
		vs, ve := valueSpan(s, v, false)
		if ve > vs {
			dst = append(dst, span{vs, ve})
		}
		i = max(ve, v)
	}
	return dst
}

// sqlPasswordSpan returns the password of SQL's PASSWORD 'x' (PostgreSQL's
// CREATE/ALTER ROLE ... PASSWORD, a string literal), IDENTIFIED BY 'x'
// (Oracle's and MySQL's, also after IDENTIFIED WITH plugin BY) and
// Oracle's unquoted IDENTIFIED BY x (in capitals: "identified by its
// name" is prose) for the name m, a word followed by blanks and its
// value.
func sqlPasswordSpan(s string, m paramMatch, name string) (int, int, bool) {
	quoted := m.value < len(s) && (s[m.value] == '\'' || s[m.value] == '"')
	switch {
	case strings.EqualFold(name, "password") && m.value < len(s) && s[m.value] == '\'': // a string literal
	case strings.EqualFold(name, "by") && (quoted || name == "BY"): // unquoted: Oracle's, in capitals
		j := m.nameStart
		for j > 0 && isBlank(s[j-1]) {
			j--
		}
		w := j
		for w > 0 && (isNameChar(s[w-1])) {
			w--
		}
		prev := s[w:j]
		if !strings.EqualFold(prev, "identified") && !(len(prev) > 8 && strings.EqualFold(prev[len(prev)-8:], "password")) ||
			!quoted && prev != strings.ToUpper(prev) {
			return 0, 0, false
		}
	default:
		return 0, 0, false
	}
	vs, ve := valueSpan(s, m.value, false)
	return vs, ve, ve > vs
}
