package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/unsubscribe"
)

// Unsubscribing from notice emails: every notice email links to /v1/unsubscribe/{token}, in
// its footer and in its List-Unsubscribe header with List-Unsubscribe-Post (RFC 8058
// one-click, which Gmail and Yahoo ask of bulk senders). POST with the body
// List-Unsubscribe=One-Click turns off email for the voter the email was about, through the
// portal's own path (store.SubscriptionSavePreferences, then preferences-changed to the
// voter's running ballots). GET only shows a page with a button that posts it: mail scanners
// follow every link, so following one must change nothing. The token is the only credential
// (internal/unsubscribe); no sign-in. Every answer is the same for a voter who exists and
// one who does not.

// PathUnsubscribe is where notice emails' unsubscribe links point: PathUnsubscribe + token.
const PathUnsubscribe = unsubscribe.Path

// maxUnsubscribeBody bounds a one-click body ("List-Unsubscribe=One-Click", or the same as
// multipart/form-data).
const maxUnsubscribeBody = 4 << 10

// Limits of the unsubscribe endpoint. Mail providers post one-click unsubscribes for many
// voters from the same addresses, so valid tokens are never limited by client; tokens that
// do not open are (a client guessing, or a broken link), and each valid token is limited on
// its own (a leaked link cannot make PostgreSQL and Temporal work without end).
const (
	unsubscribeFailuresPerClient = 30
	unsubscribeFailuresWindow    = 10 * time.Minute
	unsubscribePostsPerToken     = 10
	unsubscribePostsWindow       = 10 * time.Minute
)

func (h *handlers) registerUnsubscribe(v1 *gin.RouterGroup) {
	g := v1.Group("/unsubscribe", unsubscribeHeaders)
	g.GET("/:token", h.getUnsubscribe)
	g.POST("/:token", h.postUnsubscribe)
}

// unsubscribeHeaders: no caching, no referrer (the URL holds the token), never framed, no
// script at all, forms post only here.
func unsubscribeHeaders(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Frame-Options", "DENY")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Robots-Tag", "noindex")
	c.Header("Content-Security-Policy",
		"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// getUnsubscribe shows the page that asks to confirm; it changes nothing.
func (h *handlers) getUnsubscribe(c *gin.Context) {
	claims, ok := h.openUnsubscribeToken(c)
	if !ok {
		return
	}
	h.unsubscribePage(c, http.StatusOK, claims.Language, pageConfirm)
}

// postUnsubscribe turns email off for the token's voter; posting again changes nothing more.
func (h *handlers) postUnsubscribe(c *gin.Context) {
	claims, ok := h.openUnsubscribeToken(c)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxUnsubscribeBody))
	if err != nil {
		h.unsubscribeError(c, http.StatusRequestEntityTooLarge, claims.Language, "body_too_large",
			fmt.Sprintf("The body is larger than %d bytes; post List-Unsubscribe=One-Click.", maxUnsubscribeBody))
		return
	}
	if err := parseOneClick(c.ContentType(), c.GetHeader("Content-Type"), body); err != nil {
		status, code := http.StatusBadRequest, "one_click_required"
		if errors.Is(err, errUnsupportedBody) {
			status, code = http.StatusUnsupportedMediaType, "unsupported_media_type"
		}
		h.unsubscribeError(c, status, claims.Language, code, err.Error())
		return
	}
	if h.unsubscribeLimited(c, store.RateLimit{Key: fmt.Sprintf("unsubscribe\x00%d", claims.SubscriptionID),
		Max: unsubscribePostsPerToken, Window: unsubscribePostsWindow}) {
		return
	}
	// Once the voter asked, finish even if the client goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	if err := h.unsubscribeEmail(ctx, c, claims); err != nil {
		h.cfg.Logger.Error("unsubscribe", "subscription", claims.SubscriptionID, "error", err)
		h.unsubscribeError(c, http.StatusServiceUnavailable, claims.Language, "unavailable",
			"Something went wrong on our side. Please try again in a minute.")
		return
	}
	h.unsubscribePage(c, http.StatusOK, claims.Language, pageDone)
}

