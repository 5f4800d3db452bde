package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ballotflow/ballotflow/internal/store"
)

// registerCodec serves the payload codec endpoint Temporal UI calls to show operators the
// decrypted inputs, signals and results of a ballot's history: POST /codec/decode and
// /codec/encode. Only operators may use it: an operator key, or the access token of an
// operator signed in with the county's identity provider, which Temporal UI forwards
// (Authorization: Bearer <access token>, beside Authorization-Extras: <ID token>, which is
// not read). Browsers may call it only from the configured Temporal UI origin. In dev
// (CodecWithoutKey) the embedded UI, which has no login, may call it without a key; dev
// listens on loopback only.
func (h *handlers) registerCodec(r *gin.Engine) {
	if h.cfg.Codec == nil {
		return
	}
	g := r.Group("/codec", h.codecCORS)
	g.OPTIONS("/*any", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	if !h.cfg.CodecWithoutKey {
		g.Use(h.authenticate(store.RoleOperator))
	}
	g.POST("/encode", h.codecPayloads(h.cfg.Codec.Encode))
	g.POST("/decode", h.codecPayloads(h.cfg.Codec.Decode))
}

// maxCodecBodyBytes bounds a codec request. Temporal refuses payloads over 2 MiB, which
// base64 in JSON makes 2.7 MiB; ballotflow's own payloads are a few hundred bytes. Without a
// bound, one request could hold the API's memory.
const maxCodecBodyBytes = 4 << 20

// codecPayloads serves the codec's remote protocol, as the Temporal SDK's own handler does
// (a JSON body {"payloads": [...]}, answered in kind) but with the API's bounds and error
// bodies: 413 over maxCodecBodyBytes, and 400 for a body or payload it cannot take, never
// repeating what was sent.
func (h *handlers) codecPayloads(convert func([]*commonpb.Payload) ([]*commonpb.Payload, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := readCodecBody(c)
		if !ok {
			return
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(body, &in); err != nil {
			abort(c, http.StatusBadRequest, "invalid_body", `the body must be {"payloads": [...]}, as Temporal UI sends it`, "payloads")
			return
		}
		out, err := convert(in.GetPayloads())
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_payload",
				"a payload could not be converted: it is damaged, or sealed with a key this server does not have", "payloads")
			return
		}
		c.JSON(http.StatusOK, &commonpb.Payloads{Payloads: out})
	}
}

// readCodecBody reads a codec request's body up to maxCodecBodyBytes; otherwise it answers
// (413, or 400 when the body broke off) and returns false.
func readCodecBody(c *gin.Context) ([]byte, bool) {
	tooLarge := func() {
		abort(c, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the body is larger than %d MiB; send fewer payloads at a time", maxCodecBodyBytes>>20), "")
	}
	if c.Request.ContentLength > maxCodecBodyBytes {
		tooLarge()
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCodecBodyBytes))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		tooLarge()
		return nil, false
	case err != nil:
		abort(c, http.StatusBadRequest, "invalid_body", "the body could not be read", "")
		return nil, false
	}
	return body, true
}

// codecCORS lets the Temporal UI (and nothing else) call the codec from a browser. A
// browser names the page's origin exactly as it was opened: a UI opened at
// http://localhost:8233 is not http://127.0.0.1:8233, so a refusal is logged with both.
func (h *handlers) codecCORS(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" {
		return
	}
	allowed := originOf(h.cfg.CodecOrigin)
	if allowed == "" || !strings.EqualFold(origin, allowed) {
		h.cfg.Logger.Warn("codec call from an origin other than TEMPORAL_UI_URL's", "origin", bounded(origin, 200),
			"allowed", allowed)
		abort(c, http.StatusForbidden, "forbidden_origin",
			"this origin may not call the codec: TEMPORAL_UI_URL must be the address operators open Temporal UI at, "+
				"exactly (localhost is not 127.0.0.1)", "")
		return
	}
	c.Header("Access-Control-Allow-Origin", origin)
	c.Header("Access-Control-Allow-Credentials", "true")
	c.Header("Access-Control-Allow-Methods", "POST, OPTIONS")
	// Temporal UI sends the signed-in operator's ID token in Authorization-Extras; a
	// preflight that does not allow it fails every call.
	c.Header("Access-Control-Allow-Headers", "Authorization, Authorization-Extras, Content-Type, X-Namespace")
	c.Header("Access-Control-Max-Age", "600")
	c.Header("Vary", "Origin")
}

// originOf is the origin (scheme://host[:port]) of a URL such as TEMPORAL_UI_URL, which may
// carry a path; "" when it has none.
func originOf(rawURL string) string {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// bounded cuts s to at most n bytes for a log line.
func bounded(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
