package apiserver

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

// maxAdminBody bounds the body of a jurisdiction or an election.
const maxAdminBody = 64 << 10

// registerAdmin serves jurisdictions and elections: a state key configures its own state,
// an operator key any state.
func (h *handlers) registerAdmin(v1 *gin.RouterGroup) {
	g := v1.Group("", h.authenticate(store.RoleState, store.RoleOperator))
	g.POST("/jurisdictions", h.postJurisdiction)
	g.GET("/jurisdictions", h.getJurisdictions)
	g.POST("/elections", h.postElection)
	g.GET("/elections", h.getElections)
}

// jurisdictionJSON is a jurisdiction as the API reads and writes it; id is only written.
type jurisdictionJSON struct {
	ID            string   `json:"id,omitempty"`
	State         string   `json:"state"`
	County        string   `json:"county"`
	Name          string   `json:"name"`
	TimeZone      string   `json:"time_zone"`
	EmailFrom     string   `json:"email_from"`
	EmailFromName string   `json:"email_from_name"`
	SMSFrom       string   `json:"sms_from"`
	VoiceFrom     string   `json:"voice_from"`
	HelpText      string   `json:"help_text"`
	ReplyTo       string   `json:"reply_to,omitempty"`  // the office's contact address: Reply-To of notice emails
	Languages     []string `json:"languages,omitempty"` // default: the reviewed catalogs (en, es); the first is the county's default

	// HelpTexts is the help text in the county's other languages, by code ({"es": "..."});
	// help_text is the one in its default language, and the answer where none is given.
	HelpTexts map[string]string `json:"help_texts,omitempty"`
}

func jurisdictionView(j store.Jurisdiction) jurisdictionJSON {
	return jurisdictionJSON{ID: j.ID, State: j.State, County: j.County, Name: j.Name, TimeZone: j.TimeZone,
		EmailFrom: j.EmailFrom, EmailFromName: j.EmailFromName, SMSFrom: j.SMSFrom, VoiceFrom: j.VoiceFrom, HelpText: j.HelpText,
		ReplyTo: j.ReplyTo, Languages: j.Languages, HelpTexts: j.HelpTexts}
}

// postJurisdiction creates a county's jurisdiction, or replaces its settings: 201 when
// created, 200 otherwise.
func (h *handlers) postJurisdiction(c *gin.Context) {
	var body jurisdictionJSON
	if !decodeAdminBody(c, &body) {
		return
	}
	if body.ID != "" {
		abort(c, http.StatusBadRequest, "invalid_field", "id is derived from state and county; leave it out", "id")
		return
	}
	state, ok := stateInScope(c, body.State)
	if !ok {
		return
	}
	j, err := roll.CheckJurisdiction(store.Jurisdiction{State: state, County: body.County, Name: body.Name,
		TimeZone: body.TimeZone, EmailFrom: body.EmailFrom, EmailFromName: body.EmailFromName, SMSFrom: body.SMSFrom,
		VoiceFrom: body.VoiceFrom, HelpText: body.HelpText, ReplyTo: body.ReplyTo, Languages: body.Languages,
		HelpTexts: body.HelpTexts})
	if abortOnFieldError(c, err) {
		return
	}
	j, outcome, err := h.cfg.Store.JurisdictionSave(c.Request.Context(), j, apiKey(c).Actor())
	if err != nil {
		h.adminUnavailable(c, "save jurisdiction", err)
		return
	}
	c.JSON(createdOrOK(outcome), gin.H{"result": outcome, "jurisdiction": jurisdictionView(j)})
}

func (h *handlers) getJurisdictions(c *gin.Context) {
	state, ok := stateFilter(c)
	if !ok {
		return
	}
	js, err := h.cfg.Store.JurisdictionList(c.Request.Context(), state)
	if err != nil {
		h.adminUnavailable(c, "list jurisdictions", err)
		return
	}
	out := make([]jurisdictionJSON, len(js))
	for i, j := range js {
		out[i] = jurisdictionView(j)
	}
	c.JSON(http.StatusOK, gin.H{"jurisdictions": out})
}

// electionJSON is an election as the API reads and writes it; the purge's times are only
// written.
type electionJSON struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	Name          string `json:"name"`
	ElectionDay   string `json:"election_day"`    // YYYY-MM-DD
	CanvassEndsAt string `json:"canvass_ends_at"` // RFC 3339
	// RecordsUntil is the last day the election's records are kept whole (YYYY-MM-DD); left
	// out, the period the election has (a new one's is election day + 22 months; see
	// store.ElectionSave).
	RecordsUntil   string `json:"records_until,omitempty"`
	PurgeStartedAt string `json:"purge_started_at,omitempty"` // RFC 3339, set by the retention purge
	PurgedAt       string `json:"purged_at,omitempty"`        // RFC 3339, set by the retention purge
}

func electionView(e store.Election) electionJSON {
	v := electionJSON{ID: e.ID, State: e.State, Name: e.Name, ElectionDay: e.ElectionDay.Format(time.DateOnly),
		CanvassEndsAt: e.CanvassEndsAt.UTC().Format(time.RFC3339), RecordsUntil: e.RecordsUntil.Format(time.DateOnly),
		PurgeStartedAt: timeCell(e.PurgeStartedAt), PurgedAt: timeCell(e.PurgedAt)}
	if e.RecordsUntil.IsZero() {
		v.RecordsUntil = ""
	}
	return v
}

