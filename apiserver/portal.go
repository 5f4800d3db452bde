package apiserver

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/store"
)

// The voter portal: a voter finds their registration (POST /v1/portal/session), then with
// the session token reads their ballots and reads and changes how they hear about them. This
// file holds the routes and what every portal request shares: the session middleware, the
// body reader and the 503 answer. Signing in is in portal_session.go, the ballots in
// portal_ballot.go, the choices in portal_preferences.go, confirmations in
// portal_confirm.go, field checks in portal_validate.go and rate limits in portal_limits.go.

const maxPortalBody = 16 << 10

// registerPortal serves the portal API under /v1/portal and the web page at /.
func (h *handlers) registerPortal(r *gin.Engine, v1 *gin.RouterGroup) {
	h.registerPage(r)
	r.GET("/i18n.js", securityHeaders, portalScript()) // portal_texts.go
	p := v1.Group("/portal", noStore, securityHeaders)
	guard := &lookupGuard{}
	p.POST("/session", func(c *gin.Context) { h.postPortalSession(c, guard) })
	p.DELETE("/session", h.deletePortalSession)
	p.GET("/confirm-email", h.confirmEmailLink)
	p.POST("/confirm-email", h.postConfirmEmail)
	p.GET("/languages", h.getPortalLanguages) // portal_texts.go
	p.GET("/texts/:lang", h.getPortalTexts)
	auth := p.Group("", h.portalSession)
	auth.GET("/ballot", h.getPortalBallot)
	auth.GET("/preferences", h.getPortalPreferences)
	auth.PUT("/preferences", h.putPortalPreferences)
	auth.DELETE("/preferences", h.deletePortalPreferences)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
}

// securityHeaders: the page loads only its own files (no inline script), is never framed,
// and sends no referrer (a confirmation link carries a token).
func securityHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Frame-Options", "DENY")
}

const sessionContext = "portalSession"

func bearerToken(c *gin.Context) string {
	token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	return strings.TrimSpace(token)
}

// portalSession requires a live session token; unknown, expired and revoked tokens get the
// same 401.
func (h *handlers) portalSession(c *gin.Context) {
	token := bearerToken(c)
	var ps store.PortalSession
	err := store.ErrNotFound
	if token != "" && len(token) <= 128 {
		ps, err = h.cfg.Store.PortalSessionGetByToken(c.Request.Context(), token)
	}
	if errors.Is(err, store.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="ballotflow portal", error="invalid_token"`)
		abort(c, http.StatusUnauthorized, "session_expired", "Your session has ended. Please look yourself up again.", "")
		return
	}
	if err != nil {
		h.unavailable(c, "portal session", err)
		return
	}
	c.Set(sessionContext, ps)
	c.Next()
}

func portalSessionOf(c *gin.Context) store.PortalSession {
	return c.MustGet(sessionContext).(store.PortalSession)
}

func portalVoter(c *gin.Context) int64 { return portalSessionOf(c).VoterRef }

// decodePortalBody reads a small JSON body; on error it answers 4xx naming the field and
// returns false.
func decodePortalBody(c *gin.Context, v any) bool { return bindJSON(c, maxPortalBody, v) }

// unavailable answers 503 for a failure on our side; the log names what failed, never
// what the voter typed.
func (h *handlers) unavailable(c *gin.Context, what string, err error) {
	h.cfg.Logger.Error(what, "error", err)
	abort(c, http.StatusServiceUnavailable, "unavailable", "Something went wrong on our side. Please try again in a minute.", "")
}
