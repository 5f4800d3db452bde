package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// USPS Intelligent Mail tracking (migration 016): the envelope barcodes a "mailed" event
// gives (registered by BallotEventRecord and EventImportLoadBatch), and the IV-MTR scans of
// them (MailScanRecordBatch). Only tracking codes are kept, never a routing code (an
// outbound envelope's is the voter's ZIP+4 and delivery point); scans of barcodes no ballot
// has are counted per county and day, never stored.

// Directions of an envelope.
const (
	MailOutbound = "outbound"
	MailReturn   = "return"
)

// ErrBarcodeInUse: an envelope barcode of the event is registered for another ballot, or
// for the other direction, in the same county and election. See BarcodeInUseError.
var ErrBarcodeInUse = errors.New("the envelope barcode is registered for another ballot")

// BarcodeInUseError says which of an event's barcodes is in use (MailOutbound or
// MailReturn). It is ErrBarcodeInUse.
type BarcodeInUseError struct{ Direction string }

func (e *BarcodeInUseError) Error() string {
	return "the " + e.Direction + " envelope barcode is registered for another ballot or direction"
}

func (e *BarcodeInUseError) Is(target error) bool { return target == ErrBarcodeInUse }

// registerBarcodes registers the envelope barcodes of a new "mailed" event for its ballot,
// by piece key (usps.IMb.PieceKey: the tracking code without its 2-digit barcode ID).
// Registering a barcode again for the same ballot and direction changes nothing; one
// registered for another ballot or direction is a *BarcodeInUseError.
func registerBarcodes(ctx context.Context, tx pgx.Tx, eventRef int64, b Ballot, e BallotEvent) error {
	for _, env := range []struct{ direction, code string }{{MailOutbound, e.OutboundIMb}, {MailReturn, e.ReturnIMb}} {
		if env.code == "" {
			continue
		}
		var ballotRef int64
		var direction string
		err := tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO mail_barcodes (jurisdiction_id, election_id, piece_key, ballot_ref, direction, event_ref, mailed_at)
				VALUES ($1, $2, substr($3, 3), $4, $5, $6, $7)
				ON CONFLICT (jurisdiction_id, piece_key, election_id) DO NOTHING
				RETURNING ballot_ref, direction)
			SELECT ballot_ref, direction FROM ins
			UNION ALL
			SELECT ballot_ref, direction FROM mail_barcodes
			WHERE jurisdiction_id = $1 AND piece_key = substr($3, 3) AND election_id = $2
			LIMIT 1`,
			b.JurisdictionID, b.ElectionID, env.code, b.Ref, env.direction, eventRef, e.OccurredAt).Scan(&ballotRef, &direction)
		if err != nil {
			return fmt.Errorf("register %s envelope barcode: %w", env.direction, err)
		}
		if ballotRef != b.Ref || direction != env.direction {
			return &BarcodeInUseError{Direction: env.direction}
		}
	}
	return nil
}

// MailScanScope is whose scans are matched: the barcodes of a state's ballots, or of one
// county's (County set); KeyID is the API key that sent them (0 for none).
type MailScanScope struct {
	State  string
	County string
	KeyID  int64
}

// StagedMailScan is one checked IV-MTR scan and its line (or position) in what was sent.
type StagedMailScan struct {
	Line          int
	PieceKey      string // usps.IMb.PieceKey
	ScannedAt     time.Time
	OperationCode string
	FacilityZIP   string
	FacilityName  string
	FacilityCity  string
	FacilityState string
}

// MailScan is one stored scan of a ballot's envelope.
type MailScan struct {
	Ref           int64
	Direction     string
	ScannedAt     time.Time
	OperationCode string
	FacilityZIP   string
	FacilityName  string
	FacilityCity  string
	FacilityState string
	ReceivedAt    time.Time
}

// StoredMailScan is a scan MailScanRecordBatch stored for the first time, with its ballot.
type StoredMailScan struct {
	MailScan
	Ballot Ballot
	// DirectionNotified: a scan of this ballot in this direction was handed on before
	// (MailScanMarkNotified).
	DirectionNotified bool
}

// MailScanCounts is what MailScanRecordBatch did with a batch. Matched + Duplicates +
// Unknown is the number of scans given.
type MailScanCounts struct {
	Matched    int // stored: scans of known envelopes not stored before
	Duplicates int // scans of known envelopes stored before, or twice in the batch
	Unknown    int // scans of barcodes no ballot in the scope has: counted, not stored
	Stored     []StoredMailScan
}

// MailScanRecordBatch matches a batch of scans to the envelopes of scope's ballots and
// stores them, in one transaction: a scan is stored once however often it is sent (by its
// envelope, time, operation code and facility ZIP), and scans no ballot in scope has are
// only counted, on day (UTC) for scope's county. A barcode registered in several elections
// is matched to the envelope mailed last before the scan (with a day's grace for clocks).
// An error stores nothing, and counts nothing.
func (s *Store) MailScanRecordBatch(ctx context.Context, scope MailScanScope, scans []StagedMailScan, day time.Time) (MailScanCounts, error) {
	var out MailScanCounts
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = MailScanCounts{}
		_, err := tx.Exec(ctx, `
			CREATE TEMP TABLE staged_mail_scans (
				line integer NOT NULL, piece_key text NOT NULL, scanned_at timestamptz NOT NULL,
				operation_code text NOT NULL, facility_zip text NOT NULL, facility_name text NOT NULL,
				facility_city text NOT NULL, facility_state text NOT NULL,
				barcode_ref bigint, ballot_ref bigint, direction text
			) ON COMMIT DROP`)
		if err != nil {
			return fmt.Errorf("create scan staging table: %w", err)
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"staged_mail_scans"}, []string{"line", "piece_key", "scanned_at",
			"operation_code", "facility_zip", "facility_name", "facility_city", "facility_state"},
			pgx.CopyFromSlice(len(scans), func(i int) ([]any, error) {
				sc := scans[i]
				return []any{int32(sc.Line), sc.PieceKey, sc.ScannedAt, sc.OperationCode, sc.FacilityZIP, sc.FacilityName,
					sc.FacilityCity, sc.FacilityState}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy scans into staging: %w", err)
		}
		if _, err := tx.Exec(ctx, `ANALYZE staged_mail_scans`); err != nil {
			return fmt.Errorf("analyze scan staging table: %w", err)
		}
		_, err = tx.Exec(ctx, `
			UPDATE staged_mail_scans s SET barcode_ref = m.id, ballot_ref = m.ballot_ref, direction = m.direction
			FROM (
				SELECT DISTINCT ON (s.line) s.line, mb.id, mb.ballot_ref, mb.direction
				FROM staged_mail_scans s
				JOIN mail_barcodes mb ON mb.piece_key = s.piece_key
					AND mb.jurisdiction_id IN (SELECT id FROM jurisdictions WHERE state = $1 AND ($2 = '' OR county = $2))
				ORDER BY s.line, (mb.mailed_at <= s.scanned_at + interval '1 day') DESC, mb.mailed_at DESC, mb.id DESC
			) m
			WHERE s.line = m.line`, scope.State, scope.County)
		if err != nil {
			return fmt.Errorf("match scans to envelopes: %w", err)
		}
		var known int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM staged_mail_scans WHERE barcode_ref IS NOT NULL`).Scan(&known); err != nil {
			return fmt.Errorf("count matched scans: %w", err)
		}
		out.Unknown = len(scans) - known
		if out.Unknown > 0 {
			_, err := tx.Exec(ctx, `
				INSERT INTO mail_scan_unknown_counts (state, county, day, scans) VALUES ($1, $2, $3, $4)
				ON CONFLICT (state, county, day) DO UPDATE SET scans = mail_scan_unknown_counts.scans + EXCLUDED.scans`,
				scope.State, scope.County, dateOnly(day.UTC()), out.Unknown)
			if err != nil {
				return fmt.Errorf("count unknown scans: %w", err)
			}
		}
		var receivedBy *int64
		if scope.KeyID != 0 {
			receivedBy = &scope.KeyID
		}
		rows, err := tx.Query(ctx, `
			WITH ins AS (
				INSERT INTO mail_scans (ballot_ref, barcode_ref, direction, scanned_at, facility_zip, facility_name,
					facility_city, facility_state, operation_code, received_by)
				SELECT ballot_ref, barcode_ref, direction, scanned_at, facility_zip, facility_name, facility_city,
					facility_state, operation_code, $1
				FROM staged_mail_scans WHERE barcode_ref IS NOT NULL ORDER BY line
				ON CONFLICT (barcode_ref, scanned_at, operation_code, facility_zip) DO NOTHING
				RETURNING id, ballot_ref, direction, scanned_at, operation_code, facility_zip, facility_name, facility_city,
					facility_state, received_at)
			SELECT ins.id, ins.direction, ins.scanned_at, ins.operation_code, ins.facility_zip, ins.facility_name,
				ins.facility_city, ins.facility_state, ins.received_at,
				b.id, b.key, b.jurisdiction_id, j.state, j.county, b.election_id, coalesce(b.ballot_id, ''),
				coalesce(b.voter_ref, 0), coalesce(b.status, ''), b.status_at,
				EXISTS (SELECT 1 FROM mail_scans n
					WHERE n.ballot_ref = ins.ballot_ref AND n.direction = ins.direction AND n.notified_at IS NOT NULL)
			FROM ins JOIN ballots b ON b.id = ins.ballot_ref JOIN jurisdictions j ON j.id = b.jurisdiction_id
			ORDER BY ins.id`, receivedBy)
		if err != nil {
			return fmt.Errorf("store scans: %w", err)
		}
		out.Stored, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (StoredMailScan, error) {
			var st StoredMailScan
			m, b := &st.MailScan, &st.Ballot
			err := row.Scan(&m.Ref, &m.Direction, &m.ScannedAt, &m.OperationCode, &m.FacilityZIP, &m.FacilityName,
				&m.FacilityCity, &m.FacilityState, &m.ReceivedAt,
				&b.Ref, &b.Key, &b.JurisdictionID, &b.State, &b.County, &b.ElectionID, &b.BallotID, &b.VoterRef,
				&b.Status, &b.StatusAt, &st.DirectionNotified)
			return st, err
		})
		if err != nil {
			return fmt.Errorf("store scans: %w", err)
		}
		out.Matched = len(out.Stored)
		out.Duplicates = known - out.Matched
		return nil
	})
	if err != nil {
		return MailScanCounts{}, err
	}
	return out, nil
}

