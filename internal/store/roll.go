package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Kinds of import.
const (
	ImportVoters        = "voters"
	ImportSubscriptions = "subscriptions"
)

// ErrImportRunning is returned by ImportBegin while another import for the same state runs.
var ErrImportRunning = errors.New("another voter roll or subscription import for this state is running")

// RollVoter is one validated row of a voter roll file and the line it came from.
type RollVoter struct {
	Line int
	Voter
}

// RollSubscription is one validated row of a file of previous subscriptions (voters enrolled
// in another system) and the line it came from. Of Subscription, Channel, Address, State,
// ContactStart, ContactEnd, TimeZone and Language are read.
type RollSubscription struct {
	Line    int
	VoterID string
	Subscription
}

// RowRejection is a row the database side of an import refused. It names the line and the
// field and never carries the row's data.
type RowRejection struct {
	Line   int
	Field  string
	Reason string
}

// BatchCounts is what loading one batch did.
type BatchCounts struct {
	Inserted  int
	Updated   int
	Unchanged int
	// Voters only: email subscriptions created for voters with an email and none yet, and
	// subscriptions turned off because their voter became confidential.
	Enrolled            int
	ConfidentialOptOuts int
	Rejected            []RowRejection
}

// Import loads one file for one state, batch after batch. It holds one connection for its
// whole life: the connection carries the session lock that keeps two imports of a state
// apart and the temporary table that finds repeated rows across batches. Each batch is
// first claimed on that connection, one after the other in the order of the file (Claim*),
// which takes out the rows an earlier batch had; it is then loaded in one transaction on a
// connection of the pool (Load*), so that several batches, which never share a row, can be
// loaded at once. An interrupted import leaves whole batches behind and sending the file
// again finishes it (every load is an upsert).
type Import struct {
	pool  *pgxpool.Pool
	conn  *pgxpool.Conn
	kind  string
	state string
	actor string
	start time.Time
	// firstLoad: the state had no voters when its import began, so every claimed voter is
	// new (only a roll import adds voters, and it holds the state's lock).
	firstLoad bool
}

// importLockClass is the first key of the advisory locks imports take; the second is the
// hash of the state.
const importLockClass = 7305

