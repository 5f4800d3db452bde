package devidp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestTheProviderListensOnLoopbackOnly(t *testing.T) {
	_, err := Start(Options{Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "loopback")
}

func TestAWrongPasswordSignsNobodyIn(t *testing.T) {
	p, err := Start(Options{})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.SignIn(context.Background(), OperatorUser, "clerk")
	require.Error(t, err)
	tok, err := p.SignIn(context.Background(), OperatorUser, OperatorUser)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(tok.AccessToken, "."), "access tokens are JWTs")
	require.NotEmpty(t, tok.IDToken)
}

// FuzzLoginForm posts arbitrary bodies to the login form: it never fails with a 5xx, and it
// signs no one in without a demo user's own password.
func FuzzLoginForm(f *testing.F) {
	for _, seed := range []string{
		"id=x&username=operator&password=operator", "username=operator&password=clerk", "", "%", "id=%zz",
		"username=" + strings.Repeat("a", 5000), "password=operator&username=operator&id=",
	} {
		f.Add(seed)
	}
	st := newStorage(nil, time.Minute)
	login := &loginForm{storage: st, callback: func(context.Context, string) string { return "/authorize/callback?id=x" }}
	f.Fuzz(func(t *testing.T, body string) {
		// A sign-in under way, so that a right password could complete it.
		req, err := st.CreateAuthRequest(context.Background(), &oidc.AuthRequest{ClientID: DashboardClientID}, "")
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, loginPath, strings.NewReader(strings.ReplaceAll(body, "id=x", "id="+req.GetID())))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		login.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%d for %q", w.Code, body)
		}
		if w.Code == http.StatusFound {
			_ = r.ParseForm()
			u, ok := userByName(r.PostForm.Get("username"))
			if !ok || u.Password != r.PostForm.Get("password") {
				t.Fatalf("signed in without the password: %q", body)
			}
		}
	})
}
