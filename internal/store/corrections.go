package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ImportCorrections is the kind of an import that corrects another: one correction per event
// of the import it names (EventImport.CorrectsImport).
const ImportCorrections = "corrections"

// Why an import cannot be corrected.
var (
	// ErrNotCorrectable: only a ballot events import that is done (all its events signaled)
	// can be corrected.
	ErrNotCorrectable = errors.New("only a finished import of ballot events can be corrected")
	// ErrCorrectionPending: a correction of the import is still loading, held or signaling.
	ErrCorrectionPending = errors.New("a correction of this import is under way")
	// ErrNothingToCorrect: every event of the import was corrected already.
	ErrNothingToCorrect = errors.New("every event of this import was corrected already")
)

// CorrectionCounts says, for the events of one status in an import, what a correction would
// do: tell the voters who heard the status (Told), return the ballot quietly when they did
// not (NotTold), only mark the event where a later status stands (LaterStatusStands), and
// nothing where the event never moved its ballot (NotApplied) or was corrected already.
type CorrectionCounts struct {
	Status            string
	Told              int
	NotTold           int
	LaterStatusStands int
	NotApplied        int
	CorrectedAlready  int
}

// ImportCorrectionPreview counts, by status, what correcting the signaled events of import
// importID would do, from what PostgreSQL knows: the ballot's recorded status and status
// history, and the notices delivered (a notice accepted by the provider counts as told).
// The corrections of import pending (0 for none), the held correction being decided on,
// are not counted as corrections already made; discarded ones never are.
func (s *Store) ImportCorrectionPreview(ctx context.Context, importID, pending int64) ([]CorrectionCounts, error) {
	rows, err := s.pool.Query(ctx, `
		WITH ev AS (
			SELECT e.event_id, e.jurisdiction_id, e.ballot_ref, e.status, e.occurred_at, b.status AS current, b.status_at
			FROM ballot_events e JOIN ballots b ON b.id = e.ballot_ref
			WHERE e.import_id = $1 AND e.signaled_at IS NOT NULL AND e.discarded_at IS NULL AND e.corrects IS NULL),
		judged AS (
			SELECT ev.status,
				EXISTS (SELECT 1 FROM ballot_events c WHERE c.jurisdiction_id = ev.jurisdiction_id AND c.corrects = ev.event_id
					AND c.discarded_at IS NULL AND c.import_id IS DISTINCT FROM $2)
					OR coalesce(h.corrected_at IS NOT NULL, false) AS corrected,
				h.id IS NOT NULL AS moved,
				ev.current IS NOT DISTINCT FROM ev.status AND ev.status_at = ev.occurred_at AS current,
				EXISTS (SELECT 1 FROM deliveries d WHERE d.ballot_ref = ev.ballot_ref AND d.notice_status = ev.status
					AND d.state IN ('accepted', 'delivered')) AS told
			FROM ev LEFT JOIN ballot_status_history h
				ON h.ballot_ref = ev.ballot_ref AND h.status = ev.status AND h.occurred_at = ev.occurred_at)
		SELECT status,
			count(*) FILTER (WHERE NOT corrected AND moved AND current AND told),
			count(*) FILTER (WHERE NOT corrected AND moved AND current AND NOT told),
			count(*) FILTER (WHERE NOT corrected AND moved AND NOT current),
			count(*) FILTER (WHERE NOT corrected AND NOT moved),
			count(*) FILTER (WHERE corrected)
		FROM judged GROUP BY status ORDER BY status`, importID, pending)
	if err != nil {
		return nil, fmt.Errorf("preview correction of import %d: %w", importID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CorrectionCounts, error) {
		var c CorrectionCounts
		err := row.Scan(&c.Status, &c.Told, &c.NotTold, &c.LaterStatusStands, &c.NotApplied, &c.CorrectedAlready)
		return c, err
	})
}

// ImportCorrectionCreate creates the import that corrects import importID on behalf of actor:
// one correction event per signaled event of it not corrected yet, each saying the ballot's
// status is right ("" for the status it had before the event). It is "checking" at once: its
// workflow holds it for an operator's decision. It returns the new import's id and its
// number of events; nothing is stored when it fails.
func (s *Store) ImportCorrectionCreate(ctx context.Context, importID int64, right, actor string) (int64, int, error) {
	var id int64
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var kind, status string
		err := tx.QueryRow(ctx, `SELECT kind, status FROM imports WHERE id = $1 FOR UPDATE`, importID).Scan(&kind, &status)
		if err != nil {
			return notFound(err, fmt.Sprintf("import %d", importID))
		}
		if kind != ImportBallotEvents || status != ImportDone {
			return ErrNotCorrectable
		}
		var pending bool
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM imports WHERE corrects_import = $1
			AND status IN ('loading', 'checking', 'held', 'signaling'))`, importID).Scan(&pending)
		if err != nil {
			return fmt.Errorf("find corrections under way: %w", err)
		}
		if pending {
			return ErrCorrectionPending
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO imports (kind, state, county, actor, status, corrects_import)
			SELECT $2, state, county, $3, 'checking', id FROM imports WHERE id = $1 RETURNING id`,
			importID, ImportCorrections, actor).Scan(&id)
		if err != nil {
			return fmt.Errorf("create correction import: %w", err)
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO ballot_events (jurisdiction_id, event_id, ballot_ref, status, occurred_at, corrects, import_id)
			SELECT e.jurisdiction_id, 'fix-' || $2::bigint || '-' || e.id, e.ballot_ref, $3, now(), e.event_id, $2
			FROM ballot_events e
			WHERE e.import_id = $1 AND e.signaled_at IS NOT NULL AND e.discarded_at IS NULL AND e.corrects IS NULL
				AND NOT EXISTS (SELECT 1 FROM ballot_events c WHERE c.jurisdiction_id = e.jurisdiction_id AND c.corrects = e.event_id
					AND c.discarded_at IS NULL)
			ORDER BY e.id`, importID, id, right)
		if err != nil {
			return fmt.Errorf("store corrections: %w", err)
		}
		n = int(tag.RowsAffected())
		if n == 0 {
			return ErrNothingToCorrect
		}
		_, err = tx.Exec(ctx, `UPDATE imports SET rows = $2, accepted = $2 WHERE id = $1`, id, n)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return id, n, nil
}
