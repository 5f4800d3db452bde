package apiserver

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/store"
)

// registerReminders serves a county's reminders for an election (issue 15): a county key
// sets its own county's, a state key any county of its state, an operator any.
func (h *handlers) registerReminders(v1 *gin.RouterGroup) {
	g := v1.Group("", h.authenticate(store.RoleCounty, store.RoleState, store.RoleOperator))
	g.PUT("/elections/:election_id/reminders", h.putReminders)
	g.GET("/elections/:election_id/reminders", h.getReminders)
}

// remindersJSON is a county's reminders as the API reads and writes them.
type remindersJSON struct {
	ElectionID   string `json:"election_id,omitempty"` // only written: the path names it
	State        string `json:"state"`
	County       string `json:"county"`
	ReturnDays   []int  `json:"return_days"`   // days before election day, e.g. [7, 2]; [] for none
	CureDays     []int  `json:"cure_days"`     // days before a cure deadline, e.g. [3, 1]; [] for none
	ReturnsClose string `json:"returns_close"` // "HH:MM" local on election day; default "19:00"
	RemindAt     string `json:"remind_at"`     // "HH:MM" local, when a reminder is due; default "10:00"
	UpdatedAt    string `json:"updated_at,omitempty"`
	UpdatedBy    string `json:"updated_by,omitempty"`
}

func remindersView(r store.Reminders) remindersJSON {
	v := remindersJSON{ElectionID: r.ElectionID, State: r.State, County: r.County, ReturnDays: r.ReturnDays,
		CureDays: r.CureDays, ReturnsClose: r.ReturnsClose, RemindAt: r.RemindAt, UpdatedBy: r.UpdatedBy}
	if !r.UpdatedAt.IsZero() {
		v.UpdatedAt = r.UpdatedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// countyInScope is the state and county a request is about: a county key's own (naming
// another is 403), a state key's state with the county it names, any for an operator.
func countyInScope(c *gin.Context, state, county string) (string, string, bool) {
	key := apiKey(c)
	state, county = strings.ToUpper(strings.TrimSpace(state)), strings.TrimSpace(county)
	if key.Role == store.RoleCounty {
		if (state != "" && state != key.State) || (county != "" && county != key.County) {
			abort(c, http.StatusForbidden, "other_county", "a county key configures only its own county", "county")
			return "", "", false
		}
		return key.State, key.County, true
	}
	if key.Role == store.RoleState {
		if state != "" && state != key.State {
			abort(c, http.StatusForbidden, "other_state", "a "+key.State+" key configures only "+key.State, "state")
			return "", "", false
		}
		state = key.State
	}
	if state == "" || county == "" {
		field := "county"
		if state == "" {
			field = "state"
		}
		abort(c, http.StatusBadRequest, "invalid_field", "name the county's state and county", field)
		return "", "", false
	}
	return state, county, true
}

// putReminders sets a county's reminders for an election; they reach ballots whose voter's
// data loads after it (ballots started from then on), so set them before mail-out.
func (h *handlers) putReminders(c *gin.Context) {
	var body remindersJSON
	if !decodeAdminBody(c, &body) {
		return
	}
	if body.ElectionID != "" || body.UpdatedAt != "" || body.UpdatedBy != "" {
		abort(c, http.StatusBadRequest, "invalid_field", "election_id comes from the path; updated_at and updated_by are set by ballotflow", "")
		return
	}
	state, county, ok := countyInScope(c, body.State, body.County)
	if !ok {
		return
	}
	r := store.Reminders{ElectionID: c.Param("election_id"), State: state, County: county,
		ReturnDays: body.ReturnDays, CureDays: body.CureDays, ReturnsClose: body.ReturnsClose, RemindAt: body.RemindAt}
	if r.ReturnDays == nil || r.CureDays == nil {
		field := "return_days"
		if r.ReturnDays != nil {
			field = "cure_days"
		}
		abort(c, http.StatusBadRequest, "invalid_field", "give both return_days and cure_days ([] for none)", field)
		return
	}
	saved, err := h.cfg.Store.RemindersSave(c.Request.Context(), r, apiKey(c).Actor())
	var fe *store.ReminderFieldError
	switch {
	case errors.As(err, &fe):
		abort(c, http.StatusBadRequest, "invalid_field", fe.Message, fe.Field)
		return
	case errors.Is(err, store.ErrNotFound):
		abort(c, http.StatusNotFound, "not_found", "no such election of this state, or no such county in it", "")
		return
	case err != nil:
		h.adminUnavailable(c, "save reminders", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"reminders": remindersView(saved)})
}

func (h *handlers) getReminders(c *gin.Context) {
	state, county, ok := countyInScope(c, c.Query("state"), c.Query("county"))
	if !ok {
		return
	}
	r, err := h.cfg.Store.RemindersGet(c.Request.Context(), c.Param("election_id"), state, county)
	if err != nil {
		h.adminUnavailable(c, "read reminders", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"reminders": remindersView(r)})
}
