package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

var ctx = context.Background()

// setup returns a store on a fresh database holding one county, one election and one voter.
func setup(t *testing.T) (*store.Store, store.Voter) {
	t.Parallel()
	st := testdb.Open(t)
	_, err := st.JurisdictionUpsert(ctx, store.Jurisdiction{State: "CO", County: "denver", Name: "Denver Elections",
		TimeZone: "America/Denver", EmailFrom: "b@example.org", EmailFromName: "Denver", SMSFrom: "+17205550100",
		VoiceFrom: "+17205550100", HelpText: "Call 720-555-0100."})
	require.NoError(t, err)
	// The canvass is still open whatever the date: events of a closed canvass are refused.
	require.NoError(t, st.ElectionUpsert(ctx, store.Election{ID: "e1", State: "CO", Name: "General",
		ElectionDay: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), CanvassEndsAt: time.Now().AddDate(0, 1, 0)}))
	v := store.Voter{State: "CO", VoterID: "V1", County: "denver", FirstName: "José", LastName: "Núñez",
		DateOfBirth: time.Date(1990, 12, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80219", Status: "active",
		Email: "jose@example.org"}
	v.Ref, err = st.VoterUpsert(ctx, v)
	require.NoError(t, err)
	return st, v
}

func TestMigrateTwiceIsANoop(t *testing.T) {
	t.Parallel()
	url := testdb.New(t)
	from, to, err := store.Migrate(ctx, url)
	require.NoError(t, err)
	require.Equal(t, from, to)
	require.Positive(t, to)
}

// A worker of the previous release that restarts after the new release migrated the
// database runs on the newer schema instead of refusing to start (or migrating it down).
func TestMigrateLeavesANewerSchemaAlone(t *testing.T) {
	t.Parallel()
	url := testdb.New(t)
	_, to, err := store.Migrate(ctx, url)
	require.NoError(t, err)
	require.Equal(t, store.SchemaVersion(), to)
	st, err := store.Open(ctx, url)
	require.NoError(t, err)
	defer st.Close()
	_, err = st.Pool().Exec(ctx, `CREATE TABLE from_a_newer_release (id int); UPDATE schema_version SET version = version + 1`)
	require.NoError(t, err)

	from, to, err := store.Migrate(ctx, url)
	require.NoError(t, err)
	require.Equal(t, store.SchemaVersion()+1, from)
	require.Equal(t, from, to)
	var exists bool
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT to_regclass('from_a_newer_release') IS NOT NULL`).Scan(&exists))
	require.True(t, exists, "nothing migrated down")
}

func TestUpsertVoterAutoEnrollsEmailOnceAndKeepsTheVotersChoice(t *testing.T) {
	st, v := setup(t)
	subs, err := st.SubscriptionListByVoter(ctx, v.Ref)
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Equal(t, "email", subs[0].Channel)
	require.Equal(t, "active", subs[0].State)
	require.Equal(t, "auto_enrolled", subs[0].Source)

	require.NoError(t, st.SubscriptionSetState(ctx, v.Ref, "email", "opted_out", "portal", "voter opted out"))
	v.Email = "new@example.org"
	_, err = st.VoterUpsert(ctx, v) // the next roll sync
	require.NoError(t, err)
	subs, err = st.SubscriptionListByVoter(ctx, v.Ref)
	require.NoError(t, err)
	require.Equal(t, "opted_out", subs[0].State, "a roll sync must not re-enroll a voter who opted out")
	require.Equal(t, "jose@example.org", subs[0].Address)

	var audits int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'subscription.opted_out'`).Scan(&audits))
	require.Equal(t, 1, audits)
}

func TestConfidentialVotersAreNeverEnrolled(t *testing.T) {
	st, _ := setup(t)
	ref, err := st.VoterUpsert(ctx, store.Voter{State: "CO", VoterID: "V2", County: "denver", FirstName: "R",
		LastName: "P", DateOfBirth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80203",
		Status: "active", Confidential: true, Email: "r@example.org"})
	require.NoError(t, err)
	subs, err := st.SubscriptionListByVoter(ctx, ref)
	require.NoError(t, err)
	require.Empty(t, subs)
}