// ImportBegin starts an import of kind (ImportVoters or ImportSubscriptions) for a state on
// behalf of actor. It fails with ErrImportRunning while another import of the state runs.
// Finish must be called.
func (s *Store) ImportBegin(ctx context.Context, kind, state, actor string) (*Import, error) {
	if kind != ImportVoters && kind != ImportSubscriptions {
		return nil, fmt.Errorf("begin import: unknown kind %q", kind)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin %s import: %w", kind, err)
	}
	// Wait a few seconds for the lock rather than failing at once: an import that was just
	// cancelled releases it only when the server notices its closed connection.
	_, err = conn.Exec(ctx, `SET lock_timeout = '3s'`)
	if err == nil {
		_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext($2))`, importLockClass, state)
	}
	if _, resetErr := conn.Exec(ctx, `RESET lock_timeout`); resetErr != nil && err == nil {
		err = resetErr
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		conn.Release()
		return nil, ErrImportRunning
	}
	if err != nil {
		// The session may hold the lock or a setting: close it rather than pool it.
		_ = conn.Hijack().Close(context.Background())
		return nil, fmt.Errorf("begin %s import: lock %s: %w", kind, state, err)
	}
	im := &Import{pool: s.pool, conn: conn, kind: kind, state: state, actor: actor, start: time.Now()}
	if kind == ImportVoters {
		err := conn.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM voters WHERE state = $1)`, state).Scan(&im.firstLoad)
		if err != nil {
			im.discard()
			return nil, fmt.Errorf("begin %s import: %w", kind, err)
		}
	}
	// The keys seen so far in this file (voter_id, or voter_id/channel), with their line.
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE import_seen (key text PRIMARY KEY, line integer NOT NULL)`); err != nil {
		im.discard()
		return nil, fmt.Errorf("begin %s import: %w", kind, err)
	}
	return im, nil
}

// Finish records the import in the audit log, one row with its counts, and releases the
// connection. complete is false for an import that stopped before the end of its file.
func (im *Import) Finish(ctx context.Context, complete bool, counts map[string]any) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	detail := map[string]any{"complete": complete, "seconds": time.Since(im.start).Round(time.Millisecond).Seconds()}
	for k, v := range counts {
		detail[k] = v
	}
	err := audit(ctx, im.conn, im.actor, im.kind+".import", "state:"+im.state, detail)
	if err != nil {
		// A load cancelled in the middle of a statement leaves its connection closed; the
		// audit row goes through another one.
		im.discard()
		return audit(ctx, im.pool, im.actor, im.kind+".import", "state:"+im.state, detail)
	}
	_, err1 := im.conn.Exec(ctx, `DROP TABLE IF EXISTS import_seen`)
	_, err2 := im.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, importLockClass, im.state)
	if err1 != nil || err2 != nil {
		im.discard()
		return nil // the audit row is written; closing the connection released the lock
	}
	im.conn.Release()
	return nil
}

// discard closes the import's connection instead of returning it to the pool: closing
// releases the session lock and drops the temporary table whatever state they are in.
func (im *Import) discard() {
	c := im.conn.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// ClaimVoters takes out of a batch the rows whose voter_id an earlier row of the file had,
// in this batch or an earlier one, and rejects them with the line of the first. Batches
// are claimed one at a time in the order of the file, before they are loaded.
func (im *Import) ClaimVoters(ctx context.Context, rows []RollVoter) ([]RollVoter, []RowRejection, error) {
	if im.kind != ImportVoters {
		return nil, nil, fmt.Errorf("claim voters in a %s import", im.kind)
	}
	return claim(ctx, im, rows, func(r RollVoter) (string, int) { return r.VoterID, r.Line }, "voter_id", "voter_id")
}

// LoadVoters upserts a claimed batch of roll rows by (state, voter_id), in one transaction:
// the rows are copied into a temporary staging table and applied by one set-based statement
// that touches only voters whose registration actually changed. In the same statement,
// voters with an email and no email subscription are enrolled for email (auto_enrolled;
// never a confidential voter, never over an existing choice); an auto-enrolled email
// subscription that is active or bounced follows a changed roll email; the active and
// pending subscriptions of a voter who is now confidential are opted out, each with an
// audit row. Claimed batches may be loaded at once.
func (im *Import) LoadVoters(ctx context.Context, rows []RollVoter) (BatchCounts, error) {
	if im.kind != ImportVoters {
		return BatchCounts{}, fmt.Errorf("load voters into a %s import", im.kind)
	}
	if im.firstLoad {
		return im.insertVoters(ctx, rows)
	}
	var out BatchCounts
	err := pgx.BeginFunc(ctx, im.pool, func(tx pgx.Tx) error {
		if err := withoutJIT(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			CREATE TEMP TABLE roll_voters (
				line integer NOT NULL, voter_id text NOT NULL, county text NOT NULL, first_name text NOT NULL,
				middle_name text NOT NULL, last_name text NOT NULL, suffix text NOT NULL, date_of_birth date NOT NULL,
				residential_zip text NOT NULL, status text NOT NULL, confidential boolean NOT NULL, uocava boolean NOT NULL,
				language text NOT NULL, email text, phone text, lookup_first text NOT NULL, lookup_last text NOT NULL
			) ON COMMIT DROP`)
		if err != nil {
			return fmt.Errorf("create voter staging table: %w", err)
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"roll_voters"}, append([]string{"line"}, rollColumns...),
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rollValues(int32(rows[i].Line), rows[i]), nil }))
		if err != nil {
			return fmt.Errorf("copy voters into staging: %w", err)
		}
		err = tx.QueryRow(ctx, mergeVotersSQL, im.state, im.actor).
			Scan(&out.Inserted, &out.Updated, &out.Enrolled, &out.ConfidentialOptOuts)
		if err != nil {
			return fmt.Errorf("upsert voters: %w", err)
		}
		return nil
	})
	if err != nil {
		return BatchCounts{}, err
	}
	out.Unchanged = len(rows) - out.Inserted - out.Updated
	return out, nil
}

