// Package intake turns county ballot events into ballot workflow signals: it validates an
// event against the roll and the caller's scope, stores it in PostgreSQL, and
// signal-with-starts the ballot's workflow. Storing comes first, so an event is never lost:
// one whose signal did not reach Temporal is signaled again by Resignal.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/usps"
	"github.com/ballotflow/ballotflow/internal/workflowclient"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// Event is one county event as posted (JSON field names are the API's).
type Event struct {
	EventID      string `json:"event_id"`
	ElectionID   string `json:"election_id"`
	VoterID      string `json:"voter_id"`
	BallotID     string `json:"ballot_id"`
	Status       string `json:"status"`
	OccurredAt   string `json:"occurred_at"`
	Reason       string `json:"reason,omitempty"`
	CureDeadline string `json:"cure_deadline,omitempty"`
	// OutboundIMb and ReturnIMb are the Intelligent Mail barcodes of the envelopes a "mailed"
	// event sends: the ballot's outbound envelope and the return envelope inside it. Only
	// their tracking codes are kept (see envelopeBarcodes).
	OutboundIMb string `json:"outbound_imb,omitempty"`
	ReturnIMb   string `json:"return_imb,omitempty"`
	// Corrects makes the event a correction: the event_id of this ballot's event that was
	// posted in error. Status is then the ballot's right status, and occurred_at when the
	// correction was made. Voters who were told the wrong status get one correction notice.
	Corrects string `json:"corrects,omitempty"`
}

// Result outcomes.
const (
	Accepted  = "accepted"
	Duplicate = "duplicate"
	Rejected  = "rejected"
)

// Result is what happened to one event.
type Result struct {
	EventID    string `json:"event_id"`
	Result     string `json:"result"`
	WorkflowID string `json:"workflow_id,omitempty"`
	Error      *Error `json:"error,omitempty"`
}

// Error is why an event was rejected: a code, a message a person can act on, the field at
// fault, and the HTTP status a single-event request answers with.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func invalid(field, format string, args ...any) *Error {
	return &Error{Status: 400, Code: "invalid_field", Field: field, Message: fmt.Sprintf(format, args...)}
}

// Caller is who posts: the scope of its API key.
type Caller struct {
	KeyID  int64
	Role   string // county or state
	State  string
	County string // for county keys
}

// Service validates, stores and signals events.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	Now      func() time.Time
	Logger   *slog.Logger
}

// Limits on an event's fields.
const (
	maxIDLength     = 128
	maxReasonLength = 500
	// Clocks at counties are not perfect, but an event from the future is a wrong file.
	maxFutureSkew = 10 * time.Minute
	// A ballot's life runs from mail-out to the end of the canvass, a few months: an event
	// older than a year is a wrong file or a wrong column, never a late post.
	maxEventAge = 366 * 24 * time.Hour
	// Real zone offsets run from -12:00 to +14:00; RFC 3339 parsing takes up to ±23:59.
	maxZoneOffset = 14 * 60 * 60
	// Cure periods are days or weeks; a deadline further out is a typo.
	maxCureDays = 120
)

// Submit handles one event. A rejected event leaves nothing stored or signaled.
func (s *Service) Submit(ctx context.Context, caller Caller, ev Event) (res Result) {
	res = Result{EventID: ev.EventID}
	defer func() { metrics.Events.WithLabelValues(statusLabel(ev.Status), res.Result).Inc() }()
	rec, err := s.record(ctx, caller, ev)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.logger().Error("store ballot event", "error", err)
			e = &Error{Status: 503, Code: "unavailable", Message: "the event could not be stored; nothing was recorded, please retry"}
		}
		res.Result, res.Error = Rejected, e
		return res
	}
	res.Result = Accepted
	if rec.Duplicate {
		res.Result = Duplicate
	}
	res.WorkflowID = ballot.WorkflowID(rec.Ballot.ElectionID, rec.Ballot.Key)
	if rec.Signaled {
		return res
	}
	err = s.signal(ctx, rec.EventRef, rec.Ballot, statusEvent(ev, mustParse(ev.OccurredAt)))
	if errors.Is(err, errCorrectionSetAside) {
		res.Error = errBallotClosed()
		return res
	}
	if err != nil {
		// Stored but not yet signaled: Resignal will deliver it, so the county must not resend.
		s.logger().Warn("signal ballot workflow; will retry", "workflow_id", res.WorkflowID, "error", err)
	}
	return res
}

