package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/tzdb"
	"github.com/ballotflow/ballotflow/workflows"
)

// The voter portal: a voter finds their registration (POST /v1/portal/session), then with
// the session token reads their ballots and reads and changes how they hear about them.

// PortalSessionTTL is how long a portal session lasts.
const PortalSessionTTL = 30 * time.Minute

// confirmResendAfter: a pending channel saved again gets a new confirmation after this long.
const confirmResendAfter = 2 * time.Minute

const maxPortalBody = 16 << 10

// noMatchMessage is the one answer to every lookup that finds nobody who may sign in.
const noMatchMessage = "The information you entered does not match any voters in our system."

// noMatchBody is written byte for byte the same for every kind of non-match.
var noMatchBody = []byte(`{"error":{"code":"no_match","message":"` + noMatchMessage + `"}}`)

var (
	datePattern = regexp.MustCompile(`^[0-9]{2}-[0-9]{2}-[0-9]{4}$`)
	zipPattern  = regexp.MustCompile(`^[0-9]{5}$`)
	hhmmPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// registerPortal serves the portal API under /v1/portal and the web page at /.
func (h *handlers) registerPortal(r *gin.Engine, v1 *gin.RouterGroup) {
	h.registerPage(r)
	p := v1.Group("/portal", noStore, securityHeaders)
	guard := &lookupGuard{}
	p.POST("/session", func(c *gin.Context) { h.postPortalSession(c, guard) })
	p.DELETE("/session", h.deletePortalSession)
	p.GET("/confirm-email", h.confirmEmailLink)
	p.POST("/confirm-email", h.postConfirmEmail)
	auth := p.Group("", h.portalSession)
	auth.GET("/ballot", h.getPortalBallot)
	auth.GET("/preferences", h.getPortalPreferences)
	auth.PUT("/preferences", h.putPortalPreferences)
	auth.DELETE("/preferences", h.deletePortalPreferences)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
}

// securityHeaders: the page loads only its own files (no inline script), is never framed,
// and sends no referrer (a confirmation link carries a token).
func securityHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Frame-Options", "DENY")
}

// sessionRequest is the lookup form.
type sessionRequest struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	DateOfBirth string `json:"date_of_birth"`
	ZIP         string `json:"zip"`
	VoterID     string `json:"voter_id"`
}

// postPortalSession finds the voter and opens a session. Every lookup does the same work up
// to the answer: validate, count against the rate limits, run the one lookup query, and
// judge every candidate the same way; only a match then gives back the hits that count
// failures and stores a session.
func (h *handlers) postPortalSession(c *gin.Context, guard *lookupGuard) {
	var req sessionRequest
	if !decodePortalBody(c, &req) {
		return
	}
	dob, ok := validateLookup(c, &req)
	if !ok {
		return
	}
	if guard.breakerOpen(c) {
		return
	}
	ctx := c.Request.Context()
	limits := lookupLimits(h.portalLimits(), clientKey(c), req.FirstName, req.LastName, dob.Format(time.DateOnly), req.ZIP)
	counted, waits, err := h.cfg.Store.CountRateLimits(ctx, limits...)
	if err != nil {
		h.unavailable(c, "portal rate limit", err)
		return
	}
	if waits[limitGlobal] > 0 {
		guard.openBreaker(waits[limitGlobal])
		lookupsPaused(c, waits[limitGlobal])
		return
	}
	if wait := slices.Max(waits); wait > 0 {
		tooManyAttempts(c, wait)
		return
	}

	candidates, err := h.cfg.Store.PortalCandidates(ctx, req.FirstName, req.LastName, dob, req.ZIP)
	if err != nil {
		h.unavailable(c, "portal lookup", err)
		return
	}
	voterRef, matches := chooseVoter(candidates, req.VoterID)
	switch {
	case matches > 1:
		abort(c, http.StatusConflict, "voter_id_required", "More than one voter matches; enter your voter ID too.", "voter_id")
		return
	case matches == 0:
		noMatchAnswer(c)
		return
	}
	h.openSession(c, voterRef, counted[limitClient], counted[limitNameZIP], counted[limitGlobal])
}

