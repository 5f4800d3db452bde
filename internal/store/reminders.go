package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Reminders is what a county sends for one election beyond status notices: return
// reminders ReturnDays days before election day and cure reminders CureDays days before a
// challenge's cure deadline (descending, each at most once), and the local time on
// election day by which ballots must be in (ReturnsClose, "HH:MM"), and the local time of
// day a reminder is due (RemindAt, "HH:MM"; each voter's contact hours then apply).
type Reminders struct {
	ElectionID   string
	State        string
	County       string
	ReturnDays   []int
	CureDays     []int
	ReturnsClose string
	RemindAt     string
	UpdatedAt    time.Time
	UpdatedBy    string
}

// Bounds of reminder settings, as the schema holds them.
const (
	MaxReminders      = 5
	MaxReturnDays     = 60
	MaxCureDays       = 30
	DefaultReturnsBy  = "19:00"
	DefaultRemindAt   = "10:00"
	remindersActorMax = 200
)

// ReminderFieldError is a reminder setting refused, with the field at fault.
type ReminderFieldError struct {
	Field   string
	Message string
}

func (e *ReminderFieldError) Error() string { return e.Field + ": " + e.Message }

// ValidateReminders checks settings and puts their days in order (most first). A refusal
// is a *ReminderFieldError.
func ValidateReminders(r *Reminders) error {
	check := func(field string, days []int, most int) ([]int, error) {
		if len(days) > MaxReminders {
			return nil, &ReminderFieldError{field, fmt.Sprintf("at most %d reminders", MaxReminders)}
		}
		out := slices.Clone(days)
		slices.Sort(out)
		out = slices.Compact(out)
		if len(out) != len(days) {
			return nil, &ReminderFieldError{field, "a day is given twice"}
		}
		for _, d := range out {
			if d < 1 || d > most {
				return nil, &ReminderFieldError{field, fmt.Sprintf("%d days: each between 1 and %d", d, most)}
			}
		}
		slices.Reverse(out)
		return out, nil
	}
	var err error
	if r.ReturnDays, err = check("return_days", r.ReturnDays, MaxReturnDays); err != nil {
		return err
	}
	if r.CureDays, err = check("cure_days", r.CureDays, MaxCureDays); err != nil {
		return err
	}
	if r.ReturnsClose == "" {
		r.ReturnsClose = DefaultReturnsBy
	}
	if t, err := time.Parse("15:04", r.ReturnsClose); err != nil || t.Format("15:04") != r.ReturnsClose {
		return &ReminderFieldError{"returns_close", `a local time "HH:MM", e.g. "19:00"`}
	}
	if r.RemindAt == "" {
		r.RemindAt = DefaultRemindAt
	}
	if t, err := time.Parse("15:04", r.RemindAt); err != nil || t.Format("15:04") != r.RemindAt {
		return &ReminderFieldError{"remind_at", `a local time "HH:MM", e.g. "10:00"`}
	}
	if r.ReturnDays == nil {
		r.ReturnDays = []int{}
	}
	if r.CureDays == nil {
		r.CureDays = []int{}
	}
	return nil
}

// RemindersSave stores a county's reminders for an election, validated.
func (s *Store) RemindersSave(ctx context.Context, r Reminders, actor string) (Reminders, error) {
	if err := ValidateReminders(&r); err != nil {
		return Reminders{}, err
	}
	if actor == "" || len(actor) > remindersActorMax {
		return Reminders{}, errors.New("reminders: the actor is missing or too long")
	}
	e, err := s.ElectionGetByID(ctx, r.ElectionID)
	if err != nil {
		return Reminders{}, fmt.Errorf("election %q: %w", r.ElectionID, err)
	}
	if e.State != r.State {
		return Reminders{}, fmt.Errorf("election %q is not an election of %s: %w", r.ElectionID, r.State, ErrNotFound)
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO election_reminders (election_id, jurisdiction_id, return_days, cure_days, returns_close, remind_at, updated_by)
		VALUES ($1, $2, $3, $4, $5::time, $6::time, $7)
		ON CONFLICT (election_id, jurisdiction_id) DO UPDATE SET return_days = EXCLUDED.return_days,
			cure_days = EXCLUDED.cure_days, returns_close = EXCLUDED.returns_close, remind_at = EXCLUDED.remind_at,
			updated_at = now(), updated_by = EXCLUDED.updated_by
		RETURNING updated_at`,
		r.ElectionID, JurisdictionID(r.State, r.County), r.ReturnDays, r.CureDays, r.ReturnsClose, r.RemindAt, actor).Scan(&r.UpdatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: no such county
		return Reminders{}, fmt.Errorf("county %s of %s: %w", r.County, r.State, ErrNotFound)
	}
	if err != nil {
		return Reminders{}, fmt.Errorf("save reminders: %w", err)
	}
	r.UpdatedBy = actor
	return r, nil
}

// RemindersGet returns a county's reminders for an election: none (and the default
// closing time) when it set none.
func (s *Store) RemindersGet(ctx context.Context, electionID, state, county string) (Reminders, error) {
	r := Reminders{ElectionID: electionID, State: state, County: county, ReturnDays: []int{}, CureDays: []int{},
		ReturnsClose: DefaultReturnsBy, RemindAt: DefaultRemindAt}
	var closes, remind time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT return_days, cure_days, '2000-01-01'::date + returns_close, '2000-01-01'::date + remind_at, updated_at, updated_by
		FROM election_reminders WHERE election_id = $1 AND jurisdiction_id = $2`,
		electionID, JurisdictionID(state, county)).Scan(&r.ReturnDays, &r.CureDays, &closes, &remind, &r.UpdatedAt, &r.UpdatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return Reminders{}, fmt.Errorf("read reminders: %w", err)
	}
	r.ReturnsClose, r.RemindAt = closes.Format("15:04"), remind.Format("15:04")
	return r, nil
}