func (s *Service) record(ctx context.Context, caller Caller, ev Event) (store.RecordedEvent, error) {
	in, verr := Validate(ev, s.now())
	if verr != nil {
		return store.RecordedEvent{}, verr
	}
	election, err := s.Store.ElectionGetByID(ctx, ev.ElectionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && election.State != caller.State) {
		return store.RecordedEvent{}, &Error{Status: 422, Code: "unknown_election", Field: "election_id",
			Message: fmt.Sprintf("there is no election %q in %s", ev.ElectionID, caller.State)}
	}
	if err != nil {
		return store.RecordedEvent{}, err
	}
	if canvassClosed(election, s.now()) {
		return store.RecordedEvent{}, errCanvassClosed(election)
	}
	voter, err := s.Store.VoterGetByID(ctx, caller.State, ev.VoterID)
	if errors.Is(err, store.ErrNotFound) {
		return store.RecordedEvent{}, errUnknownVoter(caller.State)
	}
	if err != nil {
		return store.RecordedEvent{}, err
	}
	if caller.Role == store.RoleCounty && voter.County != caller.County {
		return store.RecordedEvent{}, errOtherCounty(caller.County)
	}
	in.JurisdictionID = store.JurisdictionID(voter.State, voter.County)
	in.VoterRef = voter.Ref
	in.ReceivedBy = caller.KeyID
	rec, err := s.Store.BallotEventRecord(ctx, in)
	switch {
	case errors.Is(err, store.ErrEventConflict):
		return rec, errEventReused()
	case errors.Is(err, store.ErrBallotOfOtherVoter):
		return rec, errBallotOfOtherVoter()
	case errors.Is(err, store.ErrCorrectsUnknown):
		return rec, errCorrectsUnknown()
	}
	var inUse *store.BarcodeInUseError
	if errors.As(err, &inUse) {
		return rec, errIMbInUse(inUse.Direction)
	}
	return rec, err
}

// The rejections single posts and bulk files share.

func errUnknownVoter(state string) *Error {
	return &Error{Status: 422, Code: "unknown_voter", Field: "voter_id",
		Message: "no voter with this voter_id is on the " + state + " roll; sync the roll first"}
}

func errOtherCounty(county string) *Error {
	return &Error{Status: 403, Code: "other_county", Field: "voter_id",
		Message: "this voter is registered in another county; a " + county + " key may post only " + county + " ballots"}
}

func errEventReused() *Error {
	return &Error{Status: 409, Code: "event_id_reused", Field: "event_id",
		Message: "this event_id was already used for a different event; event ids must be unique per county"}
}

// errCanvassClosed refuses an event that arrives after its election's canvass: the ballot
// workflows are closed then, so accepting it would store an event nothing could deliver.
func errCanvassClosed(e store.Election) *Error {
	return &Error{Status: 422, Code: "canvass_closed", Field: "election_id",
		Message: "the canvass of this election ended at " + e.CanvassEndsAt.UTC().Format(time.RFC3339) +
			"; ballot events are no longer accepted for it"}
}

// errIMbInUse refuses an envelope barcode (direction store.MailOutbound or MailReturn) that
// the county registered for another ballot, or for the other envelope, in the election.
func errIMbInUse(direction string) *Error {
	field := direction + "_imb"
	return &Error{Status: 409, Code: "imb_in_use", Field: field,
		Message: field + " is already the barcode of another ballot's envelope (or of this ballot's other envelope) in this election; " +
			"each envelope needs its own serial number"}
}

func errCorrectsUnknown() *Error {
	return &Error{Status: 422, Code: "corrects_unknown", Field: "corrects",
		Message: "corrects must name the event_id of an event already posted for this ballot"}
}

// errCorrectionSetAside is how signal says a correction was set aside: its ballot's workflow
// has ended.
var errCorrectionSetAside = errors.New("correction set aside: the ballot's workflow has ended")

