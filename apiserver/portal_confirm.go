package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/workflowclient"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// Confirming a new address: a confirmation text or email goes out through a Temporal
// workflow when a voter saves one; a limit may hold it back (the answer says until when); an
// email's link comes back here to activate the address.

// confirmResendAfter: a pending channel saved again gets a new confirmation after this long.
const confirmResendAfter = 2 * time.Minute

// sendConfirmations starts one ConfirmContact workflow per confirmation, named after its
// record so that a repeated start is one workflow. Those that could not be started are
// forgotten, so that saving again asks again.
func (h *handlers) sendConfirmations(ctx context.Context, confirms []store.Confirmation) ([]string, error) {
	var sent []string
	var failed []store.Confirmation
	var errs []error
	for _, cf := range confirms {
		err := workflowclient.New(h.cfg.Temporal).StartConfirmation(ctx, cf.SendID, contract.ConfirmInput{
			SubscriptionID: cf.SubscriptionID, Channel: cf.Channel, LinkBase: h.cfg.PublicURL})
		if err != nil {
			h.cfg.Logger.Error("start confirmation", "subscription", cf.SubscriptionID, "channel", cf.Channel, "error", err)
			failed = append(failed, cf)
			errs = append(errs, err)
			continue
		}
		sent = append(sent, cf.Channel)
	}
	if len(failed) > 0 {
		if err := h.cfg.Store.ConfirmationForget(ctx, failed); err != nil {
			h.cfg.Logger.Error("forget confirmations", "error", err)
		}
	}
	return sent, errors.Join(errs...)
}

// maxConfirmToken bounds the token of a confirmation link (ours are 43 characters).
const maxConfirmToken = 128

// confirmEmailLink answers the link of a confirmation email, and changes nothing: mail
// scanners follow every link in a message, so following the link must not confirm. It sends
// the browser to the page with the token in the fragment, which browsers never send to a
// server; the page asks the voter to press a button, which posts the token back. A missing or
// oversized token is passed on empty, and the page says the link is not valid.
func (h *handlers) confirmEmailLink(c *gin.Context) {
	token := c.Query("token")
	if len(token) > maxConfirmToken {
		token = ""
	}
	c.Header("Location", "/#confirm-email="+url.QueryEscape(token))
	c.Status(http.StatusSeeOther)
}

// confirmEmailRequest is the token of a confirmation link, posted by the page.
type confirmEmailRequest struct {
	Token string `json:"token"`
}

// postConfirmEmail activates the pending email subscription a confirmation link was sent
// for: once, while that address is still the one pending. The token is the only credential;
// the voter may open the mail on a device where they never signed in.
func (h *handlers) postConfirmEmail(c *gin.Context) {
	var req confirmEmailRequest
	if !decodePortalBody(c, &req) {
		return
	}
	switch {
	case req.Token == "":
		abort(c, http.StatusBadRequest, "missing_field", "Send the token from the confirmation link.", "token")
		return
	case len(req.Token) > maxConfirmToken:
		abort(c, http.StatusBadRequest, "invalid_field",
			fmt.Sprintf("The token is too long (%d characters at most).", maxConfirmToken), "token")
		return
	}
	// Counted apart from lookups, so that confirming never uses up a voter's attempts.
	limits := h.portalLimits()
	if h.rateLimited(c,
		store.RateLimit{Key: "portal-confirm\x00" + clientKey(c), Max: limits.PerClient, Window: limits.PerClientWindow}) {
		return
	}
	// Once confirmed, finish telling the ballots even if the voter closes the page.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	ref, err := h.cfg.Store.EmailConfirmationUse(ctx, req.Token)
	if errors.Is(err, store.ErrConfirmationInvalid) {
		abort(c, http.StatusNotFound, "confirmation_invalid",
			"This confirmation link is not valid any more: it was already used, it expired, a newer confirmation email replaced it, "+
				"or another address was saved since. "+
				"Look yourself up and save your email address again to get a new link.", "")
		return
	}
	if err != nil {
		h.unavailable(c, "confirm email", err)
		return
	}
	h.notifyBallots(ctx, ref)
	c.JSON(http.StatusOK, gin.H{"confirmed": ballot.ChannelEmail})
}

// confirmationNotSentJSON tells the voter that a channel was saved but no confirmation was
// sent, why, and when saving again will send one.
type confirmationNotSentJSON struct {
	Channel string     `json:"channel"`
	Code    string     `json:"code"` // confirmation_limit
	Limit   string     `json:"limit"`
	Message string     `json:"message"`
	RetryAt *time.Time `json:"retry_at,omitempty"`
}

func confirmationsNotSent(deferred []store.DeferredConfirmation, now time.Time) []confirmationNotSentJSON {
	var out []confirmationNotSentJSON
	for _, d := range deferred {
		what, msg := "address", "confirmation email"
		if d.Channel == ballot.ChannelSMS {
			what, msg = "number", "confirmation text"
		}
		j := confirmationNotSentJSON{Channel: d.Channel, Code: "confirmation_limit", Limit: d.Limit}
		saved := fmt.Sprintf("Your %s is saved, but we did not send a new %s: ", what, msg)
		switch d.Limit {
		case store.LimitSession:
			j.Message = saved + "this session has already asked for as many as we send in one session. " +
				"Sign out, look yourself up again and save again to get one."
		default:
			why := "your registration has already asked for as many as we send in a day."
			if d.Limit == store.LimitDestination {
				why = fmt.Sprintf("this %s has already been sent as many as we send to one %s in a day.", what, what)
			}
			at := d.RetryAt.UTC()
			j.RetryAt = &at
			seconds := int((d.RetryAt.Sub(now) + time.Second - 1) / time.Second)
			j.Message = saved + why + fmt.Sprintf(" Save again in %s (after %s UTC) to get one.",
				humanWait(max(seconds, 1)), at.Format("Jan 2, 15:04"))
		}
		out = append(out, j)
	}
	return out
}
