// Package activities holds every side effect the ballot workflow needs: reading the voter's
// channels, recording the ballot's status in PostgreSQL, and delivering notices through
// SendGrid and Twilio. Contact details are read here, at send time, so that no workflow
// payload ever carries an address.
//
// This file is the package's contract: task queues, inputs, results, error types. The
// channels and statuses in them are internal/ballot's words.
package activities

import (
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
)

// Task queues for deliveries: one per channel, so that each worker can cap its rate at what
// the provider account allows.
const (
	EmailTaskQueue = "notify-email"
	SMSTaskQueue   = "notify-sms"
	VoiceTaskQueue = "notify-voice"
)

// TaskQueue returns the delivery task queue of a channel.
func TaskQueue(channel string) string {
	switch channel {
	case ballot.ChannelSMS:
		return SMSTaskQueue
	case ballot.ChannelVoice:
		return VoiceTaskQueue
	default:
		return EmailTaskQueue
	}
}

// Error types the workflow tells apart. Both are non-retryable.
const (
	// ErrPermanent: the provider refused the address for good (invalid number, unsubscribed,
	// hard bounce). The subscription is already marked; the workflow falls back to another channel.
	ErrPermanent = "PermanentDeliveryFailure"
	// ErrWindowClosed: retries ran past the voter's contact hours; the workflow re-plans the
	// notice for the next window instead of texting or calling at night.
	ErrWindowClosed = "ContactWindowClosed"
)

// ContactWindow is when a voter may be texted or called: local wall-clock times in an IANA
// time zone. End before Start wraps midnight (22:00-06:00 for a night-shift worker).
type ContactWindow struct {
	Start    string // "HH:MM"
	End      string // "HH:MM"
	TimeZone string
}

// ChannelPlan is one active channel and when it may be used. No address: the workflow never
// sees one.
type ChannelPlan struct {
	Channel      string
	Window       ContactWindow
	HoldForHours bool // email waits for the window too (SMS and voice always do)
}

// Recipient is what the workflow needs to plan a ballot's notices.
type Recipient struct {
	// Notifiable is false when the voter may not be contacted at all (canceled, inactive or confidential: ballot.Notifiable).
	Notifiable bool
	Channels   []ChannelPlan // active channels only, in the order email, sms, voice
	// Reminders are the county's reminders for the ballot's election; nil for none.
	Reminders *ReminderPlan `json:",omitempty"`
}

// ReminderPlan is when a ballot's reminders fall, as the county set them for its election.
type ReminderPlan struct {
	ReturnBy time.Time   // election day at the time ballots must be in
	ReturnAt []time.Time // return reminders, earliest first
	CureDays []int       // cure reminders, days before the cure deadline, most first
	TimeZone string      // the county's
	RemindAt string      // "HH:MM" county time a reminder is due; each voter's contact hours then apply
}

// LoadRecipientInput names the ballot whose voter to load.
type LoadRecipientInput struct {
	BallotKey string
}

// RecordStatusInput records the status the workflow moved a ballot to.
type RecordStatusInput struct {
	BallotKey string
	Status    ballot.Status
	At        time.Time
	EventID   string
	// Corrected, for a correction, is the status posted in error: the ballot's status history
	// marks it so.
	Corrected *CorrectedStatus `json:",omitempty"`
	// SyncWaits asks for Waits to be recorded too, in the same transaction: the notices the
	// workflow holds for the voter's contact hours after this move. Workflows from before
	// the waits were recorded leave it false.
	SyncWaits bool
	Waits     []NoticeWait
}

// CorrectedStatus names a status posted in error: the status and when it was said to happen.
type CorrectedStatus struct {
	Status ballot.Status
	At     time.Time
	// Moved says the ballot moved to the input's status; false when a later status stood
	// and only the mark is recorded.
	Moved bool
}

// NoticeWait is one notice the workflow holds until the voter's contact hours.
type NoticeWait struct {
	Seq     int
	Channel string
	DueAt   time.Time
}

// RecordNoticeWaitsInput records the notices a ballot's workflow holds now (none: empty).
type RecordNoticeWaitsInput struct {
	BallotKey string
	Waits     []NoticeWait
}

// HeldNotice is a notice held until its voter's contact hours open: its channel, when the
// hours open (DueAt) and close (NotAfter; zero when they never close).
type HeldNotice struct {
	Channel  string
	DueAt    time.Time
	NotAfter time.Time `json:",omitempty"`
}

// ReleaseHeldInput asks when each held notice should wake (ReleaseHeld).
type ReleaseHeldInput struct {
	Notices []HeldNotice
}

// Notice is one message about one ballot status on one channel.
type Notice struct {
	IdempotencyKey string // "<ballot key>/<seq>/<channel>"; stable across retries and re-runs
	BallotKey      string
	Seq            int
	Status         ballot.Status
	Channel        string
	Reason         string // challenged, rejected
	CureDeadline   string // YYYY-MM-DD: a challenge's; a return reminder's is election day
	// Kind is what the notice says about Status: "" for the status itself, or one of the
	// NoticeKind values (a mail scan, a reminder, a correction).
	Kind string
	// Was is the status a KindCorrection notice says was posted in error (Status is the
	// right one).
	Was ballot.Status `json:",omitempty"`
	// ScannedAt and Facility are the mail scan a KindMailOutbound or KindMailReturn notice
	// tells of.
	ScannedAt time.Time
	Facility  string
	// NotAfter is the end of the contact window the notice was planned for (zero for email
	// that may go at any hour). A retry after it fails with ErrWindowClosed.
	NotAfter time.Time
}

// Notice kinds besides the status itself (internal/notices names their texts).
const (
	KindMailOutbound   = notices.KindMailOutbound   // USPS has the ballot on its way to the voter
	KindMailReturn     = notices.KindMailReturn     // USPS has the voter's ballot on its way back
	KindReturnReminder = notices.KindReturnReminder // the mailed ballot is not back yet: the deadline
	KindCureReminder   = notices.KindCureReminder   // the challenge is not cured yet: the cure deadline
	KindCorrection     = notices.KindCorrection     // Was was posted in error; Status is right
)

// MessageKey names the notice's texts in the catalogs: its kind, or its status.
func (n Notice) MessageKey() string {
	if n.Kind == KindCorrection {
		return notices.CorrectionKey(n.Was, n.Status)
	}
	if n.Kind != "" {
		return n.Kind
	}
	return string(n.Status)
}

// Delivery outcomes.
const (
	OutcomeSent        = "sent"         // the provider accepted it now
	OutcomeAlreadySent = "already_sent" // an earlier attempt was accepted; nothing was sent again
	OutcomeSkipped     = "skipped"      // the channel is no longer active, or the voter may not be contacted
)

// NoticeResult is what a delivery activity did.
type NoticeResult struct {
	Outcome    string
	ProviderID string
}

// SendNowResult is how a delivery's first try (SendNow, a local activity) ended without an
// error: sent (or found settled) with Result, or Deferred to the channel's queued activity.
type SendNowResult struct {
	Result   NoticeResult
	Deferred string // why the queued activity must send it; "" when Result holds
}

// DeferredRate: the channel's send budget had nothing to spare at that moment.
const DeferredRate = "rate"
