package activities

import (
	"context"
	"strings"

	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/recipient"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/unsubscribe"
)

// noticeData is what a notice about n says of its voter, county and ballot.
func noticeData(c recipient.Recipient, n Notice, lang string) notices.Data {
	return notices.Data{
		FirstName: c.Voter.FirstName, LastName: c.Voter.LastName, Jurisdiction: c.Jurisdiction.Name,
		HelpText: c.Jurisdiction.HelpTextIn(lang), Reason: n.Reason, CureDeadline: n.CureDeadline,
	}
}

// noticeEmail is the email of notice n to sub's address: HTML with a plain-text twin in the
// voter's language, the county's Reply-To, and an unsubscribe link that stops ballot notices
// by email for this voter (in the footer, and one-click in List-Unsubscribe).
func (a *Activities) noticeEmail(ctx context.Context, n Notice, c recipient.Recipient, sub store.Subscription) (providers.Email, error) {
	lang := c.Language(sub.Channel)
	links := notices.EmailLinks{ReplyTo: c.Jurisdiction.ReplyTo}
	if a.PublicURL != "" {
		key, err := unsubscribe.KeyOf(ctx, a.Store)
		if err != nil {
			return providers.Email{}, err
		}
		links.Unsubscribe = unsubscribe.URL(a.PublicURL, key.Seal(sub.ID, sub.Address, lang))
		links.Portal = strings.TrimRight(a.PublicURL, "/") + "/"
	}
	e, err := notices.RenderEmail(lang, n.MessageKey(), noticeData(c, n, lang), links)
	if err != nil {
		return providers.Email{}, renderFailed{err}
	}
	return providers.Email{
		To: sub.Address, ToName: strings.TrimSpace(c.Voter.FirstName + " " + c.Voter.LastName),
		From: c.Jurisdiction.EmailFrom, FromName: c.Jurisdiction.EmailFromName, ReplyTo: c.Jurisdiction.ReplyTo,
		Subject: e.Subject, Text: e.Text, HTML: e.HTML,
		IdempotencyKey: n.IdempotencyKey, ListUnsubscribe: links.Unsubscribe,
	}, nil
}
