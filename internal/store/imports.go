package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ImportBallotEvents is the kind of an import of a file of ballot events.
const ImportBallotEvents = "ballot_events"

// Statuses of an event import. loading: the file is being stored; checking: stored, its
// ingestion workflow compares it with the ballots' current statuses; held: too many of its
// events would move ballots backwards, an operator decides; signaling: its events are
// being delivered to their ballot workflows; done; rejected: an operator refused it, and
// none of its events will ever be signaled; failed: the load broke off (a later import of
// the same rows takes over the ones it stored).
const (
	ImportLoading   = "loading"
	ImportChecking  = "checking"
	ImportHeld      = "held"
	ImportSignaling = "signaling"
	ImportDone      = "done"
	ImportRejected  = "rejected"
	ImportFailed    = "failed"
)

// staleLoad is how long an import may sit in "loading" without a sign of life (a batch
// stored, or the loader's lease renewed by EventImportTouchLoad) before its stored rows are taken to
// be abandoned (the process loading it died). EventImportFailStale marks such imports failed.
const staleLoad = 15 * time.Minute

// LoadLease is how often a process loading an import renews its lease (EventImportTouchLoad), and
// StaleLoadAfter how long an import may go without a renewal before EventImportFailStale
// takes its loader to be dead: several leases, so a slow database is not mistaken for one.
const (
	LoadLease      = 20 * time.Second
	StaleLoadAfter = 2 * time.Minute
)

// ErrImportNotLoading is returned when a batch is stored for an import that is no longer
// loading: it was marked failed meanwhile (its loader was taken for dead).
var ErrImportNotLoading = errors.New("the import is no longer loading")

// MaxImportRejectionsKept is how many rejections of an import are kept for GET /v1/imports/{id};
// all are counted.
const MaxImportRejectionsKept = 1000

