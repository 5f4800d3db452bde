package activities_test

import (
	"context"
	"net/url"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/providers"
	"github.com/ballotflow/ballotflow/internal/store"
)

// senders records what would have gone to SendGrid and Twilio, or fails with err.
type senders struct {
	mu     sync.Mutex
	emails []providers.Email
	texts  []providers.SMS
	err    error
}

func (s *senders) SendEmail(_ context.Context, m providers.Email) (providers.Accepted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return providers.Accepted{}, s.err
	}
	s.emails = append(s.emails, m)
	return providers.Accepted{ProviderID: "em-1"}, nil
}

func (s *senders) SendSMS(_ context.Context, m providers.SMS) (providers.Accepted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return providers.Accepted{}, s.err
	}
	s.texts = append(s.texts, m)
	return providers.Accepted{ProviderID: "SM1"}, nil
}

func (s *senders) PlaceCall(context.Context, providers.Call) (providers.Accepted, error) {
	panic("no calls for confirmations")
}

func TestSendConfirmationReadsTheSubscriptionAtSendTime(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	ana, err := st.VoterGetByID(bg, "CO", demo.Voters[2].VoterID)
	require.NoError(t, err)
	s := &senders{}
	env := activityEnv(&activities.Activities{Store: st, Email: s, Phone: s})
	send := func(subID int64, channel string) (activities.NoticeResult, error) {
		v, err := env.ExecuteActivity("SendConfirmation",
			activities.ConfirmationInput{SubscriptionID: subID, Channel: channel, LinkBase: "https://ballots.example.org/"})
		if err != nil {
			return activities.NoticeResult{}, err
		}
		var res activities.NoticeResult
		require.NoError(t, v.Get(&res))
		return res, nil
	}

	saved, err := st.SubscriptionSavePreferences(bg, ana.Ref, store.PortalPreferences{
		SMS:   &store.ChannelChoice{Enabled: true, Address: "+13035550177"},
		Email: &store.ChannelChoice{Enabled: true, Address: "ana@example.org"},
	})
	require.NoError(t, err)
	require.Len(t, saved.Confirm, 2)
	subOf := map[string]int64{}
	for _, c := range saved.Confirm {
		subOf[c.Channel] = c.SubscriptionID
	}

	res, err := send(subOf["sms"], "sms")
	require.NoError(t, err)
	require.Equal(t, activities.OutcomeSent, res.Outcome)
	require.Len(t, s.texts, 1)
	require.Equal(t, "+13035550177", s.texts[0].To)
	require.Equal(t, "+17205550100", s.texts[0].From, "from the county's number, which the voter replies to")
	require.Contains(t, s.texts[0].Body, "Ana", "households share phones: the text names its voter")
	require.Contains(t, s.texts[0].Body, "YES")

	res, err = send(subOf["email"], "email")
	require.NoError(t, err)
	require.Equal(t, activities.OutcomeSent, res.Outcome)
	require.Len(t, s.emails, 1)
	link := regexp.MustCompile(`https://ballots\.example\.org/v1/portal/confirm-email\?token=\S+`).FindString(s.emails[0].Text)
	require.NotEmpty(t, link, s.emails[0].Text)
	require.Contains(t, s.emails[0].HTML, `<a href="`+link+`">`, "the link is clickable")
	require.Equal(t, "Ana Smith", s.emails[0].ToName)
	u, err := url.Parse(link)
	require.NoError(t, err)
	ref, err := st.EmailConfirmationUse(bg, u.Query().Get("token"))
	require.NoError(t, err, "the link in the email confirms the address")
	require.Equal(t, ana.Ref, ref)

	// Confirmed or turned off meanwhile: nothing is sent.
	res, err = send(subOf["email"], "email")
	require.NoError(t, err)
	require.Equal(t, activities.OutcomeSkipped, res.Outcome)
	_, err = st.SubscriptionSavePreferences(bg, ana.Ref, store.PortalPreferences{SMS: &store.ChannelChoice{Enabled: false}})
	require.NoError(t, err)
	res, err = send(subOf["sms"], "sms")
	require.NoError(t, err)
	require.Equal(t, activities.OutcomeSkipped, res.Outcome)
	require.Len(t, s.texts, 1)
	require.Len(t, s.emails, 1)

	// A number the provider refuses for good is marked bounced and not retried.
	saved, err = st.SubscriptionSavePreferences(bg, ana.Ref, store.PortalPreferences{
		SMS: &store.ChannelChoice{Enabled: true, Address: "+13035550178"}})
	require.NoError(t, err)
	s.err = &providers.Error{Provider: providers.ProviderTwilio, Permanent: true, Code: "21211", Message: "invalid number"}
	_, err = send(saved.Confirm[0].SubscriptionID, "sms")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, activities.ErrPermanent, appErr.Type())
	require.True(t, appErr.NonRetryable())
	sub, err := st.SubscriptionGetByID(bg, saved.Confirm[0].SubscriptionID)
	require.NoError(t, err)
	require.Equal(t, "bounced", sub.State)

	// An outage is retried.
	_, err = st.SubscriptionSavePreferences(bg, ana.Ref, store.PortalPreferences{
		SMS: &store.ChannelChoice{Enabled: true, Address: "+13035550179"}})
	require.NoError(t, err)
	s.err = &providers.Error{Provider: providers.ProviderTwilio, Code: "http_503", HTTPStatus: 503}
	_, err = send(saved.Confirm[0].SubscriptionID, "sms")
	require.ErrorAs(t, err, &appErr)
	require.False(t, appErr.NonRetryable())
}

