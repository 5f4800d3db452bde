package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/devidp"
	"github.com/ballotflow/ballotflow/internal/signin"
)

const uiOrigin = "https://temporal-ui.example"

// signedInAPI is the API as `ballotflow api` runs it with OIDC_ISSUER set (codec behind
// keys or sign-ins, the dashboard's client configured), beside a development provider.
// It has no database: a signed-in operator is checked without one.
func signedInAPI(t testing.TB, clientID string) (http.Handler, *devidp.Provider) {
	t.Helper()
	p, err := devidp.Start(devidp.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	v, err := signin.New(signin.Config{Issuer: p.Issuer(), Audiences: []string{devidp.Audience}, GroupsClaim: "groups",
		OperatorGroup: devidp.OperatorGroup})
	require.NoError(t, err)
	spec, err := codec.NewKey("k1")
	require.NoError(t, err)
	c, err := codec.Parse(spec)
	require.NoError(t, err)
	h := apiserver.New(apiserver.Config{Codec: c, CodecOrigin: uiOrigin + "/", Operators: v,
		OperatorSignIn: apiserver.OperatorSignIn{ClientID: clientID, Scopes: []string{"openid", "email", "groups"}},
		Logger:         slog.New(slog.DiscardHandler)})
	return h, p
}

func accessToken(t testing.TB, p *devidp.Provider, user string) string {
	t.Helper()
	tok, err := p.SignIn(context.Background(), user, user)
	require.NoError(t, err)
	return tok.AccessToken
}

// decodeAs posts one JSON payload to /codec/decode from the UI's origin, with header as
// Authorization (none when empty).
func decodeAs(h http.Handler, origin, authorization string) *httptest.ResponseRecorder {
	in, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{
		{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"BallotKey":"b-1"}`)}}})
	req := httptest.NewRequest(http.MethodPost, "/codec/decode?preserveStorageRefs=true", bytes.NewReader(in))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	req.Header.Set("X-Namespace", "default")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
		req.Header.Set("Authorization-Extras", "an ID token the codec does not read")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestTheCodecOpensForSignedInOperatorsOnly: Temporal UI forwards a signed-in person's
// access token to /codec. An operator's opens it; a clerk's (signed in, not in the operator
// group) is a 403; anything else that looks like a token is a 401.
func TestTheCodecOpensForSignedInOperatorsOnly(t *testing.T) {
	h, p := signedInAPI(t, "")
	rec := decodeAs(h, uiOrigin, "Bearer "+accessToken(t, p, devidp.OperatorUser))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, uiOrigin, rec.Header().Get("Access-Control-Allow-Origin"))

	rec = decodeAs(h, uiOrigin, "Bearer "+accessToken(t, p, devidp.ClerkUser))
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Equal(t, "not_operator", errorCode(t, rec))

	for _, bad := range []string{"Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer " + strings.Repeat("x", 9<<10),
		"Bearer two words", "Basic b3BlcmF0b3I6b3BlcmF0b3I=", ""} {
		rec = decodeAs(h, uiOrigin, bad)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "%.40s", bad)
		require.Equal(t, "unauthenticated", errorCode(t, rec))
		require.NotContains(t, rec.Body.String(), "eyJ", "a token is never repeated")
	}

	// The origin must be the UI's exactly, whatever the credential.
	rec = decodeAs(h, "https://temporal-ui.example:8443", "Bearer "+accessToken(t, p, devidp.OperatorUser))
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Equal(t, "forbidden_origin", errorCode(t, rec))
}

// TestTheCodecPreflightAllowsWhatTemporalUISends: with a sign-in, Temporal UI sends
// Authorization and Authorization-Extras; a preflight that does not allow both fails every
// decode before it is sent.
func TestTheCodecPreflightAllowsWhatTemporalUISends(t *testing.T) {
	h, _ := signedInAPI(t, "")
	req := httptest.NewRequest(http.MethodOptions, "/codec/decode?preserveStorageRefs=true", nil)
	req.Header.Set("Origin", uiOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,authorization-extras,content-type,x-namespace")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusNoContent, rec.Code)
	allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
	for _, header := range []string{"authorization", "authorization-extras", "content-type", "x-namespace"} {
		require.Contains(t, strings.Split(strings.ReplaceAll(allowed, " ", ""), ","), header)
	}
}

// TestASignedInOperatorIsNoCountySystem: a sign-in opens what an operator key opens, and
// nothing else; county and state endpoints want their keys.
func TestASignedInOperatorIsNoCountySystem(t *testing.T) {
	h, p := signedInAPI(t, "")
	req := httptest.NewRequest(http.MethodPost, "/v1/ballot-events", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+accessToken(t, p, devidp.OperatorUser))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Contains(t, rec.Body.String(), "API keys")
}

// TestWithoutSignInConfiguredTokensAreRefusedWithAReason: an API without OIDC_ISSUER says
// that it takes keys, rather than that a token is a bad key.
func TestWithoutSignInConfiguredTokensAreRefusedWithAReason(t *testing.T) {
	spec, err := codec.NewKey("k1")
	require.NoError(t, err)
	c, err := codec.Parse(spec)
	require.NoError(t, err)
	h := apiserver.New(apiserver.Config{Codec: c, CodecOrigin: uiOrigin, Logger: slog.New(slog.DiscardHandler)})
	rec := decodeAs(h, uiOrigin, "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Contains(t, rec.Body.String(), "OIDC_ISSUER")
}

// TestTheDashboardLearnsHowToSignIn: /operator/sign-in.json gives the page the provider's
// endpoints and its client; the page's CSP lets it reach the token endpoint and nothing
// else of the provider's. Without a dashboard client the page takes keys only.
func TestTheDashboardLearnsHowToSignIn(t *testing.T) {
	h, p := signedInAPI(t, devidp.DashboardClientID)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/operator/sign-in.json", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &cfg))
	require.Equal(t, map[string]any{"enabled": true, "issuer": p.Issuer(), "client_id": devidp.DashboardClientID,
		"authorization_endpoint": p.Issuer() + "/authorize", "token_endpoint": p.Issuer() + "/oauth/token",
		"scope": "openid email groups"}, cfg)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/operator/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	csp := rec.Header().Get("Content-Security-Policy")
	require.Contains(t, csp, "connect-src 'self' "+p.Issuer()+";")
	require.Contains(t, csp, "default-src 'self'")
	require.Contains(t, csp, "frame-ancestors 'none'")

	keysOnly, _ := signedInAPI(t, "")
	rec = httptest.NewRecorder()
	keysOnly.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/operator/sign-in.json", nil))
	require.JSONEq(t, `{"enabled":false}`, rec.Body.String())
	rec = httptest.NewRecorder()
	keysOnly.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/operator/", nil))
	require.NotContains(t, rec.Header().Get("Content-Security-Policy"), "connect-src")
}
