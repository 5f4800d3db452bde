// Package signin checks the access tokens of operators who signed in with the county's
// OpenID Connect provider (Temporal UI forwards them to /codec; the operator dashboard sends
// them to the operator API). A token passes when the provider signed it with an asymmetric
// key it publishes, it was issued by the configured issuer for one of the configured
// audiences, it has not expired, and its group claim names the operator group. Tokens and
// their claims are never logged.
package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/ballotflow/ballotflow/internal/loopback"
)

// Config is what the verifier needs; see OIDC_ISSUER and the variables beside it.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its tokens' "iss" claim says it.
	Issuer string
	// Audiences are the values of which a token's "aud" claim must hold at least one.
	Audiences []string
	// GroupsClaim names the claim that lists a person's groups or roles: a top-level claim
	// ("groups", "roles", "https://example.org/groups") or a dotted path into nested
	// claims ("realm_access.roles").
	GroupsClaim string
	// OperatorGroup is the group (or role) that makes a person an operator.
	OperatorGroup string
	// HTTPClient fetches the provider's discovery document and keys; nil uses a client
	// with a 10-second timeout.
	HTTPClient *http.Client
	// Now is the clock tokens are checked against; nil is time.Now.
	Now func() time.Time
}

// MaxTokenBytes bounds a token the verifier reads: a JWT access token with a few dozen
// groups is 1 to 3 KiB.
const MaxTokenBytes = 8 << 10

// Errors of Verify. Callers answer ErrInvalidToken with 401, ErrNotOperator with 403 and
// ErrUnavailable with 503.
var (
	ErrInvalidToken = errors.New("the sign-in token is not valid")
	ErrNotOperator  = errors.New("the signed-in person is not in the operator group")
	ErrUnavailable  = errors.New("the identity provider could not be reached")
)

// signingAlgs are the signatures a token may carry: asymmetric ones only. "none" and the
// HMAC algorithms, whose key would be a secret shared with every client, never pass.
var signingAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// Operator is who a verified token names.
type Operator struct {
	Subject string // the provider's stable id of the person
	Email   string // may be empty
	Expiry  time.Time
}

// Actor names the operator in the audit log: "oidc:<subject>", with the email when the
// token carries one. Both come from the county's provider and name a county employee, not
// a voter.
func (o Operator) Actor() string {
	if o.Email == "" {
		return "oidc:" + o.Subject
	}
	return "oidc:" + o.Subject + " <" + o.Email + ">"
}

// Endpoints are the provider's URLs a browser signs in with.
type Endpoints struct {
	Authorization string
	Token         string
}

// Verifier checks operators' access tokens. It discovers the provider on first use and
// again after a failure (at most every retryAfter), so an API started while the provider is
// down serves keys at once and sign-ins as soon as the provider answers.
type Verifier struct {
	cfg    Config
	client *http.Client

	mu         sync.Mutex
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	lastFailed time.Time
}

// retryAfter is how long a failed discovery is remembered before the next request tries
// again, so that a provider that is down is not asked once per request.
const retryAfter = 5 * time.Second

// New checks cfg and returns its verifier; it does not contact the provider.
func New(cfg Config) (*Verifier, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("OIDC_ISSUER must be the provider's issuer URL, e.g. https://login.example.gov/realms/county")
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) && !strings.HasSuffix(u.Hostname(), ".localhost") {
		return nil, errors.New("OIDC_ISSUER must be an https URL (http only on this machine, for development)")
	}
	cfg.Audiences = slices.DeleteFunc(slices.Clone(cfg.Audiences), func(a string) bool { return strings.TrimSpace(a) == "" })
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("OIDC_AUDIENCE is required with OIDC_ISSUER: the audience the provider puts in operators' access tokens")
	}
	if strings.TrimSpace(cfg.GroupsClaim) == "" {
		return nil, errors.New("OIDC_GROUPS_CLAIM must name the claim that lists a person's groups, e.g. groups")
	}
	if strings.TrimSpace(cfg.OperatorGroup) == "" {
		return nil, errors.New("OIDC_OPERATOR_GROUP is required with OIDC_ISSUER: the group whose members are operators")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	// Every token whose key id is unknown, or whose signature fails, makes go-oidc fetch the
	// provider's keys again; the throttle keeps forged tokens from turning into a stream of
	// requests to the provider.
	throttled := *client
	throttled.Transport = newKeyFetchThrottle(client.Transport, cfg.Now)
	return &Verifier{cfg: cfg, client: &throttled}, nil
}

