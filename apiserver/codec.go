package apiserver

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/converter"

	"github.com/ballotflow/ballotflow/internal/store"
)

// registerCodec serves the payload codec endpoint Temporal UI calls to show operators the
// decrypted inputs, signals and results of a ballot's history: POST /codec/decode and
// /codec/encode. Only operator keys may use it, and browsers only from the configured
// Temporal UI origin. In dev (CodecWithoutKey) the embedded UI, which has no login, may call
// it without a key; dev listens on loopback only.
func (h *handlers) registerCodec(r *gin.Engine) {
	if h.cfg.Codec == nil {
		return
	}
	codec := gin.WrapH(converter.NewPayloadCodecHTTPHandler(h.cfg.Codec))
	g := r.Group("/codec", h.codecCORS)
	g.OPTIONS("/*any", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	if !h.cfg.CodecWithoutKey {
		g.Use(h.authenticate(store.RoleOperator))
	}
	g.POST("/encode", codec)
	g.POST("/decode", codec)
}

// codecCORS lets the Temporal UI (and nothing else) call the codec from a browser.
func (h *handlers) codecCORS(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" {
		return
	}
	if h.cfg.CodecOrigin == "" || !strings.EqualFold(origin, strings.TrimRight(h.cfg.CodecOrigin, "/")) {
		abort(c, http.StatusForbidden, "forbidden_origin", "this origin may not call the codec; set TEMPORAL_UI_URL", "")
		return
	}
	c.Header("Access-Control-Allow-Origin", origin)
	c.Header("Access-Control-Allow-Credentials", "true")
	c.Header("Access-Control-Allow-Methods", "POST, OPTIONS")
	c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
	c.Header("Vary", "Origin")
}
