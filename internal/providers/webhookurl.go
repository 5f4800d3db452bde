package providers

import (
	"net/url"
	"strings"
)

// IdempotencyKeyParam is the query parameter that carries a delivery's idempotency key in the
// Twilio webhook URLs ballotflow gives with each message and call (status callback, the
// call's "press 1 to repeat" action). Twilio signs the URL with its query, so the key cannot
// be forged, and a callback finds its delivery even before the provider's id is stored.
const IdempotencyKeyParam = "d"

// WithIdempotencyKey returns the webhook URL base with the delivery's idempotency key added
// (the key is opaque: a ballot key, a notice number and a channel). An empty base stays empty.
func WithIdempotencyKey(base, key string) string {
	if base == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + url.Values{IdempotencyKeyParam: {key}}.Encode()
}