// Verify checks raw, an access token, and returns the operator it names. It fails with
// ErrInvalidToken, ErrNotOperator or ErrUnavailable (wrapped with the reason, which never
// repeats the token or its claims).
func (v *Verifier) Verify(ctx context.Context, raw string) (Operator, error) {
	if raw == "" || len(raw) > MaxTokenBytes || strings.Count(raw, ".") != 2 {
		return Operator{}, fmt.Errorf("%w: not a signed JWT of at most %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	verifier, err := v.discovered(ctx)
	if err != nil {
		return Operator{}, err
	}
	tok, err := verifier.Verify(oidc.ClientContext(ctx, v.client), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case errors.As(err, &expired):
			return Operator{}, fmt.Errorf("%w: expired", ErrInvalidToken)
		case strings.Contains(err.Error(), "fetching keys"):
			return Operator{}, fmt.Errorf("%w: its keys could not be fetched", ErrUnavailable)
		}
		return Operator{}, fmt.Errorf("%w: %s", ErrInvalidToken, reasonOf(err))
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(v.cfg.Audiences, a) }) {
		return Operator{}, fmt.Errorf("%w: issued for another audience", ErrInvalidToken)
	}
	if tok.Subject == "" {
		return Operator{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Operator{}, fmt.Errorf("%w: unreadable claims", ErrInvalidToken)
	}
	if !slices.Contains(groupsOf(claims, v.cfg.GroupsClaim), v.cfg.OperatorGroup) {
		return Operator{}, fmt.Errorf("%w: claim %s does not hold %s", ErrNotOperator, v.cfg.GroupsClaim, v.cfg.OperatorGroup)
	}
	email, _ := claims["email"].(string)
	return Operator{Subject: printable(tok.Subject), Email: printable(email), Expiry: tok.Expiry}, nil
}

// Endpoints returns the provider's authorization and token endpoints, discovering the
// provider first if need be.
func (v *Verifier) Endpoints(ctx context.Context) (Endpoints, error) {
	if _, err := v.discovered(ctx); err != nil {
		return Endpoints{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.provider.Endpoint()
	return Endpoints{Authorization: e.AuthURL, Token: e.TokenURL}, nil
}

// Issuer is the configured issuer URL.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// discovered returns the token verifier, reading the provider's discovery document first
// when that has not succeeded yet.
func (v *Verifier) discovered(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	if !v.lastFailed.IsZero() && v.cfg.Now().Sub(v.lastFailed) < retryAfter {
		return nil, fmt.Errorf("%w: discovery failed moments ago", ErrUnavailable)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The provider keeps this context for fetching keys later: only its values (the HTTP
	// client) are used then, never its deadline.
	p, err := oidc.NewProvider(oidc.ClientContext(dctx, v.client), v.cfg.Issuer)
	if err != nil {
		v.lastFailed = v.cfg.Now()
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: the provider calls itself %q, not OIDC_ISSUER", ErrUnavailable, mismatch.Discovered)
		}
		return nil, fmt.Errorf("%w: discovery: %v", ErrUnavailable, err)
	}
	v.provider = p
	v.verifier = p.Verifier(&oidc.Config{
		// The audience is checked against every configured value in Verify.
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: signingAlgs,
		Now:                  v.cfg.Now,
	})
	return v.verifier, nil
}

// groupsOf reads the groups named by claim: a top-level claim of that exact name, or else
// a dotted path into nested objects. A list of strings, or one string, is accepted.
func groupsOf(claims map[string]any, claim string) []string {
	value, ok := claims[claim]
	if !ok {
		var node any = claims
		for _, part := range strings.Split(claim, ".") {
			m, isMap := node.(map[string]any)
			if !isMap {
				return nil
			}
			node = m[part]
		}
		value = node
	}
	switch v := value.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, g := range v {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// reasonOf shortens go-oidc's error to its kind: its messages may quote claims (the issuer
// or audience the token named), and those stay out of logs and answers.
func reasonOf(err error) string {
	msg := err.Error()
	for _, r := range []struct{ has, reason string }{
		{"issued by a different provider", "issued by another provider"},
		{"signing algorithm", "signed with an algorithm that is not allowed"},
		{"unexpected signature algorithm", "signed with an algorithm that is not allowed"},
		{"failed to verify", "bad signature"},
		{"malformed jwt", "malformed"},
		{"nbf", "not valid yet"},
	} {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(r.has)) {
			return r.reason
		}
	}
	return "rejected"
}

// printable bounds a claim taken into the audit log and drops control characters.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}
