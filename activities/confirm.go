package activities

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/store"
)

// ConfirmationInput names the subscription whose new address to confirm. No address: the
// activity reads it from PostgreSQL at send time.
type ConfirmationInput struct {
	SubscriptionID int64
	Channel        string // ballot.ChannelSMS or ballot.ChannelEmail
	// LinkBase is the portal's public URL; an email's confirmation link starts with it.
	LinkBase string
}

// EmailConfirmationTTL is how long an email confirmation link works.
const EmailConfirmationTTL = 7 * 24 * time.Hour

// SendConfirmation asks a voter to confirm a new address: a text that asks for a reply YES,
// or an email with a link. It sends only the confirmation the subscription is owed for its
// address now (store.ConfirmationClaim): nothing when the subscription is no longer pending
// (the voter confirmed, changed it, or opted out meanwhile), when a newer save asked again
// (that save's workflow sends), or when the address changed since this one was asked for
// (it was counted against another address's limit). Nor is a number texted that may not be
// (ballot.ContactPhone), whatever stored it. A retry after a send that the provider accepted
// but before it was recorded sends the confirmation again: a rare duplicate is better than
// none.
func (a *Activities) SendConfirmation(ctx context.Context, in ConfirmationInput) (NoticeResult, error) {
	sub, err := a.Store.SubscriptionGetByID(ctx, in.SubscriptionID)
	if err != nil {
		return NoticeResult{}, notFoundIsPermanent(err)
	}
	if sub.State != ballot.SubscriptionPending || sub.Channel != in.Channel {
		return NoticeResult{Outcome: OutcomeSkipped}, nil
	}
	if in.Channel == ballot.ChannelSMS {
		if _, err := ballot.ContactPhone(sub.Address); err != nil {
			a.logger().Warn("confirmation not sent: the number may not be texted", "subscription", sub.ID, "reason", err.Error())
			return NoticeResult{Outcome: OutcomeSkipped}, nil
		}
	}
	voter, err := a.Store.VoterGetByRef(ctx, sub.VoterRef)
	if err != nil {
		return NoticeResult{}, notFoundIsPermanent(err)
	}
	// Stricter than ballot.Notifiable, which also admits pending registrations: only an
	// active one may sign in to the portal where confirmations are asked for.
	if voter.Confidential || voter.Status != ballot.VoterActive {
		return NoticeResult{Outcome: OutcomeSkipped}, nil
	}
	sendID, owed, err := a.Store.ConfirmationClaim(ctx, sub.ID, sub.Channel, sub.Address, claimer(ctx))
	if err != nil {
		return NoticeResult{}, err
	}
	if !owed {
		return NoticeResult{Outcome: OutcomeSkipped}, nil
	}
	j, err := a.Store.JurisdictionGetByCounty(ctx, voter.State, voter.County)
	if err != nil {
		return NoticeResult{}, notFoundIsPermanent(err)
	}
	// In the languages the county offers, as its notices are: the voter replies to the
	// county's number, and its HELP text is in the county's language.
	lang := ballot.NoticeLanguage(sub.Language, voter.Language, j.Languages)
	data := notices.ConfirmData{FirstName: voter.FirstName, LastName: voter.LastName, Jurisdiction: j.Name, HelpText: j.HelpTextIn(lang)}

	// Confirmations share the channel's send rate with notices.
	if err := a.takeQueued(ctx, in.Channel); err != nil {
		return NoticeResult{}, err
	}
	var accepted providers.Accepted
	switch in.Channel {
	case ballot.ChannelSMS:
		msg, err := notices.RenderConfirmation(lang, ballot.ChannelSMS, data)
		if err != nil {
			return NoticeResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "RenderFailed", err)
		}
		accepted, err = a.Phone.SendSMS(ctx, providers.SMS{To: sub.Address, From: j.SMSFrom, Body: msg.SMS})
		if err != nil {
			return NoticeResult{}, a.confirmationFailure(ctx, sub, err)
		}
		// The confirmation says how to get help and to stop: the number's first notice needs
		// no footer (notices.SMSFooterPeriod). Sent either way; a lost record costs a footer.
		if err := a.Store.SMSFooterRecord(ctx, j.SMSFrom, sub.Address, a.now()); err != nil {
			a.logger().Warn("record the confirmation's opt-out instructions", "subscription", sub.ID, "error", err)
		}
	case ballot.ChannelEmail:
		token, err := confirmationToken()
		if err != nil {
			return NoticeResult{}, err
		}
		// The new link replaces any earlier one of this subscription: one live link per address.
		if err := a.Store.EmailConfirmationCreate(ctx, sub.ID, token, a.now().Add(EmailConfirmationTTL)); err != nil {
			return NoticeResult{}, err
		}
		data.Link = strings.TrimRight(in.LinkBase, "/") + "/v1/portal/confirm-email?token=" + url.QueryEscape(token)
		msg, err := notices.RenderConfirmation(lang, ballot.ChannelEmail, data)
		if err != nil {
			return NoticeResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "RenderFailed", err)
		}
		accepted, err = a.Email.SendEmail(ctx, providers.Email{
			To: sub.Address, ToName: voter.FirstName + " " + voter.LastName, From: j.EmailFrom, FromName: j.EmailFromName,
			ReplyTo: j.ReplyTo, Subject: msg.Subject, Text: msg.Text,
			HTML: confirmationHTML(msg.Text, data.Link),
		})
		if err != nil {
			return NoticeResult{}, a.confirmationFailure(ctx, sub, err)
		}
	default:
		return NoticeResult{}, temporal.NewNonRetryableApplicationError("no confirmation on channel "+in.Channel, "BadChannel", nil)
	}
	if err := a.Store.ConfirmationMarkDelivered(ctx, sendID); err != nil {
		// Sent: say so rather than retry and send it twice; the claim keeps other workflows off.
		a.logger().Warn("record confirmation delivered", "subscription", sub.ID, "error", err)
	}
	a.logger().Info("confirmation sent", "subscription", sub.ID, "channel", in.Channel)
	return NoticeResult{Outcome: OutcomeSent, ProviderID: accepted.ProviderID}, nil
}

