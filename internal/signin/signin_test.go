package signin_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/devidp"
	"github.com/ballotflow/ballotflow/internal/signin"
)

// startProvider runs a development OpenID Provider for one test.
func startProvider(t testing.TB) *devidp.Provider {
	t.Helper()
	p, err := devidp.Start(devidp.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// verifierFor is the API's verifier for p, adjusted by tune.
func verifierFor(t testing.TB, p *devidp.Provider, tune func(*signin.Config)) *signin.Verifier {
	t.Helper()
	cfg := signin.Config{Issuer: p.Issuer(), Audiences: []string{devidp.Audience}, GroupsClaim: "groups",
		OperatorGroup: devidp.OperatorGroup}
	if tune != nil {
		tune(&cfg)
	}
	v, err := signin.New(cfg)
	require.NoError(t, err)
	return v
}

func tokenOf(t testing.TB, p *devidp.Provider, user string) string {
	t.Helper()
	tok, err := p.SignIn(context.Background(), user, user)
	require.NoError(t, err)
	return tok.AccessToken
}

func TestAnOperatorsAccessTokenNamesTheOperator(t *testing.T) {
	p := startProvider(t)
	v := verifierFor(t, p, nil)
	op, err := v.Verify(context.Background(), tokenOf(t, p, devidp.OperatorUser))
	require.NoError(t, err)
	require.Equal(t, "demo-operator-1", op.Subject)
	require.Equal(t, "oidc:demo-operator-1 <operator@county.example>", op.Actor())
	require.WithinDuration(t, time.Now().Add(15*time.Minute), op.Expiry, time.Minute)

	e, err := v.Endpoints(context.Background())
	require.NoError(t, err)
	require.Equal(t, p.Issuer()+"/authorize", e.Authorization)
	require.Equal(t, p.Issuer()+"/oauth/token", e.Token)
}

func TestAPersonOutsideTheOperatorGroupIsRefused(t *testing.T) {
	p := startProvider(t)
	v := verifierFor(t, p, nil)
	_, err := v.Verify(context.Background(), tokenOf(t, p, devidp.ClerkUser))
	require.ErrorIs(t, err, signin.ErrNotOperator)

	// The group is read from the claim configured, and from nowhere else.
	v = verifierFor(t, p, func(c *signin.Config) { c.GroupsClaim = "roles" })
	_, err = v.Verify(context.Background(), tokenOf(t, p, devidp.OperatorUser))
	require.ErrorIs(t, err, signin.ErrNotOperator)
}

func TestATokenForAnotherAudienceIsRefused(t *testing.T) {
	p := startProvider(t)
	v := verifierFor(t, p, func(c *signin.Config) { c.Audiences = []string{"payroll"} })
	_, err := v.Verify(context.Background(), tokenOf(t, p, devidp.OperatorUser))
	require.ErrorIs(t, err, signin.ErrInvalidToken)
	require.ErrorContains(t, err, "another audience")

	// Any one of several audiences will do: the client's own id is one.
	v = verifierFor(t, p, func(c *signin.Config) { c.Audiences = []string{"payroll", devidp.DashboardClientID} })
	_, err = v.Verify(context.Background(), tokenOf(t, p, devidp.OperatorUser))
	require.NoError(t, err)
}

func TestAnExpiredTokenIsRefused(t *testing.T) {
	p := startProvider(t)
	later := func() time.Time { return time.Now().Add(time.Hour) }
	v := verifierFor(t, p, func(c *signin.Config) { c.Now = later })
	_, err := v.Verify(context.Background(), tokenOf(t, p, devidp.OperatorUser))
	require.ErrorIs(t, err, signin.ErrInvalidToken)
	require.ErrorContains(t, err, "expired")
}

func TestATokenOfAnotherProviderIsRefused(t *testing.T) {
	p, other := startProvider(t), startProvider(t)
	v := verifierFor(t, p, nil)
	_, err := v.Verify(context.Background(), tokenOf(t, other, devidp.OperatorUser))
	require.ErrorIs(t, err, signin.ErrInvalidToken)
}

// TestAnIssuerSpelledDifferentlyIsNotTrusted: the issuer must be written exactly as the
// provider writes it; localhost is not 127.0.0.1. The error says what the provider calls
// itself, so that an operator can fix OIDC_ISSUER.
func TestAnIssuerSpelledDifferentlyIsNotTrusted(t *testing.T) {
	p := startProvider(t)
	v := verifierFor(t, p, func(c *signin.Config) { c.Issuer = strings.Replace(p.Issuer(), "127.0.0.1", "localhost", 1) })
	_, err := v.Verify(context.Background(), tokenOf(t, p, devidp.OperatorUser))
	require.ErrorIs(t, err, signin.ErrUnavailable)
	require.ErrorContains(t, err, p.Issuer())
}

// TestUnsignedAndSharedSecretTokensAreRefused: a token that claims everything right but is
// signed with "none", or with HS256 keyed by the provider's public key (the classic
// confusion of an RSA public key for an HMAC secret), never passes.
func TestUnsignedAndSharedSecretTokensAreRefused(t *testing.T) {
	p := startProvider(t)
	v := verifierFor(t, p, nil)
	real := tokenOf(t, p, devidp.OperatorUser)
	claims := payloadOf(t, real)

	none := b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(string(claims)) + "."
	_, err := v.Verify(context.Background(), none)
	require.ErrorIs(t, err, signin.ErrInvalidToken)

	jwks := fetchJWKS(t, p)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jwks}, nil)
	require.NoError(t, err)
	jws, err := signer.Sign(claims)
	require.NoError(t, err)
	hs256, err := jws.CompactSerialize()
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), hs256)
	require.ErrorIs(t, err, signin.ErrInvalidToken)

	// An RS256 token signed by a key the provider does not publish, with its key id.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	header := map[string]any{"alg": "RS256", "kid": headerOf(t, real)["kid"]}
	forged := signRS256(t, key, header, claims)
	_, err = v.Verify(context.Background(), forged)
	require.ErrorIs(t, err, signin.ErrInvalidToken)

	// The real token with one more group written into it.
	var c map[string]any
	require.NoError(t, json.Unmarshal(claims, &c))
	c["groups"] = []string{devidp.OperatorGroup, "admins"}
	changed, err := json.Marshal(c)
	require.NoError(t, err)
	parts := strings.Split(real, ".")
	_, err = v.Verify(context.Background(), parts[0]+"."+b64(string(changed))+"."+parts[2])
	require.ErrorIs(t, err, signin.ErrInvalidToken)

	_, err = v.Verify(context.Background(), strings.Repeat("a", signin.MaxTokenBytes)+".b.c")
	require.ErrorIs(t, err, signin.ErrInvalidToken)
}

