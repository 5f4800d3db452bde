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
func (a *Activities) noticeSMS(ctx context.Context, n Notice, c recipient.Recipient, sub store.Subscription) (string, error) {
	lang := c.Language(sub.Channel)
	footer, err := a.Store.SMSFooterClaim(ctx, c.Jurisdiction.SMSFrom, sub.Address, n.IdempotencyKey,
		notices.SMSFooterPeriod, a.now())
	if err != nil {
		return "", err
	}
	m, err := notices.Render(lang, n.MessageKey(), notices.Data{
		FirstName: c.Voter.FirstName, LastName: c.Voter.LastName, Jurisdiction: c.Jurisdiction.Name,
		HelpText: c.Jurisdiction.HelpTextIn(lang), Reason: n.Reason, CureDeadline: n.CureDeadline,
		SMSFooter: footer,
	})
	if err != nil {
		return "", renderFailed{err}
	}
	return m.SMS, nil
}
