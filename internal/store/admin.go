package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Outcomes of JurisdictionSave and ElectionSave.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// ErrElectionOfOtherState is returned when an election id is already used in another state.
var ErrElectionOfOtherState = errors.New("this election id is already used by another state")

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
				voice_from, help_text, languages)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, '{en,es}'::text[]))
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, time_zone = excluded.time_zone,
				email_from = excluded.email_from, email_from_name = excluded.email_from_name,
				sms_from = excluded.sms_from, voice_from = excluded.voice_from, help_text = excluded.help_text,
				languages = excluded.languages
			WHERE (j.name, j.time_zone, j.email_from, j.email_from_name, j.sms_from, j.voice_from, j.help_text, j.languages)
				IS DISTINCT FROM (excluded.name, excluded.time_zone, excluded.email_from, excluded.email_from_name,
					excluded.sms_from, excluded.voice_from, excluded.help_text, excluded.languages)
			RETURNING (j.xmax = 0)`,
			j.ID, j.State, j.County, j.Name, j.TimeZone, j.EmailFrom, j.EmailFromName, j.SMSFrom, j.VoiceFrom, j.HelpText,
			j.Languages).
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
		SELECT id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text, languages
		FROM jurisdictions WHERE $1 = '' OR state = $1 ORDER BY state, county`, state)
	if err != nil {
		return nil, fmt.Errorf("list jurisdictions: %w", err)
	}
	js, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Jurisdiction, error) {
		var j Jurisdiction
		err := row.Scan(&j.ID, &j.State, &j.County, &j.Name, &j.TimeZone, &j.EmailFrom, &j.EmailFromName, &j.SMSFrom,
			&j.VoiceFrom, &j.HelpText, &j.Languages)
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
// writes an audit row when anything changed. An id used by another state is
// ErrElectionOfOtherState and nothing changes.
func (s *Store) ElectionSave(ctx context.Context, e Election, actor string) (string, error) {
	outcome := Unchanged
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var inserted bool
		err := tx.QueryRow(ctx, `
			INSERT INTO elections AS e (id, state, name, election_day, canvass_ends_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, election_day = excluded.election_day,
				canvass_ends_at = excluded.canvass_ends_at
			WHERE e.state = excluded.state
				AND (e.name, e.election_day, e.canvass_ends_at)
					IS DISTINCT FROM (excluded.name, excluded.election_day, excluded.canvass_ends_at)
			RETURNING (e.xmax = 0)`, e.ID, e.State, e.Name, e.ElectionDay, e.CanvassEndsAt).Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			var state string
			if err := tx.QueryRow(ctx, `SELECT state FROM elections WHERE id = $1`, e.ID).Scan(&state); err != nil {
				return fmt.Errorf("save election %s: %w", e.ID, err)
			}
			if state != e.State {
				return ErrElectionOfOtherState
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("save election %s: %w", e.ID, err)
		}
		outcome = Updated
		if inserted {
			outcome = Created
		}
		return audit(ctx, tx, actor, "election."+verb(outcome), "election:"+e.ID, map[string]any{
			"state": e.State, "name": e.Name, "election_day": e.ElectionDay.Format(time.DateOnly),
			"canvass_ends_at": e.CanvassEndsAt.UTC().Format(time.RFC3339),
		})
	})
	if err != nil {
		return "", err
	}
	return outcome, nil
}

// ElectionList returns the elections of a state, or of every state when state is empty,
// newest election day first.
func (s *Store) ElectionList(ctx context.Context, state string) ([]Election, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, state, name, election_day, canvass_ends_at FROM elections
		WHERE $1 = '' OR state = $1 ORDER BY election_day DESC, id`, state)
	if err != nil {
		return nil, fmt.Errorf("list elections: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Election, error) {
		var e Election
		err := row.Scan(&e.ID, &e.State, &e.Name, &e.ElectionDay, &e.CanvassEndsAt)
		return e, err
	})
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
