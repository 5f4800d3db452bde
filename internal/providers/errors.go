// Package providers wraps the real SendGrid and Twilio SDK clients behind a
// small, channel-shaped API (SendEmail, SendSMS, PlaceCall) and classifies
// every provider failure exactly once into an *Error.
//
// The classification is the contract with the workflow layer: Temporal owns
// retries, so these clients never retry on their own. They only say whether a
// failure is worth retrying (Permanent=false, optionally with RetryAfter) or
// must never be retried (Permanent=true).
//
// Privacy: nothing in this package logs, and no error message built here ever
// contains a phone number, an email address or a message body. Provider
// error texts are deliberately not copied, because they can echo the
// recipient back (Twilio's 21211 message quotes the 'To' number, for one).
package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Provider names used in Error.Provider.
const (
	ProviderSendGrid = "sendgrid"
	ProviderTwilio   = "twilio"
)

// Error is a provider failure classified once, at the edge, so that callers
// only have to look at Permanent (and RetryAfter) to decide what to do.
type Error struct {
	Provider  string // "sendgrid" | "twilio"
	Permanent bool   // invalid number, unsubscribed, hard rejection: never retry
	// Config marks a failure that is ballotflow's (credentials, sender number, base URL), not
	// the recipient's: the address must not be marked bad for it, and it is worth retrying
	// once an operator fixes the configuration.
	Config bool
	// Unsubscribed marks a permanent refusal because the recipient opted out at the provider
	// (Twilio 21610: they replied STOP to this sender): their choice, not a bad address.
	Unsubscribed bool
	Code         string        // provider code ("21211") or "http_<status>", "network_error", "timeout", "canceled", "bad_response"
	HTTPStatus   int           // 0 when no HTTP response was received
	RetryAfter   time.Duration // from Retry-After or X-RateLimit-Reset when given
	Message      string        // safe text: no address, no body

	// cause is kept only for transport-level failures (network errors,
	// context cancellation) so errors.Is(err, context.DeadlineExceeded)
	// works. Provider API errors are never kept: their text may contain PII.
	cause error
}

// Error renders the classification; it is safe to log.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Permanent {
		b.WriteString(": permanent error ")
	} else {
		b.WriteString(": transient error ")
	}
	b.WriteString(e.Code)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the transport-level cause (a network error, or
// context.Canceled / context.DeadlineExceeded), if any. Provider API errors
// are never wrapped: their text may contain PII.
func (e *Error) Unwrap() error { return e.cause }

// IsPermanent reports whether err is (or wraps) a provider *Error marked
// permanent. Unclassified errors are treated as transient.
func IsPermanent(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Permanent
}

// transportError classifies a failure where no HTTP response was received:
// connection refused/reset, timeouts, cancellation, or a connection dropped
// after the request was sent. All are transient. The last case means the
// provider may have accepted the message; retrying can duplicate it, which is
// why messages carry idempotency keys and webhooks are correlated.
func transportError(provider string, err error) *Error {
	e := &Error{Provider: provider, Code: "network_error", cause: err}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Message = "timeout", "request timed out; the provider may or may not have accepted it"
		return e
	case errors.Is(err, context.Canceled):
		e.Code, e.Message = "canceled", "request canceled; the provider may or may not have accepted it"
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e.Code, e.Message = "timeout", "request timed out; the provider may or may not have accepted it"
		return e
	}
	// *url.Error carries the request URL (with the Twilio account SID); keep
	// only the underlying error text, which is about sockets, not people.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e.Message = "network error: " + err.Error()
	return e
}

// isTransientStatus reports whether an HTTP status is worth retrying:
// 429, 408 (the server gave up waiting for us) and every 5xx.
func isTransientStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// markTransient makes e a retryable refusal of a transient status: it waits for the
// provider's Retry-After (or X-RateLimit-Reset) when the response gave one.
func (e *Error) markTransient(status int, h http.Header, now time.Time) {
	e.RetryAfter = retryAfter(h, now)
	e.Message = "provider unavailable"
	if status == http.StatusTooManyRequests {
		e.Message = "rate limited"
	}
}

// isAuthStatus reports whether an HTTP status means our credentials are bad.
// That is a configuration problem, not a property of the message; it is still
// permanent for the message because retrying cannot fix it.
func isAuthStatus(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// retryAfter extracts a retry hint from response headers. Retry-After wins
// (delta-seconds or an HTTP date); X-RateLimit-Reset (epoch seconds, as
// SendGrid sends it) is the fallback. Hints in the past yield 0.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Duration(secs)*time.Second, 0)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if epoch, err := strconv.ParseInt(v, 10, 64); err == nil {
			return max(time.Unix(epoch, 0).Sub(now), 0)
		}
	}
	return 0
}

// httpCode is the Code used when the provider gave no code of its own.
func httpCode(status int) string { return "http_" + strconv.Itoa(status) }
