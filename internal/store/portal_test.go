package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

func TestSetBallotStatusKeepsTheHistoryThePortalShows(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	_, err := st.UpsertJurisdiction(bg, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call."})
	require.NoError(t, err)
	require.NoError(t, st.UpsertElection(bg, store.Election{ID: "e1", State: "CO", Name: "General",
		ElectionDay: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), CanvassEndsAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}))
	ref, err := st.UpsertVoter(bg, store.Voter{State: "CO", VoterID: "V1", County: "denver", FirstName: "A", LastName: "B",
		DateOfBirth: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80202", Status: "active"})
	require.NoError(t, err)
	at := time.Date(2026, 10, 10, 9, 0, 0, 0, time.UTC)
	rec, err := st.RecordEvent(bg, store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B1",
		VoterRef: ref, EventID: "x1", Status: "mailed", OccurredAt: at})
	require.NoError(t, err)
	key := rec.Ballot.Key

	require.NoError(t, st.SetBallotStatus(bg, key, "mailed", at))
	require.NoError(t, st.SetBallotStatus(bg, key, "mailed", at), "a retried activity records nothing twice")
	require.NoError(t, st.SetBallotStatus(bg, key, "received", at.Add(2*time.Hour)))
	// The workflow moved the ballot forward with an event stamped earlier than the current
	// status (county clocks disagree): the current status stays, the history still has it.
	require.NoError(t, st.SetBallotStatus(bg, key, "accepted", at.Add(time.Hour)))
	require.ErrorIs(t, st.SetBallotStatus(bg, "bnosuchballot", "mailed", at), store.ErrNotFound)

	ballots, err := st.PortalBallots(bg, ref)
	require.NoError(t, err)
	require.Len(t, ballots, 1)
	require.Equal(t, "received", ballots[0].Status)
	var statuses []string
	for _, c := range ballots[0].Timeline {
		statuses = append(statuses, c.Status)
	}
	require.Equal(t, []string{"mailed", "accepted", "received"}, statuses, "in the order they happened at the county")
}

func TestRateLimitsCountInFixedWindows(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	limit := store.RateLimit{Key: "someone", Max: 2, Window: time.Hour}
	for i := 0; i < 2; i++ {
		wait, err := st.HitRateLimits(bg, limit)
		require.NoError(t, err)
		require.Zero(t, wait, "hit %d", i+1)
	}
	wait, err := st.HitRateLimits(bg, limit, store.RateLimit{Key: "someone else", Max: 2, Window: time.Minute})
	require.NoError(t, err)
	require.Positive(t, wait)
	require.LessOrEqual(t, wait, time.Hour)
	// An old window no longer counts.
	_, err = st.Pool().Exec(bg, `UPDATE portal_rate_limits SET window_start = window_start - interval '2 hours'`)
	require.NoError(t, err)
	wait, err = st.HitRateLimits(bg, limit)
	require.NoError(t, err)
	require.Zero(t, wait)
	require.NoError(t, st.PrunePortal(bg))
}

func TestCountRateLimitsCountsAllOrNoneAndGivesHitsBack(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	tight := store.RateLimit{Key: "tight", Max: 1, Window: time.Hour}
	loose := store.RateLimit{Key: "loose", Max: 100, Window: time.Hour}
	hitsOf := func() int {
		var n int
		require.NoError(t, st.Pool().QueryRow(bg, `SELECT coalesce(sum(hits), 0) FROM portal_rate_limits`).Scan(&n))
		return n
	}
	counted, waits, err := st.CountRateLimits(bg, loose, tight)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{0, 0}, waits)
	require.Len(t, counted, 2)
	require.Equal(t, 2, hitsOf())

	// tight is used up: nothing is counted, not even against loose, and waits say which.
	counted, waits, err = st.CountRateLimits(bg, loose, tight)
	require.NoError(t, err)
	require.Nil(t, counted)
	require.Zero(t, waits[0])
	require.Positive(t, waits[1])
	require.LessOrEqual(t, waits[1], time.Hour)
	require.Equal(t, 2, hitsOf(), "a refused request counts nothing")

	// Given back, tight allows one more.
	first, _, err := st.CountRateLimits(bg, loose)
	require.NoError(t, err)
	require.NoError(t, st.UncountRateLimits(bg, first...))
	require.Equal(t, 2, hitsOf())
}

