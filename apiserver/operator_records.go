package apiserver

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/store"
)

// An election's records, for the election office to keep before the retention purge removes
// the personal data in them: every county event and every delivery of a notice, ballot by
// ballot, as CSV. The API streams them to operators; `ballotflow elections export` writes
// the same file. Each export is audited.

// ElectionRecordsHeader is the header row of an election's records.
var ElectionRecordsHeader = []string{
	"record", "county", "ballot_id", "voter_id", "status", "occurred_at", "received_at", "event_id", "reason",
	"cure_deadline", "notice", "channel", "attempts", "provider_id", "outcome", "detail", "settled_at",
}

// electionRecordRow is one record as a row under ElectionRecordsHeader.
func electionRecordRow(r store.ElectionRecord) []string {
	notice, attempts := "", ""
	if r.Kind == store.RecordDelivery {
		notice, attempts = strconv.Itoa(r.Notice), strconv.Itoa(r.Attempts)
	}
	occurred := r.OccurredAt
	return []string{r.Kind, r.County, r.BallotID, r.VoterID, r.Status, timeCell(&occurred), timeCell(r.ReceivedAt),
		r.EventID, r.Reason, r.CureDeadline, notice, r.Channel, attempts, r.ProviderID, r.Outcome, r.Detail,
		timeCell(r.SettledAt)}
}

// auditExport records who took an election's records: the file holds voters' ids.
func auditExport(ctx context.Context, st *store.Store, actor, electionID, county string) error {
	return st.Audit(ctx, actor, "election.export", "election:"+electionID, map[string]any{"county": county})
}

// ExportElectionRecords writes the records of an election (of one county when county is not
// empty) to w as CSV, as the API's export does, and audits the export as actor. It returns
// the rows written after the header. An election whose purge has begun is
// store.ErrElectionPurged, and nothing is written.
func ExportElectionRecords(ctx context.Context, st *store.Store, w io.Writer, electionID, county, actor string) (int, error) {
	cw := csv.NewWriter(w)
	rows, started := 0, false
	start := func() error {
		if started {
			return nil
		}
		started = true
		if err := auditExport(ctx, st, actor, electionID, county); err != nil {
			return err
		}
		return cw.Write(ElectionRecordsHeader)
	}
	err := st.ElectionEachRecord(ctx, electionID, county, func(r store.ElectionRecord) error {
		if err := start(); err != nil {
			return err
		}
		rows++
		return cw.Write(formulaSafe(electionRecordRow(r)))
	})
	if err == nil {
		err = start()
	}
	cw.Flush()
	return rows, errors.Join(err, cw.Error())
}

// getElectionRecords streams an election's records (?county= for one county) as CSV. Once the
// election's purge has begun it answers 409: only its counts remain.
func (h *handlers) getElectionRecords(c *gin.Context) {
	e, county, ok := h.reportScope(c, c.Param("id"))
	if !ok {
		return
	}
	if e.PurgeStartedAt != nil {
		h.electionPurged(c, e)
		return
	}
	ctx := c.Request.Context()
	actor := apiKey(c).Actor()
	var w *csvStream
	start := func() error {
		if err := auditExport(ctx, h.cfg.Store, actor, e.ID, county); err != nil {
			return err
		}
		w = startCSV(c, "records-"+e.ID+suffix(county), ElectionRecordsHeader...)
		return nil
	}
	err := h.cfg.Store.ElectionEachRecord(ctx, e.ID, county, func(r store.ElectionRecord) error {
		if w == nil {
			if err := start(); err != nil {
				return err
			}
		}
		w.row(electionRecordRow(r)...)
		return w.err()
	})
	if w == nil {
		switch {
		case errors.Is(err, store.ErrElectionPurged):
			h.electionPurged(c, e) // its purge began since the election was read
			return
		case err == nil:
			err = start()
		}
		if err != nil {
			h.adminUnavailable(c, "operator: election records", err)
			return
		}
	}
	w.finish(h, err)
}

// electionPurged answers 409 for the records of an election whose purge has begun.
func (h *handlers) electionPurged(c *gin.Context, e store.Election) {
	msg := "the records period of this election ended on " + e.RecordsUntil.Format(time.DateOnly) +
		" and its personal data are being purged; only its counts remain"
	if e.PurgedAt != nil {
		msg = fmt.Sprintf("the records period of this election ended on %s and its personal data were purged on %s; "+
			"only its counts remain", e.RecordsUntil.Format(time.DateOnly), e.PurgedAt.UTC().Format(time.DateOnly))
	}
	abort(c, http.StatusConflict, "election_purged", msg, "id")
}
