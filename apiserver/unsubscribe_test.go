package apiserver_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/unsubscribe"
)

const oneClickForm = "application/x-www-form-urlencoded"

// emailSub returns a demo voter's email subscription and a ballot of theirs, so that an
// unsubscribe has a running ballot to tell.
func emailSub(t testing.TB, p *portal, voterID string) (store.Subscription, string) {
	t.Helper()
	v, err := p.st.VoterGetByID(portalCtx, "CO", voterID)
	require.NoError(t, err)
	rec, err := p.st.BallotEventRecord(portalCtx, store.BallotEvent{JurisdictionID: store.JurisdictionID(v.State, v.County),
		ElectionID: demo.ElectionID, BallotID: "UNSUB-" + voterID, VoterRef: v.Ref, EventID: "unsub-" + voterID,
		Status: "mailed", OccurredAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	subs, err := p.st.SubscriptionListByVoter(portalCtx, v.Ref)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel == ballot.ChannelEmail {
			return s, rec.Ballot.Key
		}
	}
	t.Fatalf("voter %s has no email subscription", voterID)
	return store.Subscription{}, ""
}

func unsubscribeToken(t testing.TB, p *portal, sub store.Subscription, lang string) string {
	t.Helper()
	key, err := unsubscribe.KeyOf(portalCtx, p.st)
	require.NoError(t, err)
	return key.Seal(sub.ID, sub.Address, lang)
}

func subState(t testing.TB, p *portal, id int64) string {
	t.Helper()
	s, err := p.st.SubscriptionGetByID(portalCtx, id)
	require.NoError(t, err)
	return s.State
}

func (p *portal) signalCount() int {
	p.tc.mu.Lock()
	defer p.tc.mu.Unlock()
	return len(p.tc.signals)
}

// One click (RFC 8058): a mail provider posts List-Unsubscribe=One-Click to the link of the
// email's List-Unsubscribe header, and email stops for the voter the email was about, as if
// they had turned it off in the portal; the voter's running ballots are told. Following the
// link (GET) only shows a button.
func TestUnsubscribeOneClick(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	sub, _ := emailSub(t, p, demo.Voters[0].VoterID) // Maria
	path := apiserver.PathUnsubscribe + unsubscribeToken(t, p, sub, "en")

	page := p.do(http.MethodGet, path, "", nil, "")
	require.Equal(t, http.StatusOK, page.Status, "%s", page.Body)
	require.Equal(t, "text/html; charset=utf-8", page.Header.Get("Content-Type"))
	require.Equal(t, "no-store", page.Header.Get("Cache-Control"))
	require.Equal(t, "no-referrer", page.Header.Get("Referrer-Policy"), "the URL holds the token")
	require.Contains(t, page.Header.Get("Content-Security-Policy"), "default-src 'none'")
	body := string(page.Body)
	require.Contains(t, body, `<html lang="en">`)
	require.Contains(t, body, `<form method="post" action="`+path+`">`)
	require.Contains(t, body, `<input type="hidden" name="List-Unsubscribe" value="One-Click">`)
	require.Contains(t, body, `<button type="submit">Stop these emails</button>`)
	require.NotContains(t, body, "Maria", "the page names no one")
	require.NotContains(t, body, sub.Address)
	require.Equal(t, ballot.SubscriptionActive, subState(t, p, sub.ID), "following the link changes nothing")
	require.Zero(t, p.signalCount())

	for _, bad := range []struct{ contentType, body string }{
		{oneClickForm, ""}, {oneClickForm, "List-Unsubscribe=Yes"}, {oneClickForm, "%zz"},
		{"text/plain", "List-Unsubscribe=One-Click"}, {"application/json", `{"List-Unsubscribe":"One-Click"}`},
	} {
		a := p.do(http.MethodPost, path, "", bad.body, "", "Content-Type", bad.contentType, "Accept", "application/json")
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnsupportedMediaType}, a.Status, "%+v: %s", bad, a.Body)
		require.NotEmpty(t, a.Error.Code)
	}
	require.Equal(t, ballot.SubscriptionActive, subState(t, p, sub.ID), "nothing but one click unsubscribes")

	done := p.do(http.MethodPost, path, "", "List-Unsubscribe=One-Click", "", "Content-Type", oneClickForm)
	require.Equal(t, http.StatusOK, done.Status, "%s", done.Body)
	require.Contains(t, string(done.Body), "have stopped")
	require.NotContains(t, string(done.Body), "<form", "nothing more to press")
	require.Equal(t, ballot.SubscriptionOptedOut, subState(t, p, sub.ID))
	require.Equal(t, 1, p.signalCount(), "the voter's running ballot is told (preferences-changed)")
	var actor, action string
	require.NoError(t, p.st.Pool().QueryRow(portalCtx,
		`SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY id DESC LIMIT 1`,
		"voter:"+strconv.FormatInt(sub.VoterRef, 10)).Scan(&actor, &action))
	require.Equal(t, "unsubscribe-link", actor)
	require.Equal(t, "portal.preferences", action, "the portal's own path")

	again := p.do(http.MethodPost, path, "", "List-Unsubscribe=One-Click", "", "Content-Type", oneClickForm,
		"Accept", "application/json")
	require.Equal(t, http.StatusOK, again.Status, "idempotent")
	require.JSONEq(t, `{"unsubscribed":true,"channel":"email"}`, string(again.Body))
	require.Equal(t, 1, p.signalCount(), "nothing changed, nobody told again")

	other, err := p.st.VoterGetByID(portalCtx, "CO", demo.Voters[0].VoterID)
	require.NoError(t, err)
	subs, err := p.st.SubscriptionListByVoter(portalCtx, other.Ref)
	require.NoError(t, err)
	for _, s := range subs {
		if s.Channel != ballot.ChannelEmail {
			require.NotEqual(t, ballot.SubscriptionOptedOut, s.State, "texts and calls do not change")
		}
	}
}