func TestFoldIgnoresCaseSpacingAndAccentsButNotAliases(t *testing.T) {
	t.Parallel()
	require.Equal(t, "jose de la cruz", store.Fold("  José   DE la Cruz "))
	require.Equal(t, store.Fold("NÚÑEZ"), store.Fold("nunez"))
	require.NotEqual(t, store.Fold("Jim"), store.Fold("James"))
}

func TestAPIKeysAreShownOnceStoredHashedAndRevocable(t *testing.T) {
	st, _ := setup(t)
	k, plaintext, err := st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver"}, "test")
	require.NoError(t, err)
	require.Regexp(t, `^bf_[a-z2-7]{8}_[A-Za-z0-9_-]{43}$`, plaintext)

	var stored []byte
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT secret_hash FROM api_keys WHERE id = $1`, k.ID).Scan(&stored))
	require.NotContains(t, string(stored), plaintext[12:], "the secret must not be stored in clear")

	got, err := st.APIKeyAuthenticate(ctx, plaintext)
	require.NoError(t, err)
	require.Equal(t, "denver", got.County)

	// Change the last character to a different one: a fixed replacement equals the original
	// whenever the secret already ends in it (one key in 16: the last of the 43 base64
	// characters of 32 bytes is one of 16).
	last := plaintext[len(plaintext)-1]
	other := "A"
	if last == 'A' {
		other = "B"
	}
	tampered := plaintext[:len(plaintext)-1] + other
	for _, bad := range []string{"", "bf_", plaintext + "x", tampered, "Bearer " + plaintext} {
		_, err := st.APIKeyAuthenticate(ctx, bad)
		require.ErrorIs(t, err, store.ErrBadKey, "token %q", bad)
	}
	require.NoError(t, st.APIKeyRevoke(ctx, k.Prefix, "test"))
	_, err = st.APIKeyAuthenticate(ctx, plaintext)
	require.ErrorIs(t, err, store.ErrBadKey)
}

func TestCreateAPIKeyRefusesUnknownCountiesAndBadRoles(t *testing.T) {
	st, _ := setup(t)
	_, _, err := st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "nowhere"}, "test")
	require.ErrorContains(t, err, "no jurisdiction")
	_, _, err = st.APIKeyCreate(ctx, store.APIKey{Role: "admin"}, "test")
	require.ErrorContains(t, err, "unknown role")
	_, _, err = st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO"}, "test")
	require.ErrorContains(t, err, "needs a state and a county")
}

func event(v store.Voter, eventID, status string, at time.Time) store.BallotEvent {
	return store.BallotEvent{JurisdictionID: "co-denver", ElectionID: "e1", BallotID: "B1", VoterRef: v.Ref,
		EventID: eventID, Status: status, OccurredAt: at}
}

func TestRecordEventIsIdempotentOnEventID(t *testing.T) {
	st, v := setup(t)
	at := time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)
	first, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", at))
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	require.Regexp(t, `^b[a-z2-7]{20}$`, first.Ballot.Key)

	again, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", at))
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.False(t, again.Signaled)
	require.Equal(t, first.EventRef, again.EventRef)
	require.Equal(t, first.Ballot.Key, again.Ballot.Key)

	require.NoError(t, st.BallotEventMarkSignaled(ctx, first.EventRef))
	again, err = st.BallotEventRecord(ctx, event(v, "ev1", "mailed", at))
	require.NoError(t, err)
	require.True(t, again.Signaled)

	second, err := st.BallotEventRecord(ctx, event(v, "ev2", "received", at.Add(time.Hour)))
	require.NoError(t, err)
	require.Equal(t, first.Ballot.Key, second.Ballot.Key, "events of one ballot share its key")
}

func TestRecordEventRefusesAReusedEventIDAndStoresNothing(t *testing.T) {
	st, v := setup(t)
	at := time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)
	_, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", at))
	require.NoError(t, err)
	_, err = st.BallotEventRecord(ctx, event(v, "ev1", "received", at))
	require.ErrorIs(t, err, store.ErrEventConflict)

	other := event(v, "ev9", "mailed", at)
	other.BallotID = "B2"
	otherVoter := v
	otherVoter.VoterID, otherVoter.Email = "V3", ""
	otherVoter.Ref, err = st.VoterUpsert(ctx, otherVoter)
	require.NoError(t, err)
	clash := event(otherVoter, "ev10", "mailed", at) // B1 belongs to v
	_, err = st.BallotEventRecord(ctx, clash)
	require.ErrorIs(t, err, store.ErrBallotOfOtherVoter)

	var events, ballots int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM ballot_events`).Scan(&events))
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM ballots`).Scan(&ballots))
	require.Equal(t, 1, events)
	require.Equal(t, 1, ballots)
}

func TestUnsignaledEventsAreFoundForResignaling(t *testing.T) {
	st, v := setup(t)
	rec, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)))
	require.NoError(t, err)
	got, err := st.BallotEventListUnsignaled(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, rec.Ballot.Key, got[0].Ballot.Key)
	require.Equal(t, "denver", got[0].Ballot.County)
	require.NoError(t, st.BallotEventMarkSignaled(ctx, rec.EventRef))
	got, err = st.BallotEventListUnsignaled(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestSetBallotStatusNeverGoesBackInTime(t *testing.T) {
	st, v := setup(t)
	at := time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)
	rec, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", at))
	require.NoError(t, err)
	require.NoError(t, st.BallotSetStatus(ctx, rec.Ballot.Key, "accepted", at.Add(2*time.Hour)))
	require.NoError(t, st.BallotSetStatus(ctx, rec.Ballot.Key, "received", at.Add(time.Hour)))
	b, err := st.BallotGetByKey(ctx, rec.Ballot.Key)
	require.NoError(t, err)
	require.Equal(t, "accepted", b.Status)
	require.ErrorIs(t, st.BallotSetStatus(ctx, "bnope", "accepted", at), store.ErrNotFound)
}

func TestBeginDeliveryFindsTheSettledRowInsteadOfSendingAgain(t *testing.T) {
	st, v := setup(t)
	rec, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)))
	require.NoError(t, err)
	d := store.Delivery{IdempotencyKey: rec.Ballot.Key + "/1/email", BallotRef: rec.Ballot.Ref, VoterRef: v.Ref,
		NoticeSeq: 1, NoticeStatus: "mailed", Channel: "email"}
	got, err := st.DeliveryBegin(ctx, d)
	require.NoError(t, err)
	require.Equal(t, store.DeliverySending, got.State)
	require.Equal(t, 1, got.Attempts)
	unnumbered := d
	unnumbered.IdempotencyKey, unnumbered.NoticeSeq = rec.Ballot.Key+"/0/email", 0
	_, err = st.DeliveryBegin(ctx, unnumbered)
	require.ErrorContains(t, err, "numbered from 1")

	got, err = st.DeliveryBegin(ctx, d) // a retry that never reached the provider
	require.NoError(t, err)
	require.Equal(t, store.DeliverySending, got.State)
	require.Equal(t, 2, got.Attempts)

	require.NoError(t, st.DeliveryFinish(ctx, d.IdempotencyKey, store.DeliveryAccepted, "SG123", ""))
	got, err = st.DeliveryBegin(ctx, d) // a re-run after the provider accepted
	require.NoError(t, err)
	require.Equal(t, store.DeliveryAccepted, got.State)
	require.Equal(t, "SG123", got.ProviderID)
	require.Equal(t, 2, got.Attempts)
}

func TestEnsureDatabaseCreatesAMissingDatabaseAndLeavesAnExistingOne(t *testing.T) {
	t.Parallel()
	url := testdb.New(t)
	require.NoError(t, store.EnsureDatabase(ctx, url)) // exists: no-op
	st, err := store.Open(ctx, url)
	require.NoError(t, err)
	defer st.Close()
	var n int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestRefuseDeliverySettlesItAndTurnsOffTheAddressForTheWholeHousehold(t *testing.T) {
	st, v := setup(t)
	partner := store.Voter{State: "CO", VoterID: "V2", County: "denver", FirstName: "Ana", LastName: "Núñez",
		DateOfBirth: time.Date(1991, 2, 1, 0, 0, 0, 0, time.UTC), ResidentialZIP: "80219", Status: "active"}
	var err error
	partner.Ref, err = st.VoterUpsert(ctx, partner)
	require.NoError(t, err)
	const shared = "+17205550123"
	for _, ref := range []int64{v.Ref, partner.Ref} {
		require.NoError(t, st.SubscriptionUpsert(ctx, store.Subscription{VoterRef: ref, Channel: "sms", Address: shared,
			State: "active", Source: "portal"}))
	}
	rec, err := st.BallotEventRecord(ctx, event(v, "ev1", "mailed", time.Date(2026, 10, 10, 12, 0, 0, 0, time.UTC)))
	require.NoError(t, err)
	d := store.Delivery{IdempotencyKey: rec.Ballot.Key + "/1/sms", BallotRef: rec.Ballot.Ref, VoterRef: v.Ref,
		NoticeSeq: 1, NoticeStatus: "mailed", Channel: "sms"}
	_, err = st.DeliveryBegin(ctx, d)
	require.NoError(t, err)

	refusal := store.DeliveryRefusal{IdempotencyKey: d.IdempotencyKey, Channel: "sms", Provider: "twilio",
		Detail: "twilio 21614: not a mobile number", Subscription: "bounced", Address: shared}
	changed, err := st.DeliveryRefuse(ctx, refusal)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{v.Ref, partner.Ref}, changed)

	got, err := st.DeliveryGetByKey(ctx, d.IdempotencyKey)
	require.NoError(t, err)
	require.Equal(t, store.DeliveryFailed, got.State)
	for _, ref := range []int64{v.Ref, partner.Ref} {
		subs, err := st.SubscriptionListByVoter(ctx, ref)
		require.NoError(t, err)
		for _, sub := range subs {
			want := map[string]string{"sms": "bounced", "email": "active"}[sub.Channel]
			require.Equal(t, want, sub.State, "voter #%d %s", ref, sub.Channel)
		}
	}
	var audits int
	require.NoError(t, st.Pool().QueryRow(ctx,
		`SELECT count(*) FROM audit_log WHERE action = 'subscription.bounced' AND actor = 'provider:twilio'`).Scan(&audits))
	require.Equal(t, 2, audits)

	// The same refusal again (a retried activity) changes nothing and writes nothing.
	changed, err = st.DeliveryRefuse(ctx, refusal)
	require.NoError(t, err)
	require.Empty(t, changed)
	require.NoError(t, st.Pool().QueryRow(ctx,
		`SELECT count(*) FROM audit_log WHERE action = 'subscription.bounced'`).Scan(&audits))
	require.Equal(t, 2, audits)

	// A refusal for no delivery, or with another state, is an error and changes nothing.
	_, err = st.DeliveryRefuse(ctx, store.DeliveryRefusal{IdempotencyKey: "bnope/1/sms", Channel: "sms",
		Provider: "twilio", Subscription: "bounced", Address: shared})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.DeliveryRefuse(ctx, store.DeliveryRefusal{IdempotencyKey: d.IdempotencyKey, Channel: "sms",
		Provider: "twilio", Subscription: "active", Address: shared})
	require.ErrorContains(t, err, "not bounced or opted_out")
}
