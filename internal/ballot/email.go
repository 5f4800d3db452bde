package ballot

import (
	"net/mail"
	"strings"
)

// NormalizeEmail returns s, trimmed, when it is a bare email address a provider can send
// to: no display name, no quotes or angle brackets, one @ with something before it, a
// domain with a dot (not at either end), at most 254 characters. The roll, the
// subscription import and the portal all take addresses by this one rule.
func NormalizeEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || strings.ContainsAny(s, " <>\"") {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	if at <= 0 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", false
	}
	return s, true
}
