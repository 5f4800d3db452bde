package apiserver

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/store"
)

const keyContext = "apiKey"

// authenticate requires a live API key with one of roles.
func (h *handlers) authenticate(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="ballotflow"`)
			abort(c, http.StatusUnauthorized, "unauthenticated", "send your API key as 'Authorization: Bearer <key>'", "")
			return
		}
		key, err := h.cfg.Store.APIKeyAuthenticate(c.Request.Context(), strings.TrimSpace(token))
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

func apiKey(c *gin.Context) store.APIKey {
	return c.MustGet(keyContext).(store.APIKey)
}
