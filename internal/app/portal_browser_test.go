package app_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
)

// screenshotPath is where the browser test leaves a picture of the page, for a person to look at.
const screenshotPath = "/tmp/portal.png"

// TestPortalPageInARealBrowser drives the portal page in headless Chromium, with the
// keyboard only: a voter finds herself, sees her mailed ballot, turns on texts to a new
// number, sees them pending with the instruction to reply YES, replies YES from her phone
// (the sandbox posts Twilio's signed inbound webhook), reloads, and sees texts on. She then
// saves a new email address and opens the link of its confirmation email: the token leaves
// the address bar, nothing is confirmed until she presses the page's button, and the result
// is announced. Errors are tied to their fields, and the page works in Spanish.
func TestPortalPageInARealBrowser(t *testing.T) {
	d := startDev(t)
	ctx := context.Background()
	maria := demo.Voters[0]
	const newPhone = "+17205550188"

	// The county mails Maria's ballot with its envelopes' barcodes; the workflow records
	// "mailed" in PostgreSQL.
	const outbound, ret = "00300123456000000201", "00304123456000000202"
	mailedAt := time.Now().Add(-time.Hour)
	resp := post(t, d, d.DemoKey, "application/json", strings.TrimSuffix(
		eventJSON("browser-1", maria.VoterID, "DEN-WEB", "mailed", mailedAt), "}")+
		`,"outbound_imb":"`+outbound+`","return_imb":"`+ret+`"}`)
	require.Equal(t, 202, resp.Status, "%+v", resp)
	voter, err := d.Store.VoterGetByID(ctx, "CO", maria.VoterID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		b, err := d.Store.BallotListByVoter(ctx, voter.Ref)
		return err == nil && len(b) == 1 && b[0].Status == "mailed"
	}, 30*time.Second, 50*time.Millisecond)
	// USPS scanned the outbound envelope on its way to her.
	scans, err := d.Store.MailScanRecordBatch(ctx, store.MailScanScope{State: "CO", County: "denver"},
		[]store.StagedMailScan{{Line: 2, PieceKey: outbound[2:], ScannedAt: mailedAt.Add(10 * time.Minute),
			OperationCode: "891", FacilityZIP: "80266", FacilityName: "DENVER CO P&DC", FacilityCity: "DENVER",
			FacilityState: "CO"}}, time.Now())
	require.NoError(t, err)
	require.Equal(t, 1, scans.Matched)
	// The county posts "received" in error, then corrects it: the ballot is mailed again.
	resp = post(t, d, d.DemoKey, "application/json", eventJSON("browser-2", maria.VoterID, "DEN-WEB", "received", mailedAt.Add(20*time.Minute)))
	require.Equal(t, 202, resp.Status, "%+v", resp)
	require.Eventually(t, func() bool {
		b, err := d.Store.BallotListByVoter(ctx, voter.Ref)
		return err == nil && len(b) == 1 && b[0].Status == "received"
	}, 30*time.Second, 50*time.Millisecond)
	resp = post(t, d, d.DemoKey, "application/json", strings.TrimSuffix(
		eventJSON("browser-3", maria.VoterID, "DEN-WEB", "mailed", time.Now().Add(-time.Minute)), "}")+`,"corrects":"browser-2"}`)
	require.Equal(t, 202, resp.Status, "%+v", resp)
	require.Eventually(t, func() bool {
		b, err := d.Store.BallotListByVoter(ctx, voter.Ref)
		return err == nil && len(b) == 1 && b[0].Status == "mailed"
	}, 30*time.Second, 50*time.Millisecond)
	// The county's return reminder went by email (as a delivery records it).
	mine, err := d.Store.BallotListByVoter(ctx, voter.Ref)
	require.NoError(t, err)
	_, err = d.Store.Pool().Exec(ctx, `
		INSERT INTO deliveries (idempotency_key, ballot_ref, voter_ref, notice_seq, notice_status, channel, state, created_at)
		VALUES ($1, $2, $3, 90, 'reminder_return', 'email', 'delivered', now())`,
		mine[0].Key+"/90/email", mine[0].Ref, voter.Ref)
	require.NoError(t, err)

	br := newBrowser(t, 1000, 1400)
	run, text, eval, waitFor := br.run, br.text, br.eval, br.waitFor

	br.open(d.APIURL + "/")
	run("lookup form", chromedp.WaitVisible(chromedp.ID("lookup-form")))
	require.Equal(t, "Find your ballot", text("#lookup-heading"))

	// A bad date of birth: the error is shown, tied to the field, and the field has focus.
	run("bad date", chromedp.Focus(chromedp.ID("first-name")),
		chromedp.KeyEvent(maria.FirstName+kb.Tab+maria.LastName+kb.Tab+"1985-03-14"+kb.Tab+maria.ResidentialZIP+kb.Enter))
	waitFor("date error", `document.getElementById("dob-error").hidden === false`)
	require.Equal(t, "Enter your date of birth as MM-DD-YYYY, for example 01-23-1980.", text("#dob-error"))
	require.Equal(t, "dob", eval(`document.activeElement.id`), "focus moves to the first error")
	require.Equal(t, "true", eval(`document.getElementById("dob").getAttribute("aria-invalid")`))
	require.Contains(t, eval(`document.getElementById("dob").getAttribute("aria-describedby")`), "dob-error")
	run("screenshot (lookup)", screenshot(strings.TrimSuffix(screenshotPath, ".png")+"-lookup.png"))

	// Correct it with the keyboard and submit with Enter.
	run("good date", clearField("dob"), chromedp.Focus(chromedp.ID("dob")),
		chromedp.KeyEvent(maria.DateOfBirth.Format("01-02-2006")+kb.Enter))
	waitFor("ballot section", `document.activeElement && document.activeElement.id === "ballot-heading"`)
	require.Equal(t, "true", eval(`String(document.getElementById("lookup").hidden)`), "the lookup form is gone")
	ballots := text("#ballots")
	require.Contains(t, ballots, "Demo General Election")
	require.Contains(t, ballots, "Current status: Mailed")
	require.Contains(t, ballots, "Denver Elections Division")
	require.Equal(t, "Mailed\nIn the mail, on its way to you\nReceived\nCorrection: Mailed\nWe reminded you to return your ballot",
		eval(`Array.from(document.querySelectorAll("#ballots .timeline li strong")).map(function (s) { return s.textContent; }).join("\n")`),
		"the scan follows the status it came after in the ballot's history; the status posted in error, then its correction")
	require.Contains(t, text("#ballots .timeline li.in-error"), "Posted in error, and corrected")
	require.Equal(t, "Received", text("#ballots .timeline li.in-error del"), "struck through, and said in words")
	require.Contains(t, text("#ballots .timeline li.mail"), "Last scanned by the U.S. Postal Service in DENVER, CO")
	require.Contains(t, text("#greeting"), "Maria Garcia")
	require.Contains(t, text("#sms-state"), "On.", "the demo voter's texts are on")

	// Texts to a new number: pending, and the page says to reply YES.
	run("new number", clearField("sms-phone"), chromedp.Focus(chromedp.ID("sms-phone")),
		chromedp.KeyEvent(newPhone), chromedp.Focus(chromedp.CSS(`#prefs-form button[type="submit"]`)),
		chromedp.KeyEvent(kb.Enter))
	waitFor("pending", `document.getElementById("sms-state").getAttribute("data-state") === "pending"`)
	state := text("#sms-state")
	require.Contains(t, state, "Pending")
	require.Contains(t, state, "Reply YES")
	waitFor("announcement", `document.getElementById("status").textContent.includes("Reply YES")`)
	require.Contains(t, text("#status"), newPhone, "the live region says where the text went")

	var confirmation []sandbox.Message
	require.Eventually(t, func() bool {
		confirmation = outboxFor(d, "sms", newPhone)
		return len(confirmation) == 1
	}, 30*time.Second, 50*time.Millisecond, "the confirmation text")
	require.Contains(t, confirmation[0].Text, "YES")

	run("screenshot (pending)", screenshot(strings.TrimSuffix(screenshotPath, ".png")+"-pending.png"))

	// Maria replies YES from her phone.
	err = d.Sandbox.InboundSMS(ctx, newPhone, "+17205550100", "YES")
	if errors.Is(err, sandbox.ErrNoInboundURL) {
		t.Skip("the Twilio inbound SMS webhook (/v1/webhooks/twilio/sms) is not wired into the dev stack yet")
	}
	require.NoError(t, err)

	// The session survives a reload; preferences now show texts on.
	run("reload", chromedp.Reload())
	waitFor("signed in again", `document.getElementById("sms-state").getAttribute("data-state") === "active"`)
	require.Contains(t, text("#sms-state"), "On.")
	require.Equal(t, newPhone, eval(`document.getElementById("sms-phone").value`))
	run("screenshot", screenshot(screenshotPath))

	// A new email address: pending, and the confirmation email's link opens the page, which
	// confirms nothing until Maria presses its button.
	const newEmail = "maria.browser@example.org"
	run("new email", clearField("email-address"), chromedp.Focus(chromedp.ID("email-address")),
		chromedp.KeyEvent(newEmail), chromedp.Focus(chromedp.CSS(`#prefs-form button[type="submit"]`)),
		chromedp.KeyEvent(kb.Enter))
	waitFor("email pending", `document.getElementById("email-state").getAttribute("data-state") === "pending"`)
	var mails []sandbox.Message
	require.Eventually(t, func() bool {
		mails = outboxFor(d, "email", newEmail)
		return len(mails) == 1
	}, 30*time.Second, 50*time.Millisecond, "the confirmation email")
	link := regexp.MustCompile(`https?://\S+/v1/portal/confirm-email\?token=[A-Za-z0-9_%-]+`).FindString(mails[0].Text)
	require.NotEmpty(t, link, "the email carries a confirmation link: %s", mails[0].Text)
	parsed, err := url.Parse(link)
	require.NoError(t, err)
	linkToken := parsed.Query().Get("token")
	require.NotEmpty(t, linkToken)

	run("open the link", chromedp.Navigate(link))
	waitFor("confirm panel", `document.activeElement && document.activeElement.id === "confirm-email-heading"`)
	require.Equal(t, "Confirm your email address for ballot notices", text("#confirm-email-heading"))
	require.Equal(t, d.APIURL+"/", eval(`location.href`), "the token leaves the address bar at once")
	require.NotContains(t, eval(`location.href + " " + document.title`), linkToken)
	emailState := func() string {
		subs, err := d.Store.SubscriptionListByVoter(ctx, voter.Ref)
		require.NoError(t, err)
		for _, s := range subs {
			if s.Channel == "email" {
				return s.State
			}
		}
		return ""
	}
	require.Equal(t, "pending", emailState(), "opening the link confirms nothing")
	run("screenshot (confirm email)", screenshot(strings.TrimSuffix(screenshotPath, ".png")+"-confirm-email.png"))

	// From the heading, Tab reaches the button; Enter presses it.
	run("confirm", chromedp.KeyEvent(kb.Tab))
	require.Equal(t, "confirm-email-button", eval(`document.activeElement.id`))
	run("press", chromedp.KeyEvent(kb.Enter))
	waitFor("confirmed", `document.getElementById("status").textContent.includes("Your email address is confirmed")`)
	require.Equal(t, "active", emailState())
	waitFor("email on", `document.getElementById("email-state").getAttribute("data-state") === "active"`)
	waitFor("focus on preferences", `document.activeElement && document.activeElement.id === "prefs-heading"`)
	require.Equal(t, "true", eval(`String(document.getElementById("confirm-email").hidden)`), "the panel is gone")
	require.Equal(t, d.APIURL+"/", eval(`location.href`))

	// The whole page in Spanish.
	// With the keyboard: the page may still be scrolling to the preferences, and a click
	// aims at where the button was.
	run("español", chromedp.Focus(chromedp.ID("lang-es")), chromedp.KeyEvent(kb.Enter))
	waitFor("spanish", `document.documentElement.lang === "es"`)
	require.Equal(t, "Su boleta", text("#ballot-heading"))
	require.Contains(t, text("#ballots"), "Estado actual: Enviada por correo")
	require.Contains(t, text("#ballots .timeline li.mail"), "En el correo, en camino a usted")
	require.Contains(t, text("#ballots .timeline li.mail"), "Último escaneo del Servicio Postal (USPS) en DENVER, CO")
	require.Contains(t, text("#sms-state"), "Activado")
	require.Equal(t, "true", eval(`document.getElementById("lang-es").getAttribute("aria-pressed")`))
	run("screenshot (es)", screenshot(strings.TrimSuffix(screenshotPath, ".png")+"-es.png"))
	require.Equal(t, "true", eval(`String(document.getElementById("review-note").hidden)`), "Spanish is reviewed")

	// Every catalog's language, from its file: Vietnamese, which no county has reviewed yet,
	// says so; the notices' language offers what the county writes in.
	run("tiếng việt", chromedp.Focus(chromedp.ID("lang-vi")), chromedp.KeyEvent(kb.Enter))
	waitFor("vietnamese", `document.documentElement.lang === "vi"`)
	require.Equal(t, "Phiếu bầu của quý vị", text("#ballot-heading"))
	require.Contains(t, text("#ballots"), "Tình trạng hiện tại: Đã gửi")
	require.Equal(t, "false", eval(`String(document.getElementById("review-note").hidden)`))
	require.Equal(t, "en,es", eval(`Array.from(document.querySelectorAll("input[name=language]")).map(function (i) { return i.value; }).join(",")`),
		"Denver offers the reviewed languages")
	run("screenshot (vi)", screenshot(strings.TrimSuffix(screenshotPath, ".png")+"-vi.png"))

	// Sign out: the token stops working and the lookup form is back, with focus on its heading.
	run("sign out", chromedp.Focus(chromedp.ID("logout")), chromedp.KeyEvent(kb.Enter))
	waitFor("signed out", `document.activeElement && document.activeElement.id === "lookup-heading"`)
	require.Equal(t, "", eval(`sessionStorage.getItem("ballotflow.session") || ""`))

	require.Empty(t, br.takeProblems(), "the page must run without script errors or CSP violations")
}

// clearField empties an input, as a person selecting its text and deleting it would.
func clearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(function (el) { el.value = ""; return true; })(document.getElementById("`+id+`"))`)(ctx, tg)
		return err
	})
}

// screenshot saves a picture of the whole page at path.
func screenshot(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
		if err != nil {
			return err
		}
		return os.WriteFile(path, png, 0o644)
	})
}