// errBallotClosed tells the county that a correction is recorded and set aside, not
// delivered: the result is still "accepted" (it is stored; posting it again is a duplicate).
func errBallotClosed() *Error {
	return &Error{Status: 409, Code: "ballot_closed", Field: "corrects",
		Message: "the correction is recorded but set aside: this ballot's tracking ended (it reached a final status before " +
			"corrections existed), so ballotflow cannot tell its voter; tell the voter another way. " +
			"Operators see it at GET /v1/operator/set-aside-events"}
}

func errBallotOfOtherVoter() *Error {
	return &Error{Status: 409, Code: "ballot_of_other_voter", Field: "ballot_id",
		Message: "this ballot_id is already recorded for a different voter"}
}

// Validate checks an event's fields before anything is looked up or stored; now is the
// current time (an event from the future is refused). The single-event API and bulk files
// share it. Its messages never repeat a field's value: in a file with shifted columns that
// could be a voter's name.
func Validate(ev Event, now time.Time) (store.BallotEvent, *Error) {
	for _, f := range []struct{ name, value string }{
		{"event_id", ev.EventID}, {"election_id", ev.ElectionID}, {"voter_id", ev.VoterID}, {"ballot_id", ev.BallotID},
	} {
		if f.value == "" {
			return store.BallotEvent{}, invalid(f.name, "%s is required", f.name)
		}
		if len(f.value) > maxIDLength || strings.IndexFunc(f.value, notIDRune) >= 0 {
			return store.BallotEvent{}, invalid(f.name, "%s must be at most %d printable characters without spaces", f.name, maxIDLength)
		}
	}
	if ev.Status == "" {
		return store.BallotEvent{}, invalid("status", "status is required")
	}
	status, ok := ballot.ParseStatus(ev.Status)
	if !ok {
		return store.BallotEvent{}, invalid("status", "status must be one of %s", statusList())
	}
	if ev.OccurredAt == "" {
		return store.BallotEvent{}, invalid("occurred_at", "occurred_at is required (RFC 3339, e.g. 2026-10-14T09:30:00-06:00)")
	}
	at, err := time.Parse(time.RFC3339, ev.OccurredAt)
	if err != nil {
		return store.BallotEvent{}, invalid("occurred_at", "occurred_at must be an RFC 3339 time with a zone, e.g. 2026-10-14T09:30:00-06:00")
	}
	if _, offset := at.Zone(); offset < -maxZoneOffset || offset > maxZoneOffset {
		return store.BallotEvent{}, invalid("occurred_at", "occurred_at has a zone offset beyond ±14:00")
	}
	if at.After(now.Add(maxFutureSkew)) {
		return store.BallotEvent{}, invalid("occurred_at", "occurred_at is in the future")
	}
	if at.Before(now.Add(-maxEventAge)) {
		return store.BallotEvent{}, invalid("occurred_at", "occurred_at is more than a year ago; check the file's dates")
	}
	if len(ev.Reason) > maxReasonLength {
		return store.BallotEvent{}, invalid("reason", "reason must be at most %d characters", maxReasonLength)
	}
	if !ballot.PlainText(ev.Reason) {
		return store.BallotEvent{}, invalid("reason", "reason must be plain text, without control characters such as NUL")
	}
	var deadline *time.Time
	if ev.CureDeadline != "" {
		d, err := time.Parse(time.DateOnly, ev.CureDeadline)
		if err != nil {
			return store.BallotEvent{}, invalid("cure_deadline", "cure_deadline must be a date YYYY-MM-DD")
		}
		// A deadline is a day at the county: judged against the day the challenge happened there.
		day, _ := time.Parse(time.DateOnly, at.Format(time.DateOnly))
		if d.Before(day) || d.After(day.AddDate(0, 0, maxCureDays)) {
			return store.BallotEvent{}, invalid("cure_deadline",
				"cure_deadline must be between the day of occurred_at and %d days after it", maxCureDays)
		}
		deadline = &d
	}
	if ev.CureDeadline != "" && status != ballot.StatusChallenged {
		return store.BallotEvent{}, invalid("cure_deadline", "cure_deadline is only for challenged ballots")
	}
	if ev.Corrects != "" {
		if len(ev.Corrects) > maxIDLength || strings.IndexFunc(ev.Corrects, notIDRune) >= 0 {
			return store.BallotEvent{}, invalid("corrects", "corrects must be at most %d printable characters without spaces", maxIDLength)
		}
		if ev.Corrects == ev.EventID {
			return store.BallotEvent{}, invalid("corrects", "corrects must name another event than the correction's own event_id")
		}
		if ev.OutboundIMb != "" || ev.ReturnIMb != "" {
			return store.BallotEvent{}, invalid("corrects", "a correction carries no envelope barcodes")
		}
	}
	env, verr := envelopeBarcodes(ev, status)
	if verr != nil {
		return store.BallotEvent{}, verr
	}
	out := store.BallotEvent{
		ElectionID: ev.ElectionID, BallotID: ev.BallotID, EventID: ev.EventID, Status: string(status),
		OccurredAt: at.UTC(), Reason: ev.Reason, CureDeadline: deadline, Corrects: ev.Corrects,
	}
	if !env.Outbound.IsZero() {
		out.OutboundIMb = env.Outbound.TrackingCode()
	}
	if !env.Return.IsZero() {
		out.ReturnIMb = env.Return.TrackingCode()
	}
	return out, nil
}

