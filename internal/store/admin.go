package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Outcomes of JurisdictionSave and ElectionSave.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// Errors of ElectionSave that are the caller's to fix.
var (
	// ErrElectionOfOtherState is returned when an election id is already used in another state.
	ErrElectionOfOtherState = errors.New("this election id is already used by another state")
	// ErrElectionPurged is returned when an election whose retention purge has begun would change.
	ErrElectionPurged = errors.New("the personal data of this election are purged or being purged; it can no longer change")
	// ErrRecordsBeforeCanvass is returned when an election's records would go before its canvass ends.
	ErrRecordsBeforeCanvass = errors.New("records_until must not be before the day the canvass ends (UTC)")
)

// JurisdictionSave creates a jurisdiction or updates the one of its state and county, and
// writes an audit row when anything changed. It says whether the jurisdiction was created,
// updated or unchanged.
func (s *Store) JurisdictionSave(ctx context.Context, j Jurisdiction, actor string) (Jurisdiction, string, error) {
	j.ID = JurisdictionID(j.State, j.County)
	outcome := Unchanged
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var inserted bool
		err := tx.QueryRow(ctx, `
			INSERT INTO jurisdictions AS j (id, state, county, name, time_zone, email_from, email_from_name, sms_from,
				voice_from, help_text, languages, reply_to, help_texts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, '{en,es}'::text[]), $12, $13)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone,
				email_from = excluded.email_from, email_from_name = excluded.email_from_name,
				sms_from = excluded.sms_from, voice_from = excluded.voice_from, help_text = excluded.help_text,
				languages = excluded.languages, reply_to = excluded.reply_to, help_texts = excluded.help_texts
			WHERE (j.name, j.time_zone, j.email_from, j.email_from_name, j.sms_from, j.voice_from, j.help_text, j.languages,
					j.reply_to, j.help_texts)
				IS DISTINCT FROM (excluded.name, excluded.time_zone, excluded.email_from, excluded.email_from_name,
					excluded.sms_from, excluded.voice_from, excluded.help_text, excluded.languages, excluded.reply_to,
					excluded.help_texts)
			RETURNING (j.xmax = 0)`,
			j.ID, j.State, j.County, j.Name, j.TimeZone, j.EmailFrom, j.EmailFromName, j.SMSFrom, j.VoiceFrom, j.HelpText,
			j.Languages, j.ReplyTo, helpTexts(j)).
			Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("save jurisdiction %s: %w", j.ID, err)
		}
		outcome = Updated
		if inserted {
			outcome = Created
		}
		return audit(ctx, tx, actor, "jurisdiction."+verb(outcome), "jurisdiction:"+j.ID, map[string]any{
			"name": j.Name, "time_zone": j.TimeZone, "email_from": j.EmailFrom, "email_from_name": j.EmailFromName,
			"sms_from": j.SMSFrom, "voice_from": j.VoiceFrom, "help_text": j.HelpText, "languages": j.Languages,
			"reply_to": j.ReplyTo, "help_texts": helpTexts(j),
		})
	})
	if err != nil {
		return Jurisdiction{}, "", err
	}
	return j, outcome, nil
}

// JurisdictionList returns the jurisdictions of a state, or of every state when state is
// empty, ordered by state and county.
func (s *Store) JurisdictionList(ctx context.Context, state string) ([]Jurisdiction, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text, languages,
			reply_to, help_texts
		FROM jurisdictions WHERE $1 = '' OR state = $1 ORDER BY state, county`, state)
	if err != nil {
		return nil, fmt.Errorf("list jurisdictions: %w", err)
	}
	js, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Jurisdiction, error) {
		var j Jurisdiction
		err := row.Scan(&j.ID, &j.State, &j.County, &j.Name, &j.TimeZone, &j.EmailFrom, &j.EmailFromName, &j.SMSFrom,
			&j.VoiceFrom, &j.HelpText, &j.Languages, &j.ReplyTo, &j.HelpTexts)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("list jurisdictions: %w", err)
	}
	return js, nil
}

// JurisdictionListStates returns the states that have at least one jurisdiction.
func (s *Store) JurisdictionListStates(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT state FROM jurisdictions ORDER BY state`)
	if err != nil {
		return nil, fmt.Errorf("list states: %w", err)
	}
	states, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list states: %w", err)
	}
	return states, nil
}

