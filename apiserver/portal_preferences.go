package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
)

// A voter's choices on the portal: channels with their addresses, contact hours, time zone
// and language. Reading fills in the defaults; saving validates everything first
// (portal_validate.go), stores it in one transaction, then sends confirmations and tells the
// voter's running ballots.

// preferencesJSON is the preferences as read and written by the portal.
type preferencesJSON struct {
	Email                     *emailPrefJSON    `json:"email,omitempty"`
	SMS                       *phonePrefJSON    `json:"sms,omitempty"`
	Voice                     *phonePrefJSON    `json:"voice,omitempty"`
	ContactHours              *contactHoursJSON `json:"contact_hours,omitempty"`
	Language                  string            `json:"language,omitempty"`
	EmailWaitsForContactHours *bool             `json:"email_waits_for_contact_hours,omitempty"`
	// LanguagesOffered (read only): the languages the voter's county writes in, its default
	// first; a language it does not offer falls back to the default.
	LanguagesOffered []string `json:"languages_offered,omitempty"`
	// ConfirmationsSent (answers to PUT only): the channels a confirmation was just sent on.
	ConfirmationsSent []string `json:"confirmations_sent,omitempty"`
	// ConfirmationsNotSent (answers to PUT only): channels saved as pending whose
	// confirmation a limit held back, with when saving again sends one.
	ConfirmationsNotSent []confirmationNotSentJSON `json:"confirmations_not_sent,omitempty"`
}

type emailPrefJSON struct {
	Enabled *bool  `json:"enabled"`
	Address string `json:"address"`
	State   string `json:"state,omitempty"` // read only: a ballot.Subscription* state, or channelOff
}

// channelOff is the state the portal shows for a channel the voter never set up (no
// subscription): not a subscription state, only the portal's word for "none".
const channelOff = "off"

type phonePrefJSON struct {
	Enabled *bool  `json:"enabled"`
	Phone   string `json:"phone"`
	State   string `json:"state,omitempty"` // read only
	// Problem (read only) says why the number on file cannot be texted or called any more
	// (it came from an older rule or an import), and what to do.
	Problem string `json:"problem,omitempty"`
}

type contactHoursJSON struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	TimeZone string `json:"time_zone"`
}