// validateLookup trims the lookup form and checks every field, or answers 400 naming the
// first bad one.
func validateLookup(c *gin.Context, req *sessionRequest) (time.Time, bool) {
	req.FirstName, req.LastName = strings.TrimSpace(req.FirstName), strings.TrimSpace(req.LastName)
	req.ZIP, req.VoterID = strings.TrimSpace(req.ZIP), strings.TrimSpace(req.VoterID)
	switch {
	case req.FirstName == "" || store.Fold(req.FirstName) == "":
		abort(c, http.StatusBadRequest, "missing_field", "Enter your first name as it appears on your voter registration.", "first_name")
		return time.Time{}, false
	case req.LastName == "" || store.Fold(req.LastName) == "":
		abort(c, http.StatusBadRequest, "missing_field", "Enter your last name as it appears on your voter registration.", "last_name")
		return time.Time{}, false
	case len(req.FirstName) > 100:
		abort(c, http.StatusBadRequest, "invalid_field", "The first name is too long (100 characters at most).", "first_name")
		return time.Time{}, false
	case len(req.LastName) > 100:
		abort(c, http.StatusBadRequest, "invalid_field", "The last name is too long (100 characters at most).", "last_name")
		return time.Time{}, false
	}
	dob, ok := parseDateOfBirth(c, strings.TrimSpace(req.DateOfBirth), time.Now())
	if !ok {
		return time.Time{}, false
	}
	if !zipPattern.MatchString(req.ZIP) {
		abort(c, http.StatusBadRequest, "invalid_zip",
			"Enter the 5-digit ZIP code of your residential address, for example 80202.", "zip")
		return time.Time{}, false
	}
	if len(req.VoterID) > 32 {
		abort(c, http.StatusBadRequest, "invalid_field", "The voter ID is too long (32 characters at most).", "voter_id")
		return time.Time{}, false
	}
	return dob, true
}

// noMatchAnswer writes the one answer to every lookup that finds nobody who may sign in.
func noMatchAnswer(c *gin.Context) {
	c.Data(http.StatusNotFound, "application/json; charset=utf-8", noMatchBody)
	c.Abort()
}

// openSession signs the voter in: a lookup that found its voter is no failure, so its
// failure counts are given back, and a session is stored. A voter made confidential or
// inactive since the lookup gets the no-match answer.
func (h *handlers) openSession(c *gin.Context, voterRef int64, failures ...store.RateCount) {
	ctx := c.Request.Context()
	if err := h.cfg.Store.UncountRateLimits(ctx, failures...); err != nil {
		h.unavailable(c, "portal rate limit", err)
		return
	}
	token, err := randomToken()
	if err != nil {
		h.unavailable(c, "portal token", err)
		return
	}
	expires, err := h.cfg.Store.CreatePortalSession(ctx, voterRef, token, PortalSessionTTL)
	if errors.Is(err, store.ErrNotFound) {
		noMatchAnswer(c)
		return
	}
	if err != nil {
		h.unavailable(c, "portal session", err)
		return
	}
	h.maybePrune(ctx)
	c.JSON(http.StatusCreated, gin.H{"token": token, "expires_at": expires.UTC().Format(time.RFC3339)})
}

