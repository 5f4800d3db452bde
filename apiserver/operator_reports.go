package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/tzdb"
)

// The operators' election reports: ballots by county and status, ballots at each status
// day by day (the dashboard's chart), and voters who cannot be reached. Each reads
// PostgreSQL only and has a CSV export (?format=csv or Accept: text/csv).

// Report limits: a JSON answer holds at most maxReportRows rows (CSV exports stream all of
// them); status over time covers at most maxReportDays days.
const (
	defaultReportRows = 1000
	maxReportRows     = 10000
	maxReportDays     = 400
)

var countyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// reportScope reads the election (path id or ?election_id=) and the optional ?state= and
// ?county= of a report, answering 400 or 404 naming the field otherwise.
func (h *handlers) reportScope(c *gin.Context, electionID string) (store.Election, string, bool) {
	field := "election_id"
	if c.Param("id") != "" {
		field = "id"
	}
	if electionID == "" {
		abort(c, http.StatusBadRequest, "missing_field", "election_id is required, e.g. ?election_id=2026-11-03-general", field)
		return store.Election{}, "", false
	}
	ctx := c.Request.Context()
	e, err := h.cfg.Store.ElectionGetByID(ctx, electionID)
	if errors.Is(err, store.ErrNotFound) {
		abort(c, http.StatusNotFound, "not_found", "no election has this id; see GET /v1/elections", field)
		return store.Election{}, "", false
	}
	if err != nil {
		h.adminUnavailable(c, "operator: find election", err)
		return store.Election{}, "", false
	}
	if state := strings.ToUpper(c.Query("state")); state != "" && state != e.State {
		abort(c, http.StatusNotFound, "not_found", "this election is in "+e.State+", not "+state, "state")
		return store.Election{}, "", false
	}
	county := c.Query("county")
	if county == "" {
		return e, "", true
	}
	if !countyPattern.MatchString(county) {
		abort(c, http.StatusBadRequest, "invalid_field", "county must be a county code as in GET /v1/jurisdictions, e.g. denver", "county")
		return store.Election{}, "", false
	}
	if _, err := h.cfg.Store.JurisdictionGetByCounty(ctx, e.State, county); errors.Is(err, store.ErrNotFound) {
		abort(c, http.StatusNotFound, "not_found", "no county "+county+" is configured in "+e.State, "county")
		return store.Election{}, "", false
	} else if err != nil {
		h.adminUnavailable(c, "operator: find county", err)
		return store.Election{}, "", false
	}
	return e, county, true
}

type countyCountsJSON struct {
	County   string           `json:"county"`
	Total    int64            `json:"total"`
	ByStatus map[string]int64 `json:"by_status"`
}

// noStatus names, in reports, ballots whose workflow has not recorded a status yet.
const noStatus = "none"

// getElectionCounts counts an election's ballots by county and status.
func (h *handlers) getElectionCounts(c *gin.Context) {
	asCSV, ok := wantsCSV(c)
	if !ok {
		return
	}
	e, county, ok := h.reportScope(c, c.Param("id"))
	if !ok {
		return
	}
	counts, err := h.cfg.Store.BallotCountByStatus(c.Request.Context(), e.ID, county)
	if err != nil {
		h.adminUnavailable(c, "operator: ballot counts", err)
		return
	}
	for i := range counts {
		if counts[i].Status == "" {
			counts[i].Status = noStatus
		}
	}
	slices.SortStableFunc(counts, func(a, b store.BallotCount) int {
		if a.County != b.County {
			return strings.Compare(a.County, b.County)
		}
		return statusOrder(a.Status) - statusOrder(b.Status)
	})
	if asCSV {
		w := startCSV(c, "counts-"+e.ID+suffix(county), "county", "status", "ballots")
		for _, n := range counts {
			w.row(n.County, n.Status, strconv.FormatInt(n.Ballots, 10))
		}
		w.finish(h, nil)
		return
	}
	total := int64(0)
	byStatus := map[string]int64{}
	counties := []countyCountsJSON{}
	for _, n := range counts {
		if len(counties) == 0 || counties[len(counties)-1].County != n.County {
			counties = append(counties, countyCountsJSON{County: n.County, ByStatus: map[string]int64{}})
		}
		cc := &counties[len(counties)-1]
		cc.Total += n.Ballots
		cc.ByStatus[n.Status] = n.Ballots
		byStatus[n.Status] += n.Ballots
		total += n.Ballots
	}
	c.JSON(http.StatusOK, gin.H{"election_id": e.ID, "state": e.State, "county": county, "total": total,
		"statuses": presentStatuses(byStatus), "by_status": byStatus, "counties": counties})
}

