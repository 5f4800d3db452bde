package apiserver

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// ballotJSON is one ballot as the portal shows it: no other voter's data, no internal ids.
type ballotJSON struct {
	Election struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		ElectionDay string `json:"election_day"`
	} `json:"election"`
	County   string             `json:"county"`
	Status   string             `json:"status"`
	StatusAt *time.Time         `json:"status_at"`
	Timeline []statusChangeJSON `json:"timeline"`
	// Mail is the latest USPS scan of each of the ballot's envelopes, outbound first.
	Mail []portalMailJSON `json:"mail"`
	// Reminders are the county's reminders sent to the voter about this ballot.
	Reminders []portalReminderJSON `json:"reminders"`
}

// portalReminderJSON is a reminder sent: "return" (the ballot is not back yet) or "cure" (the
// challenge is not cured yet), and when.
type portalReminderJSON struct {
	Kind   string    `json:"kind"`
	SentAt time.Time `json:"sent_at"`
}

// sentRemindersView shows sent reminders as the portal and the operator API name them.
func sentRemindersView(rs []store.SentReminder) []portalReminderJSON {
	out := make([]portalReminderJSON, 0, len(rs))
	for _, r := range rs {
		kind := "return"
		if r.Kind == notices.KindCureReminder {
			kind = "cure"
		}
		out = append(out, portalReminderJSON{Kind: kind, SentAt: r.SentAt.UTC()})
	}
	return out
}

// getPortalBallot answers the voter's ballots, newest first, from PostgreSQL: a page view
// never queries Temporal.
func (h *handlers) getPortalBallot(c *gin.Context) {
	ctx := c.Request.Context()
	ref := portalVoter(c)
	voter, err := h.cfg.Store.VoterGetByRef(ctx, ref)
	if err != nil {
		h.unavailable(c, "portal voter", err)
		return
	}
	ballots, err := h.cfg.Store.BallotListByVoterForPortal(ctx, ref)
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
		j.Timeline = make([]statusChangeJSON, 0, len(b.Timeline))
		for _, t := range b.Timeline {
			j.Timeline = append(j.Timeline, statusChangeView(t))
		}
		j.Mail = portalMailView(b.Mail)
		j.Reminders = sentRemindersView(b.Reminders)
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{
		"voter":   gin.H{"first_name": voter.FirstName, "last_name": voter.LastName},
		"ballots": out,
	})
}
