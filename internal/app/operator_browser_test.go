package app_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
)

// operatorScreenshot is where the dashboard's browser test leaves a picture of the page.
const operatorScreenshot = "/tmp/operator.png"

// TestOperatorDashboardInARealBrowser drives the operator dashboard in headless Chromium:
// Denver posts three days of events for the demo voters, one voter asks to be put on a
// no-contact list, and an operator opens the dashboard with the keyboard: a county key is
// refused, the operator key opens it, the chart draws one stacked bar per day, its table
// holds the same numbers, and the unreachable list shows the voter with a link into
// Temporal UI. Then Maria calls: the operator looks her up by voter ID (the state comes from
// the election), sees her ballot, her subscriptions with masked addresses and her delivery
// log with the provider's events, and opts her out of all contact: a note with a phone
// number is refused at the field, a good note is confirmed in a dialog, and her
// subscriptions show opted out. A voter ID that is not registered is named at its field.
// Forgetting the key clears it from the tab.
func TestOperatorDashboardInARealBrowser(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	key, _ := operatorKey(t, d)

	// Three days of a Denver mail-out: everyone mailed two days ago, two ballots received
	// yesterday, one of them accepted today.
	now := time.Now()
	daysAgo := func(n int) time.Time { return now.Add(-time.Duration(n)*24*time.Hour - time.Hour) }
	denver := []demo.Voter{demo.Voters[0], demo.Voters[1], demo.Voters[2], demo.Voters[3]}
	for i, v := range denver {
		resp := post(t, d, d.DemoKey, "application/json",
			eventJSON(fmt.Sprintf("dash-m-%d", i), v.VoterID, fmt.Sprintf("DEN-D-%d", i), "mailed", daysAgo(2)))
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	}
	for i, v := range denver[:2] {
		resp := post(t, d, d.DemoKey, "application/json",
			eventJSON(fmt.Sprintf("dash-r-%d", i), v.VoterID, fmt.Sprintf("DEN-D-%d", i), "received", daysAgo(1)))
		require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	}
	resp := post(t, d, d.DemoKey, "application/json",
		eventJSON("dash-a-0", denver[0].VoterID, "DEN-D-0", "accepted", now.Add(-time.Minute)))
	require.Equal(t, http.StatusAccepted, resp.Status, "%+v", resp)
	want := map[string]string{denver[0].VoterID: "accepted", denver[1].VoterID: "received", denver[2].VoterID: "mailed",
		denver[3].VoterID: "mailed"}
	require.Eventually(t, func() bool {
		for voterID, status := range want {
			v, err := d.Store.VoterGetByID(ctx, "CO", voterID)
			if err != nil {
				return false
			}
			b, err := d.Store.BallotListByVoter(ctx, v.Ref)
			if err != nil || len(b) != 1 || b[0].Status != status {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the workflows record every status")

	// Maria's email notices went out and the sandbox reported on them.
	maria := denver[0]
	mariaVoter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	var providerEvent string
	require.Eventually(t, func() bool {
		ds, err := d.Store.DeliveryListByVoter(ctx, mariaVoter.Ref)
		if err != nil {
			return false
		}
		for _, del := range ds {
			if del.Channel == "email" && len(del.Events) > 0 {
				providerEvent = del.Events[0].Status
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "an email to Maria with a provider event")

	// James asks the county to put him on a no-contact list: he cannot be reached any more.
	james := denver[1]
	require.Equal(t, http.StatusOK, portalCall(t, d, http.MethodPost, "/v1/operator/voters/CO/"+james.VoterID+"/opt-out", key,
		`{"note":"no-contact request by phone, ticket 9001"}`, nil))

	br := newBrowser(t, 1200, 1400)
	run, text, eval, waitFor := br.run, br.text, br.eval, br.waitFor

	br.open(d.APIURL + "/operator")
	run("key form", chromedp.WaitVisible(chromedp.ID("key-form")))
	require.Equal(t, "Open the operator dashboard", text("#key-heading"))

	// A county key is not an operator key: the page says so, at the field, and forgets it.
	run("county key", chromedp.Focus(chromedp.ID("operator-key")), chromedp.KeyEvent(d.DemoKey+kb.Enter))
	waitFor("key error", `document.getElementById("operator-key-error").hidden === false`)
	require.Contains(t, text("#operator-key-error"), "not an operator key")
	require.Equal(t, "true", eval(`document.getElementById("operator-key").getAttribute("aria-invalid")`))
	require.Equal(t, "operator-key", eval(`document.activeElement.id`))
	require.Equal(t, "", eval(`sessionStorage.getItem("ballotflow.operatorKey") || ""`))
	// Chromium logs the refused request itself; that one is expected, nothing else is.
	for _, p := range br.takeProblems() {
		require.Contains(t, p, "403", "only the refused county key may log a problem")
	}

	// The operator key opens the dashboard: the demo election, every county.
	run("operator key", chromedp.KeyEvent(key+kb.Enter))
	waitFor("chart", `document.querySelectorAll("#chart rect.bar").length > 0`)
	require.Equal(t, key, eval(`sessionStorage.getItem("ballotflow.operatorKey")`), "kept in this tab's sessionStorage")
	require.Equal(t, demo.ElectionID, eval(`document.getElementById("election").value`))

	// Pick Denver with the keyboard and show it.
	run("denver", chromedp.Focus(chromedp.ID("county")), chromedp.SetValue(chromedp.ID("county"), "denver"),
		chromedp.Focus(chromedp.CSS(`#report-form button[type="submit"]`)), chromedp.KeyEvent(kb.Enter))
	waitFor("denver report", `document.getElementById("status").textContent.includes("Denver")`)

	// The chart: one group of bars per day, stacked by status; the last day has 4 ballots.
	days, err := strconv.Atoi(eval(`String(document.querySelectorAll("#chart g.day").length)`))
	require.NoError(t, err)
	require.GreaterOrEqual(t, days, 3, "two days ago to today")
	lastDay := `document.querySelectorAll("#chart g.day")[document.querySelectorAll("#chart g.day").length - 1]`
	require.Equal(t, "accepted=1 mailed=2 received=1", eval(`Array.from(`+lastDay+`.querySelectorAll("rect.bar"))
		.map(r => r.getAttribute("data-status") + "=" + r.getAttribute("data-count")).sort().join(" ")`))
	require.Equal(t, "img", eval(`document.querySelector("#chart svg").getAttribute("role")`))
	require.Contains(t, eval(`document.getElementById("chart-desc").textContent`), "1 accepted")
	require.Contains(t, eval(`document.getElementById("legend").textContent`), "Received")

	// Its text alternative: a table with a caption, column and row headers.
	require.Contains(t, text("#over-time-table caption"), "Ballots at each status")
	require.Equal(t, "col", eval(`document.querySelector("#over-time-table thead th").getAttribute("scope")`))
	require.Equal(t, "row", eval(`document.querySelector("#over-time-table tbody th").getAttribute("scope")`))
	require.Equal(t, "2 1 1 4", eval(`Array.from(document.querySelectorAll("#over-time-table tbody tr:first-child td"))
		.map(td => td.textContent).join(" ")`), "the latest day first: mailed, received, accepted, total")
	require.Contains(t, text("#counts-table"), "denver")

	// The unreachable list: James, with a link to his ballot in Temporal UI.
	rows := eval(`String(document.querySelectorAll("#unreachable-table tbody tr").length)`)
	require.Equal(t, "1", rows, text("#unreachable-table"))
	require.Equal(t, james.VoterID, text("#unreachable-table tbody th"))
	require.Equal(t, "row", eval(`document.querySelector("#unreachable-table tbody th").getAttribute("scope")`))
	require.Contains(t, text("#unreachable-table tbody"), "No active channel")
	href := eval(`document.querySelector("#unreachable-table tbody a").href`)
	require.True(t, strings.HasPrefix(href, d.Stack.UIURL()+"/namespaces/"+d.Stack.Namespace()+"/workflows/ballot%2F"+demo.ElectionID+"%2F"), href)
	require.NotContains(t, eval(`document.body.innerText`), james.Email, "the dashboard shows no address")
	run("screenshot", chromedp.ScrollIntoView(chromedp.ID("main")), screenshot(operatorScreenshot))

	// Maria calls. The state comes from the election; her voter ID and Enter look her up.
	require.Equal(t, "CO", eval(`document.getElementById("voter-state").value`))
	run("look up maria", chromedp.Focus(chromedp.ID("voter-id")), chromedp.KeyEvent(maria.VoterID+kb.Enter))
	waitFor("maria", `document.activeElement && document.activeElement.id === "voter-heading"`)
	require.Equal(t, "Voter CO "+maria.VoterID, text("#voter-heading"))
	waitFor("announced", `document.getElementById("status").textContent.includes("1 ballot")`)
	ballot := text("#voter-ballots tbody")
	require.Contains(t, ballot, "Demo General Election")
	require.Contains(t, ballot, "DEN-D-0")
	require.Equal(t, "accepted", eval(`document.querySelector("#voter-ballots tbody td[data-status]").getAttribute("data-status")`))
	require.Contains(t, ballot, "Accepted")
	href = eval(`document.querySelector("#voter-ballots tbody a").href`)
	require.True(t, strings.HasPrefix(href, d.Stack.UIURL()+"/namespaces/"+d.Stack.Namespace()+"/workflows/ballot%2F"+demo.ElectionID+"%2F"), href)
	subscriptions := `Array.from(document.querySelectorAll("#voter-subscriptions tbody tr"))
		.map(tr => tr.getAttribute("data-channel") + "=" + tr.querySelector("td[data-state]").getAttribute("data-state")).sort().join(" ")`
	require.Equal(t, "email=active sms=active", eval(subscriptions))
	subs := text("#voter-subscriptions tbody")
	require.Contains(t, subs, "m•••@example.org")
	require.Contains(t, subs, "+1••••••0101")
	deliveries := text("#voter-deliveries tbody")
	require.Contains(t, deliveries, "Email")
	require.Contains(t, deliveries, providerEvent, "the provider's events are in the log")
	page := eval(`document.body.innerText`)
	for _, personal := range []string{maria.Email, maria.SMS, maria.FirstName, maria.LastName} {
		require.NotContains(t, page, personal, "the dashboard shows masked addresses only, and no name")
	}
	run("screenshot (voter)", screenshot(strings.TrimSuffix(operatorScreenshot, ".png")+"-voter.png"))

	// She asks to be told nothing more. The dialog asks first; Escape changes nothing.
	run("note with a phone number", chromedp.Focus(chromedp.ID("opt-out-note")),
		chromedp.KeyEvent("voter called from 720-555-0104"+kb.Tab+kb.Enter))
	waitFor("dialog", `document.getElementById("opt-out-dialog").open && document.activeElement.id === "opt-out-cancel"`)
	require.Contains(t, text("#opt-out-dialog-text"), "cannot be undone")
	run("screenshot (confirm)", screenshot(strings.TrimSuffix(operatorScreenshot, ".png")+"-confirm.png"))
	run("escape", chromedp.KeyEvent(kb.Escape))
	waitFor("dialog closed", `!document.getElementById("opt-out-dialog").open && document.activeElement.id === "opt-out-submit"`)
	require.Equal(t, "email=active sms=active", eval(subscriptions))

	// Confirmed, the note with a phone number is refused at its field, and nothing changes.
	run("confirm the bad note", chromedp.KeyEvent(kb.Enter))
	waitFor("dialog again", `document.getElementById("opt-out-dialog").open && document.activeElement.id === "opt-out-cancel"`)
	run("yes", chromedp.KeyEvent(kb.Tab+kb.Enter))
	waitFor("note error", `document.getElementById("opt-out-note-error").hidden === false`)
	require.Contains(t, text("#opt-out-note-error"), "phone number")
	require.Equal(t, "opt-out-note", eval(`document.activeElement.id`), "focus moves to the refused note")
	require.Equal(t, "true", eval(`document.getElementById("opt-out-note").getAttribute("aria-invalid")`))
	require.Contains(t, eval(`document.getElementById("opt-out-note").getAttribute("aria-describedby")`), "opt-out-note-error")
	for _, p := range br.takeProblems() {
		require.Contains(t, p, "400", "only the refused note may log a problem")
	}
	subsNow, err := d.Store.SubscriptionListByVoter(ctx, mariaVoter.Ref)
	require.NoError(t, err)
	for _, s := range subsNow {
		require.NotEqual(t, "opted_out", s.State, "a refused note changes nothing")
	}

	// A good note, confirmed: every channel is opted out, and the view shows it.
	run("good note", clearField("opt-out-note"), chromedp.Focus(chromedp.ID("opt-out-note")),
		chromedp.KeyEvent("voter called, ticket 4411"+kb.Tab+kb.Enter))
	waitFor("dialog for the good note", `document.getElementById("opt-out-dialog").open && document.activeElement.id === "opt-out-cancel"`)
	run("yes, opt out", chromedp.KeyEvent(kb.Tab+kb.Enter))
	waitFor("opted out", `document.activeElement && document.activeElement.id === "voter-subscriptions-heading"`)
	require.Equal(t, "email=opted_out sms=opted_out voice=opted_out", eval(subscriptions))
	require.Contains(t, text("#voter-subscriptions tbody"), "Opted out")
	waitFor("announced opt-out", `document.getElementById("status").textContent.includes("opted out of all contact")`)
	require.Equal(t, "true", eval(`String(document.getElementById("opt-out-note-error").hidden)`), "the note's error is gone")
	require.Equal(t, "", eval(`document.getElementById("opt-out-note").value`))
	subsNow, err = d.Store.SubscriptionListByVoter(ctx, mariaVoter.Ref)
	require.NoError(t, err)
	require.Len(t, subsNow, 3)
	for _, s := range subsNow {
		require.Equal(t, "opted_out", s.State, s.Channel)
	}

	// A voter ID that is not registered: said at the field, and Maria's view is gone.
	run("unknown voter", clearField("voter-id"), chromedp.Focus(chromedp.ID("voter-id")), chromedp.KeyEvent("999999999"+kb.Enter))
	waitFor("not found", `document.getElementById("voter-id-error").hidden === false`)
	require.Contains(t, text("#voter-id-error"), "No voter with voter ID 999999999 is registered in CO")
	require.Equal(t, "voter-id", eval(`document.activeElement.id`))
	require.Equal(t, "true", eval(`document.getElementById("voter-id").getAttribute("aria-invalid")`))
	require.Equal(t, "true", eval(`String(document.getElementById("voter").hidden)`))
	// The browser logs the unknown voter's 404 when it gets to it: wait for it, so that it is
	// not taken for a problem of what follows.
	var problems []string
	require.Eventually(t, func() bool {
		problems = append(problems, br.takeProblems()...)
		return slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "404") })
	}, 10*time.Second, 50*time.Millisecond, "the unknown voter's 404 is logged")
	for _, p := range problems {
		require.Contains(t, p, "404", "only the unknown voter may log a problem")
	}

	// The CSV export downloads with the key (a plain link could not send it).
	run("csv", chromedp.Click(chromedp.ID("csv-unreachable")))
	waitFor("downloaded", `document.getElementById("status").textContent.includes("ballotflow-unreachable-demo-general-denver.csv")`)

	// Forget the key: it is gone from the tab and the key form is back.
	run("forget", chromedp.Click(chromedp.ID("forget-key")))
	waitFor("key form again", `document.getElementById("key-section").hidden === false`)
	require.Equal(t, "", eval(`sessionStorage.getItem("ballotflow.operatorKey") || ""`))
	require.Equal(t, "true", eval(`String(document.getElementById("dashboard").hidden)`))

	require.Empty(t, br.takeProblems(), "the page must run without script errors or CSP violations")
}
