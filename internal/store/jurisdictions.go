package store

import (
	"context"
	"time"
)

// Jurisdiction is a county election office: where ballots come from and who notices are from.
type Jurisdiction struct {
	ID            string
	State         string
	County        string
	Name          string
	TimeZone      string
	EmailFrom     string
	EmailFromName string
	SMSFrom       string
	VoiceFrom     string
	HelpText      string
	Languages     []string // the languages it offers, first the default; nil means the default {en, es}
}

// JurisdictionID is the id of a state's county: "co-denver".
func JurisdictionID(state, county string) string {
	return lower(state) + "-" + county
}

// JurisdictionUpsert creates or updates a jurisdiction; its ID is derived from state and county.
func (s *Store) JurisdictionUpsert(ctx context.Context, j Jurisdiction) (Jurisdiction, error) {
	j.ID = JurisdictionID(j.State, j.County)
	_, err := s.pool.Exec(ctx, `
		INSERT INTO jurisdictions (id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET name = $4, time_zone = $5, email_from = $6, email_from_name = $7,
			sms_from = $8, voice_from = $9, help_text = $10`,
		j.ID, j.State, j.County, j.Name, j.TimeZone, j.EmailFrom, j.EmailFromName, j.SMSFrom, j.VoiceFrom, j.HelpText)
	if err != nil {
		return Jurisdiction{}, notFound(err, "upsert jurisdiction "+j.ID)
	}
	return j, nil
}

// JurisdictionGetByCounty returns the jurisdiction of a state's county.
func (s *Store) JurisdictionGetByCounty(ctx context.Context, state, county string) (Jurisdiction, error) {
	var j Jurisdiction
	err := s.pool.QueryRow(ctx, `
		SELECT id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text, languages
		FROM jurisdictions WHERE state = $1 AND county = $2`, state, county).
		Scan(&j.ID, &j.State, &j.County, &j.Name, &j.TimeZone, &j.EmailFrom, &j.EmailFromName, &j.SMSFrom, &j.VoiceFrom, &j.HelpText,
			&j.Languages)
	if err != nil {
		return Jurisdiction{}, notFound(err, "jurisdiction "+JurisdictionID(state, county))
	}
	return j, nil
}

// Election is one election in a state, with the date after which no ballot is tracked.
type Election struct {
	ID            string
	State         string
	Name          string
	ElectionDay   time.Time
	CanvassEndsAt time.Time
}

// ElectionUpsert creates or updates an election.
func (s *Store) ElectionUpsert(ctx context.Context, e Election) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO elections (id, state, name, election_day, canvass_ends_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET name = $3, election_day = $4, canvass_ends_at = $5`,
		e.ID, e.State, e.Name, e.ElectionDay, e.CanvassEndsAt)
	if err != nil {
		return notFound(err, "upsert election "+e.ID)
	}
	return nil
}

// ElectionGetByID returns an election by id.
func (s *Store) ElectionGetByID(ctx context.Context, id string) (Election, error) {
	var e Election
	err := s.pool.QueryRow(ctx, `SELECT id, state, name, election_day, canvass_ends_at FROM elections WHERE id = $1`, id).
		Scan(&e.ID, &e.State, &e.Name, &e.ElectionDay, &e.CanvassEndsAt)
	if err != nil {
		return Election{}, notFound(err, "election "+id)
	}
	return e, nil
}