// rollColumns are the columns a roll row gives, in the order of rollValues after its first.
var rollColumns = []string{"voter_id", "county", "first_name", "middle_name", "last_name", "suffix",
	"date_of_birth", "residential_zip", "status", "confidential", "uocava", "language", "email", "phone",
	"lookup_first", "lookup_last"}

// rollValues is a roll row as COPY sends it, after first: the row's line (int32) into the
// staging table, or the state into voters.
func rollValues(first any, v RollVoter) []any {
	return []any{first, v.VoterID, v.County, v.FirstName, v.MiddleName, v.LastName, v.Suffix, v.DateOfBirth,
		v.ResidentialZIP, v.Status, v.Confidential, v.UOCAVA, v.Language, nullIfEmpty(v.Email), nullIfEmpty(v.Phone),
		Fold(v.FirstName), Fold(v.LastName)}
}

// insertVoters loads a claimed batch of a state's first roll, whose voters are all new, in
// one transaction: the rows are copied straight into voters, in the order of the file, and
// those with an email who are not confidential are enrolled for email, each finding its
// voter by the unique index (LATERAL ... OFFSET 0 is a probe per row, never a read of the
// roll). Nothing is staged and nothing compared: there is no voter to compare with, no
// subscription to follow or hide. This is what makes the first load of a large roll as
// fast as its tables allow.
func (im *Import) insertVoters(ctx context.Context, rows []RollVoter) (BatchCounts, error) {
	var out BatchCounts
	err := pgx.BeginFunc(ctx, im.pool, func(tx pgx.Tx) error {
		if err := withoutJIT(ctx, tx); err != nil {
			return err
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"voters"}, append([]string{"state"}, rollColumns...),
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rollValues(im.state, rows[i]), nil }))
		if err != nil {
			return fmt.Errorf("insert voters: %w", err)
		}
		out.Inserted = int(n)
		enroll := make([]string, 0, len(rows))
		for _, v := range rows {
			if v.Email != "" && !v.Confidential {
				enroll = append(enroll, v.VoterID)
			}
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO subscriptions (voter_ref, channel, address, state, source, consented_at)
			SELECT v.id, 'email', v.email, 'active', 'auto_enrolled', now()
			FROM unnest($2::text[]) AS e(voter_id)
			CROSS JOIN LATERAL (SELECT id, email FROM voters v WHERE v.state = $1 AND v.voter_id = e.voter_id OFFSET 0) v`,
			im.state, enroll)
		if err != nil {
			return fmt.Errorf("enroll voters for email: %w", err)
		}
		out.Enrolled = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return BatchCounts{}, err
	}
	return out, nil
}

// mergeVotersSQL applies the staged voters of state $1; $2 is the actor for audit rows.
//
// Each staged row first looks its voter up by the unique index (a scalar subquery is a probe
// per row, which the planner cannot turn into a scan of the roll), and a voter whose
// registration is unchanged goes no further: the upsert would lock it, and a lock is a
// write (a page dirtied, a WAL record), so re-sending a roll of millions wrote millions of
// them. Only new and changed voters come back from the upsert, so the subscription steps
// touch only them; they find subscriptions by their voter's index and by row address
// (LATERAL ... OFFSET 0, then ctid), never by reading the table, which a batch planned with
// stale statistics did once per changed voter. (The conditions on a voter's subscriptions
// stay outside the OFFSET 0 subquery, where no other index than their voter's can serve
// them.) A voter inserted now has no subscription yet to follow or hide. (xmax = 0) tells an
// inserted row from an updated one.
const mergeVotersSQL = `
WITH up AS (
	INSERT INTO voters AS v (state, voter_id, county, first_name, middle_name, last_name, suffix, date_of_birth,
		residential_zip, status, confidential, uocava, language, email, phone, lookup_first, lookup_last)
	SELECT $1, voter_id, county, first_name, middle_name, last_name, suffix, date_of_birth, residential_zip, status,
		confidential, uocava, language, email, phone, lookup_first, lookup_last
	FROM roll_voters s
	WHERE (SELECT true FROM voters o WHERE o.state = $1 AND o.voter_id = s.voter_id
		AND (o.county, o.first_name, o.middle_name, o.last_name, o.suffix, o.date_of_birth, o.residential_zip, o.status,
			o.confidential, o.uocava, o.language, o.email, o.phone, o.lookup_first, o.lookup_last)
		IS NOT DISTINCT FROM (s.county, s.first_name, s.middle_name, s.last_name, s.suffix, s.date_of_birth,
			s.residential_zip, s.status, s.confidential, s.uocava, s.language, s.email, s.phone, s.lookup_first,
			s.lookup_last)) IS NULL
	ORDER BY line
	ON CONFLICT (state, voter_id) DO UPDATE SET county = excluded.county, first_name = excluded.first_name,
		middle_name = excluded.middle_name, last_name = excluded.last_name, suffix = excluded.suffix,
		date_of_birth = excluded.date_of_birth, residential_zip = excluded.residential_zip, status = excluded.status,
		confidential = excluded.confidential, uocava = excluded.uocava, language = excluded.language,
		email = excluded.email, phone = excluded.phone, lookup_first = excluded.lookup_first,
		lookup_last = excluded.lookup_last, updated_at = now()
	WHERE (v.county, v.first_name, v.middle_name, v.last_name, v.suffix, v.date_of_birth, v.residential_zip, v.status,
			v.confidential, v.uocava, v.language, v.email, v.phone, v.lookup_first, v.lookup_last)
		IS DISTINCT FROM (excluded.county, excluded.first_name, excluded.middle_name, excluded.last_name, excluded.suffix,
			excluded.date_of_birth, excluded.residential_zip, excluded.status, excluded.confidential, excluded.uocava,
			excluded.language, excluded.email, excluded.phone, excluded.lookup_first, excluded.lookup_last)
	RETURNING v.id, (v.xmax = 0) AS inserted, v.confidential, v.email
), enrolled AS (
	INSERT INTO subscriptions (voter_ref, channel, address, state, source, consented_at)
	SELECT id, 'email', email, 'active', 'auto_enrolled', now() FROM up
	WHERE email IS NOT NULL AND NOT confidential
	ON CONFLICT (voter_ref, channel) DO NOTHING
	RETURNING 1
), followed AS (
	UPDATE subscriptions s SET address = f.email, state = 'active', updated_at = now()
	FROM (SELECT x.at, up.email FROM up CROSS JOIN LATERAL (
			SELECT ctid AS at, channel, source, state, address FROM subscriptions s WHERE s.voter_ref = up.id OFFSET 0) x
		WHERE NOT up.inserted AND up.email IS NOT NULL AND NOT up.confidential
			AND x.channel = 'email' AND x.source = 'auto_enrolled' AND x.state IN ('active', 'bounced')
			AND x.address <> up.email) f
	WHERE s.ctid = f.at
	RETURNING 1
), hidden AS (
	UPDATE subscriptions s SET state = 'opted_out', opted_out_at = now(), updated_at = now()
	FROM (SELECT x.at FROM up CROSS JOIN LATERAL (
			SELECT ctid AS at FROM subscriptions s WHERE s.voter_ref = up.id AND s.state IN ('active', 'pending')
			OFFSET 0) x
		WHERE NOT up.inserted AND up.confidential) f
	WHERE s.ctid = f.at
	RETURNING s.voter_ref, s.channel
), audited AS (
	INSERT INTO audit_log (actor, action, subject, detail)
	SELECT $2, 'subscription.opted_out', 'voter:' || voter_ref || '/' || channel, '{"reason": "confidential"}'::jsonb
	FROM hidden
	RETURNING 1
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
	(SELECT count(*) FROM enrolled), (SELECT count(*) FROM audited)
FROM up`

// ClaimSubscriptions takes out of a batch the rows whose (voter_id, channel) an earlier row
// of the file had, as ClaimVoters does.
func (im *Import) ClaimSubscriptions(ctx context.Context, rows []RollSubscription) ([]RollSubscription, []RowRejection, error) {
	if im.kind != ImportSubscriptions {
		return nil, nil, fmt.Errorf("claim subscriptions in a %s import", im.kind)
	}
	return claim(ctx, im, rows, func(r RollSubscription) (string, int) { return r.VoterID + "/" + r.Channel, r.Line },
		"channel", "voter_id and channel")
}

// LoadSubscriptions upserts a claimed batch of previous subscriptions by (voter, channel), in
// one transaction, with source "migrated". A subscription the voter opted out of is never
// re-activated, and one the voter chose here (portal, county-assisted) is kept: the import
// only creates subscriptions and updates auto-enrolled and migrated ones. Rows of voters not
// on the state's roll, or confidential, are rejected. Each row finds its voter by the unique
// index (a scalar subquery is a probe per row, which the planner cannot turn into a scan of
// the roll). Claimed batches may be loaded at once.
func (im *Import) LoadSubscriptions(ctx context.Context, rows []RollSubscription) (BatchCounts, error) {
	if im.kind != ImportSubscriptions {
		return BatchCounts{}, fmt.Errorf("load subscriptions into a %s import", im.kind)
	}
	var out BatchCounts
	err := pgx.BeginFunc(ctx, im.pool, func(tx pgx.Tx) error {
		if err := withoutJIT(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			CREATE TEMP TABLE roll_subscriptions (
				line integer NOT NULL, voter_id text NOT NULL, channel text NOT NULL, address text NOT NULL,
				state text NOT NULL, contact_start text, contact_end text, time_zone text, language text
			) ON COMMIT DROP`)
		if err != nil {
			return fmt.Errorf("create subscription staging table: %w", err)
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"roll_subscriptions"}, []string{"line", "voter_id", "channel", "address",
			"state", "contact_start", "contact_end", "time_zone", "language"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
				s := rows[i]
				return []any{int32(s.Line), s.VoterID, s.Channel, s.Address, s.State, nullIfEmpty(s.ContactStart),
					nullIfEmpty(s.ContactEnd), nullIfEmpty(s.TimeZone), nullIfEmpty(s.Language)}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy subscriptions into staging: %w", err)
		}
		unknown, err := dropRows(ctx, tx, `
			DELETE FROM roll_subscriptions s
			WHERE (SELECT true FROM voters v WHERE v.state = $1 AND v.voter_id = s.voter_id) IS NULL
			RETURNING line`, "voter_id", "no voter with this voter_id is on the "+im.state+" roll; sync the roll first", im.state)
		if err != nil {
			return err
		}
		out.Rejected = append(out.Rejected, unknown...)
		confidential, err := dropRows(ctx, tx, `
			DELETE FROM roll_subscriptions s
			WHERE (SELECT v.confidential FROM voters v WHERE v.state = $1 AND v.voter_id = s.voter_id)
			RETURNING s.line`, "voter_id", "the voter is confidential; confidential voters are never enrolled", im.state)
		if err != nil {
			return err
		}
		out.Rejected = append(out.Rejected, confidential...)
		if err := tx.QueryRow(ctx, upsertSubscriptionsSQL, im.state).Scan(&out.Inserted, &out.Updated); err != nil {
			return fmt.Errorf("upsert subscriptions: %w", err)
		}
		return nil
	})
	if err != nil {
		return BatchCounts{}, err
	}
	out.Unchanged = len(rows) - len(out.Rejected) - out.Inserted - out.Updated
	return out, nil
}