// unsubscribeEmail opts the token's email subscription out, as the portal does when a voter
// turns email off, and tells the voter's running ballots. A subscription that is gone, or
// whose address is no longer the one the email went to, has nothing to turn off: that
// mailbox gets no more notices for this voter either way.
func (h *handlers) unsubscribeEmail(ctx context.Context, c *gin.Context, claims unsubscribe.Claims) error {
	key, err := unsubscribe.KeyOf(ctx, h.cfg.Store)
	if err != nil {
		return err
	}
	sub, err := h.cfg.Store.SubscriptionGetByID(ctx, claims.SubscriptionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if sub.Channel != ballot.ChannelEmail || !key.AddressMatches(claims, sub.Address) {
		return nil
	}
	saved, err := h.cfg.Store.SubscriptionSavePreferences(ctx, sub.VoterRef, store.PortalPreferences{
		Email: &store.ChannelChoice{Enabled: false, Address: sub.Address}, Actor: "unsubscribe-link"})
	if err != nil {
		return err
	}
	if saved.Changed {
		if err := prefs.Notify(ctx, h.cfg.Temporal, h.cfg.Store, sub.VoterRef, prefs.ReasonEmailOptOut); err != nil {
			// A hint only: deliveries read the subscription at send time, so no email goes.
			h.cfg.Logger.Warn("signal preferences-changed", "voter", sub.VoterRef, "error", err)
		}
	}
	return nil
}

// openUnsubscribeToken reads the path's token. A token that does not open is a 404 (and
// counts against the client), the same for every reason; a client past its limit gets 429.
func (h *handlers) openUnsubscribeToken(c *gin.Context) (unsubscribe.Claims, bool) {
	key, err := unsubscribe.KeyOf(c.Request.Context(), h.cfg.Store)
	if err != nil {
		h.cfg.Logger.Error("unsubscribe key", "error", err)
		h.unsubscribeError(c, http.StatusServiceUnavailable, "", "unavailable",
			"Something went wrong on our side. Please try again in a minute.")
		return unsubscribe.Claims{}, false
	}
	claims, err := key.Open(c.Param("token"))
	if err == nil {
		return claims, true
	}
	if h.unsubscribeLimited(c, store.RateLimit{Key: "unsubscribe-invalid\x00" + clientKey(c),
		Max: unsubscribeFailuresPerClient, Window: unsubscribeFailuresWindow}) {
		return unsubscribe.Claims{}, false
	}
	h.unsubscribeError(c, http.StatusNotFound, acceptedLanguage(c), "unsubscribe_link_invalid",
		notices.UnsubscribeTexts(ballot.LanguageEnglish).Invalid)
	return unsubscribe.Claims{}, false
}

// acceptedLanguage is the first language of Accept-Language that ballotflow has a catalog
// in (the tag itself, zh-Hant, or its base language, es for es-US); "" for none. A link
// that does not open says nothing of its email's language.
func acceptedLanguage(c *gin.Context) string {
	for i, part := range strings.Split(c.GetHeader("Accept-Language"), ",") {
		if i >= 16 {
			break
		}
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if code, ok := ballot.LanguageCode(tag); ok {
			return code
		}
		base, _, _ := strings.Cut(tag, "-")
		if code, ok := ballot.LanguageCode(base); ok {
			return code
		}
	}
	return ""
}

// unsubscribeLimited counts one hit and answers 429 (or 503) when it may not pass.
func (h *handlers) unsubscribeLimited(c *gin.Context, limit store.RateLimit) bool {
	wait, err := h.cfg.Store.RateLimitHit(c.Request.Context(), limit)
	if err != nil {
		h.cfg.Logger.Error("unsubscribe rate limit", "error", err)
		h.unsubscribeError(c, http.StatusServiceUnavailable, "", "unavailable",
			"Something went wrong on our side. Please try again in a minute.")
		return true
	}
	if wait <= 0 {
		return false
	}
	seconds := int((wait + time.Second - 1) / time.Second)
	c.Header("Retry-After", fmt.Sprint(seconds))
	h.unsubscribeError(c, http.StatusTooManyRequests, "", "rate_limited",
		fmt.Sprintf("Too many attempts. Please wait %s and try again.", humanWait(seconds)))
	return true
}

var errUnsupportedBody = errors.New("post the body as application/x-www-form-urlencoded or multipart/form-data")

// parseOneClick accepts the one-click body of RFC 8058, List-Unsubscribe=One-Click, as
// application/x-www-form-urlencoded or multipart/form-data; mediaType is the Content-Type
// without parameters, contentType the whole header (for the multipart boundary).
func parseOneClick(mediaType, contentType string, body []byte) error {
	errMissing := errors.New("post List-Unsubscribe=One-Click (RFC 8058) to unsubscribe")
	isOneClick := func(v string) bool { return strings.TrimSpace(v) == "One-Click" }
	switch mediaType {
	case "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return errMissing
		}
		for _, v := range values["List-Unsubscribe"] {
			if isOneClick(v) {
				return nil
			}
		}
		return errMissing
	case "multipart/form-data":
		_, params, err := mime.ParseMediaType(contentType)
		if err != nil || params["boundary"] == "" {
			return errMissing
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for range 16 {
			part, err := mr.NextPart()
			if err != nil {
				return errMissing
			}
			if part.FormName() != "List-Unsubscribe" {
				continue
			}
			value, err := io.ReadAll(io.LimitReader(part, 64))
			if err == nil && isOneClick(string(value)) {
				return nil
			}
		}
		return errMissing
	}
	return errUnsupportedBody
}

// The unsubscribe pages.
const (
	pageConfirm = iota
	pageDone
)

// unsubscribeWords are the pages' words in lang (the catalogs' unsubscribe.* texts), and
// the language they are in: English when ballotflow has no catalog in lang.
func unsubscribeWords(lang string) (notices.UnsubscribePage, string) {
	words := notices.UnsubscribeTexts(lang)
	return words, words.Language
}

type unsubscribePageData struct {
	Lang, Title, Text, Button, Action, PortalText, Error string
}

var unsubscribeTemplate = template.Must(template.New("unsubscribe").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body { margin: 0; font-family: Arial, Helvetica, sans-serif; font-size: 1.125rem; line-height: 1.5; color: #1b1b1b; background: #ffffff; }
main { max-width: 36rem; margin: 0 auto; padding: 2rem 1rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 1rem; }
button { font: inherit; font-weight: bold; color: #ffffff; background: #1a4480; border: 2px solid #1a4480; border-radius: 4px; padding: 0.75rem 1.25rem; cursor: pointer; }
button:focus, a:focus { outline: 3px solid #2491ff; outline-offset: 2px; }
a { color: #1a4480; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>
{{else}}<p>{{.Text}}</p>
{{end}}{{if .Action}}<form method="post" action="{{.Action}}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">{{.Button}}</button>
</form>
{{end}}<p><a href="/">{{.PortalText}}</a></p>
</main>
</body>
</html>
`))

// unsubscribePage answers with the confirmation page (a button that posts the token's URL)
// or the page that says it is done.
func (h *handlers) unsubscribePage(c *gin.Context, status int, lang string, page int) {
	words, lang := unsubscribeWords(lang)
	data := unsubscribePageData{Lang: lang, Title: words.Title, PortalText: words.Portal}
	switch page {
	case pageConfirm:
		data.Text, data.Button = words.Confirm, words.Button
		data.Action = PathUnsubscribe + c.Param("token")
	case pageDone:
		data.Text = words.Done
	}
	if c.NegotiateFormat(gin.MIMEHTML, gin.MIMEJSON) == gin.MIMEJSON {
		c.JSON(status, gin.H{"unsubscribed": page == pageDone, "channel": ballot.ChannelEmail})
		return
	}
	h.renderUnsubscribe(c, status, data)
}

// unsubscribeError answers an error as the API does ({"error": ...}) to a client that asks
// for JSON, and as a page to everyone else: a voter's browser, a mail provider.
func (h *handlers) unsubscribeError(c *gin.Context, status int, lang, code, message string) {
	if c.NegotiateFormat(gin.MIMEHTML, gin.MIMEJSON) == gin.MIMEJSON {
		abort(c, status, code, message, "")
		return
	}
	words, lang := unsubscribeWords(lang)
	if code == "unsubscribe_link_invalid" {
		message = words.Invalid
	}
	h.renderUnsubscribe(c, status, unsubscribePageData{Lang: lang, Title: words.Title, PortalText: words.Portal, Error: message})
	c.Abort()
}

func (h *handlers) renderUnsubscribe(c *gin.Context, status int, data unsubscribePageData) {
	var b bytes.Buffer
	if err := unsubscribeTemplate.Execute(&b, data); err != nil {
		h.cfg.Logger.Error("unsubscribe page", "error", err)
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}
