package apiserver

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Twilio's status callbacks for texts and calls: they move a delivery forward and turn an
// SMS subscription off when the number cannot take texts or its owner replied STOP.

// twilioStatusStates is the explicit order of Twilio's message and call statuses. Statuses on
// the way (queued < sending < sent, queued < initiated < ringing < in-progress) only show that
// Twilio accepted the message; delivered/read and completed are delivered; undelivered,
// failed, and a call's busy, no-answer and canceled are terminal failures. The store moves a
// delivery only forward (sending < accepted < delivered < failed), so callbacks in any order
// and duplicates leave the same row.
var twilioStatusStates = map[string]string{
	"accepted": "", "scheduled": "", "queued": "", "sending": "", "sent": "",
	"initiated": "", "ringing": "", "in-progress": "",
	"delivered": store.DeliveryDelivered, "read": store.DeliveryDelivered, "completed": store.DeliveryDelivered,
	"undelivered": store.DeliveryFailed, "failed": store.DeliveryFailed, "canceled": store.DeliveryFailed,
	"busy": store.DeliveryFailed, "no-answer": store.DeliveryFailed,
}

// twilioUnreachableCodes are the delivery errors that mean the number cannot take texts,
// with how many in a row bounce the SMS subscription: an unknown destination or a landline
// (30005, 30006) at once; an unreachable handset (30003: switched off, out of coverage, full)
// only when it has been so for three notices in a row.
var twilioUnreachableCodes = map[string]int{"30003": 3, "30005": 1, "30006": 1}

// twilioStatus handles message and call status callbacks.
func (w *webhooks) twilioStatus(c *gin.Context) {
	form, ok := w.twilioForm(c)
	if !ok {
		return
	}
	sidField, statusField, channel := "MessageSid", "MessageStatus", ballot.ChannelSMS
	if form.Get(sidField) == "" {
		sidField, statusField, channel = "CallSid", "CallStatus", ballot.ChannelVoice
	}
	sid, ok := twilioParam(c, form, sidField, maxSidLen, isSid)
	if !ok {
		return
	}
	status, ok := twilioParam(c, form, statusField, maxStatusLen, isStatusWord)
	if !ok {
		return
	}
	key, ok := twilioParam(c, form, providers.IdempotencyKeyParam, maxKeyLen, ballot.PlainText)
	if !ok {
		return
	}
	to, ok := twilioParam(c, form, "To", maxPhoneLen, ballot.PlainText)
	if !ok {
		return
	}
	switch {
	case sid == "":
		abort(c, http.StatusBadRequest, "invalid_field", "MessageSid or CallSid is required", "MessageSid")
		return
	case status == "":
		abort(c, http.StatusBadRequest, "invalid_field", "MessageStatus or CallStatus is required", "MessageStatus")
		return
	}
	ev := store.ProviderEvent{
		Provider: "twilio", IdempotencyKey: key, ProviderID: sid,
		Channels: []string{channel}, EventID: sid + ":" + status, Status: status,
		State: twilioStatusStates[status], OccurredAt: w.now(),
	}
	if t, err := time.Parse(time.RFC1123Z, form.Get("Timestamp")); err == nil {
		ev.OccurredAt = t
	}
	code := form.Get("ErrorCode")
	if len(code) > maxErrorCode || !isDigits(code) {
		code = "" // not one of Twilio's numeric codes: nothing to act on or store
	}
	if code != "" {
		ev.Detail = "Twilio error " + code
	} else if ev.State == store.DeliveryFailed {
		ev.Detail = status
	}
	if channel == ballot.ChannelSMS && ev.State == store.DeliveryFailed {
		switch {
		case twilioUnreachableCodes[code] > 0:
			ev.Subscription, ev.Address = ballot.SubscriptionBounced, to
			ev.SubscriptionAfter = twilioUnreachableCodes[code]
		case code == "21610": // the recipient replied STOP to this sender
			ev.Subscription, ev.Address = ballot.SubscriptionOptedOut, to
		}
	}
	ctx, cancel := background(c)
	defer cancel()
	res, err := w.cfg.Store.DeliveryEventRecord(ctx, ev)
	if err != nil {
		w.internalError(c, "twilio status callback", err)
		return
	}
	if !res.Matched {
		w.log.Info("twilio status callback for no known delivery; ignored", "sid", sid, "status", status)
	}
	w.notify(ctx, res.Changed, prefs.ReasonSMSBounce)
	c.Status(http.StatusOK)
}
