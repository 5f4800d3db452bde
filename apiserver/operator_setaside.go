package apiserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Set-aside events: stored county events whose signal can never succeed as they are (the
// election's canvass was over, Temporal refused the signal as invalid). The re-signal
// sweeper and the import workflows skip them so that they never hold up other events;
// operators list them here to follow up with the county.

// maxSetAsideRows bounds one answer of GET /v1/operator/set-aside-events; defaultSetAsideRows
// is what it holds without ?limit=.
const (
	defaultSetAsideRows = 100
	maxSetAsideRows     = 1000
)

// setAsideJSON is one set-aside event: ids, the reason and when, never a voter's data.
type setAsideJSON struct {
	EventID       string    `json:"event_id"`
	ElectionID    string    `json:"election_id"`
	State         string    `json:"state"`
	County        string    `json:"county"`
	Status        string    `json:"status"`
	Reason        string    `json:"reason"`
	Attempts      int       `json:"attempts"`
	ImportID      *int64    `json:"import_id,omitempty"`
	WorkflowID    string    `json:"workflow_id"`
	TemporalUIURL string    `json:"temporal_ui_url,omitempty"`
	ReceivedAt    time.Time `json:"received_at"`
	SetAsideAt    time.Time `json:"set_aside_at"`
}

// getSetAsideEvents lists the events set aside, newest first, with how many there are in all:
// GET /v1/operator/set-aside-events[?state=CO][&limit=100].
func (h *handlers) getSetAsideEvents(c *gin.Context) {
	state := strings.ToUpper(c.Query("state"))
	if state != "" && !statePattern.MatchString(state) {
		abort(c, http.StatusBadRequest, "invalid_field", "state must be a two-letter code such as CO", "state")
		return
	}
	limit := defaultSetAsideRows
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSetAsideRows {
			abort(c, http.StatusBadRequest, "invalid_field", fmt.Sprintf("limit must be a number from 1 to %d", maxSetAsideRows), "limit")
			return
		}
		limit = n
	}
	events, total, err := h.cfg.Store.BallotEventListSetAside(c.Request.Context(), state, limit)
	if err != nil {
		h.cfg.Logger.Error("list set-aside events", "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", "the events could not be read; please retry", "")
		return
	}
	out := make([]setAsideJSON, len(events))
	for i, e := range events {
		out[i] = h.setAsideView(e)
	}
	c.JSON(http.StatusOK, gin.H{"total": total, "truncated": total > len(out), "events": out})
}

func (h *handlers) setAsideView(e store.SetAsideEvent) setAsideJSON {
	id := ballot.WorkflowID(e.ElectionID, e.BallotKey)
	return setAsideJSON{EventID: e.EventID, ElectionID: e.ElectionID, State: e.State, County: e.County, Status: e.Status,
		Reason: e.Reason, Attempts: e.Attempts, ImportID: e.ImportID, WorkflowID: id, TemporalUIURL: h.temporalURL(id),
		ReceivedAt: e.ReceivedAt, SetAsideAt: e.SetAsideAt}
}