// ElectionSave creates an election or updates the one with its id in the same state, and
// writes an audit row when anything changed; it returns the election as saved. An id used by
// another state is ErrElectionOfOtherState, and an election whose retention purge has begun
// is ErrElectionPurged; nothing changes then.
//
// A zero RecordsUntil keeps the records period the election had: the default (election day
// + 22 months, never before the canvass ends; it follows a corrected election day) or the
// one chosen before. A chosen records_until that ends up before the day the canvass ends is
// ErrRecordsBeforeCanvass.
func (s *Store) ElectionSave(ctx context.Context, e Election, actor string) (Election, string, error) {
	outcome, saved := Unchanged, Election{}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		outcome = Unchanged
		var chosen *time.Time
		cur, err := scanElection(tx.QueryRow(ctx, `
			SELECT `+electionColumns+`, e.chosen_records_until FROM elections e WHERE e.id = $1 FOR UPDATE`, e.ID), &chosen)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("save election %s: %w", e.ID, err)
		}
		if found && cur.State != e.State {
			return ErrElectionOfOtherState
		}
		want := chosenRecordsUntil(e)
		if want == nil {
			want = chosen
		}
		saved = cur
		if found && cur.Name == e.Name && cur.ElectionDay.Equal(e.ElectionDay) && cur.CanvassEndsAt.Equal(e.CanvassEndsAt) &&
			sameDate(chosen, want) {
			return nil
		}
		if found && cur.PurgeStartedAt != nil {
			return ErrElectionPurged
		}
		var inserted bool
		saved, err = scanElection(tx.QueryRow(ctx, `
			INSERT INTO elections AS e (id, state, name, election_day, canvass_ends_at, chosen_records_until)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, election_day = excluded.election_day,
				canvass_ends_at = excluded.canvass_ends_at, chosen_records_until = excluded.chosen_records_until
			WHERE e.state = excluded.state AND e.purge_started_at IS NULL
			RETURNING `+electionColumns+`, (e.xmax = 0)`, e.ID, e.State, e.Name, e.ElectionDay, e.CanvassEndsAt, want),
			&inserted)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.ConstraintName == "elections_records_after_canvass":
			return ErrRecordsBeforeCanvass
		case errors.Is(err, pgx.ErrNoRows):
			// Created meanwhile by another state, or its purge began meanwhile.
			return fmt.Errorf("save election %s: it changed meanwhile; retry", e.ID)
		case err != nil:
			return fmt.Errorf("save election %s: %w", e.ID, err)
		}
		outcome = Updated
		if inserted {
			outcome = Created
		}
		return audit(ctx, tx, actor, "election."+verb(outcome), "election:"+e.ID, map[string]any{
			"state": e.State, "name": e.Name, "election_day": e.ElectionDay.Format(time.DateOnly),
			"canvass_ends_at": e.CanvassEndsAt.UTC().Format(time.RFC3339),
			"records_until":   saved.RecordsUntil.Format(time.DateOnly), "records_until_chosen": want != nil,
		})
	})
	if err != nil {
		return Election{}, "", err
	}
	return saved, outcome, nil
}

// ElectionList returns the elections of a state, or of every state when state is empty,
// newest election day first.
func (s *Store) ElectionList(ctx context.Context, state string) ([]Election, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+electionColumns+` FROM elections e
		WHERE $1 = '' OR e.state = $1 ORDER BY e.election_day DESC, e.id`, state)
	if err != nil {
		return nil, fmt.Errorf("list elections: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Election, error) { return scanElection(row) })
	if err != nil {
		return nil, fmt.Errorf("list elections: %w", err)
	}
	return es, nil
}

// Audit appends a row to the audit log: who (actor) did what (action) to which internal id
// (subject). detail must carry no personal data.
func (s *Store) Audit(ctx context.Context, actor, action, subject string, detail map[string]any) error {
	return audit(ctx, s.pool, actor, action, subject, detail)
}

func verb(outcome string) string {
	if outcome == Created {
		return "create"
	}
	return "update"
}
