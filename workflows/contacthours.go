package workflows

import (
	"fmt"
	"time"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/tzdb"
)

// contactSlot returns when a notice may go out at the earliest (now, when now is inside the
// window) and when that window closes. Wall-clock times are resolved in the window's time
// zone for each calendar day, so a window keeps its local hours across daylight-saving
// changes. End at or before Start wraps midnight; Start equal to End means all day.
//
// Pure function of its inputs: safe in workflow code. Zones come from the repository's own
// copy of the time zone database (internal/tzdb), never the host's, so every worker and
// every replay resolves them alike.
func contactSlot(now time.Time, w activities.ContactWindow) (from, until time.Time, err error) {
	loc, err := tzdb.Load(w.TimeZone)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("contact hours time zone %q: %w", w.TimeZone, err)
	}
	sh, sm, err := parseClock(w.Start)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	eh, em, err := parseClock(w.End)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if sh == eh && sm == em {
		return now, time.Time{}, nil
	}
	wraps := eh*60+em <= sh*60+sm
	local := now.In(loc)
	// The window that contains now started today or, when it wraps midnight, yesterday;
	// otherwise the next one starts today or tomorrow.
	for day := -1; day <= 2; day++ {
		start := time.Date(local.Year(), local.Month(), local.Day()+day, sh, sm, 0, 0, loc)
		endDay := local.Day() + day
		if wraps {
			endDay++
		}
		end := time.Date(local.Year(), local.Month(), endDay, eh, em, 0, 0, loc)
		if !now.Before(end) {
			continue
		}
		if now.Before(start) {
			return start, end, nil
		}
		return now, end, nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("no contact window found after %s", now.Format(time.RFC3339))
}

func parseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("contact hour %q is not HH:MM", s)
	}
	return t.Hour(), t.Minute(), nil
}