// envelopeBarcodes reads a "mailed" event's envelope barcodes. Only their tracking codes
// are kept: an outbound envelope's routing code is the voter's ZIP+4 and delivery point.
// Messages never repeat a barcode.
func envelopeBarcodes(ev Event, status ballot.Status) (usps.Envelopes, *Error) {
	var env usps.Envelopes
	for _, f := range []struct {
		name, value string
		into        *usps.IMb
	}{{"outbound_imb", ev.OutboundIMb, &env.Outbound}, {"return_imb", ev.ReturnIMb, &env.Return}} {
		if f.value == "" {
			continue
		}
		if status != ballot.StatusMailed {
			return env, invalid(f.name, "%s is only for mailed events", f.name)
		}
		imb, err := usps.ParseIMb(f.value)
		if err != nil {
			return env, invalid(f.name, "%s is not an Intelligent Mail barcode: %s", f.name, err.Error())
		}
		*f.into = imb
	}
	if !env.Distinct() {
		return env, invalid("return_imb", "return_imb must be another envelope than outbound_imb: their service type, mailer ID and serial number are the same")
	}
	return env, nil
}

// statusLabel keeps the metric's label set bounded: an unknown status counts as "invalid".
func statusLabel(s string) string {
	if _, ok := ballot.ParseStatus(s); ok {
		return s
	}
	return "invalid"
}

func notIDRune(r rune) bool {
	return r > unicode.MaxASCII || !unicode.IsGraphic(r) || unicode.IsSpace(r)
}