// EventImport is one file of ballot events and what became of it.
type EventImport struct {
	ID           int64
	Kind         string
	State        string
	County       string // empty for a state's import
	Actor        string
	Status       string
	Rows         int // data rows read
	Accepted     int // events stored for this import to signal
	Duplicates   int
	Rejected     int
	Signaled     int
	Backwards    int // events older than their ballot's current status
	Inconsistent int // events after a final status, or cured without a challenge
	DecidedBy    string
	DecidedAt    *time.Time
	// FailureReason says why a failed import stopped, and what to do.
	FailureReason string
	// CorrectsImport, for an import of kind ImportCorrections, is the import it corrects.
	CorrectsImport int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// EventScope is who imports: a state, or one county of it (County set), and the API key
// (0 for the command line).
type EventScope struct {
	State  string
	County string
	KeyID  int64
}

// EventImportCreate starts an import of ballot events for scope on behalf of actor and
// returns its id. The import is "loading" until EventImportFinishLoad or EventImportFail.
func (s *Store) EventImportCreate(ctx context.Context, scope EventScope, actor string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO imports (kind, state, county, actor) VALUES ($1, $2, NULLIF($3, ''), $4) RETURNING id`,
		ImportBallotEvents, scope.State, scope.County, actor).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create event import: %w", err)
	}
	return id, nil
}

const importColumns = `SELECT id, kind, state, coalesce(county, ''), actor, status, rows, accepted, duplicates, rejected,
	signaled, backwards, inconsistent, coalesce(decided_by, ''), decided_at, coalesce(failure_reason, ''),
	coalesce(corrects_import, 0), created_at, updated_at FROM imports`

// EventImportGetByID returns an import; ErrNotFound when there is none.
func (s *Store) EventImportGetByID(ctx context.Context, id int64) (EventImport, error) {
	var im EventImport
	err := s.pool.QueryRow(ctx, importColumns+` WHERE id = $1`, id).Scan(&im.ID, &im.Kind, &im.State, &im.County,
		&im.Actor, &im.Status, &im.Rows, &im.Accepted, &im.Duplicates, &im.Rejected, &im.Signaled, &im.Backwards,
		&im.Inconsistent, &im.DecidedBy, &im.DecidedAt, &im.FailureReason, &im.CorrectsImport, &im.CreatedAt, &im.UpdatedAt)
	if err != nil {
		return EventImport{}, notFound(err, fmt.Sprintf("import %d", id))
	}
	return im, nil
}

// StagedEvent is one validated row of an events file and the line it came from.
type StagedEvent struct {
	Line         int
	EventID      string
	ElectionID   string
	VoterID      string
	BallotID     string
	Status       string
	OccurredAt   time.Time
	Reason       string
	CureDeadline *time.Time
	// OutboundIMb and ReturnIMb are envelope tracking codes, as on BallotEvent; empty for none.
	OutboundIMb string
	ReturnIMb   string
	// Corrects makes the row a correction, as on BallotEvent; empty for none.
	Corrects string
}

// Why the database side of an event import refuses a row; the caller words the message.
const (
	RefusedUnknownElection  = "unknown_election"
	RefusedCanvassClosed    = "canvass_closed"
	RefusedUnknownVoter     = "unknown_voter"
	RefusedOtherCounty      = "other_county"
	RefusedEventIDReused    = "event_id_reused"
	RefusedBallotOtherVoter = "ballot_of_other_voter"
	// An envelope barcode registered for another ballot or direction (see ErrBarcodeInUse).
	RefusedOutboundIMbInUse = "outbound_imb_in_use"
	RefusedReturnIMbInUse   = "return_imb_in_use"
	// RefusedCorrectsUnknown: a correction names no event recorded for its ballot (one earlier
	// in the same batch is not recorded yet).
	RefusedCorrectsUnknown = "corrects_unknown"
)

// EventRefusal is a row EventImportLoadBatch refused: its line, why, and for an event_id repeated
// within the file with other content, the line that used it first.
type EventRefusal struct {
	Line      int
	Code      string
	FirstLine int
}

// EventBatch is one batch of a file: how many rows were read (valid or not), the valid ones,
// and how many were rejected before reaching the database.
type EventBatch struct {
	Rows     int
	Events   []StagedEvent
	Rejected int
}

// EventBatchCounts is what EventImportLoadBatch did with a batch's valid rows.
type EventBatchCounts struct {
	Accepted   int // stored for this import (new, or taken over from an abandoned import)
	Duplicates int // recorded before with the same content, or repeated in the file
	Refused    []EventRefusal
}

// EventImportLoadBatch stores a batch of an event import in one transaction, as BallotEventRecord would
// store each event, set-based: the rows are copied into a temporary staging table, checked
// against the elections, the roll and the scope, and inserted into ballots and
// ballot_events with import_id set and signaled_at NULL (the import's workflow signals
// them). An event_id recorded before is a duplicate when its content is the same and
// refused otherwise; so is one repeated in the file. A duplicate of an unsignaled event of
// an import that failed (or died loading) is taken over by this import, so sending a file
// again after a broken upload signals every event once. The import's counts are updated in
// the same transaction.
func (s *Store) EventImportLoadBatch(ctx context.Context, importID int64, scope EventScope, b EventBatch) (EventBatchCounts, error) {
	var out EventBatchCounts
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = EventBatchCounts{}
		l := eventLoader{tx: tx, importID: importID, scope: scope, out: &out}
		if err := l.stage(ctx, b.Events); err != nil {
			return err
		}
		if err := l.resolve(ctx); err != nil {
			return err
		}
		if err := l.store(ctx); err != nil {
			return err
		}
		// Only while loading: an import marked failed meanwhile (its loader taken for dead) keeps
		// none of this batch, and the uploader is told to send the file again.
		tag, err := tx.Exec(ctx, `
			UPDATE imports SET rows = rows + $2, accepted = accepted + $3, duplicates = duplicates + $4,
				rejected = rejected + $5, updated_at = greatest(updated_at, clock_timestamp())
			WHERE id = $1 AND status = 'loading'`, importID, b.Rows, out.Accepted, out.Duplicates, b.Rejected+len(out.Refused))
		if err != nil {
			return fmt.Errorf("count import batch: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("store batch of import %d: %w", importID, ErrImportNotLoading)
		}
		return nil
	})
	if err != nil {
		return EventBatchCounts{}, err
	}
	return out, nil
}

// eventLoader is one EventImportLoadBatch transaction; its steps work on the staging table.
type eventLoader struct {
	tx       pgx.Tx
	importID int64
	scope    EventScope
	out      *EventBatchCounts
}

func (l *eventLoader) stage(ctx context.Context, events []StagedEvent) error {
	_, err := l.tx.Exec(ctx, `
		CREATE TEMP TABLE bulk_events (
			line integer NOT NULL, event_id text NOT NULL, election_id text NOT NULL, voter_id text NOT NULL,
			ballot_id text NOT NULL, status text NOT NULL, occurred_at timestamptz NOT NULL, reason text NOT NULL,
			cure_deadline date, new_key text NOT NULL, outbound_imb text NOT NULL, return_imb text NOT NULL,
			corrects text NOT NULL, voter_ref bigint, county text, jurisdiction_id text, ballot_ref bigint, event_ref bigint
		) ON COMMIT DROP`)
	if err != nil {
		return fmt.Errorf("create event staging table: %w", err)
	}
	_, err = l.tx.CopyFrom(ctx, pgx.Identifier{"bulk_events"}, []string{"line", "event_id", "election_id", "voter_id",
		"ballot_id", "status", "occurred_at", "reason", "cure_deadline", "new_key", "outbound_imb", "return_imb", "corrects"},
		pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
			e := events[i]
			// A key for the ballot in case this row creates it; only the first row of a new
			// ballot's key is used.
			key, err := newBallotKey()
			if err != nil {
				return nil, err
			}
			return []any{int32(e.Line), e.EventID, e.ElectionID, e.VoterID, e.BallotID, e.Status, e.OccurredAt,
				e.Reason, e.CureDeadline, key, e.OutboundIMb, e.ReturnIMb, e.Corrects}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy events into staging: %w", err)
	}
	// Temporary tables are never analyzed on their own; the joins below need row counts.
	if _, err := l.tx.Exec(ctx, `ANALYZE bulk_events`); err != nil {
		return fmt.Errorf("analyze event staging table: %w", err)
	}
	return nil
}

// resolve refuses rows of unknown elections, unknown voters and other counties, finds each
// row's jurisdiction and ballot, and takes out the rows that repeat an event_id.
func (l *eventLoader) resolve(ctx context.Context) error {
	if err := l.refuse(ctx, RefusedUnknownElection, `
		DELETE FROM bulk_events s
		WHERE NOT EXISTS (SELECT 1 FROM elections e WHERE e.id = s.election_id AND e.state = $1)
		RETURNING line`, l.scope.State); err != nil {
		return err
	}
	// After the canvass the ballot workflows are closed: such an event could never be delivered.
	if err := l.refuse(ctx, RefusedCanvassClosed, `
		DELETE FROM bulk_events s USING elections e
		WHERE e.id = s.election_id AND e.canvass_ends_at <= now()
		RETURNING line`); err != nil {
		return err
	}
	_, err := l.tx.Exec(ctx, `
		UPDATE bulk_events s SET voter_ref = v.id, county = v.county, jurisdiction_id = lower(v.state) || '-' || v.county
		FROM voters v WHERE v.state = $1 AND v.voter_id = s.voter_id`, l.scope.State)
	if err != nil {
		return fmt.Errorf("find voters of events: %w", err)
	}
	if err := l.refuse(ctx, RefusedUnknownVoter, `DELETE FROM bulk_events WHERE voter_ref IS NULL RETURNING line`); err != nil {
		return err
	}
	if l.scope.County != "" {
		if err := l.refuse(ctx, RefusedOtherCounty, `
			DELETE FROM bulk_events WHERE county <> $1 RETURNING line`, l.scope.County); err != nil {
			return err
		}
	}
	if err := l.repeatedInBatch(ctx); err != nil {
		return err
	}
	_, err = l.tx.Exec(ctx, `
		UPDATE bulk_events s SET ballot_ref = b.id FROM ballots b
		WHERE b.jurisdiction_id = s.jurisdiction_id AND b.election_id = s.election_id AND b.ballot_id = s.ballot_id`)
	if err != nil {
		return fmt.Errorf("find ballots of events: %w", err)
	}
	if err := l.refuse(ctx, RefusedBallotOtherVoter, `
		DELETE FROM bulk_events s USING ballots b WHERE b.id = s.ballot_ref AND b.voter_ref <> s.voter_ref
		RETURNING s.line`); err != nil {
		return err
	}
	// A correction's event must be recorded for its ballot already (so its ballot exists too).
	return l.refuse(ctx, RefusedCorrectsUnknown, `
		DELETE FROM bulk_events s WHERE s.corrects <> '' AND (s.ballot_ref IS NULL OR NOT EXISTS (
			SELECT 1 FROM ballot_events e
			WHERE e.jurisdiction_id = s.jurisdiction_id AND e.event_id = s.corrects AND e.ballot_ref = s.ballot_ref))
		RETURNING s.line`)
}

// repeatedInBatch keeps the first row of each (jurisdiction, event_id) of the batch: a later
// row with the same content is a duplicate, one with other content is refused.
func (l *eventLoader) repeatedInBatch(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, `
		WITH first AS (
			SELECT DISTINCT ON (jurisdiction_id, event_id) * FROM bulk_events ORDER BY jurisdiction_id, event_id, line)
		DELETE FROM bulk_events s USING first f
		WHERE s.jurisdiction_id = f.jurisdiction_id AND s.event_id = f.event_id AND s.line <> f.line
		RETURNING s.line, f.line,
			(s.election_id, s.ballot_id, s.voter_ref, s.status, s.occurred_at, s.reason, s.cure_deadline, s.outbound_imb, s.return_imb,
				s.corrects)
				IS NOT DISTINCT FROM (f.election_id, f.ballot_id, f.voter_ref, f.status, f.occurred_at, f.reason, f.cure_deadline,
					f.outbound_imb, f.return_imb, f.corrects)`)
	if err != nil {
		return fmt.Errorf("find repeated event ids: %w", err)
	}
	var line, first int32
	var same bool
	_, err = pgx.ForEachRow(rows, []any{&line, &first, &same}, func() error {
		if same {
			l.out.Duplicates++
		} else {
			l.out.Refused = append(l.out.Refused, EventRefusal{Line: int(line), Code: RefusedEventIDReused, FirstLine: int(first)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find repeated event ids: %w", err)
	}
	return nil
}

// store classifies the rows whose event_id is recorded already, creates the missing ballots,
// and inserts the new events. Rows another writer recorded meanwhile are classified after.
func (l *eventLoader) store(ctx context.Context) error {
	if err := l.recordedBefore(ctx); err != nil {
		return err
	}
	_, err := l.tx.Exec(ctx, `
		INSERT INTO ballots (key, jurisdiction_id, election_id, ballot_id, voter_ref)
		SELECT DISTINCT ON (jurisdiction_id, election_id, ballot_id) new_key, jurisdiction_id, election_id, ballot_id, voter_ref
		FROM bulk_events WHERE ballot_ref IS NULL
		ORDER BY jurisdiction_id, election_id, ballot_id, line
		ON CONFLICT (jurisdiction_id, election_id, ballot_id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("insert ballots of events: %w", err)
	}
	_, err = l.tx.Exec(ctx, `
		UPDATE bulk_events s SET ballot_ref = b.id FROM ballots b
		WHERE s.ballot_ref IS NULL AND b.jurisdiction_id = s.jurisdiction_id AND b.election_id = s.election_id
			AND b.ballot_id = s.ballot_id`)
	if err != nil {
		return fmt.Errorf("find new ballots of events: %w", err)
	}
	// Two rows of the batch that create the same ballot for different voters: the first wins.
	if err := l.refuse(ctx, RefusedBallotOtherVoter, `
		DELETE FROM bulk_events s USING ballots b WHERE b.id = s.ballot_ref AND b.voter_ref <> s.voter_ref
		RETURNING s.line`); err != nil {
		return err
	}
	if err := l.barcodesInUse(ctx); err != nil {
		return err
	}
	var receivedBy *int64
	if l.scope.KeyID != 0 {
		receivedBy = &l.scope.KeyID
	}
	// ORDER BY line gives the events ids in file order: the workflow signals in id order.
	tag, err := l.tx.Exec(ctx, `
		WITH ins AS (
			INSERT INTO ballot_events (jurisdiction_id, event_id, ballot_ref, status, occurred_at, reason, cure_deadline,
				received_by, import_id, outbound_imb, return_imb, corrects)
			SELECT jurisdiction_id, event_id, ballot_ref, status, occurred_at, reason, cure_deadline, $2, $1,
				NULLIF(outbound_imb, ''), NULLIF(return_imb, ''), NULLIF(corrects, '')
			FROM bulk_events ORDER BY line
			ON CONFLICT (jurisdiction_id, event_id) DO NOTHING
			RETURNING id, jurisdiction_id, event_id)
		UPDATE bulk_events s SET event_ref = ins.id FROM ins
		WHERE s.jurisdiction_id = ins.jurisdiction_id AND s.event_id = ins.event_id`, l.importID, receivedBy)
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	l.out.Accepted += int(tag.RowsAffected())
	if err := l.registerBarcodes(ctx); err != nil {
		return err
	}
	return l.recordedBefore(ctx)
}

// recordedBefore takes out the staged rows, not yet inserted, whose event_id is recorded:
// duplicates when the content is the same (taking over those of an abandoned import),
// refused otherwise.
func (l *eventLoader) recordedBefore(ctx context.Context) error {
	rows, err := l.tx.Query(ctx, `
		DELETE FROM bulk_events s USING ballot_events e
		WHERE s.event_ref IS NULL AND e.jurisdiction_id = s.jurisdiction_id AND e.event_id = s.event_id
		RETURNING s.line, e.id,
			coalesce(e.ballot_ref = s.ballot_ref, false) AND e.status = s.status AND e.occurred_at = s.occurred_at
				AND e.reason = s.reason AND e.cure_deadline IS NOT DISTINCT FROM s.cure_deadline
				AND coalesce(e.outbound_imb, '') = s.outbound_imb AND coalesce(e.return_imb, '') = s.return_imb
				AND coalesce(e.corrects, '') = s.corrects`)
	if err != nil {
		return fmt.Errorf("find recorded events: %w", err)
	}
	var line int32
	var eventRef int64
	var same bool
	var dups []int64
	_, err = pgx.ForEachRow(rows, []any{&line, &eventRef, &same}, func() error {
		if same {
			dups = append(dups, eventRef)
		} else {
			l.out.Refused = append(l.out.Refused, EventRefusal{Line: int(line), Code: RefusedEventIDReused})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find recorded events: %w", err)
	}
	if len(dups) == 0 {
		return nil
	}
	// Planned with the ids each time (QueryExecModeExec), never from the cached statement's
	// generic plan: that plan cannot hash a parameter's list, and compared every unsignaled
	// event with every id of the batch, one by one (seconds per batch of a file sent again).
	tag, err := l.tx.Exec(ctx, `
		UPDATE ballot_events e SET import_id = $1
		FROM imports i
		WHERE e.id = ANY($2) AND i.id = e.import_id AND i.id <> $1 AND e.signaled_at IS NULL AND e.discarded_at IS NULL
			AND (i.status = 'failed' OR (i.status = 'loading' AND i.updated_at < now() - make_interval(secs => $3)))`,
		pgx.QueryExecModeExec, l.importID, dups, staleLoad.Seconds())
	if err != nil {
		return fmt.Errorf("take over events of an abandoned import: %w", err)
	}
	adopted := int(tag.RowsAffected())
	l.out.Accepted += adopted
	l.out.Duplicates += len(dups) - adopted
	return nil
}

// refuse runs a DELETE ... RETURNING line on the staging table and refuses each line with code.
func (l *eventLoader) refuse(ctx context.Context, code, sql string, args ...any) error {
	rows, err := l.tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("refuse events (%s): %w", code, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("refuse events (%s): %w", code, err)
	}
	for _, line := range lines {
		l.out.Refused = append(l.out.Refused, EventRefusal{Line: int(line), Code: code})
	}
	return nil
}

// ImportRejection is a rejected row of an import as kept for reading later.
type ImportRejection struct {
	Line   int
	Field  string
	Code   string
	Reason string
}

// ImportRejectionCreate keeps rejections of an import, up to MaxImportRejectionsKept in all.
func (s *Store) ImportRejectionCreate(ctx context.Context, importID int64, rs []ImportRejection) error {
	if len(rs) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var kept int
		// The lock serializes concurrent savers of one import, so the cap holds.
		if err := tx.QueryRow(ctx, `SELECT 1 FROM imports WHERE id = $1 FOR UPDATE`, importID).Scan(new(int)); err != nil {
			return notFound(err, fmt.Sprintf("import %d", importID))
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM import_rejections WHERE import_id = $1`, importID).Scan(&kept); err != nil {
			return fmt.Errorf("count import rejections: %w", err)
		}
		if room := MaxImportRejectionsKept - kept; len(rs) > room {
			rs = rs[:max(room, 0)]
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"import_rejections"}, []string{"import_id", "line", "field", "code", "reason"},
			pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
				return []any{importID, int32(rs[i].Line), rs[i].Field, rs[i].Code, rs[i].Reason}, nil
			}))
		if err != nil {
			return fmt.Errorf("save import rejections: %w", err)
		}
		return nil
	})
}

// ImportRejectionListByImport returns the kept rejections of an import, by line.
func (s *Store) ImportRejectionListByImport(ctx context.Context, importID int64) ([]ImportRejection, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT line, field, code, reason FROM import_rejections WHERE import_id = $1 ORDER BY line`, importID)
	if err != nil {
		return nil, fmt.Errorf("import rejections: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ImportRejection, error) {
		var r ImportRejection
		var line int32
		err := row.Scan(&line, &r.Field, &r.Code, &r.Reason)
		r.Line = int(line)
		return r, err
	})
}

// EventImportFinishLoad marks a loaded import "checking": its workflow may start. It does nothing
// to an import that moved on already, but an import the sweeper failed meanwhile (its loader
// taken for dead) is ErrImportNotLoading: it must not be handed to a workflow.
func (s *Store) EventImportFinishLoad(ctx context.Context, importID int64) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE imports SET status = 'checking', updated_at = clock_timestamp() WHERE id = $1 AND status = 'loading'`, importID)
	if err != nil {
		return fmt.Errorf("finish event load: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var status string
	if err := s.pool.QueryRow(ctx, `SELECT status FROM imports WHERE id = $1`, importID).Scan(&status); err != nil {
		return fmt.Errorf("finish event load: %w", notFound(err, "import"))
	}
	if status == ImportFailed {
		return fmt.Errorf("finish load of import %d: %w", importID, ErrImportNotLoading)
	}
	return nil
}

// Why an import failed, as GET /v1/imports/{id} shows it.
const (
	FailedBrokeOff = "the upload broke off before the end of the file. " + SendAgain
	FailedStale    = "the process loading this file stopped (no progress for several minutes). " + SendAgain
	SendAgain      = "Send the whole file again: rows stored already count as duplicates, and every event is signaled once."
)

// FailedUnreadable is why an import failed when a row tripped a fault in ballotflow's reader
// (reported to its operators with the stack): after which line, never the row's data.
func FailedUnreadable(afterLine int) string {
	return fmt.Sprintf("ballotflow could not read the row after line %d (a fault on our side, reported to the operators). "+
		"Check that row, then send the whole file again: rows stored already count as duplicates.", afterLine)
}

// EventImportFail marks an import whose load stopped "failed", saying why (FailedBrokeOff
// when reason is empty); the events it stored are taken over by the next import of the same
// rows.
func (s *Store) EventImportFail(ctx context.Context, importID int64, reason string) error {
	if reason == "" {
		reason = FailedBrokeOff
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE imports SET status = 'failed', failure_reason = coalesce(failure_reason, $2), updated_at = now()
		WHERE id = $1 AND status IN ('loading', 'checking')`, importID, reason)
	if err != nil {
		return fmt.Errorf("fail event import: %w", err)
	}
	return nil
}

// EventImportTouchLoad renews the lease of the process loading an import (every LoadLease), so that
// a slow upload between two batches is not taken for a dead one.
func (s *Store) EventImportTouchLoad(ctx context.Context, importID int64) error {
	// clock_timestamp, not now(): a stamp must never move back, and a batch's transaction
	// (which stamps too) may have begun long before it commits.
	_, err := s.pool.Exec(ctx, `UPDATE imports SET updated_at = greatest(updated_at, clock_timestamp())
		WHERE id = $1 AND status = 'loading'`, importID)
	if err != nil {
		return fmt.Errorf("renew load lease of import %d: %w", importID, err)
	}
	return nil
}

// EventImportFailStale marks failed the imports left "loading" with no sign of life for
// longer than staleAfter (by the database's clock, which also stamped the lease): the process
// loading them died. The events they stored are taken over by the next import of the same
// file. It returns their ids.
func (s *Store) EventImportFailStale(ctx context.Context, staleAfter time.Duration) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE imports SET status = 'failed', failure_reason = $2, updated_at = now()
		WHERE status = 'loading' AND updated_at < now() - make_interval(secs => $1)
		RETURNING id`, staleAfter.Seconds(), FailedStale)
	if err != nil {
		return nil, fmt.Errorf("fail stale imports: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("fail stale imports: %w", err)
	}
	return ids, nil
}

// ErrImportDecided is returned when an import's status cannot move as asked: it is no longer
// where the caller expected it.
var ErrImportDecided = errors.New("the import is not in a status that allows this")

// EventImportSetStatus moves an import to status from any of the statuses in from; decidedBy, when
// set, records the operator who approved or rejected it. ErrImportDecided when the import
// is in none of from (setting the status it already has is not an error).
func (s *Store) EventImportSetStatus(ctx context.Context, importID int64, status string, from []string, decidedBy string) error {
	var current string
	err := s.pool.QueryRow(ctx, `
		WITH old AS (SELECT status FROM imports WHERE id = $1),
		upd AS (
			UPDATE imports SET status = $2, updated_at = now(),
				decided_by = coalesce(NULLIF($4, ''), decided_by),
				decided_at = CASE WHEN $4 <> '' THEN coalesce(decided_at, now()) ELSE decided_at END
			WHERE id = $1 AND status = ANY($3))
		SELECT status FROM old`, importID, status, from, decidedBy).Scan(&current)
	if err != nil {
		return notFound(err, fmt.Sprintf("import %d", importID))
	}
	if current != status && !containsString(from, current) {
		return fmt.Errorf("import %d is %s, not %v: %w", importID, current, from, ErrImportDecided)
	}
	return nil
}

func containsString(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// EventImportDecide records that an operator decided a held import, once: ErrImportDecided when
// the import is not held or was decided already. EventImportUndecide takes it back when the
// decision could not be delivered to the import's workflow.
func (s *Store) EventImportDecide(ctx context.Context, importID int64, by string) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE imports SET decided_by = $2, decided_at = now(), updated_at = now()
		WHERE id = $1 AND status = 'held' AND decided_at IS NULL`, importID, by)
	if err != nil {
		return fmt.Errorf("decide import %d: %w", importID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("import %d: %w", importID, ErrImportDecided)
	}
	return nil
}

