package activities

import (
	"context"

	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/recipient"
	"github.com/ballotflow/ballotflow/internal/store"
)

// noticeSMS is the text of notice n to sub's number, in the voter's language with the
// county's help text in that language, and with the opt-out footer when the number is due
// one (notices.SMSFooterPeriod): the first text to the number from this county's number, and
// the first once the period has passed. A retry of this delivery carries the footer again.
func (a *Activities) noticeSMS(ctx context.Context, n Notice, c recipient.Recipient, sub store.Subscription) (notices.Message, error) {
	lang := c.Language(sub.Channel)
	d, err := a.noticeData(ctx, c, n, lang)
	if err != nil {
		return notices.Message{}, err
	}
	d.SMSFooter, err = a.Store.SMSFooterClaim(ctx, c.Jurisdiction.SMSFrom, sub.Address, n.IdempotencyKey,
		notices.SMSFooterPeriod, a.now())
	if err != nil {
		return notices.Message{}, err
	}
	m, err := notices.Render(lang, n.MessageKey(), d)
	if err != nil {
		return notices.Message{}, renderFailed{err}
	}
	return m, nil
}
