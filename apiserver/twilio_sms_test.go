package apiserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/demo"
)

// TestSMSKeywords: the whole message is the keyword, in any case and spacing; YES confirms
// every pending number of a household, STOP and Twilio's other opt-out words opt it out,
// START resubscribes what was opted out (not bounced, nor an opt-out the voter asked the
// county for: a shared phone must not undo it), HELP answers with the county's
// contact, in Spanish for Spanish readers, and anything else gets a short help reply.
func TestSMSKeywords(t *testing.T) {
	f := whSetup(t)
	const phone = "+13035550177"
	james, ana, jose := f.voter(t, 1), f.voter(t, 2), f.voter(t, 3)
	bJames := f.ballot(t, 1, "DEN-KW-J", "mailed", "")
	bAna := f.ballot(t, 2, "DEN-KW-A", "mailed", "")
	f.temporal.missing[ballot.WorkflowID(bAna.ElectionID, bAna.Key)] = true // Ana's ballot is done
	help := demo.Jurisdictions[0].HelpText

	cases := []struct {
		name, body      string
		from            string
		before          [2]string // James's and Ana's SMS states before
		after           [2]string
		reply           []string // substrings of the reply; nil for no reply
		noReply         bool
		signaled        bool
		notInReply      string
		spanishFromJose bool
	}{
		{name: "yes with spaces", body: " yes ", before: [2]string{"pending", "pending"}, after: [2]string{"active", "active"},
			reply: []string{"confirmed"}, signaled: true},
		{name: "YES confirms only pending", body: "YES", before: [2]string{"pending", "opted_out"}, after: [2]string{"active", "opted_out"},
			reply: []string{"confirmed"}, signaled: true},
		{name: "YES does not confirm a number never asked to", body: "YES", before: [2]string{"pending/unasked", "pending"},
			after: [2]string{"pending", "active"}},
		{name: "sí in Spanish", body: "Sí", before: [2]string{"pending", "pending"}, after: [2]string{"active", "active"},
			reply: []string{"confirmado"}, signaled: true},
		{name: "yes with nothing pending", body: "Yes!", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{"Reply HELP"}, notInReply: "YES"},
		{name: "Stop", body: "Stop", before: [2]string{"active", "pending"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "STOP.", body: "STOP.", before: [2]string{"active", "bounced"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "stopall", body: "stopall", before: [2]string{"active", "active"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "unsubscribe", body: "  Unsubscribe\n", before: [2]string{"active", "active"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "quit", body: "QUIT", before: [2]string{"active", "active"}, after: [2]string{"opted_out", "opted_out"},
			noReply: true, signaled: true},
		{name: "start resubscribes opted out, not bounced", body: "start", before: [2]string{"opted_out", "bounced"},
			after: [2]string{"active", "bounced"}, noReply: true, signaled: true},
		{name: "start leaves an opt-out asked of the county", body: "START", before: [2]string{"opted_out", "opted_out/county"},
			after: [2]string{"active", "opted_out"}, noReply: true, signaled: true},
		{name: "unstop", body: "UNSTOP", before: [2]string{"opted_out", "opted_out"}, after: [2]string{"active", "active"},
			noReply: true, signaled: true},
		{name: "help", body: "help", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{help, "Denver Elections Division", "STOP"}},
		{name: "ayuda", body: "ayuda", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{help, "Responda STOP"}},
		{name: "hello", body: "hello", before: [2]string{"active", "active"}, after: [2]string{"active", "active"},
			reply: []string{"Reply HELP for help, STOP to end"}, notInReply: "YES"},
		{name: "hello with a pending number mentions YES", body: "hello", before: [2]string{"pending", "active"},
			after: [2]string{"pending", "active"}, reply: []string{"Reply YES"}},
		{name: "stop inside a sentence is not a keyword", body: "please stop texting", before: [2]string{"active", "active"},
			after: [2]string{"active", "active"}, reply: []string{"Reply HELP"}},
		{name: "Spanish reader's help", body: "HELP", from: demo.Voters[3].SMS, spanishFromJose: true,
			before: [2]string{"active", "active"}, after: [2]string{"active", "active"}, reply: []string{"Avisos de boletas", help}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setSub(t, james, "sms", phone, tc.before[0])
			f.setSub(t, ana, "sms", phone, tc.before[1])
			f.temporal.signals = map[string][]string{}
			from := phone
			if tc.from != "" {
				from = tc.from
			}
			a := f.sms(t, from, tc.body)
			require.Equal(t, http.StatusOK, a.status, a.body)
			require.Equal(t, "text/xml; charset=utf-8", a.ctype)
			require.True(t, strings.HasPrefix(a.body, `<?xml version="1.0" encoding="UTF-8"?><Response>`), a.body)
			require.Equal(t, tc.after[0], f.subState(t, james, "sms"), "James")
			require.Equal(t, tc.after[1], f.subState(t, ana, "sms"), "Ana")
			if tc.noReply {
				require.NotContains(t, a.body, "<Message>")
			}
			for _, want := range tc.reply {
				require.Contains(t, a.body, "<Message>")
				require.Contains(t, a.body, whEscapeXML(want))
			}
			if tc.notInReply != "" {
				require.NotContains(t, a.body, tc.notInReply)
			}
			if tc.spanishFromJose {
				require.Equal(t, "active", f.subState(t, jose, "sms"))
			}
			sig := f.temporal.signaled()
			if tc.signaled {
				require.Equal(t, map[string][]string{ballot.WorkflowID(bJames.ElectionID, bJames.Key): {"sms-keyword"}}, sig,
					"James's running ballot is told; Ana's completed one is skipped")
			} else {
				require.Empty(t, sig)
			}
		})
	}

	var audits int
	require.NoError(t, f.st.Pool().QueryRow(whCtx, `SELECT count(*) FROM audit_log WHERE actor = 'provider:twilio'
		AND subject = $1 AND action = 'subscription.opted_out' AND detail->>'reason' = 'sms keyword STOPALL'`,
		fmt.Sprintf("voter:%d/sms", james)).Scan(&audits))
	require.Equal(t, 1, audits, "each opt-out is audited with the keyword, and no phone number")
	var leaked int
	require.NoError(t, f.st.Pool().QueryRow(whCtx, `SELECT count(*) FROM audit_log WHERE detail::text LIKE '%555%'`).Scan(&leaked))
	require.Zero(t, leaked, "no phone number in the audit log")
}

func whEscapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&#39;", `"`, "&#34;").Replace(s)
}

// TestSMSFromAnUnknownNumberStoresNothing: someone who is not subscribed gets a generic
// answer (HELP: the county's contact), and no keyword changes anything.
func TestSMSFromAnUnknownNumberStoresNothing(t *testing.T) {
	f := whSetup(t)
	const stranger = "+13035550999"
	for _, body := range []string{"STOP", "YES", "START", "hello"} {
		a := f.sms(t, stranger, body)
		require.Equal(t, http.StatusOK, a.status, a.body)
		if body == "hello" {
			require.Contains(t, a.body, "Reply HELP for help, STOP to end")
		}
	}
	a := f.sms(t, stranger, "HELP")
	require.Contains(t, a.body, whEscapeXML(demo.Jurisdictions[0].HelpText))
	require.Zero(t, f.count(t, "audit_log"))
	require.Zero(t, f.count(t, "subscriptions WHERE address = '"+stranger+"'"))
}

// TestReplayedSignedSMSDoesNotActAgain: Twilio's signature has no timestamp, so a captured
// STOP stays validly signed forever. Posted again after the voter texted START, it is
// recognised by its MessageSid, answered with an empty reply, and changes nothing.
func TestReplayedSignedSMSDoesNotActAgain(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	phone := demo.Voters[0].SMS
	b := f.ballot(t, 0, "DEN-REPLAY", "mailed", "")
	text := func(sid, body string) whAnswer {
		return f.twilio(t, apiserver.PathTwilioSMS, url.Values{"From": {phone}, "To": {whDenverSMS}, "Body": {body},
			"MessageSid": {sid}, "AccountSid": {"ACtest"}})
	}
	stop := "SM" + strings.Repeat("a", 32)
	require.Equal(t, http.StatusOK, text(stop, "STOP").status)
	require.Equal(t, "opted_out", f.subState(t, maria, "sms"))
	require.Equal(t, http.StatusOK, text("SM"+strings.Repeat("b", 32), "START").status)
	require.Equal(t, "active", f.subState(t, maria, "sms"))
	before, signals := f.stored(t), f.temporal.signaled()

	a := text(stop, "STOP")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`, a.body)
	require.Equal(t, "active", f.subState(t, maria, "sms"), "the replayed STOP must not opt her out again")
	require.Equal(t, before, f.stored(t))
	require.Equal(t, signals, f.temporal.signaled())
	require.Len(t, signals[ballot.WorkflowID(b.ElectionID, b.Key)], 2, "one signal each for STOP and START")

	// A HELP posted twice gets no second reply either: Twilio would send it as a text.
	help := "SM" + strings.Repeat("c", 32)
	require.Contains(t, text(help, "HELP").body, "<Message>")
	require.NotContains(t, text(help, "HELP").body, "<Message>")
}

// TestInboundSMSNeedsAMessageSid: without Twilio's MessageSid a text cannot be told from a
// replay, so it is refused with a 400 naming the field, and nothing changes.
func TestInboundSMSNeedsAMessageSid(t *testing.T) {
	f := whSetup(t)
	maria := f.voter(t, 0)
	for name, sid := range map[string]string{"missing": "", "not an id": "SM/../x", "too long": "SM" + strings.Repeat("a", 100)} {
		t.Run(name, func(t *testing.T) {
			params := url.Values{"From": {demo.Voters[0].SMS}, "To": {whDenverSMS}, "Body": {"STOP"}}
			if sid != "" {
				params.Set("MessageSid", sid)
			}
			a := f.twilio(t, apiserver.PathTwilioSMS, params)
			require.Equal(t, http.StatusBadRequest, a.status, a.body)
			require.Contains(t, a.body, `"field":"MessageSid"`)
		})
	}
	require.Equal(t, "active", f.subState(t, maria, "sms"))
	require.Zero(t, f.count(t, "inbound_messages"))
}

// TestStopCapturedBeforeANumberIsSubscribedCannotBeReplayedLater: a STOP from a number nobody
// is subscribed on changes nothing, but its MessageSid is kept, so posting it again after a
// voter subscribes that number does not opt them out.
func TestStopCapturedBeforeANumberIsSubscribedCannotBeReplayedLater(t *testing.T) {
	f := whSetup(t)
	const phone = "+13035550188"
	james := f.voter(t, 1)
	stop := url.Values{"From": {phone}, "To": {whDenverSMS}, "Body": {"STOP"}, "MessageSid": {"SM" + strings.Repeat("d", 32)}}
	require.Equal(t, http.StatusOK, f.twilio(t, apiserver.PathTwilioSMS, stop).status)
	f.setSub(t, james, "sms", phone, "active")

	a := f.twilio(t, apiserver.PathTwilioSMS, stop)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "active", f.subState(t, james, "sms"))
	require.Zero(t, f.count(t, "audit_log WHERE action = 'subscription.opted_out'"))
}