// A confirmation goes only to the address it was asked (and counted) for, once: a workflow
// of an earlier save does not text the number saved after it, and a number that may not be
// texted (a premium-rate one stored by an import) is never texted.
func TestSendConfirmationSendsOnlyWhatWasAskedForTheCurrentAddress(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	ana, err := st.VoterGetByID(bg, "CO", demo.Voters[2].VoterID)
	require.NoError(t, err)
	s := &senders{}
	env := activityEnv(&activities.Activities{Store: st, Email: s, Phone: s})
	send := func(subID int64) string {
		v, err := env.ExecuteActivity("SendConfirmation", activities.ConfirmationInput{SubscriptionID: subID, Channel: "sms"})
		require.NoError(t, err)
		var res activities.NoticeResult
		require.NoError(t, v.Get(&res))
		return res.Outcome
	}
	save := func(phone string) int64 {
		saved, err := st.SubscriptionSavePreferences(bg, ana.Ref, store.PortalPreferences{SMS: &store.ChannelChoice{Enabled: true, Address: phone}})
		require.NoError(t, err)
		require.Len(t, saved.Confirm, 1)
		return saved.Confirm[0].SubscriptionID
	}
	sub := save("+13035550191")
	save("+13035550192")
	// Both saves' workflows run now: one text, to the number saved last.
	require.Equal(t, activities.OutcomeSent, send(sub))
	require.Equal(t, activities.OutcomeSkipped, send(sub))
	require.Len(t, s.texts, 1)
	require.Equal(t, "+13035550192", s.texts[0].To)

	_, err = st.Pool().Exec(bg, `UPDATE subscriptions SET address = '+19005550123' WHERE id = $1`, sub)
	require.NoError(t, err)
	require.Equal(t, activities.OutcomeSkipped, send(sub))
	require.Len(t, s.texts, 1, "a premium-rate number is never texted")
}

// A confirmation is in a language the county offers, as its notices are: a Spanish-reading
// voter in a county that offers only English gets it in English, and in Spanish where the
// county offers Spanish.
func TestSendConfirmationIsInALanguageTheCountyOffers(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st := demoStore(t)
	jose, err := st.VoterGetByID(bg, "CO", demo.Voters[3].VoterID)
	require.NoError(t, err)
	require.Equal(t, "es", jose.Language)
	s := &senders{}
	env := activityEnv(&activities.Activities{Store: st, Email: s, Phone: s})
	confirm := func(phone string) string {
		saved, err := st.SubscriptionSavePreferences(bg, jose.Ref, store.PortalPreferences{
			SMS: &store.ChannelChoice{Enabled: true, Address: phone}})
		require.NoError(t, err)
		require.Len(t, saved.Confirm, 1)
		_, err = env.ExecuteActivity("SendConfirmation", activities.ConfirmationInput{
			SubscriptionID: saved.Confirm[0].SubscriptionID, Channel: "sms", LinkBase: "https://ballots.example.org/"})
		require.NoError(t, err)
		return s.texts[len(s.texts)-1].Body
	}
	spanish := confirm("+13035550181")
	_, err = st.Pool().Exec(bg, `UPDATE jurisdictions SET languages = '{en}' WHERE county = $1`, jose.County)
	require.NoError(t, err)
	english := confirm("+13035550182")
	require.Contains(t, spanish, "responda YES")
	require.Contains(t, english, "YES")
	require.NotContains(t, english, "responda")
}