// EventImportUndecide forgets a decision EventImportDecide recorded, while the import is still held.
func (s *Store) EventImportUndecide(ctx context.Context, importID int64) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE imports SET decided_by = NULL, decided_at = NULL, updated_at = now() WHERE id = $1 AND status = 'held'`, importID)
	if err != nil {
		return fmt.Errorf("undecide import %d: %w", importID, err)
	}
	return nil
}

// StatusRule is how the workflows' status graph treats one status, for EventImportCheck:
// its stage (a ballot never moves to a lower one), whether nothing may follow it, and the
// status a ballot must have had before it ("" for none: cured requires challenged).
type StatusRule struct {
	Status   string
	Stage    int
	Final    bool
	Requires string
}

// ImportCheck is how an import compares with its ballots' current statuses.
type ImportCheck struct {
	Events       int // events of the import
	Backwards    int // would move a ballot to a lower stage than its current status
	Inconsistent int // after a final status, or without the status they require
}

// EventImportCheck compares the events of an import with the current status of their
// ballots (ballots.status, as the ballot workflows decided) under rules, and records the
// counts on the import. An event whose required status is earlier in the same import (a
// file with "challenged" then "cured") is consistent.
func (s *Store) EventImportCheck(ctx context.Context, importID int64, rules []StatusRule) (ImportCheck, error) {
	statuses := make([]string, len(rules))
	stages := make([]int32, len(rules))
	finals := make([]bool, len(rules))
	requires := make([]string, len(rules))
	for i, r := range rules {
		statuses[i], stages[i], finals[i], requires[i] = r.Status, int32(r.Stage), r.Final, r.Requires
	}
	var c ImportCheck
	err := s.pool.QueryRow(ctx, `
		WITH rule AS (
			SELECT * FROM unnest($2::text[], $3::int[], $4::bool[], $5::text[]) AS r(status, stage, final, requires)),
		ev AS (
			SELECT e.ballot_ref, e.status, e.occurred_at, b.status AS current, e.corrects IS NOT NULL AS fix
			FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref
			WHERE e.import_id = $1),
		-- Corrections move ballots back by design: they are never taken for a wrong file.
		judged AS (
			SELECT
				NOT ev.fix AND ev.status <> ev.current AND NOT cur.final AND nxt.stage < cur.stage AS backwards,
				NOT ev.fix AND ((ev.status <> ev.current AND cur.final)
					OR (nxt.requires <> '' AND ev.current IS DISTINCT FROM nxt.requires
						AND NOT EXISTS (SELECT 1 FROM ballot_events p
							WHERE p.import_id = $1 AND p.ballot_ref = ev.ballot_ref AND p.status = nxt.requires
								AND p.occurred_at <= ev.occurred_at))) AS inconsistent
			FROM ev JOIN rule nxt ON nxt.status = ev.status LEFT JOIN rule cur ON cur.status = ev.current)
		SELECT count(*), count(*) FILTER (WHERE coalesce(backwards, false) AND NOT coalesce(inconsistent, false)),
			count(*) FILTER (WHERE coalesce(inconsistent, false))
		FROM judged`, importID, statuses, stages, finals, requires).Scan(&c.Events, &c.Backwards, &c.Inconsistent)
	if err != nil {
		return ImportCheck{}, fmt.Errorf("check import %d: %w", importID, err)
	}
	_, err = s.pool.Exec(ctx, `UPDATE imports SET backwards = $2, inconsistent = $3, updated_at = now() WHERE id = $1`,
		importID, c.Backwards, c.Inconsistent)
	if err != nil {
		return ImportCheck{}, fmt.Errorf("record check of import %d: %w", importID, err)
	}
	return c, nil
}

// ImportedEvent is a stored event of an import, for its workflow to signal.
type ImportedEvent struct {
	UnsignaledEvent
	Signaled  bool // delivered already (by an earlier attempt, or by a single post of the same event)
	Discarded bool
	SetAside  bool // its signal can never succeed (BallotEventSetAside)
}

// BallotEventListByImport returns up to limit events of an import with an id above afterID, in id
// order, signaled or not: a page of the import is the same whoever read it before.
func (s *Store) BallotEventListByImport(ctx context.Context, importID, afterID int64, limit int) ([]ImportedEvent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.event_id, e.status, e.occurred_at, e.reason, e.cure_deadline, coalesce(e.corrects, ''),
			e.signaled_at IS NOT NULL, e.discarded_at IS NOT NULL, e.set_aside_at IS NOT NULL,
			b.id, b.key, b.jurisdiction_id, j.state, j.county, b.election_id, coalesce(b.ballot_id, ''), coalesce(b.voter_ref, 0),
			coalesce(b.status, ''), b.status_at
		FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref JOIN jurisdictions j ON j.id = b.jurisdiction_id
		WHERE e.import_id = $1 AND e.id > $2
		ORDER BY e.id LIMIT $3`, importID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("events of import %d: %w", importID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ImportedEvent, error) {
		var ie ImportedEvent
		u := &ie.UnsignaledEvent
		b := &u.Ballot
		err := row.Scan(&u.EventRef, &u.EventID, &u.Status, &u.OccurredAt, &u.Reason, &u.CureDeadline, &u.Corrects,
			&ie.Signaled, &ie.Discarded, &ie.SetAside,
			&b.Ref, &b.Key, &b.JurisdictionID, &b.State, &b.County, &b.ElectionID, &b.BallotID, &b.VoterRef,
			&b.Status, &b.StatusAt)
		return ie, err
	})
}

