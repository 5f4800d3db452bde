package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
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
	// HelpTexts is the help text in other languages the county offers, by language code;
	// HelpText is the one in its default language. See HelpTextIn.
	HelpTexts map[string]string
	// ReplyTo is the office's contact address, the Reply-To of notice emails; empty for none.
	ReplyTo   string
	Languages []string // the languages it offers, first the default; nil means the default {en, es}
}

// HelpTextIn is how voters reach the office, in lang when the county gave it in lang, else
// in the county's default language.
func (j Jurisdiction) HelpTextIn(lang string) string {
	if t := j.HelpTexts[lang]; t != "" {
		return t
	}
	return j.HelpText
}

// helpTexts is j.HelpTexts as stored: a JSON object, never null.
func helpTexts(j Jurisdiction) map[string]string {
	if j.HelpTexts == nil {
		return map[string]string{}
	}
	return j.HelpTexts
}

// JurisdictionID is the id of a state's county: "co-denver".
func JurisdictionID(state, county string) string {
	return lower(state) + "-" + county
}

// JurisdictionUpsert creates or updates a jurisdiction; its ID is derived from state and county.
func (s *Store) JurisdictionUpsert(ctx context.Context, j Jurisdiction) (Jurisdiction, error) {
	j.ID = JurisdictionID(j.State, j.County)
	_, err := s.pool.Exec(ctx, `
		INSERT INTO jurisdictions (id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text,
			reply_to)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET name = $4, time_zone = $5, email_from = $6, email_from_name = $7,
			sms_from = $8, voice_from = $9, help_text = $10, reply_to = $11`,
		j.ID, j.State, j.County, j.Name, j.TimeZone, j.EmailFrom, j.EmailFromName, j.SMSFrom, j.VoiceFrom, j.HelpText, j.ReplyTo)
	if err != nil {
		return Jurisdiction{}, notFound(err, "upsert jurisdiction "+j.ID)
	}
	return j, nil
}

// JurisdictionGetByCounty returns the jurisdiction of a state's county.
func (s *Store) JurisdictionGetByCounty(ctx context.Context, state, county string) (Jurisdiction, error) {
	var j Jurisdiction
	err := s.pool.QueryRow(ctx, `
		SELECT id, state, county, name, time_zone, email_from, email_from_name, sms_from, voice_from, help_text, languages,
			reply_to, help_texts
		FROM jurisdictions WHERE state = $1 AND county = $2`, state, county).
		Scan(&j.ID, &j.State, &j.County, &j.Name, &j.TimeZone, &j.EmailFrom, &j.EmailFromName, &j.SMSFrom, &j.VoiceFrom, &j.HelpText,
			&j.Languages, &j.ReplyTo, &j.HelpTexts)
	if err != nil {
		return Jurisdiction{}, notFound(err, "jurisdiction "+JurisdictionID(state, county))
	}
	return j, nil
}

// Election is one election in a state, with the date after which no ballot is tracked and
// the last day its records are kept whole.
type Election struct {
	ID            string
	State         string
	Name          string
	ElectionDay   time.Time
	CanvassEndsAt time.Time
	// RecordsUntil is the last day (midnight UTC of the date) the election's records are
	// kept whole; the retention purge takes the election on a later day. Read, it is the
	// period in force; saved, zero keeps the default or the period chosen before (see
	// ElectionSave).
	RecordsUntil time.Time
	// PurgeStartedAt and PurgedAt are set by the retention purge: when it began to remove the
	// election's personal data, and when it finished. Saving ignores them.
	PurgeStartedAt *time.Time
	PurgedAt       *time.Time
}

// ElectionUpsert creates or updates an election; a zero RecordsUntil keeps the default or the
// period chosen before.
func (s *Store) ElectionUpsert(ctx context.Context, e Election) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO elections AS e (id, state, name, election_day, canvass_ends_at, chosen_records_until)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = $3, election_day = $4, canvass_ends_at = $5,
			chosen_records_until = coalesce($6, e.chosen_records_until)`,
		e.ID, e.State, e.Name, e.ElectionDay, e.CanvassEndsAt, chosenRecordsUntil(e))
	if err != nil {
		return notFound(err, "upsert election "+e.ID)
	}
	return nil
}

// electionColumns are the columns scanElection reads, of elections e.
const electionColumns = `e.id, e.state, e.name, e.election_day, e.canvass_ends_at, e.records_until, e.purge_started_at, e.purged_at`

// chosenRecordsUntil is the chosen_records_until an Election saves: nil for a zero RecordsUntil.
func chosenRecordsUntil(e Election) *time.Time {
	if e.RecordsUntil.IsZero() {
		return nil
	}
	d := dateOnly(e.RecordsUntil)
	return &d
}

// scanElection reads electionColumns, then any columns after them into extra.
func scanElection(row pgx.Row, extra ...any) (Election, error) {
	var e Election
	err := row.Scan(append([]any{&e.ID, &e.State, &e.Name, &e.ElectionDay, &e.CanvassEndsAt, &e.RecordsUntil,
		&e.PurgeStartedAt, &e.PurgedAt}, extra...)...)
	return e, err
}

// ElectionGetByID returns an election by id.
func (s *Store) ElectionGetByID(ctx context.Context, id string) (Election, error) {
	e, err := scanElection(s.pool.QueryRow(ctx, `SELECT `+electionColumns+` FROM elections e WHERE e.id = $1`, id))
	if err != nil {
		return Election{}, notFound(err, "election "+id)
	}
	return e, nil
}
