package activities_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/providers"
)

// The opt-out footer rides on the first text to a number and once a period after it (CTIA),
// not on every text; a retry of the delivery that carried it carries it again. Texts are in
// the voter's language, with the county's help text in that language.
func TestTheOptOutFooterGoesOnTheFirstTextAndOnceAMonth(t *testing.T) {
	t.Parallel()
	st := demoStore(t)
	key := mariaMailed(t, st, "B-FOOT")

	now := time.Now()
	s := &textCounter{}
	env := activityEnv(&activities.Activities{Store: st, Phone: s, Now: func() time.Time { return now }})
	send := func(seq int, status ballot.Status) string {
		t.Helper()
		_, err := env.ExecuteActivity("SendSMS", activities.Notice{IdempotencyKey: key + "/" + string(rune('0'+seq)) + "/sms",
			BallotKey: key, Seq: seq, Status: status, Channel: ballot.ChannelSMS})
		require.NoError(t, err)
		return s.texts[len(s.texts)-1]
	}
	first := send(1, ballot.StatusMailed)
	require.Contains(t, first, "Reply STOP to opt out.", "the first text to the number")
	require.Contains(t, first, "Maria")
	require.Equal(t, 1, notices.SMSCostOf(first).Segments)
	require.NotContains(t, send(2, ballot.StatusReceived), "STOP", "not on every text")

	now = now.Add(notices.SMSFooterPeriod + time.Hour)
	require.Contains(t, send(3, ballot.StatusAccepted), "STOP", "again a period later")
}

// textCounter accepts every text with a provider id of its own.
type textCounter struct {
	mu    sync.Mutex
	texts []string
}

func (s *textCounter) SendSMS(_ context.Context, m providers.SMS) (providers.Accepted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, m.Body)
	return providers.Accepted{ProviderID: fmt.Sprintf("SM%d", len(s.texts))}, nil
}

func (s *textCounter) PlaceCall(context.Context, providers.Call) (providers.Accepted, error) {
	panic("no calls here")
}