// Household members share an address: each email's link stops that voter's notices only. A
// mail provider may post multipart/form-data; a Spanish email's page is in Spanish.
func TestUnsubscribeIsPerVoterAndTakesMultipart(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	james, _ := emailSub(t, p, demo.Voters[1].VoterID)
	ana, _ := emailSub(t, p, demo.Voters[2].VoterID)
	require.Equal(t, james.Address, ana.Address, "the demo's household shares one address")

	path := apiserver.PathUnsubscribe + unsubscribeToken(t, p, james, "es")
	page := p.do(http.MethodGet, path, "", nil, "")
	require.Equal(t, http.StatusOK, page.Status)
	require.Contains(t, string(page.Body), `<html lang="es">`)
	require.Contains(t, string(page.Body), "Dejar de recibir estos correos")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("List-Unsubscribe", "One-Click"))
	require.NoError(t, mw.Close())
	a := p.do(http.MethodPost, path, "", body.String(), "", "Content-Type", mw.FormDataContentType())
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	require.Equal(t, ballot.SubscriptionOptedOut, subState(t, p, james.ID))
	require.Equal(t, ballot.SubscriptionActive, subState(t, p, ana.ID), "Ana still gets hers")
}

// A link from an email sent to an address the voter has since replaced does not turn off the
// new address; it answers as done, since that old mailbox gets nothing more either way.
func TestUnsubscribeFromAReplacedAddressLeavesTheNewOne(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	sub, _ := emailSub(t, p, demo.Voters[0].VoterID)
	path := apiserver.PathUnsubscribe + unsubscribeToken(t, p, sub, "en")
	_, err := p.st.Pool().Exec(portalCtx, `UPDATE subscriptions SET address = 'maria.new@example.org' WHERE id = $1`, sub.ID)
	require.NoError(t, err)
	a := p.do(http.MethodPost, path, "", "List-Unsubscribe=One-Click", "", "Content-Type", oneClickForm)
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, ballot.SubscriptionActive, subState(t, p, sub.ID))
	require.Zero(t, p.signalCount())

	// A subscription purged since: done as well, and the same answer.
	_, err = p.st.Pool().Exec(portalCtx, `DELETE FROM subscriptions WHERE id = $1`, sub.ID)
	require.NoError(t, err)
	b := p.do(http.MethodPost, path, "", "List-Unsubscribe=One-Click", "", "Content-Type", oneClickForm)
	require.Equal(t, http.StatusOK, b.Status)
	require.Equal(t, string(a.Body), string(b.Body), "nothing tells whether the voter is still on file")
}