// chooseVoter returns the one voter who may sign in, and how many could. Only active
// registrations may; with a voter ID, only the one it names. Every candidate is judged, and
// voter IDs are compared in constant time, whatever the outcome.
func chooseVoter(candidates []store.PortalCandidate, voterID string) (ref int64, matches int) {
	for _, cand := range candidates {
		active := subtle.ConstantTimeEq(boolInt(cand.Status == "active"), 1)
		idOK := 1
		if voterID != "" {
			idOK = subtle.ConstantTimeCompare([]byte(cand.VoterID), []byte(voterID))
		}
		if active&idOK == 1 {
			ref = cand.Ref
			matches++
		}
	}
	return ref, matches
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// parseDateOfBirth reads MM-DD-YYYY, or answers 400 saying what is wrong with it.
func parseDateOfBirth(c *gin.Context, s string, now time.Time) (time.Time, bool) {
	var dob time.Time
	var err error
	if datePattern.MatchString(s) {
		dob, err = time.Parse("01-02-2006", s)
	}
	if !datePattern.MatchString(s) || err != nil {
		abort(c, http.StatusBadRequest, "invalid_date", "Enter your date of birth as MM-DD-YYYY, for example 01-23-1980.", "date_of_birth")
		return time.Time{}, false
	}
	if dob.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) {
		abort(c, http.StatusBadRequest, "date_before_1900", "Date of Birth (DOB) cannot be before 01-01-1900.", "date_of_birth")
		return time.Time{}, false
	}
	// "Today" where the day starts first (UTC+14), so nobody's real birthday is refused.
	earliest := now.UTC().Add(14 * time.Hour)
	today := time.Date(earliest.Year(), earliest.Month(), earliest.Day(), 0, 0, 0, 0, time.UTC)
	if dob.After(today) {
		abort(c, http.StatusBadRequest, "date_in_future", "Date of Birth (DOB) cannot be in the future.", "date_of_birth")
		return time.Time{}, false
	}
	return dob, true
}

// rateLimited counts one hit against each limit and, when one is exceeded (429) or cannot
// be counted (503), answers and returns true.
func (h *handlers) rateLimited(c *gin.Context, limits ...store.RateLimit) bool {
	wait, err := h.cfg.Store.HitRateLimits(c.Request.Context(), limits...)
	if err != nil {
		h.unavailable(c, "portal rate limit", err)
		return true
	}
	if wait > 0 {
		tooManyAttempts(c, wait)
		return true
	}
	return false
}

// tooManyAttempts answers 429, saying in Retry-After and in words how long to wait.
func tooManyAttempts(c *gin.Context, wait time.Duration) {
	seconds := int((wait + time.Second - 1) / time.Second)
	c.Header("Retry-After", fmt.Sprint(seconds))
	msg := fmt.Sprintf("Too many attempts. Please wait %s and try again.", humanWait(seconds))
	if seconds > 3600 {
		msg += " If you need help sooner, call your county election office."
	}
	abort(c, http.StatusTooManyRequests, "rate_limited", msg, "")
}

func humanWait(seconds int) string {
	switch {
	case seconds <= 60:
		return "a minute"
	case seconds <= 90*60:
		return fmt.Sprintf("%d minutes", (seconds+59)/60)
	}
	return fmt.Sprintf("about %d hours", (seconds+1800)/3600)
}

var lastPrune atomic.Int64

// maybePrune deletes old sessions, counters and links, at most every ten minutes per process,
// after a sign-in (a few indexed deletes).
func (h *handlers) maybePrune(ctx context.Context) {
	now := time.Now().Unix()
	last := lastPrune.Load()
	if now-last < 600 || !lastPrune.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.cfg.Store.PrunePortal(ctx); err != nil {
		h.cfg.Logger.Warn("prune portal sessions", "error", err)
	}
}

// randomToken is 256 random bits, URL-safe.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

const sessionContext = "portalSession"

func bearerToken(c *gin.Context) string {
	token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	return strings.TrimSpace(token)
}

