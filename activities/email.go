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

// noticeData is what a notice about n says of its voter, county and ballot, in the
// county's own wording where it has one (wording.go).
func (a *Activities) noticeData(ctx context.Context, c recipient.Recipient, n Notice, lang string) (notices.Data, error) {
	o, err := a.wording(ctx, c.Jurisdiction.ID)
	if err != nil {
		return notices.Data{}, err
	}
	return notices.Data{
		FirstName: c.Voter.FirstName, LastName: c.Voter.LastName, Jurisdiction: c.Jurisdiction.Name,
		HelpText: c.Jurisdiction.HelpTextIn(lang), Reason: n.Reason, CureDeadline: n.CureDeadline, Overrides: o,
	}, nil
}

// noticeEmail is the email of notice n to sub's address: HTML with a plain-text twin in the
// voter's language, the county's Reply-To, and an unsubscribe link that stops ballot notices
// by email for this voter (in the footer, and one-click in List-Unsubscribe); and the version
// of the county's wording it used.
func (a *Activities) noticeEmail(ctx context.Context, n Notice, c recipient.Recipient, sub store.Subscription) (providers.Email, int64, error) {
	lang := c.Language(sub.Channel)
	links := notices.EmailLinks{ReplyTo: c.Jurisdiction.ReplyTo}
	if a.PublicURL != "" {
		key, err := unsubscribe.KeyOf(ctx, a.Store)
		if err != nil {
			return providers.Email{}, 0, err
		}
		links.Unsubscribe = unsubscribe.URL(a.PublicURL, key.Seal(sub.ID, sub.Address, lang))
		links.Portal = strings.TrimRight(a.PublicURL, "/") + "/"
	}
	d, err := a.noticeData(ctx, c, n, lang)
	if err != nil {
		return providers.Email{}, 0, err
	}
	e, err := notices.RenderEmail(lang, n.MessageKey(), d, links)
	if err != nil {
		return providers.Email{}, 0, renderFailed{err}
	}
	return providers.Email{
		To: sub.Address, ToName: strings.TrimSpace(c.Voter.FirstName + " " + c.Voter.LastName),
		From: c.Jurisdiction.EmailFrom, FromName: c.Jurisdiction.EmailFromName, ReplyTo: c.Jurisdiction.ReplyTo,
		Subject: e.Subject, Text: e.Text, HTML: e.HTML,
		IdempotencyKey: n.IdempotencyKey, ListUnsubscribe: links.Unsubscribe,
	}, e.Version, nil
}