// A token that does not open gets one 404 whatever the reason, never saying whether a voter
// exists; a client that keeps trying gets 429, while valid links from the same address (a
// mail provider's) still work.
func TestUnsubscribeRefusesTokensThatAreNotOurs(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	sub, _ := emailSub(t, p, demo.Voters[0].VoterID)
	good := unsubscribeToken(t, p, sub, "en")
	otherKey, err := unsubscribe.NewKey(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	const client = "198.51.100.7:1234"

	var pages []string
	for _, token := range []string{"nope", good[:len(good)-2], otherKey.Seal(sub.ID, sub.Address, "en"),
		strings.Repeat("A", unsubscribe.MaxTokenLength+1), good + "x"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			a := p.do(method, apiserver.PathUnsubscribe+token, "", "List-Unsubscribe=One-Click", client,
				"Content-Type", oneClickForm)
			require.Equal(t, http.StatusNotFound, a.Status, "%s %s", method, token)
			pages = append(pages, string(a.Body))
		}
	}
	for _, pg := range pages[1:] {
		require.Equal(t, pages[0], pg, "one answer for every reason")
	}
	require.Contains(t, pages[0], "This unsubscribe link does not work")
	a := p.do(http.MethodGet, apiserver.PathUnsubscribe+"nope", "", nil, client, "Accept", "application/json")
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, "unsubscribe_link_invalid", a.Error.Code)
	es := p.do(http.MethodGet, apiserver.PathUnsubscribe+"nope", "", nil, client, "Accept-Language", "es-US,es;q=0.9")
	require.Contains(t, string(es.Body), `<html lang="es">`)
	require.Equal(t, ballot.SubscriptionActive, subState(t, p, sub.ID))

	var limited portalAnswer
	for range 40 {
		if limited = p.do(http.MethodGet, apiserver.PathUnsubscribe+"nope", "", nil, client); limited.Status != http.StatusNotFound {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, limited.Status)
	require.NotEmpty(t, limited.Header.Get("Retry-After"))

	ok := p.do(http.MethodPost, apiserver.PathUnsubscribe+good, "", "List-Unsubscribe=One-Click", client,
		"Content-Type", oneClickForm)
	require.Equal(t, http.StatusOK, ok.Status, "a valid link is never held back by its client's failures")
	require.Equal(t, ballot.SubscriptionOptedOut, subState(t, p, sub.ID))
}

// A leaked link cannot make the API work without end: each token has its own limit.
func TestUnsubscribeLimitsEachToken(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	sub, _ := emailSub(t, p, demo.Voters[0].VoterID)
	path := apiserver.PathUnsubscribe + unsubscribeToken(t, p, sub, "en")
	statuses := map[int]int{}
	for range 15 {
		a := p.do(http.MethodPost, path, "", "List-Unsubscribe=One-Click", "", "Content-Type", oneClickForm)
		statuses[a.Status]++
	}
	require.Equal(t, 10, statuses[http.StatusOK])
	require.Equal(t, 5, statuses[http.StatusTooManyRequests])
}

func TestOpenAPIDescribesUnsubscribe(t *testing.T) {
	p := newPortal(t, generous)
	a := p.do(http.MethodGet, "/openapi.json", "", nil, "")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(a.Body, &doc))
	ops := doc.Paths["/v1/unsubscribe/{token}"]
	require.Contains(t, ops, "get")
	require.Contains(t, ops, "post")
	require.Regexp(t, regexp.MustCompile(`List-Unsubscribe=One-Click`), string(ops["post"]))
}

// The pages are in every language ballotflow has a catalog in: the email's (from its link),
// or for a link that does not open, the browser's first one that has a catalog.
func TestUnsubscribePagesAreInTheEmailsLanguage(t *testing.T) {
	t.Parallel()
	p := newPortal(t, generous)
	sub, _ := emailSub(t, p, demo.Voters[0].VoterID)
	page := p.do(http.MethodGet, apiserver.PathUnsubscribe+unsubscribeToken(t, p, sub, "ko"), "", nil, "")
	require.Equal(t, http.StatusOK, page.Status)
	require.Contains(t, string(page.Body), `<html lang="ko">`)
	require.Contains(t, string(page.Body), "이 이메일 중지")

	bad := p.do(http.MethodGet, apiserver.PathUnsubscribe+"nope", "", nil, "", "Accept-Language", "fr-FR, zh-Hant;q=0.8, en;q=0.5")
	require.Equal(t, http.StatusNotFound, bad.Status)
	require.Contains(t, string(bad.Body), `<html lang="zh-Hant">`)
	require.Contains(t, string(bad.Body), "此取消訂閱連結無效")
}
