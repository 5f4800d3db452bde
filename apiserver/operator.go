package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/prefs"
	"github.com/ballotflow/ballotflow/internal/store"
)

// The operator API: what the people who answer a county's phone need when a voter says "I
// never got a message". Operator keys only; every read comes from PostgreSQL, never from
// Temporal, and carries no name, date of birth or full address: subscriptions show masked
// addresses (m•••@example.org, +1••••••0101), enough to confirm with the voter on the phone
// ("is it the one ending in 0101?") without reading the address out of the system.

// ReasonCountyAssisted is the reason a county-assisted opt-out gives the voter's ballots in
// the preferences-changed signal.
const ReasonCountyAssisted = "county-assisted"

// maxNoteLength bounds an opt-out's note, in characters.
const maxNoteLength = 500

var (
	statePattern   = regexp.MustCompile(`^[A-Z]{2}$`)
	voterIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)
)

func (h *handlers) registerOperator(r *gin.Engine, v1 *gin.RouterGroup) {
	h.registerOperatorPage(r)
	g := v1.Group("/operator", noStore, h.authenticate(store.RoleOperator))
	g.GET("/voters/:state/:voter_id/ballots", h.getOperatorBallots)
	g.GET("/voters/:state/:voter_id/deliveries", h.getOperatorDeliveries)
	g.POST("/voters/:state/:voter_id/opt-out", h.postOperatorOptOut)
	g.POST("/voters/:state/:voter_id/corrections", h.postOperatorCorrection) // operator_correction.go
	g.GET("/elections/:id/counts", h.getElectionCounts)
	g.GET("/elections/:id/status-over-time", h.getStatusOverTime)
	g.GET("/elections/:id/records", h.getElectionRecords)
	g.GET("/unreachable", h.getUnreachable)
	g.GET("/set-aside-events", h.getSetAsideEvents)
}

// temporalURL links a ballot's workflow in Temporal UI; empty when no UI is configured.
func (h *handlers) temporalURL(workflowID string) string {
	ui := strings.TrimRight(h.cfg.TemporalUIURL, "/")
	if ui == "" {
		return ""
	}
	ns := h.cfg.TemporalNamespace
	if ns == "" {
		ns = "default"
	}
	return ui + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(workflowID)
}

// operatorVoter reads {state}/{voter_id} from the path and finds the registration; it
// answers 400 or 404 naming the field otherwise.
func (h *handlers) operatorVoter(c *gin.Context) (store.Voter, bool) {
	state := strings.ToUpper(c.Param("state"))
	voterID := c.Param("voter_id")
	if !statePattern.MatchString(state) {
		abort(c, http.StatusBadRequest, "invalid_field", "state must be a two-letter state code, e.g. CO", "state")
		return store.Voter{}, false
	}
	if !voterIDPattern.MatchString(voterID) {
		abort(c, http.StatusBadRequest, "invalid_field", "voter_id must be the state's voter registration number (letters, digits, - _ .; at most 32)", "voter_id")
		return store.Voter{}, false
	}
	v, err := h.cfg.Store.VoterGetByID(c.Request.Context(), state, voterID)
	if errors.Is(err, store.ErrNotFound) {
		abort(c, http.StatusNotFound, "not_found", "no voter with this voter_id is registered in "+state, "voter_id")
		return store.Voter{}, false
	}
	if err != nil {
		h.adminUnavailable(c, "operator: find voter", err)
		return store.Voter{}, false
	}
	return v, true
}

// ---- A voter's ballots ----------------------------------------------------------------

type operatorBallotJSON struct {
	ElectionID    string               `json:"election_id"`
	BallotID      string               `json:"ballot_id"`
	County        string               `json:"county"`
	WorkflowID    string               `json:"workflow_id"`
	TemporalUIURL string               `json:"temporal_ui_url,omitempty"`
	Status        string               `json:"status"` // empty until the workflow recorded one
	StatusAt      *time.Time           `json:"status_at"`
	History       []statusChangeJSON   `json:"history"`
	MailScans     []mailScanJSON       `json:"mail_scans"` // USPS scans of its envelopes, oldest first
	Reminders     []portalReminderJSON `json:"reminders"`  // the county's reminders sent, oldest first
}

type operatorSubscriptionJSON struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	Source  string `json:"source"`
	Address string `json:"address"` // masked
}

type operatorVoterJSON struct {
	State        string `json:"state"`
	VoterID      string `json:"voter_id"`
	County       string `json:"county"`
	Status       string `json:"status"`
	Confidential bool   `json:"confidential"`
}

func voterView(v store.Voter) operatorVoterJSON {
	return operatorVoterJSON{State: v.State, VoterID: v.VoterID, County: v.County, Status: v.Status, Confidential: v.Confidential}
}

