package signin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/ballotflow/ballotflow/internal/devidp"
	"github.com/ballotflow/ballotflow/internal/signin"
)

// FuzzVerify hands the verifier arbitrary tokens, seeded with a real operator's token, a
// real clerk's and mangled ones: it never panics, and nothing but a token the provider
// signed for an operator passes.
func FuzzVerify(f *testing.F) {
	p := startProvider(f)
	v := verifierFor(f, p, nil)
	operator := tokenOf(f, p, devidp.OperatorUser)
	for _, seed := range []string{
		operator, tokenOf(f, p, devidp.ClerkUser), "", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.",
		operator[:len(operator)-3], operator + "x", "bf_abcdefgh_secret",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		op, err := v.Verify(context.Background(), token)
		if err == nil {
			if token != operator {
				t.Fatalf("a token that the provider did not issue passed")
			}
			if op.Subject == "" {
				t.Fatalf("an operator without a subject")
			}
			return
		}
		if !errors.Is(err, signin.ErrInvalidToken) && !errors.Is(err, signin.ErrNotOperator) && !errors.Is(err, signin.ErrUnavailable) {
			t.Fatalf("an error of no known kind: %v", err)
		}
	})
}

func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
