package redact

import "strings"

// pemBegin and pemEnd start the armor lines of a PEM block (RFC 7468 §2).
const (
	pemBegin = "-----BEGIN "
	pemEnd   = "-----END "
)

// pemSpans appends to dst the body of every PEM block in s whose label
// holds "PRIVATE KEY" (PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" and
// "ENCRYPTED PRIVATE KEY", SEC 1 "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
// "PGP PRIVATE KEY BLOCK"): everything between the BEGIN and END lines,
// their newlines kept, so the armor still says what the value is. Of a
// block without its END line (a truncated log line) the base64 that follows
// the BEGIN line is masked, when there are at least minPEMRun bytes of it
// (not the prose of "no -----BEGIN PRIVATE KEY----- line found").
// Certificates and public keys are public and stay.
func pemSpans(s string, dst []span) []span {
	noEnd := false // no END line after i: looked for once, not per block
	for i := 0; i < len(s); {
		b := strings.Index(s[i:], pemBegin)
		if b < 0 {
			break
		}
		labelStart := i + b + len(pemBegin)
		l := strings.Index(s[labelStart:], "-----")
		if l < 0 {
			break
		}
		label := s[labelStart : labelStart+l]
		body := labelStart + l + len("-----")
		i = body
		if !strings.Contains(label, "PRIVATE KEY") || strings.ContainsAny(label, "\r\n") {
			continue
		}
		start := body
		for start < len(s) && isSpace(s[start]) {
			start++
		}
		end := start + base64Run(s[start:])
		e := -1
		if !noEnd {
			e = strings.Index(s[body:], pemEnd)
			noEnd = e < 0
		}
		if e >= 0 {
			end = body + e
		} else if end-start < minPEMRun {
			continue
		}
		i = end
		for end > start && isSpace(s[end-1]) {
			end--
		}
		if end > start {
			dst = append(dst, span{start, end})
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// minPEMRun is the shortest base64 run after a BEGIN line without an END
// line that is masked: a 64-byte line's quarter.
const minPEMRun = 16

// base64Run returns how many bytes at the start of s are base64 or line
// breaks, raw or escaped as \n (a PEM body in a JSON string or a log
// line).
func base64Run(s string) int {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n':
			i++
		case c == '\\' && i+1 < len(s) && (s[i+1] == 'n' || s[i+1] == 'r'):
			i += 2
		default:
			return i
		}
	}
	return i
}