// MailScanMarkNotified records that scans were handed on to their ballots' workflows.
func (s *Store) MailScanMarkNotified(ctx context.Context, refs []int64) error {
	if len(refs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE mail_scans SET notified_at = now() WHERE id = ANY($1) AND notified_at IS NULL`, refs)
	if err != nil {
		return fmt.Errorf("mark scans notified: %w", err)
	}
	return nil
}

// MailScanUnknownCount is how many scans of unknown barcodes a county (empty: a state's
// own uploads) sent on day (UTC).
func (s *Store) MailScanUnknownCount(ctx context.Context, state, county string, day time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(scans), 0) FROM mail_scan_unknown_counts WHERE state = $1 AND county = $2 AND day = $3`,
		state, county, dateOnly(day.UTC())).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unknown scan count: %w", err)
	}
	return n, nil
}

// mailScanHistories returns the stored scans of each ballot in refs, in the order they were
// scanned (an empty slice for a ballot with none). The operators' ballot histories and the
// portal use it.
func (s *Store) mailScanHistories(ctx context.Context, refs []int64) (map[int64][]MailScan, error) {
	out := make(map[int64][]MailScan, len(refs))
	for _, ref := range refs {
		out[ref] = []MailScan{}
	}
	if len(refs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT ballot_ref, id, direction, scanned_at, operation_code, facility_zip, facility_name, facility_city,
			facility_state, received_at
		FROM mail_scans WHERE ballot_ref = ANY($1) ORDER BY scanned_at, id`, refs)
	if err != nil {
		return nil, fmt.Errorf("mail scans of ballots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref int64
		var m MailScan
		if err := rows.Scan(&ref, &m.Ref, &m.Direction, &m.ScannedAt, &m.OperationCode, &m.FacilityZIP, &m.FacilityName,
			&m.FacilityCity, &m.FacilityState, &m.ReceivedAt); err != nil {
			return nil, fmt.Errorf("mail scans of ballots: %w", err)
		}
		out[ref] = append(out[ref], m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mail scans of ballots: %w", err)
	}
	return out, nil
}

// latestMailScans keeps the latest scan of each direction, outbound first.
func latestMailScans(scans []MailScan) []MailScan {
	var out, ret *MailScan
	for i := range scans {
		switch scans[i].Direction {
		case MailOutbound:
			out = &scans[i]
		case MailReturn:
			ret = &scans[i]
		}
	}
	latest := []MailScan{}
	for _, m := range []*MailScan{out, ret} {
		if m != nil {
			latest = append(latest, *m)
		}
	}
	return latest
}

// barcodesInUse refuses the staged rows of an event import whose envelope barcodes are
// registered for another ballot or direction, or that another row of the batch gives for
// another ballot or direction first: as a single post's *BarcodeInUseError.
func (l *eventLoader) barcodesInUse(ctx context.Context) error {
	for _, env := range []struct{ direction, column, code string }{
		{MailOutbound, "outbound_imb", RefusedOutboundIMbInUse}, {MailReturn, "return_imb", RefusedReturnIMbInUse},
	} {
		if err := l.refuse(ctx, env.code, fmt.Sprintf(`
			DELETE FROM bulk_events s USING mail_barcodes mb
			WHERE s.%[1]s <> '' AND mb.jurisdiction_id = s.jurisdiction_id AND mb.election_id = s.election_id
				AND mb.piece_key = substr(s.%[1]s, 3) AND (mb.ballot_ref <> s.ballot_ref OR mb.direction <> $1)
			RETURNING s.line`, env.column), env.direction); err != nil {
			return err
		}
	}
	rows, err := l.tx.Query(ctx, `
		WITH keys AS (
			SELECT line, jurisdiction_id, election_id, ballot_ref, 'outbound' AS direction, substr(outbound_imb, 3) AS piece_key
			FROM bulk_events WHERE outbound_imb <> ''
			UNION ALL
			SELECT line, jurisdiction_id, election_id, ballot_ref, 'return', substr(return_imb, 3)
			FROM bulk_events WHERE return_imb <> ''),
		first AS (
			SELECT DISTINCT ON (jurisdiction_id, election_id, piece_key) * FROM keys
			ORDER BY jurisdiction_id, election_id, piece_key, line),
		clash AS (
			SELECT DISTINCT ON (k.line) k.line, k.direction FROM keys k JOIN first f
				ON f.jurisdiction_id = k.jurisdiction_id AND f.election_id = k.election_id AND f.piece_key = k.piece_key
			WHERE f.ballot_ref <> k.ballot_ref OR f.direction <> k.direction
			ORDER BY k.line, k.direction)
		DELETE FROM bulk_events s USING clash c WHERE s.line = c.line
		RETURNING s.line, c.direction`)
	if err != nil {
		return fmt.Errorf("refuse events with barcodes in use: %w", err)
	}
	var line int32
	var direction string
	_, err = pgx.ForEachRow(rows, []any{&line, &direction}, func() error {
		code := RefusedOutboundIMbInUse
		if direction == MailReturn {
			code = RefusedReturnIMbInUse
		}
		l.out.Refused = append(l.out.Refused, EventRefusal{Line: int(line), Code: code})
		return nil
	})
	if err != nil {
		return fmt.Errorf("refuse events with barcodes in use: %w", err)
	}
	return nil
}

// registerBarcodes registers the envelope barcodes of the events the batch inserted.
func (l *eventLoader) registerBarcodes(ctx context.Context) error {
	_, err := l.tx.Exec(ctx, `
		INSERT INTO mail_barcodes (jurisdiction_id, election_id, piece_key, ballot_ref, direction, event_ref, mailed_at)
		SELECT jurisdiction_id, election_id, substr(outbound_imb, 3), ballot_ref, 'outbound', event_ref, occurred_at
		FROM bulk_events WHERE event_ref IS NOT NULL AND outbound_imb <> ''
		UNION ALL
		SELECT jurisdiction_id, election_id, substr(return_imb, 3), ballot_ref, 'return', event_ref, occurred_at
		FROM bulk_events WHERE event_ref IS NOT NULL AND return_imb <> ''
		ON CONFLICT (jurisdiction_id, piece_key, election_id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("register envelope barcodes of events: %w", err)
	}
	return nil
}