// statusOrder orders statuses as a ballot lives them; "none" first, unknown ones last.
func statusOrder(s string) int {
	if s == noStatus {
		return -1
	}
	for i, st := range ballot.Statuses {
		if string(st) == s {
			return i
		}
	}
	return len(ballot.Statuses)
}

// presentStatuses lists the statuses that have a count, in the order of a ballot's life.
func presentStatuses[V any](counts map[string]V) []string {
	out := make([]string, 0, len(counts))
	for s := range counts {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := statusOrder(a) - statusOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

type dayCountsJSON struct {
	Date   string           `json:"date"` // YYYY-MM-DD in time_zone
	Total  int64            `json:"total"`
	Counts map[string]int64 `json:"counts"`
}

// getStatusOverTime answers, for each day from the first status recorded to today (or the
// end of the canvass, if earlier), how many ballots ended the day at each status.
func (h *handlers) getStatusOverTime(c *gin.Context) {
	asCSV, ok := wantsCSV(c)
	if !ok {
		return
	}
	e, county, ok := h.reportScope(c, c.Param("id"))
	if !ok {
		return
	}
	ctx := c.Request.Context()
	tz, err := h.cfg.Store.JurisdictionGetReportTimeZone(ctx, e.State, county)
	if err != nil {
		h.adminUnavailable(c, "operator: report time zone", err)
		return
	}
	loc, err := tzdb.Load(tz)
	if err != nil {
		loc, tz = time.UTC, "UTC"
	}
	deltas, err := h.cfg.Store.BallotListStatusDeltas(ctx, e.ID, county, tz)
	if err != nil {
		h.adminUnavailable(c, "operator: status over time", err)
		return
	}
	days := dailyCounts(deltas, time.Now().In(loc), e.CanvassEndsAt.In(loc))
	seen := map[string]bool{}
	for _, d := range deltas {
		seen[d.Status] = true
	}
	statuses := presentStatuses(seen)
	for _, d := range days {
		for _, s := range statuses {
			if _, ok := d.Counts[s]; !ok {
				d.Counts[s] = 0
			}
		}
	}
	if !asCSV {
		c.JSON(http.StatusOK, gin.H{"election_id": e.ID, "state": e.State, "county": county, "time_zone": tz,
			"statuses": statuses, "days": days})
		return
	}
	w := startCSV(c, "status-over-time-"+e.ID+suffix(county), append([]string{"date"}, statuses...)...)
	for _, d := range days {
		row := []string{d.Date}
		for _, s := range statuses {
			row = append(row, strconv.FormatInt(d.Counts[s], 10))
		}
		w.row(row...)
	}
	w.finish(h, nil)
}

// dailyCounts sums deltas into the ballots at each status at the end of each day, from the
// first day with a change to today (local dates of now), or the canvass's last day if that
// is earlier, but never before the last change; at most maxReportDays days, the latest.
func dailyCounts(deltas []store.StatusDelta, now, canvassEnds time.Time) []dayCountsJSON {
	if len(deltas) == 0 {
		return []dayCountsJSON{}
	}
	date := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	first := date(deltas[0].Day)
	last := date(deltas[len(deltas)-1].Day)
	end := date(now)
	if ce := date(canvassEnds); ce.Before(end) {
		end = ce
	}
	if end.After(last) {
		last = end
	}
	running := map[string]int64{}
	out := []dayCountsJSON{}
	i := 0
	for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
		for ; i < len(deltas) && !date(deltas[i].Day).After(day); i++ {
			running[deltas[i].Status] += deltas[i].Delta
		}
		d := dayCountsJSON{Date: day.Format(time.DateOnly), Counts: make(map[string]int64, len(running))}
		for s, n := range running {
			d.Counts[s] = n
			d.Total += n
		}
		out = append(out, d)
	}
	if len(out) > maxReportDays {
		out = out[len(out)-maxReportDays:]
	}
	return out
}

type unreachableJSON struct {
	VoterID       string   `json:"voter_id"`
	County        string   `json:"county"`
	Reason        string   `json:"reason"`
	Detail        string   `json:"detail"`
	Channels      []string `json:"channels"`
	WorkflowID    string   `json:"workflow_id"`
	TemporalUIURL string   `json:"temporal_ui_url,omitempty"`
}

func (h *handlers) unreachableView(u store.Unreachable) unreachableJSON {
	id := ballot.WorkflowID(u.ElectionID, u.BallotKey)
	return unreachableJSON{VoterID: u.VoterID, County: u.County, Reason: u.Reason, Detail: unreachableDetail(u),
		Channels: u.Channels, WorkflowID: id, TemporalUIURL: h.temporalURL(id)}
}

// unreachableDetail says in a few words, and without an address, why a voter is listed.
func unreachableDetail(u store.Unreachable) string {
	var parts []string
	switch u.Reason {
	case store.UnreachableNoActiveChannel:
		if len(u.Channels) == 0 {
			return "no email or phone on file"
		}
		for _, ch := range u.Channels {
			parts = append(parts, strings.Replace(ch, ":", " ", 1))
		}
		return strings.ReplaceAll(strings.Join(parts, ", "), ballot.SubscriptionOptedOut, "opted out")
	case store.UnreachableLatestNoticeFail:
		for _, t := range u.Tried {
			parts = append(parts, strings.Replace(t, ":", " ", 1))
		}
		return "latest notice (" + u.LatestNotice + "): " + strings.Join(parts, ", ")
	default:
		for _, ch := range u.Channels {
			if name, state, _ := strings.Cut(ch, ":"); state == ballot.SubscriptionBounced {
				parts = append(parts, name)
			}
		}
		return strings.Join(parts, ", ") + " bounced"
	}
}

// getUnreachable lists the voters with a ballot in an election who cannot be reached. JSON
// answers hold at most ?limit= rows (1000 by default, 10000 at most; "truncated" says when
// there were more); CSV exports stream every row.
func (h *handlers) getUnreachable(c *gin.Context) {
	asCSV, ok := wantsCSV(c)
	if !ok {
		return
	}
	limit := defaultReportRows
	if s := c.Query("limit"); s != "" && !asCSV {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxReportRows {
			abort(c, http.StatusBadRequest, "invalid_field", fmt.Sprintf("limit must be a number from 1 to %d", maxReportRows), "limit")
			return
		}
		limit = n
	}
	e, county, ok := h.reportScope(c, c.Query("election_id"))
	if !ok {
		return
	}
	ctx := c.Request.Context()
	filter := store.UnreachableFilter{ElectionID: e.ID, County: county}
	if asCSV {
		var w *csvStream
		err := h.cfg.Store.VoterEachUnreachable(ctx, filter, func(u store.Unreachable) error {
			if w == nil {
				w = startCSV(c, "unreachable-"+e.ID+suffix(county), unreachableHeader...)
			}
			v := h.unreachableView(u)
			w.row(v.VoterID, v.County, v.Reason, v.Detail, strings.Join(v.Channels, " "), v.WorkflowID, v.TemporalUIURL)
			return w.err()
		})
		if w == nil {
			if err != nil {
				h.adminUnavailable(c, "operator: unreachable voters", err)
				return
			}
			w = startCSV(c, "unreachable-"+e.ID+suffix(county), unreachableHeader...)
		}
		w.finish(h, err)
		return
	}
	filter.Limit = limit + 1
	rows := []unreachableJSON{}
	err := h.cfg.Store.VoterEachUnreachable(ctx, filter, func(u store.Unreachable) error {
		rows = append(rows, h.unreachableView(u))
		return nil
	})
	if err != nil {
		h.adminUnavailable(c, "operator: unreachable voters", err)
		return
	}
	truncated := len(rows) > limit
	if truncated {
		rows = rows[:limit]
	}
	c.JSON(http.StatusOK, gin.H{"election_id": e.ID, "state": e.State, "county": county, "voters": rows, "truncated": truncated})
}

var unreachableHeader = []string{"voter_id", "county", "reason", "detail", "channels", "workflow_id", "temporal_ui_url"}

func suffix(county string) string {
	if county == "" {
		return ""
	}
	return "-" + county
}
