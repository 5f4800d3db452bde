package app_test

import (
	"context"
	"fmt"
	"net/http"
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
// Temporal UI. Forgetting the key clears it from the tab.
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
			v, err := d.Store.VoterByID(ctx, "CO", voterID)
			if err != nil {
				return false
			}
			b, err := d.Store.BallotsOfVoter(ctx, v.Ref)
			if err != nil || len(b) != 1 || b[0].Status != status {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the workflows record every status")

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