// TestAProviderThatIsDownIsUnavailableThenFound: the API starts while the provider is down
// and signs operators in once it answers.
func TestAProviderThatIsDownIsUnavailableThenFound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	now := time.Now()
	clock := func() time.Time { return now }
	v, err := signin.New(signin.Config{Issuer: "http://" + addr, Audiences: []string{devidp.Audience},
		GroupsClaim: "groups", OperatorGroup: devidp.OperatorGroup, Now: clock})
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), "a.b.c")
	require.ErrorIs(t, err, signin.ErrUnavailable)

	p, err := devidp.Start(devidp.Options{Addr: addr})
	require.NoError(t, err)
	defer p.Close()
	token := tokenOf(t, p, devidp.OperatorUser)
	_, err = v.Verify(context.Background(), token)
	require.ErrorIs(t, err, signin.ErrUnavailable, "a failed discovery is not retried at once")
	now = now.Add(6 * time.Second)
	_, err = v.Verify(context.Background(), token)
	require.NoError(t, err)
}

func TestConfigurationIsCheckedBeforeAnyRequest(t *testing.T) {
	ok := signin.Config{Issuer: "https://login.example.gov/realms/county", Audiences: []string{"ballotflow"},
		GroupsClaim: "groups", OperatorGroup: "ballotflow-operators"}
	for name, tc := range map[string]struct {
		tune func(*signin.Config)
		want string
	}{
		"no audience":        {func(c *signin.Config) { c.Audiences = nil }, "OIDC_AUDIENCE"},
		"no group":           {func(c *signin.Config) { c.OperatorGroup = "" }, "OIDC_OPERATOR_GROUP"},
		"no claim":           {func(c *signin.Config) { c.GroupsClaim = " " }, "OIDC_GROUPS_CLAIM"},
		"http elsewhere":     {func(c *signin.Config) { c.Issuer = "http://login.example.gov" }, "https"},
		"not a URL":          {func(c *signin.Config) { c.Issuer = "login.example.gov" }, "OIDC_ISSUER"},
		"http on loopback":   {func(c *signin.Config) { c.Issuer = "http://127.0.0.1:5556/dex" }, ""},
		"http on .localhost": {func(c *signin.Config) { c.Issuer = "http://dex.localhost:5556/dex" }, ""},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			tc.tune(&cfg)
			_, err := signin.New(cfg)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func payloadOf(t testing.TB, token string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	require.NoError(t, err)
	return b
}

func headerOf(t testing.TB, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// fetchJWKS returns the provider's published key set, as bytes an attacker would have.
func fetchJWKS(t testing.TB, p *devidp.Provider) []byte {
	t.Helper()
	resp, err := httpGet(p.Issuer() + "/keys")
	require.NoError(t, err)
	return resp
}

func signRS256(t testing.TB, key *rsa.PrivateKey, header map[string]any, payload []byte) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	for k, v := range header {
		if k != "alg" {
			opts.WithHeader(jose.HeaderKey(k), v)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	s, err := jws.CompactSerialize()
	require.NoError(t, err)
	return s
}