// upsertSubscriptionsSQL applies the staged subscriptions of state $1.
const upsertSubscriptionsSQL = `
WITH up AS (
	INSERT INTO subscriptions AS sub (voter_ref, channel, address, state, source, contact_start, contact_end,
		time_zone, language, consented_at, confirmed_at, opted_out_at)
	SELECT (SELECT v.id FROM voters v WHERE v.state = $1 AND v.voter_id = s.voter_id), s.channel, s.address, s.state,
		'migrated', s.contact_start::time, s.contact_end::time, s.time_zone, s.language,
		now(), CASE WHEN s.state = 'active' THEN now() END, CASE WHEN s.state = 'opted_out' THEN now() END
	FROM roll_subscriptions s
	ON CONFLICT (voter_ref, channel) DO UPDATE SET address = excluded.address, state = excluded.state,
		source = 'migrated', contact_start = excluded.contact_start, contact_end = excluded.contact_end,
		time_zone = excluded.time_zone, language = excluded.language, updated_at = now(),
		confirmed_at = CASE WHEN excluded.state = 'active' THEN coalesce(sub.confirmed_at, now()) ELSE sub.confirmed_at END,
		opted_out_at = CASE WHEN excluded.state = 'opted_out' THEN coalesce(sub.opted_out_at, now()) ELSE sub.opted_out_at END
	WHERE sub.state <> 'opted_out' AND sub.source IN ('auto_enrolled', 'migrated')
		AND (sub.address, sub.state, sub.source, sub.contact_start, sub.contact_end, sub.time_zone, sub.language)
			IS DISTINCT FROM (excluded.address, excluded.state, 'migrated', excluded.contact_start, excluded.contact_end,
				excluded.time_zone, excluded.language)
	RETURNING (sub.xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up`

