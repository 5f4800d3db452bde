package apiserver

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/signin"
	"github.com/ballotflow/ballotflow/internal/store"
)

const keyContext = "apiKey"

// maxAuthorizationBytes bounds the Authorization header read: an API key is 56 characters,
// an operator's access token a few KiB.
const maxAuthorizationBytes = 8 << 10

// Why a header gives no bearer credential.
var (
	errNoBearer        = errors.New("no bearer credential")
	errBearerTooLong   = errors.New("the Authorization header is longer than 8 KiB")
	errBearerMalformed = errors.New("the bearer credential holds characters no key or token has")
)

// parseBearer reads "Bearer <credential>" (the scheme in any case, RFC 6750). The
// credential is a key or a JWT: letters, digits and -._~+/=, nothing else.
func parseBearer(header string) (string, error) {
	if len(header) > maxAuthorizationBytes {
		return "", errBearerTooLong
	}
	scheme, credential, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errNoBearer
	}
	credential = strings.TrimSpace(credential)
	if credential == "" {
		return "", errNoBearer
	}
	for _, r := range credential {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/=", r)) {
			return "", errBearerMalformed
		}
	}
	return credential, nil
}

// isSignInToken tells an operator's access token (a JWT: three dot-separated parts) from
// an API key (bf_<prefix>_<secret>, without dots).
func isSignInToken(credential string) bool {
	return strings.Count(credential, ".") == 2 && !strings.HasPrefix(credential, "bf_")
}

// authenticate requires a live API key with one of roles or, where operators may act, an
// operator's access token from the county's identity provider (Config.Operators).
func (h *handlers) authenticate(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, err := parseBearer(c.GetHeader("Authorization"))
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="ballotflow"`)
			message := "send your API key as 'Authorization: Bearer <key>'"
			if !errors.Is(err, errNoBearer) {
				message = err.Error()
			}
			abort(c, http.StatusUnauthorized, "unauthenticated", message, "")
			return
		}
		if isSignInToken(token) {
			h.authenticateSignedIn(c, token, roles)
			return
		}
		key, err := h.cfg.Store.APIKeyAuthenticate(c.Request.Context(), token)
		if errors.Is(err, store.ErrBadKey) {
			c.Header("WWW-Authenticate", `Bearer realm="ballotflow", error="invalid_token"`)
			abort(c, http.StatusUnauthorized, "unauthenticated", "this API key is not valid or was revoked", "")
			return
		}
		if err != nil {
			h.cfg.Logger.Error("authenticate api key", "error", err)
			abort(c, http.StatusServiceUnavailable, "unavailable", "the key could not be checked; please retry", "")
			return
		}
		if !slices.Contains(roles, key.Role) {
			abort(c, http.StatusForbidden, "forbidden", "a "+key.Role+" key may not use this endpoint", "")
			return
		}
		c.Set(keyContext, key)
		c.Next()
	}
}

// authenticateSignedIn admits an operator who signed in with the county's identity
// provider, as an operator key would be admitted. The token and its claims are never
// logged or repeated; only why it was refused.
func (h *handlers) authenticateSignedIn(c *gin.Context, token string, roles []string) {
	if h.cfg.Operators == nil {
		c.Header("WWW-Authenticate", `Bearer realm="ballotflow", error="invalid_token"`)
		abort(c, http.StatusUnauthorized, "unauthenticated",
			"this API does not take sign-in tokens (OIDC_ISSUER is not set); send an API key", "")
		return
	}
	op, err := h.cfg.Operators.Verify(c.Request.Context(), token)
	switch {
	case errors.Is(err, signin.ErrNotOperator):
		h.cfg.Logger.Info("sign-in refused", "reason", "not in the operator group")
		abort(c, http.StatusForbidden, "not_operator",
			"you are signed in, but not as an operator: ask your identity provider's administrator for the operator group", "")
		return
	case errors.Is(err, signin.ErrUnavailable):
		h.cfg.Logger.Error("sign-in could not be checked", "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "the identity provider could not be reached; please retry", "")
		return
	case err != nil:
		h.cfg.Logger.Info("sign-in refused", "reason", err.Error())
		c.Header("WWW-Authenticate", `Bearer realm="ballotflow", error="invalid_token"`)
		abort(c, http.StatusUnauthorized, "unauthenticated", "your sign-in is not valid or has expired; sign in again", "")
		return
	}
	if !slices.Contains(roles, store.RoleOperator) {
		abort(c, http.StatusForbidden, "forbidden",
			"a signed-in operator may not use this endpoint; county and state systems use their API keys", "")
		return
	}
	c.Set(keyContext, store.APIKey{Role: store.RoleOperator, Label: "signed in", SignedIn: op.Actor()})
	c.Next()
}

func apiKey(c *gin.Context) store.APIKey {
	return c.MustGet(keyContext).(store.APIKey)
}
