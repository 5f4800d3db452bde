package apiserver_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
)

func (p *portal) lookup(req map[string]string, remote string) portalAnswer {
	p.t.Helper()
	return p.do(http.MethodPost, "/v1/portal/session", "", req, remote)
}

// Voters behind one address (a library, a campus, a carrier's NAT) can all sign in: the
// address's budget counts failed lookups only.
func TestPortalClientBudgetCountsFailedLookupsOnlySoOneAddressSignsManyVotersIn(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 2, PerClientWindow: time.Minute})
	clearOfWindowEdges(time.Minute, 10*time.Minute)
	const library = "198.51.100.50:1000"
	for _, v := range []map[string]string{lookup("Maria", "Garcia", "03-14-1985", "80202"), lookup("James", "Smith", "07-04-1962", "80205"),
		lookup("Ana", "Smith", "11-20-1964", "80205"), lookup("José", "Núñez", "12-01-1990", "80219"),
		lookup("Sam", "Lee", "01-09-1975", "80012"), lookup("Lee", "Moreno", "08-08-1988", "80214"),
		lookup("Maria", "Garcia", "03-14-1985", "80202")} {
		require.Equal(t, http.StatusCreated, p.lookup(v, library).Status, "%v", v)
	}
	require.Equal(t, http.StatusNotFound, p.lookup(lookup("No", "One", "01-01-1990", "80202"), library).Status)
	require.Equal(t, http.StatusNotFound, p.lookup(lookup("No", "Two", "01-01-1990", "80202"), library).Status)
	requireRateLimited(t, p.lookup(lookup("Maria", "Garcia", "03-14-1985", "80202"), library), 60)
}

// Guessing a known voter's date of birth: every guess is a new identity and comes from a new
// address, but the name and ZIP are the same, and their failures are counted together.
func TestPortalNameAndZIPAreLimitedAcrossEveryDateOfBirthAndClient(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 1000, PerClientWindow: time.Minute, PerNameZIP: 3, PerNameZIPWindow: time.Hour})
	clearOfWindowEdges(time.Hour)
	for i, guess := range []string{"01-01-1985", "01-02-1985", "01-03-1985"} {
		a := p.lookup(lookup("MARÍA", " garcia", guess, "80202"), fmt.Sprintf("203.0.113.%d:1000", i+1))
		require.Equal(t, http.StatusNotFound, a.Status)
		require.Equal(t, noMatch, string(a.Body))
	}
	// The right date of birth, from yet another address, is refused too: the guesser learns
	// nothing more today.
	requireRateLimited(t, p.lookup(lookup("Maria", "Garcia", "03-14-1985", "80202"), "203.0.113.99:1000"), 3600)
	require.Equal(t, http.StatusCreated, p.lookup(lookup("James", "Smith", "07-04-1962", "80205"), "203.0.113.99:1000").Status,
		"other voters are not affected")
	require.Equal(t, http.StatusNotFound, p.lookup(lookup("Maria", "Garcia", "03-14-1985", "80203"), "203.0.113.99:1000").Status,
		"the same name in another ZIP is another bucket")
}

// The 224 guesses from 25 addresses of the issue, sent at once: no more than the name and
// ZIP's budget is ever looked up, and the voter is not found.
func TestPortalConcurrentGuessesOfOneVoterCannotOutrunTheNameAndZIPLimit(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 1000, PerClientWindow: time.Minute, PerNameZIP: 5, PerNameZIPWindow: time.Hour})
	clearOfWindowEdges(time.Hour)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 224 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dob := time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
			if i == 200 {
				dob = time.Date(1985, 3, 14, 0, 0, 0, 0, time.UTC) // the right one, late in the batch
			}
			a := p.lookup(lookup("Maria", "Garcia", dob.Format("01-02-2006"), "80202"), fmt.Sprintf("203.0.113.%d:1000", i%25+1))
			mu.Lock()
			statuses[a.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, statuses[http.StatusNotFound]+statuses[http.StatusCreated], 5, "%v", statuses)
	require.Equal(t, 224, statuses[http.StatusNotFound]+statuses[http.StatusCreated]+statuses[http.StatusTooManyRequests], "%v", statuses)
}