func (h *handlers) getOperatorBallots(c *gin.Context) {
	asCSV, ok := wantsCSV(c)
	if !ok {
		return
	}
	v, ok := h.operatorVoter(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	ballots, err := h.cfg.Store.BallotListByVoterWithHistory(ctx, v.Ref)
	if err != nil {
		h.adminUnavailable(c, "operator: ballots of voter", err)
		return
	}
	out := make([]operatorBallotJSON, len(ballots))
	for i, b := range ballots {
		id := ballot.WorkflowID(b.ElectionID, b.Key)
		out[i] = operatorBallotJSON{ElectionID: b.ElectionID, BallotID: b.BallotID, County: b.County, WorkflowID: id,
			TemporalUIURL: h.temporalURL(id), Status: b.Status, StatusAt: b.StatusAt, History: make([]statusChangeJSON, len(b.History)),
			MailScans: mailScansView(b.MailScans), Reminders: sentRemindersView(b.Reminders)}
		for j, s := range b.History {
			out[i].History[j] = statusChangeView(s)
			out[i].History[j].At = s.At.UTC()
		}
	}
	if asCSV {
		w := startCSV(c, "ballots-"+v.State+"-"+v.VoterID,
			"election_id", "ballot_id", "county", "status", "status_at", "workflow_id", "temporal_ui_url", "history")
		for _, b := range out {
			history := make([]string, len(b.History))
			for j, s := range b.History {
				history[j] = s.Status + " " + s.At.Format(time.RFC3339)
			}
			w.row(b.ElectionID, b.BallotID, b.County, b.Status, timeCell(b.StatusAt), b.WorkflowID, b.TemporalUIURL,
				strings.Join(history, "; "))
		}
		w.finish(h, nil)
		return
	}
	subs, err := h.cfg.Store.SubscriptionListByVoter(ctx, v.Ref)
	if err != nil {
		h.adminUnavailable(c, "operator: subscriptions of voter", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"voter": voterView(v), "ballots": out, "subscriptions": subscriptionsView(subs)})
}

func subscriptionsView(subs []store.Subscription) []operatorSubscriptionJSON {
	out := make([]operatorSubscriptionJSON, len(subs))
	for i, s := range subs {
		out[i] = operatorSubscriptionJSON{Channel: s.Channel, State: s.State, Source: s.Source, Address: maskAddress(s.Channel, s.Address)}
	}
	return out
}

// maskAddress shows enough of an address to confirm it with the voter and no more: the
// first character of an email's local part and its domain (m•••@example.org); a phone's
// country code and last four digits (+1••••••0101).
func maskAddress(channel, address string) string {
	if address == "" {
		return ""
	}
	if channel == ballot.ChannelEmail {
		local, domain, ok := strings.Cut(address, "@")
		if !ok || local == "" {
			return "•••"
		}
		first := []rune(local)[0]
		return string(first) + "•••@" + domain
	}
	digits := strings.TrimPrefix(address, "+")
	if len(digits) <= 4 {
		return strings.Repeat("•", len(digits))
	}
	keep := 0
	prefix := ""
	if strings.HasPrefix(address, "+1") && len(digits) == 11 {
		prefix, keep = "+1", 1
	} else if strings.HasPrefix(address, "+") {
		prefix = "+"
	}
	return prefix + strings.Repeat("•", len(digits)-keep-4) + digits[len(digits)-4:]
}

// ---- A voter's delivery log -------------------------------------------------------------

type deliveryJSON struct {
	ElectionID    string              `json:"election_id"`
	BallotID      string              `json:"ballot_id"`
	WorkflowID    string              `json:"workflow_id"`
	TemporalUIURL string              `json:"temporal_ui_url,omitempty"`
	NoticeStatus  string              `json:"notice_status"`
	Channel       string              `json:"channel"`
	State         string              `json:"state"`
	Attempts      int                 `json:"attempts"`
	ProviderID    string              `json:"provider_id"`
	LastError     string              `json:"last_error"`
	CreatedAt     time.Time           `json:"created_at"`
	UpdatedAt     time.Time           `json:"updated_at"`
	Events        []deliveryEventJSON `json:"events"`
}

type deliveryEventJSON struct {
	Status     string    `json:"status"`
	Detail     string    `json:"detail"`
	OccurredAt time.Time `json:"occurred_at"`
	ReceivedAt time.Time `json:"received_at"`
}

func (h *handlers) getOperatorDeliveries(c *gin.Context) {
	asCSV, ok := wantsCSV(c)
	if !ok {
		return
	}
	v, ok := h.operatorVoter(c)
	if !ok {
		return
	}
	ds, err := h.cfg.Store.DeliveryListByVoter(c.Request.Context(), v.Ref)
	if err != nil {
		h.adminUnavailable(c, "operator: deliveries of voter", err)
		return
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		id := ballot.WorkflowID(d.ElectionID, d.BallotKey)
		out[i] = deliveryJSON{ElectionID: d.ElectionID, BallotID: d.BallotID, WorkflowID: id, TemporalUIURL: h.temporalURL(id),
			NoticeStatus: d.NoticeStatus, Channel: d.Channel, State: d.State, Attempts: d.Attempts, ProviderID: d.ProviderID,
			LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
			Events: make([]deliveryEventJSON, len(d.Events))}
		for j, e := range d.Events {
			out[i].Events[j] = deliveryEventJSON{Status: e.Status, Detail: e.Detail, OccurredAt: e.OccurredAt.UTC(), ReceivedAt: e.ReceivedAt.UTC()}
		}
	}
	if !asCSV {
		c.JSON(http.StatusOK, gin.H{"voter": voterView(v), "deliveries": out})
		return
	}
	// One row per provider event, the delivery's columns repeated; a delivery without events
	// has one row with the event columns empty.
	w := startCSV(c, "deliveries-"+v.State+"-"+v.VoterID,
		"election_id", "ballot_id", "workflow_id", "notice_status", "channel", "state", "attempts", "provider_id", "last_error",
		"created_at", "updated_at", "event_status", "event_detail", "event_occurred_at")
	for _, d := range out {
		cols := []string{d.ElectionID, d.BallotID, d.WorkflowID, d.NoticeStatus, d.Channel, d.State, strconv.Itoa(d.Attempts),
			d.ProviderID, d.LastError, d.CreatedAt.Format(time.RFC3339), d.UpdatedAt.Format(time.RFC3339)}
		if len(d.Events) == 0 {
			w.row(append(cols, "", "", "")...)
		}
		for _, e := range d.Events {
			w.row(append(slices.Clone(cols), e.Status, e.Detail, e.OccurredAt.Format(time.RFC3339))...)
		}
	}
	w.finish(h, nil)
}

// ---- County-assisted opt-out ------------------------------------------------------------

type optOutRequest struct {
	Channels *[]string `json:"channels"`
	Note     string    `json:"note"`
}

// postOperatorOptOut opts a voter out at their request to the county: the subscriptions
// change and the audit entry (operator's key, note) are written in one transaction, then
// the voter's running ballots are told (preferences-changed), so a notice waiting for the
// morning is dropped. The subscriptions are the truth: activities check them at send time,
// so a signal that does not arrive cannot make a notice go out.
func (h *handlers) postOperatorOptOut(c *gin.Context) {
	var req optOutRequest
	if !decodePortalBody(c, &req) {
		return
	}
	channels := slices.Clone(ballot.Channels)
	if req.Channels != nil {
		if len(*req.Channels) == 0 {
			abort(c, http.StatusBadRequest, "invalid_field", "channels must name at least one of email, sms, voice; leave it out to opt out of all", "channels")
			return
		}
		channels = nil
		for _, ch := range *req.Channels {
			ch = strings.ToLower(strings.TrimSpace(ch))
			if !ballot.IsChannel(ch) {
				abort(c, http.StatusBadRequest, "invalid_field", fmt.Sprintf("channels: %q is not a channel; use email, sms or voice", ch), "channels")
				return
			}
			if !slices.Contains(channels, ch) {
				channels = append(channels, ch)
			}
		}
		slices.SortFunc(channels, func(a, b string) int { return slices.Index(ballot.Channels, a) - slices.Index(ballot.Channels, b) })
	}
	note, ok := requireNote(c, req.Note, `who asked and how (e.g. "voter called, ticket 4411")`)
	if !ok {
		return
	}
	v, ok := h.operatorVoter(c)
	if !ok {
		return
	}
	if refuseNotePersonalData(c, note, v) {
		return
	}
	// The change must not depend on the operator's connection staying open.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	key := apiKey(c)
	changed, err := h.cfg.Store.SubscriptionOptOutCountyAssisted(ctx, v.Ref, channels, key.Actor(), note)
	if err != nil {
		h.adminUnavailable(c, "operator: county-assisted opt-out", err)
		return
	}
	signaled := true
	if len(changed) > 0 {
		if err := prefs.Notify(ctx, h.cfg.Temporal, h.cfg.Store, v.Ref, ReasonCountyAssisted); err != nil {
			// Logged, not answered: the opt-out is stored and every send checks it.
			h.cfg.Logger.Error("operator opt-out: signal ballots", "voter_ref", v.Ref, "key", key.Prefix, "error", err)
			signaled = false
		}
	}
	subs, err := h.cfg.Store.SubscriptionListByVoter(ctx, v.Ref)
	if err != nil {
		h.adminUnavailable(c, "operator: subscriptions of voter", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"voter": voterView(v), "changed": changed, "ballots_signaled": signaled,
		"subscriptions": subscriptionsView(subs)})
}