// postElection creates an election of the key's state, or updates it: 201 when created,
// 200 otherwise. An id another state uses is a 409.
func (h *handlers) postElection(c *gin.Context) {
	var body electionJSON
	if !decodeAdminBody(c, &body) {
		return
	}
	if body.PurgeStartedAt != "" || body.PurgedAt != "" {
		field := "purged_at"
		if body.PurgeStartedAt != "" {
			field = "purge_started_at"
		}
		abort(c, http.StatusBadRequest, "invalid_field", field+" is set by the retention purge; leave it out", field)
		return
	}
	state, ok := stateInScope(c, body.State)
	if !ok {
		return
	}
	e := store.Election{ID: body.ID, State: state, Name: body.Name}
	if body.ElectionDay != "" {
		day, err := time.Parse(time.DateOnly, body.ElectionDay)
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_field", "election_day must be a date YYYY-MM-DD", "election_day")
			return
		}
		e.ElectionDay = day
	}
	if body.CanvassEndsAt != "" {
		at, err := time.Parse(time.RFC3339, body.CanvassEndsAt)
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_field",
				"canvass_ends_at must be an RFC 3339 time with a zone, e.g. 2026-12-01T17:00:00-07:00", "canvass_ends_at")
			return
		}
		e.CanvassEndsAt = at
	}
	if body.RecordsUntil != "" {
		day, err := time.Parse(time.DateOnly, body.RecordsUntil)
		if err != nil {
			abort(c, http.StatusBadRequest, "invalid_field", "records_until must be a date YYYY-MM-DD", "records_until")
			return
		}
		e.RecordsUntil = day
	}
	e, err := roll.CheckElection(e)
	if abortOnFieldError(c, err) {
		return
	}
	e, outcome, err := h.cfg.Store.ElectionSave(c.Request.Context(), e, apiKey(c).Actor())
	switch {
	case errors.Is(err, store.ErrElectionOfOtherState):
		abort(c, http.StatusConflict, "election_id_taken", "another state already uses this election id; choose another", "id")
		return
	case errors.Is(err, store.ErrElectionPurged):
		abort(c, http.StatusConflict, "election_purged",
			"the records period of this election is over and its personal data are purged (or being purged); it can no longer change", "id")
		return
	case errors.Is(err, store.ErrRecordsBeforeCanvass):
		abort(c, http.StatusBadRequest, "invalid_field",
			"records_until must not be before the day the canvass ends (UTC); give a later records_until", "records_until")
		return
	}
	if err != nil {
		h.adminUnavailable(c, "save election", err)
		return
	}
	c.JSON(createdOrOK(outcome), gin.H{"result": outcome, "election": electionView(e)})
}

func (h *handlers) getElections(c *gin.Context) {
	state, ok := stateFilter(c)
	if !ok {
		return
	}
	es, err := h.cfg.Store.ElectionList(c.Request.Context(), state)
	if err != nil {
		h.adminUnavailable(c, "list elections", err)
		return
	}
	out := make([]electionJSON, len(es))
	for i, e := range es {
		out[i] = electionView(e)
	}
	c.JSON(http.StatusOK, gin.H{"elections": out})
}

// stateInScope is the state a request configures: a state key's own (a body naming another
// is a 403), or the one an operator names.
func stateInScope(c *gin.Context, requested string) (string, bool) {
	key := apiKey(c)
	requested = strings.ToUpper(strings.TrimSpace(requested))
	if key.Role == store.RoleOperator {
		return requested, true
	}
	if requested != "" && requested != key.State {
		abort(c, http.StatusForbidden, "other_state", "a "+key.State+" key configures only "+key.State, "state")
		return "", false
	}
	return key.State, true
}

// stateFilter is the state a listing shows: a state key's own, or for an operator the
// ?state= asked for (every state when none).
func stateFilter(c *gin.Context) (string, bool) {
	key := apiKey(c)
	requested := strings.ToUpper(c.Query("state"))
	if key.Role == store.RoleOperator {
		return requested, true
	}
	if requested != "" && requested != key.State {
		abort(c, http.StatusForbidden, "other_state", "a "+key.State+" key sees only "+key.State, "state")
		return "", false
	}
	return key.State, true
}

// decodeAdminBody reads a jurisdiction's or an election's JSON object into dst; on error it
// answers 4xx naming the problem and returns false.
func decodeAdminBody(c *gin.Context, dst any) bool { return bindJSON(c, maxAdminBody, dst) }

// abortOnFieldError answers 400 naming the field when err is a *roll.FieldError.
func abortOnFieldError(c *gin.Context, err error) bool {
	if err == nil {
		return false
	}
	var fe *roll.FieldError
	if errors.As(err, &fe) {
		abort(c, http.StatusBadRequest, "invalid_field", fe.Message, fe.Field)
	} else {
		abort(c, http.StatusInternalServerError, "internal", "something went wrong on our side; please retry", "")
	}
	return true
}

func (h *handlers) adminUnavailable(c *gin.Context, what string, err error) {
	h.cfg.Logger.Error(what, "error", err)
	abort(c, http.StatusServiceUnavailable, "unavailable", "the database could not be reached; nothing was changed, please retry", "")
}

func createdOrOK(outcome string) int {
	if outcome == store.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}