// When failed lookups across all clients pass the threshold, the lookup pauses for everyone,
// with a clear 429, on every API replica (the count is in PostgreSQL).
func TestPortalFailedLookupsOfEveryoneTripACircuitBreakerSharedByReplicas(t *testing.T) {
	t.Parallel()
	limits := apiserver.PortalLimits{PerClient: 1000, PerClientWindow: time.Minute, GlobalFailures: 3, GlobalFailuresWindow: time.Minute}
	p := newPortal(t, limits)
	clearOfWindowEdges(time.Minute)
	require.Equal(t, http.StatusCreated, p.lookup(lookup("Maria", "Garcia", "03-14-1985", "80202"), "203.0.113.1:1").Status,
		"a sign-in is no failure")
	for i := range 3 {
		require.Equal(t, http.StatusNotFound, p.lookup(lookup("Bot", strconv.Itoa(i), "01-01-1990", "80202"), fmt.Sprintf("192.0.2.%d:1", i+1)).Status)
	}
	requirePaused := func(a portalAnswer) {
		t.Helper()
		require.Equal(t, http.StatusTooManyRequests, a.Status, "%s", a.Body)
		require.Equal(t, "lookups_paused", a.Error.Code)
		require.Contains(t, a.Error.Message, "paused for everyone")
		wait, err := strconv.Atoi(a.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.Positive(t, wait)
		require.LessOrEqual(t, wait, 60)
	}
	requirePaused(p.lookup(lookup("Maria", "Garcia", "03-14-1985", "80202"), "203.0.113.1:1"))
	requirePaused(p.lookup(lookup("James", "Smith", "07-04-1962", "80205"), "203.0.113.2:1"))
	replica := apiserver.New(apiserver.Config{Store: p.st, Temporal: p.tc, PortalLimits: limits, Logger: slog.New(slog.DiscardHandler)})
	other := &portal{t: t, h: replica, st: p.st, tc: p.tc}
	requirePaused(other.lookup(lookup("James", "Smith", "07-04-1962", "80205"), "203.0.113.3:1"))
}

// An IPv6 client is one /64: picking another address in it does not reset its budget.
func TestPortalIPv6ClientsAreLimitedPerSlash64(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 2, PerClientWindow: time.Minute})
	clearOfWindowEdges(time.Minute)
	require.Equal(t, http.StatusNotFound, p.lookup(lookup("No", "One", "01-01-1990", "80202"), "[2001:db8:1:2::1]:443").Status)
	require.Equal(t, http.StatusNotFound, p.lookup(lookup("No", "Two", "01-01-1990", "80202"), "[2001:db8:1:2:ffff::9]:443").Status)
	requireRateLimited(t, p.lookup(lookup("No", "Three", "01-01-1990", "80202"), "[2001:db8:1:2:abcd:1:2:3]:443"), 60)
	require.Equal(t, http.StatusNotFound, p.lookup(lookup("No", "Four", "01-01-1990", "80202"), "[2001:db8:1:3::1]:443").Status,
		"another /64 is another client")
}

// One IPv6 /48 (a site, or a free tunnel-broker allocation) holds 65,536 /64s: the failures
// of all its clients together are limited too, to four clients' worth, so that one
// allocation cannot trip the global breaker for every voter.
func TestPortalIPv6NetworksAreLimitedPerSlash48(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 2, PerClientWindow: time.Minute})
	clearOfWindowEdges(time.Minute)
	guess := 0
	fail := func(addr string) portalAnswer {
		guess++
		return p.lookup(lookup("No", "Body"+strconv.Itoa(guess), "01-01-1990", "80202"), addr)
	}
	for client := 1; client <= 4; client++ {
		for range 2 {
			require.Equal(t, http.StatusNotFound, fail(fmt.Sprintf("[2001:db8:1:%x::1]:443", client)).Status)
		}
	}
	requireRateLimited(t, fail("[2001:db8:1:ff::1]:443"), 60)
	require.Equal(t, http.StatusNotFound, fail("[2001:db8:2:1::1]:443").Status, "another /48 is another network")
}

