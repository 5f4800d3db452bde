package intake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

var bg = context.Background()

// fakeTemporal answers SignalWithStartWorkflow with fail(workflowID) and records the
// options of every call; every other method is the nil interface's (it panics if called).
type fakeTemporal struct {
	client.Client
	fail func(id string) error

	mu       sync.Mutex
	signaled []string
	timeouts []time.Duration
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, _ string, _ any, opts client.StartWorkflowOptions,
	_ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeouts = append(f.timeouts, opts.WorkflowExecutionTimeout)
	if f.fail != nil {
		if err := f.fail(id); err != nil {
			return nil, err
		}
	}
	f.signaled = append(f.signaled, id)
	return nil, nil
}

// signalFixture is a store with one county, one voter, and elections by id; events are
// stored directly, as the API would before a lost signal.
type signalFixture struct {
	st    *store.Store
	voter store.Voter
	fake  *fakeTemporal
	svc   *Service
}

func newSignalFixture(t *testing.T) *signalFixture {
	t.Helper()
	t.Parallel()
	st := testdb.Open(t)
	_, err := st.JurisdictionUpsert(bg, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call 720-555-0100."})
	require.NoError(t, err)
	v := store.Voter{State: "CO", VoterID: "V1", County: "denver", FirstName: "Ana", LastName: "Ruiz",
		DateOfBirth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80219", Status: "active"}
	v.Ref, err = st.VoterUpsert(bg, v)
	require.NoError(t, err)
	fake := &fakeTemporal{}
	return &signalFixture{st: st, voter: v, fake: fake, svc: &Service{Store: st, Temporal: fake,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

func (f *signalFixture) election(t *testing.T, id string, canvassEndsAt time.Time) {
	t.Helper()
	require.NoError(t, f.st.ElectionUpsert(bg, store.Election{ID: id, State: "CO", Name: "General",
		ElectionDay: canvassEndsAt.AddDate(0, 0, -20), CanvassEndsAt: canvassEndsAt}))
}

// event stores an unsignaled event of ballot on election and returns its ballot.
func (f *signalFixture) event(t *testing.T, election, ballot, eventID string) store.RecordedEvent {
	t.Helper()
	rec, err := f.st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: election, BallotID: ballot,
		VoterRef: f.voter.Ref, EventID: eventID, Status: "mailed", OccurredAt: time.Now().Add(-time.Hour).Truncate(time.Second)})
	require.NoError(t, err)
	return rec
}

func (f *signalFixture) resignal(t *testing.T) (int, error) {
	t.Helper()
	// Stored "now": a negative minimum age takes them all up.
	return f.svc.Resignal(bg, -time.Minute, 100)
}

// An event of an election whose canvass is in the year 9999 (accepted before elections'
// dates were checked) starts its workflow with a bounded, positive timeout instead of an
// overflowed one that Temporal refuses.
func TestSignalOfAFarFutureCanvassUsesABoundedTimeout(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "far", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	f.event(t, "far", "B1", "ev1")

	n, err := f.resignal(t)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, f.fake.timeouts, 1)
	require.Positive(t, f.fake.timeouts[0])
	require.Less(t, f.fake.timeouts[0], 3*366*24*time.Hour, "bounded (two years and a grace week at most)")
}

// One event that Temporal refuses as invalid is set aside with its reason, and the sweeper
// goes on to signal the events after it; the set-aside event is not tried again.
func TestResignalSetsAPoisonEventAsideAndSignalsTheRest(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "e1", time.Now().AddDate(0, 1, 0))
	poison := f.event(t, "e1", "B1", "ev1")
	f.event(t, "e1", "B2", "ev2")
	f.event(t, "e1", "B3", "ev3")
	poisonID := ballot.WorkflowID("e1", poison.Ballot.Key)
	f.fake.fail = func(id string) error {
		if id == poisonID {
			return serviceerror.NewInvalidArgument("the request is invalid")
		}
		return nil
	}

	n, err := f.resignal(t)
	require.NoError(t, err)
	require.Equal(t, 3, n, "two signaled, one set aside")
	require.Len(t, f.fake.signaled, 2)
	require.NotContains(t, f.fake.signaled, poisonID)

	aside, total, err := f.st.BallotEventListSetAside(bg, "CO", 10)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, "ev1", aside[0].EventID)
	require.Contains(t, aside[0].Reason, store.SetAsideInvalid)

	f.fake.fail = nil
	n, err = f.resignal(t)
	require.NoError(t, err)
	require.Zero(t, n, "a set-aside event is not swept again")
}