// claimer names the workflow whose activity delivers a confirmation; its retries share it.
func claimer(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return "direct"
	}
	return "workflow:" + activity.GetInfo(ctx).WorkflowExecution.ID
}

// confirmationFailure classifies a provider error like a notice's: a permanent refusal
// marks the voter's pending subscription bounced (opted out for a number that sent STOP)
// and stops; anything else retries.
func (a *Activities) confirmationFailure(ctx context.Context, sub store.Subscription, err error) error {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return err
	}
	if pe.Permanent && !pe.Config {
		state := ballot.SubscriptionBounced
		if pe.Unsubscribed {
			state = ballot.SubscriptionOptedOut // the number texted STOP to the provider: its owner's choice
		}
		if err := a.Store.SubscriptionSetState(ctx, sub.VoterRef, sub.Channel, state, "provider:"+pe.Provider, pe.Error()); err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError(pe.Error(), ErrPermanent, nil)
	}
	return temporal.NewApplicationErrorWithOptions(pe.Error(), "TransientDeliveryFailure",
		temporal.ApplicationErrorOptions{NextRetryDelay: pe.RetryAfter})
}

// confirmationHTML is the email's text as HTML paragraphs, with the link clickable.
func confirmationHTML(text, link string) string {
	escaped := html.EscapeString(link)
	body := strings.ReplaceAll(html.EscapeString(text), escaped, `<a href="`+escaped+`">`+escaped+`</a>`)
	return "<p>" + strings.ReplaceAll(body, "\n\n", "</p><p>") + "</p>"
}

// confirmationToken is 256 random bits, URL-safe.
func confirmationToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