// A voter made confidential loses their sessions for good: making them non-confidential
// again does not bring a session back.
func TestPortalSessionOfAVoterMadeConfidentialStaysRevokedWhenThatIsUndone(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	for _, change := range []struct{ set, undo string }{
		{`UPDATE voters SET confidential = true WHERE voter_id = $1`, `UPDATE voters SET confidential = false WHERE voter_id = $1`},
		{`UPDATE voters SET status = 'inactive' WHERE voter_id = $1`, `UPDATE voters SET status = 'active' WHERE voter_id = $1`},
	} {
		token := maria(p)
		_, err := p.st.Pool().Exec(portalCtx, change.set, demo.Voters[0].VoterID)
		require.NoError(t, err)
		_, err = p.st.Pool().Exec(portalCtx, change.undo, demo.Voters[0].VoterID)
		require.NoError(t, err)
		a := p.do(http.MethodGet, "/v1/portal/ballot", token, nil, "")
		require.Equal(t, http.StatusUnauthorized, a.Status, "%s: %s", change.set, a.Body)
	}
	// Through the store's roll upsert too.
	token := maria(p)
	v := demo.Voters[0].Voter
	v.Confidential = true
	_, err := p.st.VoterUpsert(portalCtx, v)
	require.NoError(t, err)
	v.Confidential = false
	_, err = p.st.VoterUpsert(portalCtx, v)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, p.do(http.MethodGet, "/v1/portal/ballot", token, nil, "").Status)
	require.Equal(t, http.StatusOK, p.do(http.MethodGet, "/v1/portal/ballot", maria(p), nil, "").Status, "a new lookup works")
}

type notSent struct {
	Channel string     `json:"channel"`
	Code    string     `json:"code"`
	Limit   string     `json:"limit"`
	Message string     `json:"message"`
	RetryAt *time.Time `json:"retry_at"`
}

func (p *portal) putAnswer(token, body string) (int, prefsView, []notSent) {
	p.t.Helper()
	a := p.do(http.MethodPut, "/v1/portal/preferences", token, body, "")
	var v prefsView
	var extra struct {
		NotSent []notSent `json:"confirmations_not_sent"`
	}
	if a.Status == http.StatusOK {
		require.NoError(p.t, json.Unmarshal(a.Body, &v))
		require.NoError(p.t, json.Unmarshal(a.Body, &extra))
	}
	return a.Status, v, extra.NotSent
}

// 20 PUTs at once of one new number send it one text, not 18.
func TestPortalConcurrentSavesOfOneNumberSendOneConfirmation(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	token := maria(p)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.do(http.MethodPut, "/v1/portal/preferences", token,
				`{"sms":{"enabled":true,"phone":"+17205550142"},"email":{"enabled":true,"address":"maria.new@example.org"}}`, "")
		}()
	}
	wg.Wait()
	byChannel := map[string]int{}
	for _, c := range p.tc.confirmations() {
		byChannel[c.Channel]++
	}
	require.Equal(t, map[string]int{"sms": 1, "email": 1}, byChannel)
	var sends int
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `SELECT count(*) FROM confirmation_sends`).Scan(&sends))
	require.Equal(t, 2, sends)

	// Turning the channels off and on again, 20 times at once, each "on" a fresh start: the
	// session's limit holds (before, this sent a text and an email per "on").
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			on := i%2 == 0
			p.do(http.MethodPut, "/v1/portal/preferences", token,
				fmt.Sprintf(`{"sms":{"enabled":%t,"phone":"+17205550142"},"email":{"enabled":%t,"address":"maria.new@example.org"}}`, on, on), "")
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, len(p.tc.confirmations()), store.DefaultConfirmationLimits.PerSession)
}

