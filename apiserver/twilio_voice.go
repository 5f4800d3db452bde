package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/recipient"
	"github.com/ballotflow/ballotflow/internal/store"
)

// The voice webhook: what a notice call does when the voter presses a key.

// twilioVoice answers the "press 1 to repeat" of a notice call: the same notice again when
// the voter pressed 1, else it hangs up.
func (w *webhooks) twilioVoice(c *gin.Context) {
	form, ok := w.twilioForm(c)
	if !ok {
		return
	}
	key := form.Get(providers.IdempotencyKeyParam)
	if form.Get("Digits") != "1" || key == "" || len(key) > maxKeyLen || !ballot.PlainText(key) {
		twiml(c, "<Hangup/>")
		return
	}
	ctx, cancel := background(c)
	defer cancel()
	doc, err := w.repeatCall(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		twiml(c, "<Hangup/>")
		return
	}
	if err != nil {
		w.internalError(c, "twilio voice", err)
		return
	}
	c.Data(http.StatusOK, "text/xml; charset=utf-8", []byte(xmlProlog+doc))
}

// repeatCall renders a call's notice again from its delivery, as PlaceCall did: the same
// voice, the same words, dates and names spoken the same way.
func (w *webhooks) repeatCall(ctx context.Context, key string) (string, error) {
	d, err := w.cfg.Store.DeliveryGetByKey(ctx, key)
	if err != nil {
		return "", err
	}
	if d.Channel != ballot.ChannelVoice {
		return "", fmt.Errorf("delivery is not a call: %w", store.ErrNotFound)
	}
	// The one reader delivery uses, so the repeat is in the language of the call itself.
	r, err := recipient.OfBallotRef(ctx, w.cfg.Store, d.BallotRef, d.VoterRef)
	if err != nil {
		return "", err
	}
	lang := r.Language(ballot.ChannelVoice)
	// A delivery records what the voter was told: a status, or a kind of notice about one
	// (a cure reminder repeats the challenge's deadline).
	detailsOf := d.NoticeStatus
	if detailsOf == notices.KindCureReminder {
		detailsOf = string(ballot.StatusChallenged)
	}
	if _, now, ok := notices.CorrectionOf(detailsOf); ok {
		detailsOf = string(now) // a correction to a challenge says its deadline
	}
	reason, deadline, err := w.cfg.Store.BallotGetStatusDetails(ctx, r.Ballot.Ref, detailsOf)
	if err != nil {
		return "", err
	}
	if d.NoticeStatus == notices.KindReturnReminder {
		// A return reminder's deadline is election day, as the workflow gave it to the call.
		e, err := w.cfg.Store.ElectionGetByID(ctx, r.Ballot.ElectionID)
		if err != nil {
			return "", err
		}
		deadline = e.ElectionDay.Format(time.DateOnly)
	}
	// The county's wording as the call read it: the version its delivery recorded.
	var wording *notices.Overrides
	if d.MessagesVersion > 0 {
		version, list, err := w.cfg.Store.MessageOverrideList(ctx, r.Jurisdiction.ID, d.MessagesVersion)
		if err != nil {
			return "", err
		}
		wording = notices.NewOverrides(version, overridesOf(list))
	}
	repeat := providers.WithIdempotencyKey(w.publicURL+PathTwilioVoice, key)
	return notices.NoticeCall(lang, d.NoticeStatus, notices.Data{FirstName: r.Voter.FirstName, LastName: r.Voter.LastName,
		Jurisdiction: r.Jurisdiction.Name, HelpText: r.Jurisdiction.HelpTextIn(lang), Reason: reason, CureDeadline: deadline,
		Overrides: wording}, repeat)
}
