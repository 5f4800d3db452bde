package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/store"
)

// messageRows counts what a change of wording writes: versions and audit rows.
func messageRows(t *testing.T, st *store.Store) (versions, audits int) {
	t.Helper()
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM message_versions),
		(SELECT count(*) FROM audit_log WHERE action LIKE 'message.%')`).Scan(&versions, &audits))
	return versions, audits
}

// Every save and every revert of a county's wording is a new version, audited; the wording
// in force at any version can be read back, and a change to what is in force writes nothing.
func TestCountyWordingIsVersionedAndRevertible(t *testing.T) {
	st, _ := setup(t)
	jid := store.JurisdictionID("CO", "denver")
	save := func(id, lang, text, actor string) (store.MessageVersion, string) {
		t.Helper()
		v, outcome, err := st.MessageVersionSave(ctx, store.MessageVersion{JurisdictionID: jid, MessageID: id, Language: lang,
			Text: text}, actor)
		require.NoError(t, err)
		return v, outcome
	}
	v1, outcome := save("notice.mailed.sms", "en", "first {{.FirstName}}", "key:county1")
	require.Equal(t, store.Created, outcome)
	require.EqualValues(t, 1, v1.Version)
	_, outcome = save("notice.mailed.sms", "en", "first {{.FirstName}}", "key:county1")
	require.Equal(t, store.Unchanged, outcome, "the same text again is no change")
	v2, outcome := save("notice.mailed.sms", "es", "primero {{.FirstName}}", "key:state")
	require.Equal(t, store.Created, outcome)
	v3, outcome := save("notice.mailed.sms", "en", "second {{.FirstName}}", "key:county1")
	require.Equal(t, store.Updated, outcome)
	v4, outcome := save("notice.mailed.sms", "en", "", "key:county1")
	require.Equal(t, store.MessageReverted, outcome)
	_, outcome = save("notice.mailed.sms", "en", "", "key:county1")
	require.Equal(t, store.Unchanged, outcome, "nothing to revert")
	require.Equal(t, []int64{2, 3, 4}, []int64{v2.Version, v3.Version, v4.Version})

	at, now, err := st.MessageOverrideList(ctx, jid, 0)
	require.NoError(t, err)
	require.EqualValues(t, 4, at)
	require.Len(t, now, 1, "English is back to the catalog's")
	require.Equal(t, "es", now[0].Language)
	require.Equal(t, "key:state", now[0].Actor)

	at, then, err := st.MessageOverrideList(ctx, jid, 3)
	require.NoError(t, err)
	require.EqualValues(t, 3, at)
	require.Len(t, then, 2, "as a notice sent at version 3 read it")
	require.Equal(t, "second {{.FirstName}}", then[0].Text)

	history, err := st.MessageVersionList(ctx, jid, "notice.mailed.sms", "en")
	require.NoError(t, err)
	require.Len(t, history, 3)
	require.True(t, history[0].Reverted(), "newest first")
	require.Equal(t, "first {{.FirstName}}", history[2].Text)

	latest, err := st.MessageVersionLatest(ctx, jid)
	require.NoError(t, err)
	require.EqualValues(t, 4, latest)
	versions, audits := messageRows(t, st)
	require.Equal(t, 4, versions)
	require.Equal(t, 4, audits, "every change audited, in the same transaction")
}

// A change out of bounds, or of a county that does not exist, writes nothing: no version
// and no audit row.
func TestABadWordingChangeWritesNothing(t *testing.T) {
	st, _ := setup(t)
	jid := store.JurisdictionID("CO", "denver")
	for _, bad := range []struct {
		v     store.MessageVersion
		actor string
	}{
		{store.MessageVersion{JurisdictionID: jid, MessageID: "notice.mailed.sms", Language: "en",
			Text: strings.Repeat("x", store.MaxMessageTextRunes+1)}, "key:a"},
		{store.MessageVersion{JurisdictionID: jid, MessageID: "", Language: "en", Text: "x"}, "key:a"},
		{store.MessageVersion{JurisdictionID: jid, MessageID: "portal.title", Language: "en", Text: "x"}, "key:a"},
		{store.MessageVersion{JurisdictionID: jid, MessageID: "notice.mailed.sms", Language: "EN!", Text: "x"}, "key:a"},
		{store.MessageVersion{JurisdictionID: jid, MessageID: "notice.mailed.sms", Language: "en", Text: "x"}, ""},
		{store.MessageVersion{JurisdictionID: "co-nowhere", MessageID: "notice.mailed.sms", Language: "en", Text: "x"}, "key:a"},
	} {
		_, _, err := st.MessageVersionSave(ctx, bad.v, bad.actor)
		require.Error(t, err, "%+v", bad.v)
	}
	_, _, err := st.MessageVersionSave(ctx, store.MessageVersion{JurisdictionID: "co-nowhere", MessageID: "notice.mailed.sms",
		Language: "en", Text: "x"}, "key:a")
	require.ErrorIs(t, err, store.ErrNotFound)
	versions, audits := messageRows(t, st)
	require.Zero(t, versions)
	require.Zero(t, audits)
}

// A delivery records the version of the county's wording its message used.
func TestADeliveryRecordsTheWordingVersion(t *testing.T) {
	st, v := setup(t)
	rec, err := st.BallotEventRecord(ctx, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", "denver"),
		ElectionID: "e1", BallotID: "B-WORD", VoterRef: v.Ref, EventID: "ev-word", Status: "mailed", OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	for key, version := range map[string]int64{"k/1/sms": 5, "k/1/email": 0} {
		_, err := st.DeliveryBegin(ctx, store.Delivery{IdempotencyKey: key, BallotRef: rec.Ballot.Ref, VoterRef: v.Ref,
			NoticeSeq: 1, NoticeStatus: "mailed", Channel: strings.Split(key, "/")[2]})
		require.NoError(t, err)
		require.NoError(t, st.DeliveryAccept(ctx, key, "P-"+key, version))
		d, err := st.DeliveryGetByKey(ctx, key)
		require.NoError(t, err)
		require.Equal(t, store.DeliveryAccepted, d.State)
		require.Equal(t, version, d.MessagesVersion)
	}

	// The provider's "delivered" callback can outrun the activity that sent the message: the
	// delivery stays delivered, and still records the version.
	_, err = st.DeliveryBegin(ctx, store.Delivery{IdempotencyKey: "k/2/sms", BallotRef: rec.Ballot.Ref, VoterRef: v.Ref,
		NoticeSeq: 2, NoticeStatus: "mailed", Channel: "sms"})
	require.NoError(t, err)
	_, err = st.DeliveryEventRecord(ctx, store.ProviderEvent{Provider: "twilio", IdempotencyKey: "k/2/sms", ProviderID: "P-k/2/sms",
		Channels: []string{"sms"}, EventID: "P-k/2/sms:delivered", Status: "delivered", State: store.DeliveryDelivered,
		OccurredAt: time.Now()})
	require.NoError(t, err)
	require.NoError(t, st.DeliveryAccept(ctx, "k/2/sms", "P-k/2/sms", 7))
	d, err := st.DeliveryGetByKey(ctx, "k/2/sms")
	require.NoError(t, err)
	require.Equal(t, store.DeliveryDelivered, d.State)
	require.Equal(t, "P-k/2/sms", d.ProviderID)
	require.EqualValues(t, 7, d.MessagesVersion)
}
