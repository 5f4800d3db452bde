package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// A county's own wording of its notices (migration 019): versioned overrides of the
// catalogs' messages, one row a change. internal/notices checks a text before it comes
// here; this file keeps the history and bounds what a row may hold.

// MessageVersion is one change of a county's wording: a message's text in one language,
// or its revert to the catalog's (Text empty), as version Version of the jurisdiction's
// wording.
type MessageVersion struct {
	JurisdictionID string
	Version        int64
	MessageID      string
	Language       string
	Text           string // empty: back to the catalog's text
	Actor          string
	CreatedAt      time.Time
}

// Reverted reports whether v puts the catalog's text back.
func (v MessageVersion) Reverted() bool { return v.Text == "" }

// Bounds of a message version, as the schema holds them.
const (
	MaxMessageTextRunes = 2000
	maxMessageActor     = 200
	// MessageHistoryLimit bounds the versions MessageVersionList returns.
	MessageHistoryLimit = 100
)

// ErrMessageVersionInvalid is a message version the table would refuse: an id, language,
// text or actor out of bounds. The caller checks texts first (notices.CheckOverride).
var ErrMessageVersionInvalid = errors.New("message version out of bounds")

// MessageVersionSave records a change of a county's wording, and its audit row, in one
// transaction: v.Text replaces the catalog's text of v.MessageID in v.Language, or, empty,
// puts the catalog's back. A change to what is already in force writes nothing (Unchanged);
// otherwise the outcome is Created (a new override), Updated, or "reverted". An unknown
// jurisdiction is ErrNotFound.
func (s *Store) MessageVersionSave(ctx context.Context, v MessageVersion, actor string) (MessageVersion, string, error) {
	if v.MessageID == "" || len(v.MessageID) > 100 || v.Language == "" || len(v.Language) > 35 ||
		utf8.RuneCountInString(v.Text) > MaxMessageTextRunes || actor == "" || len(actor) > maxMessageActor {
		return MessageVersion{}, "", ErrMessageVersionInvalid
	}
	v.Actor = actor
	var outcome string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// One change at a time per county: its versions are numbered without gaps. NO KEY
		// UPDATE does not wait for the ballots and events that reference the county.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM jurisdictions WHERE id = $1 FOR NO KEY UPDATE`, v.JurisdictionID).Scan(&one)
		if err != nil {
			return notFound(err, "jurisdiction "+v.JurisdictionID)
		}
		var current *string
		err = tx.QueryRow(ctx, `
			SELECT text FROM message_versions WHERE jurisdiction_id = $1 AND message_id = $2 AND language = $3
			ORDER BY version DESC LIMIT 1`, v.JurisdictionID, v.MessageID, v.Language).Scan(&current)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read wording of %s: %w", v.JurisdictionID, err)
		}
		switch {
		case current == nil && v.Text == "", current != nil && *current == v.Text:
			outcome = Unchanged
			return nil
		case v.Text == "":
			outcome = MessageReverted
		case current == nil:
			outcome = Created
		default:
			outcome = Updated
		}
		var text *string
		if v.Text != "" {
			text = &v.Text
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO message_versions (jurisdiction_id, version, message_id, language, text, actor)
			VALUES ($1, (SELECT coalesce(max(version), 0) + 1 FROM message_versions WHERE jurisdiction_id = $1), $2, $3, $4, $5)
			RETURNING version, created_at`, v.JurisdictionID, v.MessageID, v.Language, text, actor).Scan(&v.Version, &v.CreatedAt)
		if err != nil {
			return fmt.Errorf("save wording of %s: %w", v.JurisdictionID, err)
		}
		action := "message.override"
		if outcome == MessageReverted {
			action = "message.revert"
		}
		// The text itself is in message_versions; the audit says who changed which message.
		return audit(ctx, tx, actor, action, "jurisdiction:"+v.JurisdictionID, map[string]any{
			"message_id": v.MessageID, "language": v.Language, "version": v.Version,
			"characters": utf8.RuneCountInString(v.Text),
		})
	})
	if err != nil {
		return MessageVersion{}, "", err
	}
	return v, outcome, nil
}

// MessageReverted is MessageVersionSave's outcome when the catalog's text is back.
const MessageReverted = "reverted"

// MessageOverrideList returns a county's wording in force at version at (0: now): per
// message and language, its newest version with a text, ordered by message and language;
// and the version the wording is at (0 when the county never changed a text).
func (s *Store) MessageOverrideList(ctx context.Context, jurisdictionID string, at int64) (int64, []MessageVersion, error) {
	var latest int64
	if err := s.pool.QueryRow(ctx, `
		SELECT coalesce(max(version), 0) FROM message_versions WHERE jurisdiction_id = $1 AND ($2 = 0 OR version <= $2)`,
		jurisdictionID, at).Scan(&latest); err != nil {
		return 0, nil, fmt.Errorf("wording of %s: %w", jurisdictionID, err)
	}
	if latest == 0 {
		return 0, []MessageVersion{}, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT jurisdiction_id, version, message_id, language, text, actor, created_at FROM (
			SELECT DISTINCT ON (message_id, language) jurisdiction_id, version, message_id, language, text, actor, created_at
			FROM message_versions WHERE jurisdiction_id = $1 AND version <= $2
			ORDER BY message_id, language, version DESC) current
		WHERE text IS NOT NULL ORDER BY message_id, language`, jurisdictionID, latest)
	if err != nil {
		return 0, nil, fmt.Errorf("wording of %s: %w", jurisdictionID, err)
	}
	list, err := pgx.CollectRows(rows, scanMessageVersion)
	if err != nil {
		return 0, nil, fmt.Errorf("wording of %s: %w", jurisdictionID, err)
	}
	return latest, list, nil
}

// MessageVersionLatest is the version a county's wording is at: 0 when it never changed a
// text. One index lookup: what a cache of the wording asks before it reloads.
func (s *Store) MessageVersionLatest(ctx context.Context, jurisdictionID string) (int64, error) {
	var latest int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM message_versions WHERE jurisdiction_id = $1`,
		jurisdictionID).Scan(&latest)
	if err != nil {
		return 0, fmt.Errorf("wording version of %s: %w", jurisdictionID, err)
	}
	return latest, nil
}

// MessageVersionList returns the history of one message in one language, newest first, at
// most MessageHistoryLimit versions.
func (s *Store) MessageVersionList(ctx context.Context, jurisdictionID, messageID, language string) ([]MessageVersion, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT jurisdiction_id, version, message_id, language, text, actor, created_at FROM message_versions
		WHERE jurisdiction_id = $1 AND message_id = $2 AND language = $3 ORDER BY version DESC LIMIT $4`,
		jurisdictionID, messageID, language, MessageHistoryLimit)
	if err != nil {
		return nil, fmt.Errorf("history of %s in %s: %w", messageID, jurisdictionID, err)
	}
	list, err := pgx.CollectRows(rows, scanMessageVersion)
	if err != nil {
		return nil, fmt.Errorf("history of %s in %s: %w", messageID, jurisdictionID, err)
	}
	return list, nil
}

func scanMessageVersion(row pgx.CollectableRow) (MessageVersion, error) {
	var v MessageVersion
	var text *string
	err := row.Scan(&v.JurisdictionID, &v.Version, &v.MessageID, &v.Language, &text, &v.Actor, &v.CreatedAt)
	if text != nil {
		v.Text = *text
	}
	return v, err
}
