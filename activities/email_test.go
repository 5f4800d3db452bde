package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/unsubscribe"
)

// A notice email carries the county's Reply-To, HTML in the voter's language beside the plain
// text, and an unsubscribe link whose token names the voter's email subscription and the
// address it went to, and nothing a reader could use.
func TestNoticeEmailHasReplyToHTMLAndAnUnsubscribeLink(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	jose, err := st.VoterGetByID(bg, "CO", demo.Voters[3].VoterID)
	require.NoError(t, err)
	require.Equal(t, ballot.LanguageSpanish, jose.Language, "demo.Voters[3] is José, who reads Spanish")
	rec, err := st.BallotEventRecord(bg, store.BallotEvent{JurisdictionID: store.JurisdictionID("CO", "denver"),
		ElectionID: demo.ElectionID, BallotID: "B-MAIL", VoterRef: jose.Ref, EventID: "ev-mail", Status: "received",
		OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)

	s := &senders{}
	env := activityEnv(&activities.Activities{Store: st, Email: s, Phone: s, PublicURL: "https://ballots.example.org/"})
	_, err = env.ExecuteActivity("SendEmail", activities.Notice{IdempotencyKey: rec.Ballot.Key + "/1/email",
		BallotKey: rec.Ballot.Key, Seq: 1, Status: "received", Channel: ballot.ChannelEmail})
	require.NoError(t, err)
	require.Len(t, s.emails, 1)
	m := s.emails[0]
	require.Equal(t, "elections@denver.example.org", m.ReplyTo, "the county's contact address")
	require.Equal(t, "ballots@denver.example.org", m.From)
	require.Contains(t, m.HTML, `<html lang="es">`)
	require.Contains(t, m.Text, "José Núñez")
	require.Contains(t, m.Text, m.ListUnsubscribe, "the plain text offers the same link")
	require.Contains(t, m.HTML, m.ListUnsubscribe)
	require.Contains(t, m.HTML, `href="https://ballots.example.org/"`, "the portal")

	token, ok := strings.CutPrefix(m.ListUnsubscribe, "https://ballots.example.org/v1/unsubscribe/")
	require.True(t, ok, m.ListUnsubscribe)
	for _, leak := range []string{"jose", "nunez", "example", jose.VoterID} {
		require.NotContains(t, strings.ToLower(token), leak)
	}
	key, err := unsubscribe.KeyOf(bg, st)
	require.NoError(t, err)
	claims, err := key.Open(token)
	require.NoError(t, err)
	subs, err := st.SubscriptionListByVoter(bg, jose.Ref)
	require.NoError(t, err)
	require.Equal(t, ballot.ChannelEmail, subs[0].Channel)
	require.Equal(t, subs[0].ID, claims.SubscriptionID)
	require.True(t, key.AddressMatches(claims, subs[0].Address))
	require.Equal(t, "es", claims.Language)

	// Without a public URL there is nothing to link to: no links, no List-Unsubscribe.
	s2 := &otherIDSender{}
	env = activityEnv(&activities.Activities{Store: st, Email: s2, Phone: s})
	_, err = env.ExecuteActivity("SendEmail", activities.Notice{IdempotencyKey: rec.Ballot.Key + "/2/email",
		BallotKey: rec.Ballot.Key, Seq: 2, Status: "received", Channel: ballot.ChannelEmail})
	require.NoError(t, err)
	require.Len(t, s2.emails, 1)
	require.Empty(t, s2.emails[0].ListUnsubscribe)
	require.NotContains(t, s2.emails[0].HTML, "/v1/unsubscribe/")
}

// otherIDSender records emails and accepts them under a provider id of its own.
type otherIDSender struct{ senders }

func (s *otherIDSender) SendEmail(ctx context.Context, m providers.Email) (providers.Accepted, error) {
	if _, err := s.senders.SendEmail(ctx, m); err != nil {
		return providers.Accepted{}, err
	}
	return providers.Accepted{ProviderID: "em-other"}, nil
}
