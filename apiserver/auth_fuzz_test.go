package apiserver

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseBearer reads arbitrary Authorization headers. Whatever comes, the parser does not
// panic; what it returns is a credential of 8 KiB at most with only the characters a key or
// a JWT holds, or one of its three errors.
func FuzzParseBearer(f *testing.F) {
	for _, seed := range []string{
		"Bearer bf_abcdefgh_c2VjcmV0", "bearer  eyJhbGciOiJSUzI1NiJ9.e30.c2ln ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
		"Bearer a b", "Bearer \x00", "Bearer é", "BEARER x", "Bearer " + strings.Repeat("a", maxAuthorizationBytes),
		" Bearer\tx", "Bearer a.b.c", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		credential, err := parseBearer(header)
		if err != nil {
			if credential != "" {
				t.Fatalf("an error with a credential")
			}
			if !errors.Is(err, errNoBearer) && !errors.Is(err, errBearerTooLong) && !errors.Is(err, errBearerMalformed) {
				t.Fatalf("an unknown error: %v", err)
			}
			return
		}
		if credential == "" || len(credential) > maxAuthorizationBytes {
			t.Fatalf("a credential of %d bytes", len(credential))
		}
		for _, r := range credential {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/=", r)) {
				t.Fatalf("a credential holding %q", r)
			}
		}
		if isSignInToken(credential) && strings.HasPrefix(credential, "bf_") {
			t.Fatalf("an API key taken for a sign-in token")
		}
	})
}

func TestBearerCredentialsAreReadStrictly(t *testing.T) {
	for header, want := range map[string]string{
		"Bearer bf_abcdefgh_c2VjcmV0":         "bf_abcdefgh_c2VjcmV0",
		"bearer  eyJ.e30.sig ":                "eyJ.e30.sig",
		"Bearer":                              "",
		"Basic dXNlcjpwYXNz":                  "",
		"Bearer two words":                    "",
		"Bearer " + strings.Repeat("a", 9000): "",
	} {
		got, _ := parseBearer(header)
		if got != want {
			t.Errorf("parseBearer(%.30q) = %q, want %q", header, got, want)
		}
	}
	if !isSignInToken("eyJ.e30.sig") || isSignInToken("bf_abcdefgh_c2VjcmV0") || isSignInToken("bf_a.b.c") {
		t.Errorf("keys and tokens are told apart by their dots and the bf_ prefix")
	}
}