func TestCountRateLimitsNeverLetsMoreThanMaxThroughConcurrently(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	limit := store.RateLimit{Key: "one name and ZIP", Max: 5, Window: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, waits, err := st.CountRateLimits(bg, limit, store.RateLimit{Key: fmt.Sprint("client ", i), Max: 10, Window: time.Hour})
			require.NoError(t, err)
			if waits[0] == 0 {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 5, passed)
}

func TestCreatePortalSessionRefusesAVoterWhoMayNotSignIn(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	riley, err := st.VoterByID(bg, "CO", "600100005") // confidential
	require.NoError(t, err)
	_, err = st.CreatePortalSession(bg, riley.Ref, "token", time.Hour)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestEmailConfirmationLinksAreOneLivePerSubscription(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	sam, err := st.VoterByID(bg, "CO", "600200001")
	require.NoError(t, err)
	saved, err := st.SavePortalPreferences(bg, sam.Ref, store.PortalPreferences{Email: &store.ChannelChoice{Enabled: true, Address: "sam.2@example.org"}})
	require.NoError(t, err)
	sub := saved.Confirm[0].SubscriptionID
	for _, token := range []string{"one", "two", "three"} {
		require.NoError(t, st.CreateEmailConfirmation(bg, sub, token, time.Now().Add(time.Hour)))
	}
	_, err = st.ConfirmEmail(bg, "one")
	require.ErrorIs(t, err, store.ErrConfirmationInvalid, "a newer link replaced it")
	_, err = st.ConfirmEmail(bg, "two")
	require.ErrorIs(t, err, store.ErrConfirmationInvalid)
	ref, err := st.ConfirmEmail(bg, "three")
	require.NoError(t, err)
	require.Equal(t, sam.Ref, ref)
}

// Only the newest confirmation of a subscription, asked for its address now, is delivered,
// once, by one workflow.
func TestClaimConfirmationDeliversTheNewestForTheCurrentAddressOnce(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := testdb.Open(t)
	require.NoError(t, demo.Seed(bg, st, time.Now()))
	sam, err := st.VoterByID(bg, "CO", "600200001")
	require.NoError(t, err)
	save := func(phone string) store.Confirmation {
		saved, err := st.SavePortalPreferences(bg, sam.Ref, store.PortalPreferences{SMS: &store.ChannelChoice{Enabled: true, Address: phone}})
		require.NoError(t, err)
		require.Len(t, saved.Confirm, 1)
		return saved.Confirm[0]
	}
	first := save("+13035550181")
	second := save("+13035550182")
	require.Equal(t, first.SubscriptionID, second.SubscriptionID)
	require.NotEqual(t, first.SendID, second.SendID)

	_, owed, err := st.ClaimConfirmation(bg, second.SubscriptionID, "sms", "+13035550181", "workflow:a")
	require.NoError(t, err)
	require.False(t, owed, "the earlier address is not owed a confirmation any more")
	id, owed, err := st.ClaimConfirmation(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:a")
	require.NoError(t, err)
	require.True(t, owed)
	require.Equal(t, second.SendID, id)
	_, owed, err = st.ClaimConfirmation(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:b")
	require.NoError(t, err)
	require.False(t, owed, "another workflow may not deliver it too")
	_, owed, err = st.ClaimConfirmation(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:a")
	require.NoError(t, err)
	require.True(t, owed, "the claiming workflow's retry may")
	require.NoError(t, st.ConfirmationDelivered(bg, id))
	_, owed, err = st.ClaimConfirmation(bg, second.SubscriptionID, "sms", "+13035550182", "workflow:a")
	require.NoError(t, err)
	require.False(t, owed, "delivered once")
}