func (h *handlers) getPortalPreferences(c *gin.Context) {
	p, err := h.preferences(c.Request.Context(), portalVoter(c))
	if err != nil {
		h.unavailable(c, "portal preferences", err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// preferences reads a voter's channels and settings, with the defaults filled in.
func (h *handlers) preferences(ctx context.Context, ref int64) (preferencesJSON, error) {
	voter, err := h.cfg.Store.VoterGetByRef(ctx, ref)
	if err != nil {
		return preferencesJSON{}, err
	}
	j, err := h.cfg.Store.JurisdictionGetByCounty(ctx, voter.State, voter.County)
	if err != nil {
		return preferencesJSON{}, err
	}
	subs, err := h.cfg.Store.SubscriptionListByVoter(ctx, ref)
	if err != nil {
		return preferencesJSON{}, err
	}
	off := false
	hold := false
	p := preferencesJSON{
		Email:        &emailPrefJSON{Enabled: &off, State: channelOff},
		SMS:          &phonePrefJSON{Enabled: &off, State: channelOff},
		Voice:        &phonePrefJSON{Enabled: &off, State: channelOff},
		ContactHours: &contactHoursJSON{Start: ballot.DefaultContactStart, End: ballot.DefaultContactEnd, TimeZone: j.TimeZone},
		Language:     voter.Language,

		EmailWaitsForContactHours: &hold,
		LanguagesOffered:          j.Languages,
	}
	settingsFrom := false
	for _, s := range subs {
		enabled := s.State == ballot.SubscriptionActive || s.State == ballot.SubscriptionPending
		switch s.Channel {
		case ballot.ChannelEmail:
			p.Email = &emailPrefJSON{Enabled: &enabled, Address: s.Address, State: s.State}
			hold = s.HoldForHours
		case ballot.ChannelSMS:
			p.SMS = &phonePrefJSON{Enabled: &enabled, Phone: s.Address, State: s.State, Problem: phoneOnFileProblem(s.Channel, s.Address)}
		case ballot.ChannelVoice:
			p.Voice = &phonePrefJSON{Enabled: &enabled, Phone: s.Address, State: s.State, Problem: phoneOnFileProblem(s.Channel, s.Address)}
		}
		if !settingsFrom && (s.ContactStart != "" || s.TimeZone != "" || s.Language != "") {
			settingsFrom = true
			if s.ContactStart != "" {
				p.ContactHours.Start, p.ContactHours.End = s.ContactStart, s.ContactEnd
			}
			if s.TimeZone != "" {
				p.ContactHours.TimeZone = s.TimeZone
			}
			if s.Language != "" {
				p.Language = s.Language
			}
		}
	}
	// Offer the registration's phone for SMS and voice when the voter has none yet and it
	// may be texted and called.
	if phone, err := ballot.ContactPhone(voter.Phone); err == nil {
		if p.SMS.Phone == "" {
			p.SMS.Phone = phone
		}
		if p.Voice.Phone == "" {
			p.Voice.Phone = phone
		}
	}
	return p, nil
}

// phoneOnFileProblem says, for a stored number that may no longer be texted or called, why
// and what to do; "" for a number that may.
func phoneOnFileProblem(channel, phone string) string {
	_, err := ballot.ContactPhone(phone)
	if err == nil {
		return ""
	}
	what, off := "texts to", "turn text messages off"
	if channel == ballot.ChannelVoice {
		what, off = "calls to", "turn calls off"
	}
	return fmt.Sprintf("We no longer send %s the number on file. %s Enter another number, or %s.", what, err.Error(), off)
}

// putPortalPreferences saves the voter's choices; a channel or setting left out of the body
// stays as it is. Everything is validated before anything is stored, and stored in one
// transaction; then confirmations go out through Temporal and the voter's running ballot
// workflows are told to re-plan. A session that saves too often is refused whole (429); a
// confirmation beyond its limits is not sent, but what the voter chose is still saved and
// the answer says when saving again sends one (confirmations_not_sent).
func (h *handlers) putPortalPreferences(c *gin.Context) {
	var req preferencesJSON
	if !decodePortalBody(c, &req) {
		return
	}
	session := portalSessionOf(c)
	onFile, err := h.phonesOnFile(c.Request.Context(), session.VoterRef)
	if err != nil {
		h.unavailable(c, "portal preferences", err)
		return
	}
	save, field, msg := validatePreferences(&req, onFile)
	if field != "" {
		abort(c, http.StatusBadRequest, "invalid_field", msg, field)
		return
	}
	limits := h.portalLimits()
	if h.rateLimited(c, store.RateLimit{Key: fmt.Sprintf("portal-saves\x00%d", session.ID),
		Max: limits.SavesPerSession, Window: limits.SavesPerSessionWindow}) {
		return
	}
	// The choices are stored: finish what follows even if the voter closes the page.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	save.ResendAfter, save.SessionID, save.Limits = confirmResendAfter, session.ID, limits.Confirmations
	saved, err := h.cfg.Store.SubscriptionSavePreferences(ctx, session.VoterRef, save)
	if err != nil {
		h.unavailable(c, "save portal preferences", err)
		return
	}
	if saved.Changed {
		h.notifyBallots(ctx, session.VoterRef)
	}
	sent, err := h.sendConfirmations(ctx, saved.Confirm)
	if err != nil {
		abort(c, http.StatusServiceUnavailable, "confirmation_not_sent",
			"Your choices were saved, but the confirmation message could not be sent right now. Please save again in a few minutes.", "")
		return
	}
	p, err := h.preferences(ctx, session.VoterRef)
	if err != nil {
		h.unavailable(c, "portal preferences", err)
		return
	}
	p.ConfirmationsSent = sent
	p.ConfirmationsNotSent = confirmationsNotSent(saved.Deferred, time.Now())
	c.JSON(http.StatusOK, p)
}

// phonesOnFile returns the numbers stored for the voter's SMS and voice channels, by
// channel: a save may send one back unchanged even when it may no longer be used.
func (h *handlers) phonesOnFile(ctx context.Context, ref int64) (map[string]string, error) {
	subs, err := h.cfg.Store.SubscriptionListByVoter(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range subs {
		if s.Channel == ballot.ChannelSMS || s.Channel == ballot.ChannelVoice {
			out[s.Channel] = s.Address
		}
	}
	return out, nil
}

// notifyBallots tells the voter's running ballot workflows to reload the channels. It is a
// hint: deliveries read the subscriptions at send time, so a lost signal never sends on a
// channel that was turned off.
func (h *handlers) notifyBallots(ctx context.Context, ref int64) {
	if err := prefs.Notify(ctx, h.cfg.Temporal, h.cfg.Store, ref, prefs.ReasonPortal); err != nil {
		h.cfg.Logger.Warn("signal preferences-changed", "voter", ref, "error", err)
	}
}

// deletePortalPreferences opts the voter out of everything.
func (h *handlers) deletePortalPreferences(c *gin.Context) {
	ref := portalVoter(c)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	changed, err := h.cfg.Store.SubscriptionOptOutAll(ctx, ref, "portal")
	if err != nil {
		h.unavailable(c, "portal opt-out", err)
		return
	}
	if changed {
		h.notifyBallots(ctx, ref)
	}
	p, err := h.preferences(ctx, ref)
	if err != nil {
		h.unavailable(c, "portal preferences", err)
		return
	}
	c.JSON(http.StatusOK, p)
}