func statusList() string {
	names := make([]string, len(ballot.Statuses))
	for i, s := range ballot.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func mustParse(rfc3339 string) time.Time {
	t, _ := time.Parse(time.RFC3339, rfc3339) // validated before
	return t.UTC()
}

func statusEvent(ev Event, at time.Time) contract.StatusEvent {
	return contract.StatusEvent{EventID: ev.EventID, Status: ballot.Status(ev.Status), OccurredAt: at,
		Reason: ev.Reason, CureDeadline: ev.CureDeadline, Corrects: ev.Corrects}
}

// signal delivers a stored event to its ballot's workflow, starting the workflow with the
// first event. A closed workflow is not started again: a ballot that reached a final status
// is not told anything older, so the event stays recorded and is marked handled. An event
// whose signal can never succeed (its election's canvass is over, Temporal refuses it as
// invalid) is set aside with the reason, and nil returned: it must not hold up the events
// after it. A failure that may pass is returned.
func (s *Service) signal(ctx context.Context, eventRef int64, b store.Ballot, ev contract.StatusEvent) error {
	election, err := s.Store.ElectionGetByID(ctx, b.ElectionID)
	if errors.Is(err, store.ErrNotFound) {
		return s.setAside(ctx, eventRef, b, store.SetAsideUnknownElection, "the election is not configured")
	}
	if err != nil {
		return err
	}
	if canvassClosed(election, s.now()) {
		return s.setAside(ctx, eventRef, b, store.SetAsideCanvassClosed,
			"the canvass ended at "+election.CanvassEndsAt.UTC().Format(time.RFC3339))
	}
	err = workflowclient.New(s.Temporal).SignalBallot(ctx, contract.BallotInput{
		BallotKey: b.Key, ElectionID: b.ElectionID, State: b.State, County: b.County,
		CanvassEndsAt: election.CanvassEndsAt,
	}, ev, s.now())
	if errors.Is(err, workflowclient.ErrBallotClosed) && ev.Corrects != "" {
		// A status event for a closed ballot is older news than its final status; a
		// correction is not, and must not vanish: operators find it among the set-aside events.
		if err := s.setAside(ctx, eventRef, b, store.SetAsideBallotClosed,
			"the ballot's workflow ended before this correction; tell the voter another way"); err != nil {
			return err
		}
		return errCorrectionSetAside
	}
	if errors.Is(err, workflowclient.ErrBallotClosed) {
		s.logger().Info("event for a closed ballot workflow recorded, not signaled",
			"workflow_id", ballot.WorkflowID(b.ElectionID, b.Key))
		err = nil
	}
	if code, ok := poisonSignal(err); ok {
		return s.setAside(ctx, eventRef, b, code, "Temporal refused the signal: "+err.Error())
	}
	if err != nil {
		return err
	}
	// Temporal has the signal: record it even if the caller gave up meanwhile (a worker
	// stopping, a client hanging up), or the event would be signaled a second time.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markSignaledTimeout)
	defer cancel()
	return s.Store.BallotEventMarkSignaled(mctx, eventRef)
}

// Resignal signals stored events that were never marked signaled and are older than
// minAge (a crash between storing and signaling, a signal that failed). One event's failure
// never stops the others: an event whose signal can never succeed is set aside, one whose
// signal may succeed later is tried again after a backoff. Only a run of failures in a row
// (Temporal or the database away: every event would fail) ends the sweep early. It returns
// how many events it handled (signaled, or set aside) and, when some failed, an error that
// says how many.
func (s *Service) Resignal(ctx context.Context, minAge time.Duration, limit int) (int, error) {
	events, err := s.Store.BallotEventListUnsignaled(ctx, s.now().Add(-minAge), limit)
	if err != nil {
		return 0, err
	}
	n, failed, inARow := 0, 0, 0
	var firstErr error
	for _, u := range events {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err := s.resignalOne(ctx, u); err != nil {
			failed, inARow = failed+1, inARow+1
			if firstErr == nil {
				firstErr = err
			}
			if inARow == resignalFailuresInARow {
				break
			}
			continue
		}
		n, inARow = n+1, 0
	}
	if failed > 0 {
		return n, fmt.Errorf("%d of %d stored events could not be signaled and will be tried again later; first: %w",
			failed, len(events), firstErr)
	}
	return n, nil
}

// resignalOne signals one stored event within resignalTimeout; when that fails, the event
// waits for its backoff before the sweeper tries it again.
func (s *Service) resignalOne(ctx context.Context, u store.UnsignaledEvent) error {
	sctx, cancel := context.WithTimeout(ctx, resignalTimeout)
	defer cancel()
	err := s.SignalStored(sctx, u)
	if err == nil {
		return nil
	}
	if derr := s.Store.BallotEventDeferSignal(ctx, u.EventRef, resignalBackoff, resignalMaxBackoff); derr != nil {
		s.logger().Error("defer re-signal", "event_ref", u.EventRef, "error", derr)
	}
	return err
}

// SignalStored delivers one stored event to its ballot's workflow, starting the workflow with
// the ballot's first event, and marks the event signaled, as a single post does. Doing it
// again is harmless: ballot workflows ignore an event_id they have seen.
func (s *Service) SignalStored(ctx context.Context, u store.UnsignaledEvent) error {
	ev := contract.StatusEvent{EventID: u.EventID, Status: ballot.Status(u.Status), OccurredAt: u.OccurredAt.UTC(),
		Reason: u.Reason, Corrects: u.Corrects}
	if u.CureDeadline != nil {
		ev.CureDeadline = u.CureDeadline.Format(time.DateOnly)
	}
	if err := s.signal(ctx, u.EventRef, u.Ballot, ev); !errors.Is(err, errCorrectionSetAside) {
		return err
	}
	return nil // set aside: dealt with
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