// A failure that may pass (Temporal unavailable) neither sets the event aside nor stops the
// sweep, and the failed event waits for its backoff instead of being retried on every sweep.
func TestResignalBacksOffATransientFailureAndGoesOn(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "e1", time.Now().AddDate(0, 1, 0))
	stuck := f.event(t, "e1", "B1", "ev1")
	f.event(t, "e1", "B2", "ev2")
	stuckID := ballot.WorkflowID("e1", stuck.Ballot.Key)
	f.fake.fail = func(id string) error {
		if id == stuckID {
			return serviceerror.NewUnavailable("try later")
		}
		return nil
	}

	n, err := f.resignal(t)
	require.Error(t, err)
	require.Equal(t, 1, n, "the event after the failing one is signaled")
	_, total, err := f.st.BallotEventListSetAside(bg, "", 10)
	require.NoError(t, err)
	require.Zero(t, total, "a transient failure is not a reason to set an event aside")

	calls := len(f.fake.timeouts)
	n, err = f.resignal(t)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Len(t, f.fake.timeouts, calls, "the failed event waits for its backoff")
}

// An event stored for an election whose canvass has since ended is set aside as too late,
// without a call to Temporal: its ballot workflow is closed.
func TestResignalSetsAsideEventsOfAClosedCanvass(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "old", time.Now().AddDate(0, 0, -10))
	f.event(t, "old", "B1", "ev1")

	n, err := f.resignal(t)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, f.fake.timeouts, "nothing was sent to Temporal")
	aside, _, err := f.st.BallotEventListSetAside(bg, "CO", 10)
	require.NoError(t, err)
	require.Len(t, aside, 1)
	require.Contains(t, aside[0].Reason, store.SetAsideCanvassClosed)
}

// A county posting an event after the canvass is told so, and nothing is stored.
func TestSubmitRejectsAnEventAfterTheCanvass(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "old", time.Now().AddDate(0, 0, -10))
	res := f.svc.Submit(bg, Caller{Role: store.RoleState, State: "CO"}, Event{EventID: "ev1", ElectionID: "old",
		VoterID: "V1", BallotID: "B1", Status: "mailed", OccurredAt: time.Now().Add(-time.Hour).Format(time.RFC3339)})
	require.Equal(t, Rejected, res.Result)
	require.Equal(t, "canvass_closed", res.Error.Code)
	require.Equal(t, "election_id", res.Error.Field)
	require.Equal(t, 422, res.Error.Status)
	var events int
	require.NoError(t, f.st.Pool().QueryRow(bg, `SELECT count(*) FROM ballot_events`).Scan(&events))
	require.Zero(t, events)
	require.Empty(t, f.fake.timeouts)
}

// With Temporal away every event would fail: the sweep stops after a few failures in a row
// instead of waiting on each of its events, and those it tried wait for their backoff.
func TestResignalStopsEarlyWhenEveryEventFails(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "e1", time.Now().AddDate(0, 1, 0))
	for i := range 8 {
		f.event(t, "e1", fmt.Sprintf("B%d", i), fmt.Sprintf("ev%d", i))
	}
	f.fake.fail = func(string) error { return serviceerror.NewUnavailable("Temporal is down") }

	n, err := f.resignal(t)
	require.ErrorContains(t, err, "Temporal is down")
	require.Zero(t, n)
	require.Len(t, f.fake.timeouts, resignalFailuresInARow)

	f.fake.fail = nil
	n, err = f.resignal(t)
	require.NoError(t, err)
	require.Equal(t, 8-resignalFailuresInARow, n, "the events not tried are swept at once; the others after their backoff")
}

// A namespace without ballotflow's search attributes refuses every SignalWithStart as an
// invalid argument. That is a deployment mistake, not a bad event: no event is set aside
// for it (a whole mail-out day would be), and each is signaled once the attributes exist.
func TestAMissingSearchAttributeSetsNoEventAside(t *testing.T) {
	f := newSignalFixture(t)
	f.election(t, "e1", time.Now().AddDate(0, 1, 0))
	f.event(t, "e1", "B1", "ev1")
	f.event(t, "e1", "B2", "ev2")
	f.fake.fail = func(string) error {
		return serviceerror.NewInvalidArgument("search attribute County is not defined")
	}
	_, err := f.resignal(t)
	require.Error(t, err)
	_, total, err := f.st.BallotEventListSetAside(bg, "CO", 10)
	require.NoError(t, err)
	require.Zero(t, total)
	require.Empty(t, f.fake.signaled)
}
