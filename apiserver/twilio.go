package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

// What every Twilio webhook shares: the signature check over the form, and the checks of
// the parameters ballotflow reads.

// maxTwilioBody bounds a Twilio webhook's form, which is small.
const maxTwilioBody = 64 << 10

// twilioForm verifies X-Twilio-Signature and returns the request's parameters (query and
// form). The signed URL is PUBLIC_URL, the route's path and the query as received. On a bad
// signature it answers 403 and returns false.
func (w *webhooks) twilioForm(c *gin.Context) (url.Values, bool) {
	r := c.Request
	r.Body = http.MaxBytesReader(c.Writer, r.Body, maxTwilioBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			abort(c, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than a Twilio webhook can be", "")
			return nil, false
		}
		// A malformed form is not a signature failure: counting it as one would send
		// operators looking for a rotated token.
		abort(c, http.StatusBadRequest, "invalid_body", "the body is not a URL-encoded form", "")
		return nil, false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	signedURL := w.publicURL + c.FullPath()
	if r.URL.RawQuery != "" {
		signedURL += "?" + r.URL.RawQuery
	}
	// Twilio signs the body's parameters of a POST; a GET's are in the URL already.
	params := make(map[string]string, len(r.PostForm))
	for k, vs := range r.PostForm {
		params[k] = vs[0]
	}
	if w.twilio == nil || sig == "" || !w.twilio.Validate(signedURL, params, sig) {
		refuseSignature(c, "X-Twilio-Signature")
		return nil, false
	}
	return r.Form, true
}

// Field bounds of the Twilio parameters ballotflow reads: Twilio's sids are 34 characters,
// E.164 numbers at most 16 (other senders, such as "whatsapp:+1...", a little more), a text
// at most 1600 characters of up to 4 bytes.
const (
	maxSidLen     = 64
	maxPhoneLen   = 64
	maxStatusLen  = 32
	maxSMSBodyLen = 1600 * 4
	maxErrorCode  = 10
)

// twilioParam returns the parameter name when it is empty or passes valid within max bytes;
// otherwise it answers 400 naming the parameter and returns false. PostgreSQL refuses NUL
// bytes and invalid UTF-8, so nothing that is not clean text reaches it.
func twilioParam(c *gin.Context, form url.Values, name string, max int, valid func(string) bool) (string, bool) {
	v := form.Get(name)
	if v == "" || (len(v) <= max && valid(v)) {
		return v, true
	}
	abort(c, http.StatusBadRequest, "invalid_field",
		fmt.Sprintf("%s must be at most %d bytes of text without control characters", name, max), name)
	return "", false
}

// isSid reports whether s looks like a provider id: ASCII letters and digits (Twilio's SM...,
// CA...).
func isSid(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// isStatusWord reports whether s looks like a provider's status name: lower-case ASCII
// letters, '-' and '_' ("in-progress", "no-answer").
func isStatusWord(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

const xmlProlog = `<?xml version="1.0" encoding="UTF-8"?>`

// twiml answers with a TwiML document holding verbs (already escaped).
func twiml(c *gin.Context, verbs string) {
	c.Data(http.StatusOK, "text/xml; charset=utf-8",
		[]byte(xmlProlog+`<Response>`+verbs+`</Response>`))
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