// One session cannot text and email strangers without limit: past its limit a save still
// stores the new address (pending), sends nothing, and says so.
func TestPortalSessionSendsNoMoreConfirmationsThanItsLimitAndSaysWhen(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 1000, PerClientWindow: time.Minute, PerIdentity: 1000, PerIdentityWindow: time.Minute,
		Confirmations: store.ConfirmationLimits{PerSession: 2, PerVoter: 3, PerVoterWindow: 24 * time.Hour}})
	token := maria(p)
	for i := range 10 {
		status, v, ns := p.putAnswer(token, fmt.Sprintf(`{"sms":{"enabled":true,"phone":"+1720555%04d"}}`, 150+i))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "pending", v.SMS.State)
		require.Equal(t, fmt.Sprintf("+1720555%04d", 150+i), v.SMS.Phone, "the number is saved")
		if i < 2 {
			require.Equal(t, []string{"sms"}, v.ConfirmationsSent)
			require.Empty(t, ns)
			continue
		}
		require.Empty(t, v.ConfirmationsSent, "save %d", i+1)
		require.Len(t, ns, 1)
		require.Equal(t, "sms", ns[0].Channel)
		require.Equal(t, "confirmation_limit", ns[0].Code)
		require.Equal(t, "session", ns[0].Limit)
		require.Contains(t, ns[0].Message, "did not send")
		require.Contains(t, ns[0].Message, "look yourself up again")
	}
	require.Len(t, p.tc.confirmations(), 2)

	// A new session gets one more, then the voter's daily limit holds, with a time.
	token = maria(p)
	_, v, _ := p.putAnswer(token, `{"sms":{"enabled":true,"phone":"+17205550170"}}`)
	require.Equal(t, []string{"sms"}, v.ConfirmationsSent)
	_, _, ns := p.putAnswer(token, `{"sms":{"enabled":true,"phone":"+17205550171"}}`)
	require.Len(t, ns, 1)
	require.Equal(t, "voter", ns[0].Limit)
	require.NotNil(t, ns[0].RetryAt)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), *ns[0].RetryAt, time.Minute)
	require.Contains(t, ns[0].Message, "Save again in about 24 hours")
	require.Len(t, p.tc.confirmations(), 3)
}

// One number is sent at most the destination's limit of confirmations a day, whichever
// voters ask; the household member past it is told when to save again.
func TestPortalDestinationLimitHoldsAcrossVoters(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 1000, PerClientWindow: time.Minute, PerIdentity: 1000, PerIdentityWindow: time.Minute,
		Confirmations: store.ConfirmationLimits{PerDestination: 2, PerDestinationWindow: 24 * time.Hour}})
	const stranger = `{"sms":{"enabled":true,"phone":"(303) 555-0166"}}`
	for i, who := range [][4]string{{"Maria", "Garcia", "03-14-1985", "80202"}, {"James", "Smith", "07-04-1962", "80205"},
		{"Ana", "Smith", "11-20-1964", "80205"}, {"Sam", "Lee", "01-09-1975", "80012"}} {
		token := p.signIn(who[0], who[1], who[2], who[3])
		status, v, ns := p.putAnswer(token, stranger)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "pending", v.SMS.State)
		if i < 2 {
			require.Equal(t, []string{"sms"}, v.ConfirmationsSent, who[0])
			continue
		}
		require.Empty(t, v.ConfirmationsSent, who[0])
		require.Len(t, ns, 1)
		require.Equal(t, "destination", ns[0].Limit)
		require.NotNil(t, ns[0].RetryAt)
		require.NotContains(t, ns[0].Message, "0166", "the message does not repeat the number")
	}
	require.Len(t, p.tc.confirmations(), 2)
	// Stored keyed: as keyed_hash(sha256(value)), never the value, nor its plain hash (which
	// hashing every phone number would reverse).
	var keyed, plain, clear int
	require.NoError(t, p.st.Pool().QueryRow(portalCtx, `
		SELECT count(*) FILTER (WHERE destination = keyed_hash(sha256('phone:+13035550166'::bytea))),
			count(*) FILTER (WHERE destination = sha256('phone:+13035550166'::bytea)),
			count(*) FILTER (WHERE position('3035550166'::bytea IN destination) > 0)
		FROM confirmation_sends`).Scan(&keyed, &plain, &clear))
	require.Equal(t, 2, keyed, "the two confirmations sent are recorded, keyed")
	require.Zero(t, plain, "never as a plain hash")
	require.Zero(t, clear, "never in clear")
}