// firstOfEachKey keeps the first row of each key in a batch and rejects the others, naming
// the line of the first.
func firstOfEachKey[T any](rows []T, key func(T) (string, int), field, what string) ([]T, []RowRejection) {
	first := make(map[string]int, len(rows))
	kept := make([]T, 0, len(rows))
	var rejected []RowRejection
	for _, r := range rows {
		k, line := key(r)
		if at, ok := first[k]; ok {
			rejected = append(rejected, repeated(line, at, field, what))
			continue
		}
		first[k] = line
		kept = append(kept, r)
	}
	return kept, rejected
}

func repeated(line, first int, field, what string) RowRejection {
	return RowRejection{Line: line, Field: field,
		Reason: fmt.Sprintf("repeats the %s of line %d; only the first is loaded", what, first)}
}

// claim keeps the first row of each key of a batch, and rejects the others with the line of
// the first: those whose key an earlier batch of the file claimed, which it finds in the
// import's table of keys seen, and those repeated within the batch. It records this
// batch's keys in that table. Each key is looked up by the table's index (a scalar
// subquery is a probe per row): the keys seen grow to the size of the file, and reading
// them all once per batch made a large file's load grow with the square of its rows. All
// in one statement, whose lookups see the table as it was before it.
func claim[T any](ctx context.Context, im *Import, rows []T, key func(T) (string, int), field, what string) ([]T, []RowRejection, error) {
	keys := make([]string, len(rows))
	lines := make([]int32, len(rows))
	for i, r := range rows {
		k, line := key(r)
		keys[i], lines[i] = k, int32(line)
	}
	dbRows, err := im.conn.Query(ctx, `
		WITH batch AS (SELECT * FROM unnest($1::text[], $2::integer[]) AS b(key, line)),
		remembered AS (INSERT INTO import_seen (key, line) SELECT key, line FROM batch ORDER BY line
			ON CONFLICT (key) DO NOTHING)
		SELECT line, first FROM (
			SELECT line, (SELECT seen.line FROM import_seen seen WHERE seen.key = batch.key) AS first FROM batch
		) repeated WHERE first IS NOT NULL`, keys, lines)
	if err != nil {
		return nil, nil, fmt.Errorf("find repeated rows: %w", err)
	}
	var rejected []RowRejection
	earlier := map[int]bool{}
	var line, first int32
	_, err = pgx.ForEachRow(dbRows, []any{&line, &first}, func() error {
		earlier[int(line)] = true
		rejected = append(rejected, repeated(int(line), int(first), field, what))
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find repeated rows: %w", err)
	}
	if len(earlier) > 0 {
		kept := make([]T, 0, len(rows))
		for _, r := range rows {
			if _, line := key(r); !earlier[line] {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	rows, inBatch := firstOfEachKey(rows, key, field, what)
	return rows, append(rejected, inBatch...), nil
}

// dropRows runs a DELETE ... RETURNING line on a staging table and rejects each line.
func dropRows(ctx context.Context, tx pgx.Tx, sql, field, reason string, args ...any) ([]RowRejection, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("refuse rows: %w", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("refuse rows: %w", err)
	}
	out := make([]RowRejection, len(lines))
	for i, l := range lines {
		out[i] = RowRejection{Line: int(l), Field: field, Reason: reason}
	}
	return out, nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