// portalSession requires a live session token; unknown, expired and revoked tokens get the
// same 401.
func (h *handlers) portalSession(c *gin.Context) {
	token := bearerToken(c)
	var ps store.PortalSession
	err := store.ErrNotFound
	if token != "" && len(token) <= 128 {
		ps, err = h.cfg.Store.PortalSessionByToken(c.Request.Context(), token)
	}
	if errors.Is(err, store.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="ballotflow portal", error="invalid_token"`)
		abort(c, http.StatusUnauthorized, "session_expired", "Your session has ended. Please look yourself up again.", "")
		return
	}
	if err != nil {
		h.unavailable(c, "portal session", err)
		return
	}
	c.Set(sessionContext, ps)
	c.Next()
}

func portalSessionOf(c *gin.Context) store.PortalSession {
	return c.MustGet(sessionContext).(store.PortalSession)
}

func portalVoter(c *gin.Context) int64 { return portalSessionOf(c).VoterRef }

// deletePortalSession logs out: the token stops working at once.
func (h *handlers) deletePortalSession(c *gin.Context) {
	if token := bearerToken(c); token != "" && len(token) <= 128 {
		if err := h.cfg.Store.RevokePortalSession(c.Request.Context(), token); err != nil {
			h.unavailable(c, "portal logout", err)
			return
		}
	}
	c.Status(http.StatusNoContent)
}

// ballotJSON is one ballot as the portal shows it: no other voter's data, no internal ids.
type ballotJSON struct {
	Election struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		ElectionDay string `json:"election_day"`
	} `json:"election"`
	County   string         `json:"county"`
	Status   string         `json:"status"`
	StatusAt *time.Time     `json:"status_at"`
	Timeline []timelineJSON `json:"timeline"`
}

type timelineJSON struct {
	Status       string    `json:"status"`
	At           time.Time `json:"at"`
	Reason       string    `json:"reason,omitempty"`
	CureDeadline string    `json:"cure_deadline,omitempty"`
}

// getPortalBallot answers the voter's ballots, newest first, from PostgreSQL: a page view
// never queries Temporal.
func (h *handlers) getPortalBallot(c *gin.Context) {
	ctx := c.Request.Context()
	ref := portalVoter(c)
	voter, err := h.cfg.Store.VoterByRef(ctx, ref)
	if err != nil {
		h.unavailable(c, "portal voter", err)
		return
	}
	ballots, err := h.cfg.Store.PortalBallots(ctx, ref)
	if err != nil {
		h.unavailable(c, "portal ballots", err)
		return
	}
	out := make([]ballotJSON, 0, len(ballots))
	for _, b := range ballots {
		var j ballotJSON
		j.Election.ID, j.Election.Name = b.ElectionID, b.ElectionName
		j.Election.ElectionDay = b.ElectionDay.Format(time.DateOnly)
		j.County, j.Status, j.StatusAt = b.County, b.Status, b.StatusAt
		j.Timeline = make([]timelineJSON, 0, len(b.Timeline))
		for _, t := range b.Timeline {
			j.Timeline = append(j.Timeline, timelineJSON{Status: t.Status, At: t.At, Reason: t.Reason, CureDeadline: t.CureDeadline})
		}
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{
		"voter":   gin.H{"first_name": voter.FirstName, "last_name": voter.LastName},
		"ballots": out,
	})
}

// Preferences, as read and written by the portal.
type preferencesJSON struct {
	Email                     *emailPrefJSON    `json:"email,omitempty"`
	SMS                       *phonePrefJSON    `json:"sms,omitempty"`
	Voice                     *phonePrefJSON    `json:"voice,omitempty"`
	ContactHours              *contactHoursJSON `json:"contact_hours,omitempty"`
	Language                  string            `json:"language,omitempty"`
	EmailWaitsForContactHours *bool             `json:"email_waits_for_contact_hours,omitempty"`
	// ConfirmationsSent (answers to PUT only): the channels a confirmation was just sent on.
	ConfirmationsSent []string `json:"confirmations_sent,omitempty"`
	// ConfirmationsNotSent (answers to PUT only): channels saved as pending whose
	// confirmation a limit held back, with when saving again sends one.
	ConfirmationsNotSent []confirmationNotSentJSON `json:"confirmations_not_sent,omitempty"`
}

type emailPrefJSON struct {
	Enabled *bool  `json:"enabled"`
	Address string `json:"address"`
	State   string `json:"state,omitempty"` // read only: active, pending, opted_out, bounced, off
}

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
	voter, err := h.cfg.Store.VoterByRef(ctx, ref)
	if err != nil {
		return preferencesJSON{}, err
	}
	j, err := h.cfg.Store.Jurisdiction(ctx, voter.State, voter.County)
	if err != nil {
		return preferencesJSON{}, err
	}
	subs, err := h.cfg.Store.Subscriptions(ctx, ref)
	if err != nil {
		return preferencesJSON{}, err
	}
	off := false
	hold := false
	p := preferencesJSON{
		Email:        &emailPrefJSON{Enabled: &off, State: "off"},
		SMS:          &phonePrefJSON{Enabled: &off, State: "off"},
		Voice:        &phonePrefJSON{Enabled: &off, State: "off"},
		ContactHours: &contactHoursJSON{Start: ballot.DefaultContactStart, End: ballot.DefaultContactEnd, TimeZone: j.TimeZone},
		Language:     voter.Language,

		EmailWaitsForContactHours: &hold,
	}
	settingsFrom := false
	for _, s := range subs {
		enabled := s.State == "active" || s.State == "pending"
		switch s.Channel {
		case activities.ChannelEmail:
			p.Email = &emailPrefJSON{Enabled: &enabled, Address: s.Address, State: s.State}
			hold = s.HoldForHours
		case activities.ChannelSMS:
			p.SMS = &phonePrefJSON{Enabled: &enabled, Phone: s.Address, State: s.State, Problem: phoneOnFileProblem(s.Channel, s.Address)}
		case activities.ChannelVoice:
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
	if channel == activities.ChannelVoice {
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
	saved, err := h.cfg.Store.SavePortalPreferences(ctx, session.VoterRef, save)
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
	subs, err := h.cfg.Store.Subscriptions(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range subs {
		if s.Channel == activities.ChannelSMS || s.Channel == activities.ChannelVoice {
			out[s.Channel] = s.Address
		}
	}
	return out, nil
}

// sendConfirmations starts one ConfirmContact workflow per confirmation, named after its
// record so that a repeated start is one workflow. Those that could not be started are
// forgotten, so that saving again asks again.
func (h *handlers) sendConfirmations(ctx context.Context, confirms []store.Confirmation) ([]string, error) {
	var sent []string
	var failed []store.Confirmation
	var errs []error
	for _, cf := range confirms {
		id := workflows.ConfirmWorkflowID(cf.SubscriptionID, cf.SendID)
		_, err := h.cfg.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
			workflows.ConfirmWorkflowName, workflows.ConfirmInput{SubscriptionID: cf.SubscriptionID, Channel: cf.Channel,
				LinkBase: h.cfg.PublicURL})
		if err != nil {
			h.cfg.Logger.Error("start confirmation", "subscription", cf.SubscriptionID, "channel", cf.Channel, "error", err)
			failed = append(failed, cf)
			errs = append(errs, err)
			continue
		}
		sent = append(sent, cf.Channel)
	}
	if len(failed) > 0 {
		if err := h.cfg.Store.ForgetConfirmations(ctx, failed); err != nil {
			h.cfg.Logger.Error("forget confirmations", "error", err)
		}
	}
	return sent, errors.Join(errs...)
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
	changed, err := h.cfg.Store.OptOutEverything(ctx, ref, "portal")
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
	ref, err := h.cfg.Store.ConfirmEmail(ctx, req.Token)
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
	c.JSON(http.StatusOK, gin.H{"confirmed": "email"})
}

// validatePreferences checks every field of a save and normalizes addresses. It returns the
// first bad field, in the page's order, with a message a person can act on. onFile holds the
// numbers stored for sms and voice: one sent back unchanged that may no longer be texted or
// called is left as it is rather than refused, so that an old number (from an import or an
// older rule) never blocks saving the rest; the answer's "problem" says what to do about it.
func validatePreferences(req *preferencesJSON, onFile map[string]string) (store.PortalPreferences, string, string) {
	var p store.PortalPreferences
	if e := req.Email; e != nil {
		if e.Enabled == nil {
			return p, "email.enabled", "Say whether to send email: enabled must be true or false."
		}
		addr := strings.TrimSpace(e.Address)
		if *e.Enabled || addr != "" {
			if !validEmail(addr) {
				return p, "email.address", "Enter an email address like name@example.org."
			}
		}
		p.Email = &store.ChannelChoice{Enabled: *e.Enabled, Address: addr}
	}
	for _, ph := range []struct {
		name string
		pref *phonePrefJSON
		dest **store.ChannelChoice
	}{{"sms", req.SMS, &p.SMS}, {"voice", req.Voice, &p.Voice}} {
		if ph.pref == nil {
			continue
		}
		if ph.pref.Enabled == nil {
			return p, ph.name + ".enabled", "Say whether to use this channel: enabled must be true or false."
		}
		choice, msg := validatePhoneChoice(*ph.pref.Enabled, ph.pref.Phone, onFile[ph.name])
		if msg != "" {
			return p, ph.name + ".phone", msg
		}
		*ph.dest = choice
	}
	if hrs := req.ContactHours; hrs != nil {
		if !hhmmPattern.MatchString(hrs.Start) {
			return p, "contact_hours.start", "Enter the start of your contact hours as HH:MM (24-hour clock), for example 08:00."
		}
		if !hhmmPattern.MatchString(hrs.End) {
			return p, "contact_hours.end", "Enter the end of your contact hours as HH:MM (24-hour clock), for example 20:00."
		}
		if !validTimeZone(hrs.TimeZone) {
			return p, "contact_hours.time_zone", "Enter a time zone such as America/Denver."
		}
		p.ContactStart, p.ContactEnd, p.TimeZone = hrs.Start, hrs.End, hrs.TimeZone
	}
	if req.Language != "" {
		if req.Language != "en" && req.Language != "es" {
			return p, "language", "Choose en (English) or es (Spanish)."
		}
		p.Language = req.Language
	}
	p.EmailHoldForHours = req.EmailWaitsForContactHours
	return p, "", ""
}

// validEmail accepts a bare address (no display name) with a domain that has a dot.
func validEmail(s string) bool {
	if s == "" || len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// validatePhoneChoice reads one phone channel of a save: the choice to store (nil to leave
// the channel as it is), or a message saying what is wrong with the number. A number is
// needed to turn a channel on; a channel turned off keeps its number.
func validatePhoneChoice(enabled bool, phone, onFile string) (*store.ChannelChoice, string) {
	typed := strings.TrimSpace(phone)
	if !enabled && typed == "" {
		return &store.ChannelChoice{Enabled: false}, ""
	}
	e164, err := ballot.ContactPhone(typed)
	if err == nil {
		return &store.ChannelChoice{Enabled: enabled, Address: e164}, ""
	}
	if onFile != "" && typed != "" && (typed == onFile || normalizedEqual(typed, onFile)) {
		if !enabled {
			return &store.ChannelChoice{Enabled: false, Address: onFile}, ""
		}
		return nil, "" // unchanged: kept as it is, and the answer's "problem" explains
	}
	return nil, err.Error()
}

func normalizedEqual(typed, onFile string) bool {
	n, err := ballot.NormalizePhone(typed)
	return err == nil && n == onFile
}

func validTimeZone(tz string) bool {
	return tzdb.Valid(tz) // the zones workflow code can resolve, and no others
}

// decodePortalBody reads a small JSON body; on error it answers 4xx naming the field and
// returns false.
func decodePortalBody(c *gin.Context, v any) bool { return bindJSON(c, maxPortalBody, v) }

// unavailable answers 503 for a failure on our side; the log names what failed, never
// what the voter typed.
func (h *handlers) unavailable(c *gin.Context, what string, err error) {
	h.cfg.Logger.Error(what, "error", err)
	abort(c, http.StatusServiceUnavailable, "unavailable", "Something went wrong on our side. Please try again in a minute.", "")
}