// A session that saves too often is refused whole, with Retry-After, and nothing is stored.
func TestPortalSavesPerSessionAreLimitedWithA429ThatStoresNothing(t *testing.T) {
	t.Parallel()
	p := newPortal(t, apiserver.PortalLimits{PerClient: 1000, PerClientWindow: time.Minute, SavesPerSession: 2, SavesPerSessionWindow: time.Minute})
	clearOfWindowEdges(time.Minute)
	token := maria(p)
	p.put(token, `{"language":"es"}`)
	p.put(token, `{"language":"en"}`)
	before, err := p.st.SubscriptionListByVoter(portalCtx, mariaRef(t, p))
	require.NoError(t, err)
	a := p.do(http.MethodPut, "/v1/portal/preferences", token, `{"language":"es","sms":{"enabled":true,"phone":"+17205550188"}}`, "")
	requireRateLimited(t, a, 60)
	after, err := p.st.SubscriptionListByVoter(portalCtx, mariaRef(t, p))
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Empty(t, p.tc.confirmations())
}

// Premium-rate and costly numbers are refused for SMS and voice with a message that says why.
func TestPortalRefusesPremiumAndInternationalRateNumbers(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	token := maria(p)
	for _, tc := range []struct{ body, field, says string }{
		{`{"sms":{"enabled":true,"phone":"+19005550123"}}`, "sms.phone", "premium-rate"},
		{`{"voice":{"enabled":true,"phone":"1-900-555-0123"}}`, "voice.phone", "premium-rate"},
		{`{"sms":{"enabled":true,"phone":"(303) 976-1234"}}`, "sms.phone", "premium-rate"},
		{`{"voice":{"enabled":true,"phone":"+18765550123"}}`, "voice.phone", "Caribbean"},
		{`{"voice":{"enabled":true,"phone":"+442071838750"}}`, "voice.phone", "US and Canadian"},
		{`{"sms":{"enabled":true,"phone":"+442071838750"}}`, "sms.phone", "email"},
	} {
		a := p.do(http.MethodPut, "/v1/portal/preferences", token, tc.body, "")
		require.Equal(t, http.StatusBadRequest, a.Status, "%s: %s", tc.body, a.Body)
		require.Equal(t, tc.field, a.Error.Field)
		require.Contains(t, a.Error.Message, tc.says)
	}
	require.Empty(t, p.tc.confirmations())
}

// A number on file that the rule now refuses (imported from another system) does not
// block saving the rest: it is kept as it is, and the answer says plainly what to do.
func TestPortalUnchangedNumberOnFileThatMayNotBeUsedDoesNotBlockTheSave(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	ref := mariaRef(t, p)
	_, err := p.st.Pool().Exec(portalCtx, `UPDATE subscriptions SET address = '+442071838750' WHERE voter_ref = $1 AND channel = 'sms'`, ref)
	require.NoError(t, err)
	token := maria(p)

	a := p.do(http.MethodGet, "/v1/portal/preferences", token, nil, "")
	require.Equal(t, http.StatusOK, a.Status)
	var got struct {
		SMS struct{ Phone, State, Problem string } `json:"sms"`
	}
	require.NoError(t, json.Unmarshal(a.Body, &got))
	require.Equal(t, "+442071838750", got.SMS.Phone)
	require.Contains(t, got.SMS.Problem, "We no longer send texts to the number on file")

	// The page sends everything back as it was, with new contact hours.
	a = p.do(http.MethodPut, "/v1/portal/preferences", token, `{"email":{"enabled":true,"address":"maria.garcia@example.org"},`+
		`"sms":{"enabled":true,"phone":"+44 20 7183 8750"},"contact_hours":{"start":"09:00","end":"19:00","time_zone":"America/Denver"}}`, "")
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	require.NoError(t, json.Unmarshal(a.Body, &got))
	require.Equal(t, "+442071838750", got.SMS.Phone, "kept as it is")
	require.NotEmpty(t, got.SMS.Problem)
	var v prefsView
	require.NoError(t, json.Unmarshal(a.Body, &v))
	require.Equal(t, "09:00", v.ContactHours.Start, "the rest is saved")
	require.Empty(t, p.tc.confirmations())

	// Turning it off works; typing a new foreign number does not.
	v = p.put(token, `{"sms":{"enabled":false,"phone":"+442071838750"}}`)
	require.Equal(t, "opted_out", v.SMS.State)
	a = p.do(http.MethodPut, "/v1/portal/preferences", token, `{"sms":{"enabled":true,"phone":"+442071838751"}}`, "")
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.Equal(t, "sms.phone", a.Error.Field)
}