// EventImportSetSignaled records how many events of an import are signaled; it never lowers the
// count, so a retried page changes nothing.
func (s *Store) EventImportSetSignaled(ctx context.Context, importID int64, signaled int) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE imports SET signaled = greatest(signaled, $2), updated_at = now() WHERE id = $1`, importID, signaled)
	if err != nil {
		return fmt.Errorf("record signaled events of import %d: %w", importID, err)
	}
	return nil
}

// EventImportDiscard marks every unsignaled event of a rejected import discarded, so nothing ever
// signals it, and the import "rejected" with the operator who decided; in one transaction.
// It returns how many events it discarded (0 when called again).
func (s *Store) EventImportDiscard(ctx context.Context, importID int64, decidedBy string) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE ballot_events SET discarded_at = now()
			WHERE import_id = $1 AND signaled_at IS NULL AND discarded_at IS NULL`, importID)
		if err != nil {
			return fmt.Errorf("discard events of import %d: %w", importID, err)
		}
		n = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `
			UPDATE imports SET status = 'rejected', updated_at = now(),
				decided_by = coalesce(decided_by, NULLIF($2, '')), decided_at = coalesce(decided_at, now())
			WHERE id = $1`, importID, decidedBy)
		if err != nil {
			return fmt.Errorf("reject import %d: %w", importID, err)
		}
		return nil
	})
	return n, err
}

// EventImportListPending returns the ids of imports loaded before cutoff whose workflow has not
// taken them up yet ("checking"): the process that loaded them could not start it.
func (s *Store) EventImportListPending(ctx context.Context, cutoff time.Time, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id FROM imports WHERE status = 'checking' AND updated_at < $1 ORDER BY id LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("pending imports: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
