package apiserver

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// OperatorSignIn is what the operator dashboard needs to sign operators in with the
// county's OpenID Connect provider, as a public client: the authorization code flow with
// PKCE, done by the page itself, which then sends the access token to the operator API as
// it would send a key. No cookie is set, so there is nothing to forge a request with.
type OperatorSignIn struct {
	// ClientID is the dashboard's client at the provider (OIDC_OPERATOR_CLIENT_ID); empty:
	// the dashboard takes operator keys only. Its redirect URI is <API URL>/operator/.
	ClientID string
	// Scopes are requested at sign-in (OIDC_OPERATOR_SCOPES).
	Scopes []string
}

// signInConfigFile is where the dashboard reads how to sign in: /operator/sign-in.json.
const signInConfigFile = "sign-in.json"

// signInConfig answers the dashboard's question "how do operators sign in here?". The
// provider's endpoints come from its discovery document, read by the API, so the page
// needs no request to the provider but the two of the sign-in itself.
func (h *handlers) signInConfig(c *gin.Context) {
	if h.cfg.Operators == nil || h.cfg.OperatorSignIn.ClientID == "" {
		c.JSON(http.StatusOK, gin.H{"enabled": false})
		return
	}
	e, err := h.cfg.Operators.Endpoints(c.Request.Context())
	if err != nil {
		h.cfg.Logger.Error("operator sign-in: identity provider unavailable", "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable",
			"the identity provider could not be reached; sign in later, or use an operator key", "")
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"enabled":                true,
		"issuer":                 h.cfg.Operators.Issuer(),
		"client_id":              h.cfg.OperatorSignIn.ClientID,
		"authorization_endpoint": e.Authorization,
		"token_endpoint":         e.Token,
		"scope":                  strings.Join(h.cfg.OperatorSignIn.Scopes, " "),
	})
}

// operatorPageCSP is the dashboard's Content-Security-Policy: the portal's, with the
// provider's token endpoint added to connect-src when operators sign in, since the page
// exchanges its code there. Nothing else of the provider's is fetched, framed or run.
func (h *handlers) operatorPageCSP(c *gin.Context) {
	if h.cfg.Operators == nil || h.cfg.OperatorSignIn.ClientID == "" {
		return
	}
	e, err := h.cfg.Operators.Endpoints(c.Request.Context())
	if err != nil {
		return // the page then finds sign-in unavailable and offers keys
	}
	token := originOf(e.Token)
	if token == "" || strings.ContainsAny(token, " ;,'\"") {
		return
	}
	c.Header("Content-Security-Policy", "default-src 'self'; connect-src 'self' "+token+
		"; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")
}
