package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/devidp"
	"github.com/ballotflow/ballotflow/internal/devstack"
)

// signInScreenshot is where the sign-in test leaves pictures of Temporal UI.
const signInScreenshot = "/tmp/signin-temporal-ui.png"

// prodLike is Temporal UI and `ballotflow api` wired as production wires them, beside a dev
// stack's Temporal server, worker and database: the UI signs operators in at an OpenID
// Provider and forwards their access token to the API's /codec over https; the API accepts
// operator keys and operators' tokens, and nothing without one.
type prodLike struct {
	dev    *app.Dev
	idp    *devidp.Provider
	ui     *devstack.UI
	apiURL string       // https://127.0.0.1:PORT
	client *http.Client // trusts the API's certificate
	spki   string       // the certificate's SPKI hash, for Chromium
}

func startProdLike(t *testing.T) *prodLike {
	t.Helper()
	p := &prodLike{dev: startDev(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var err error
	p.idp, err = devidp.Start(devidp.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.idp.Close()) })

	cert, pool, spki := selfSignedCert(t)
	p.client, p.spki = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, spki
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.apiURL = "https://" + ln.Addr().String()

	// Temporal UI forwards the access token only to an https codec endpoint.
	p.ui, err = devstack.StartUI(ctx, devstack.UIOptions{
		FrontendHostPort: p.dev.Stack.FrontendHostPort(), Namespace: p.dev.Stack.Namespace(),
		CodecEndpoint: p.apiURL + "/codec",
		SignIn: &devstack.UISignIn{ProviderURL: p.idp.Issuer(), ClientID: devidp.TemporalUIClientID,
			ClientSecret: devidp.TemporalUIClientSecret, Scopes: []string{"openid", "profile", "email", "groups"}},
	})
	require.NoError(t, err)
	t.Cleanup(p.ui.Stop)
	require.NoError(t, p.idp.AllowRedirect(devidp.TemporalUIClientID, p.ui.CallbackURL()))
	require.NoError(t, p.idp.AllowRedirect(devidp.DashboardClientID, p.apiURL+"/operator/"))

	cfg := envConfig(t, map[string]string{
		"TEMPORAL_UI_URL": p.ui.URL(), "TEMPORAL_NAMESPACE": p.dev.Stack.Namespace(),
		"OIDC_ISSUER": p.idp.Issuer(), "OIDC_AUDIENCE": devidp.Audience, "OIDC_OPERATOR_GROUP": devidp.OperatorGroup,
		"OIDC_OPERATOR_CLIENT_ID": devidp.DashboardClientID, "OIDC_OPERATOR_SCOPES": "openid profile email groups",
		"METRICS_TOKEN": "not-for-this-test",
	})
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	handler, err := app.API(cfg, p.dev.Store, p.dev.Temporal, p.dev.Codec, logger)
	require.NoError(t, err)
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- apiserver.Serve(serveCtx, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}), handler)
	}()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	return p
}

// browser is headless Chromium trusting the API's certificate (and no other).
func (p *prodLike) browser(t *testing.T) *browser {
	return newBrowserWith(t, 1400, 1200, chromedp.Flag("ignore-certificate-errors-spki-list", p.spki))
}

// TestOperatorsSignInToReadBallotsInTemporalUI: an operator signs in to Temporal UI at the
// county's identity provider and reads a ballot's history decrypted: its input and the
// county's signal, through the API's /codec with their access token. A county employee who
// is not in the operator group signs in just the same and sees only ciphertext; a county
// key, no credential, or a token from elsewhere opens nothing.
func TestOperatorsSignInToReadBallotsInTemporalUI(t *testing.T) {
	p := startProdLike(t)
	ctx := context.Background()
	maria := demo.Voters[0]

	// Denver posts an event to the production API with its key.
	workflowID := p.postEvent(t, p.dev.DemoKey, eventJSON("signin-1", maria.VoterID, "DEN-SIGNIN", "mailed", time.Now().Add(-time.Hour)))
	require.Eventually(t, func() bool { return len(outboxFor(p.dev, "email", maria.Email)) == 1 }, 60*time.Second, 100*time.Millisecond)
	historyURL := p.ui.URL() + "/namespaces/" + p.dev.Stack.Namespace() + "/workflows/" + url.PathEscape(workflowID)

	// The operator signs in and opens the ballot: the input and the signal read in clear.
	op := p.browser(t)
	p.signInToTemporalUI(t, op, devidp.OperatorUser)
	op.open(historyURL)
	waitAcross(t, op, "decoded input", `document.body.innerText.includes("BallotKey")`)
	op.run("screenshot (operator)", screenshot(signInScreenshot))
	require.NotContains(t, op.eval(`document.body.innerText`), "Codec Server could not connect")
	clickText(t, op, "Event History")
	clickText(t, op, "Workflow Execution Signaled")
	op.waitFor("decoded signal", `document.body.innerText.includes("signin-1")`)
	op.run("screenshot (signal)", screenshot(strings.TrimSuffix(signInScreenshot, ".png")+"-signal.png"))

	// A clerk who is not an operator signs in at the same provider: the codec refuses them,
	// and the history stays sealed.
	clerk := p.browser(t)
	p.signInToTemporalUI(t, clerk, devidp.ClerkUser)
	clerk.open(historyURL)
	// Temporal UI says the codec refused, and shows the input as the ciphertext it is.
	waitAcross(t, clerk, "codec refused", `document.body.innerText.includes("Codec Server could not connect") &&
		/Input\s+"[A-Za-z0-9+\/]{40,}/.test(document.body.innerText)`)
	clerk.run("screenshot (clerk)", screenshot(strings.TrimSuffix(signInScreenshot, ".png")+"-clerk.png"))
	page := clerk.eval(`document.body.innerText`)
	require.NotContains(t, page, "BallotKey")
	require.NotContains(t, page, "demo-general\",", "no field of the input is readable")
	require.Regexp(t, `Input\s+"[A-Za-z0-9+/]{40,}={0,2}"`, page, "the input is shown as ciphertext")

	// The codec, called as Temporal UI calls it: the operator's token opens the input; the
	// clerk's token, a county key, no credential, a foreign token and an oversized header do
	// not.
	input := p.startInput(t, workflowID)
	operatorToken, err := p.idp.SignIn(ctx, devidp.OperatorUser, devidp.OperatorUser)
	require.NoError(t, err)
	clerkToken, err := p.idp.SignIn(ctx, devidp.ClerkUser, devidp.ClerkUser)
	require.NoError(t, err)
	other, err := devidp.Start(devidp.Options{})
	require.NoError(t, err)
	defer other.Close()
	foreignToken, err := other.SignIn(ctx, devidp.OperatorUser, devidp.OperatorUser)
	require.NoError(t, err)

	require.Contains(t, p.codec(t, p.ui.URL(), "Bearer "+operatorToken.AccessToken, input, http.StatusOK), "BallotKey")
	p.codec(t, p.ui.URL(), "Bearer "+clerkToken.AccessToken, input, http.StatusForbidden)
	p.codec(t, p.ui.URL(), "Bearer "+p.dev.DemoKey, input, http.StatusForbidden)
	p.codec(t, p.ui.URL(), "", input, http.StatusUnauthorized)
	p.codec(t, p.ui.URL(), "Bearer "+foreignToken.AccessToken, input, http.StatusUnauthorized)
	p.codec(t, p.ui.URL(), "Bearer "+strings.Repeat("a", 9<<10), input, http.StatusUnauthorized)
	// The origin must be the UI's exactly: localhost is not 127.0.0.1.
	p.codec(t, strings.Replace(p.ui.URL(), "127.0.0.1", "localhost", 1), "Bearer "+operatorToken.AccessToken, input, http.StatusForbidden)

	// A signed-in operator is an operator everywhere an operator key is, and the audit log
	// names them; a county's endpoints still want the county's key.
	status, body := p.call(t, http.MethodPost, "/v1/operator/voters/CO/"+maria.VoterID+"/opt-out", operatorToken.AccessToken,
		`{"channels":["sms"],"note":"voter called, ticket 5150"}`)
	require.Equal(t, http.StatusOK, status, body)
	var actor string
	require.NoError(t, p.dev.Store.Pool().QueryRow(ctx, `SELECT actor FROM audit_log
		WHERE action = 'subscription.county_assisted_opt_out' ORDER BY id DESC LIMIT 1`).Scan(&actor))
	require.Equal(t, "oidc:demo-operator-1 <operator@county.example>", actor)
	status, body = p.call(t, http.MethodPost, "/v1/ballot-events", operatorToken.AccessToken,
		eventJSON("signin-2", maria.VoterID, "DEN-SIGNIN", "received", time.Now()))
	require.Equal(t, http.StatusForbidden, status, body)
}

// TestOperatorsSignInToTheDashboard: the operator dashboard signs an operator in at the
// provider (authorization code with PKCE, done by the page) and opens with their access
// token; a clerk is told they are not an operator; operator keys still work for scripts.
func TestOperatorsSignInToTheDashboard(t *testing.T) {
	p := startProdLike(t)
	b := p.browser(t)
	b.open(p.apiURL + "/operator/")
	b.waitFor("sign-in offered", `!document.getElementById("signin").hidden && !document.getElementById("key-section").hidden`)
	require.Contains(t, b.text("#signin-button"), "Sign in with your organisation")
	b.run("sign in", chromedp.Focus(chromedp.ID("signin-button")), chromedp.KeyEvent(kb.Enter))
	p.fillLogin(t, b, devidp.OperatorUser)
	waitAcross(t, b, "dashboard", `!document.getElementById("dashboard").hidden && document.getElementById("election").options.length > 0`)
	require.Equal(t, "/operator/", b.eval(`location.pathname + location.search`), "the code left the address bar")
	require.Equal(t, "false", b.eval(`String(document.getElementById("sign-out").hidden)`))
	require.Equal(t, "2", b.eval(`String((sessionStorage.getItem("ballotflow.operatorKey") || "").split(".").length - 1)`),
		"the page holds an access token, not a key")
	b.run("screenshot", screenshot("/tmp/signin-dashboard.png"))
	for _, problem := range b.takeProblems() {
		t.Errorf("the page logged: %s", problem)
	}

	// Signing out forgets the token in this tab.
	b.run("sign out", chromedp.Focus(chromedp.ID("sign-out")), chromedp.KeyEvent(kb.Enter))
	b.waitFor("signed out", `!document.getElementById("key-section").hidden && !sessionStorage.getItem("ballotflow.operatorKey")`)

	// The clerk signs in and is told why the dashboard stays shut.
	b.run("sign in as clerk", chromedp.Focus(chromedp.ID("signin-button")), chromedp.KeyEvent(kb.Enter))
	p.fillLogin(t, b, devidp.ClerkUser)
	waitAcross(t, b, "refused", `!document.getElementById("signin-error").hidden`)
	require.Contains(t, b.text("#signin-error"), "not as an operator")
	require.Equal(t, "true", b.eval(`String(document.getElementById("dashboard").hidden)`))

	// A script with an operator key is unchanged.
	key, _ := operatorKey(t, p.dev)
	status, body := p.call(t, http.MethodGet, "/v1/operator/voters/CO/"+demo.Voters[0].VoterID+"/ballots", key, "")
	require.Equal(t, http.StatusOK, status, body)
}

// signInToTemporalUI opens Temporal UI, which asks the visitor to sign in, and signs user in
// at the provider.
func (p *prodLike) signInToTemporalUI(t *testing.T, b *browser, user string) {
	t.Helper()
	b.open(p.ui.URL())
	waitAcross(t, b, "login page", `location.href.startsWith(`+jsString(p.idp.Issuer())+`) || document.body.innerText.includes("Continue to SSO")`)
	if !strings.HasPrefix(b.eval(`location.href`), p.idp.Issuer()) {
		clickText(t, b, "Continue to SSO")
	}
	p.fillLogin(t, b, user)
	waitAcross(t, b, "back in Temporal UI", `location.href.startsWith(`+jsString(p.ui.URL())+`) && !location.pathname.startsWith("/login") && !location.pathname.startsWith("/auth")`)
}

// fillLogin signs user in on the provider's login form, once the browser is there.
func (p *prodLike) fillLogin(t *testing.T, b *browser, user string) {
	t.Helper()
	waitAcross(t, b, "provider's login form", `location.href.startsWith(`+jsString(p.idp.Issuer()+"/login")+`) && !!document.getElementById("username")`)
	b.run("log in as "+user, chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), user+kb.Enter))
}

// postEvent posts one event to the API and returns its ballot's workflow id.
func (p *prodLike) postEvent(t *testing.T, key, body string) string {
	t.Helper()
	status, out := p.call(t, http.MethodPost, "/v1/ballot-events", key, body)
	require.Equal(t, http.StatusAccepted, status, out)
	var resp apiResponse
	require.NoError(t, json.Unmarshal([]byte(out), &resp))
	require.Len(t, resp.Results, 1)
	return resp.Results[0].WorkflowID
}

func (p *prodLike) call(t *testing.T, method, path, credential, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.apiURL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := p.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

// startInput reads the ballot workflow's sealed input from its history.
func (p *prodLike) startInput(t *testing.T, workflowID string) *commonpb.Payloads {
	t.Helper()
	iter := p.dev.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := iter.Next()
	require.NoError(t, err)
	return ev.GetWorkflowExecutionStartedEventAttributes().GetInput()
}

// codec calls /codec/decode as Temporal UI does, from origin, and returns the decoded data
// (or the answer, when it is not 200).
func (p *prodLike) codec(t *testing.T, origin, authorization string, payloads *commonpb.Payloads, want int) string {
	t.Helper()
	body, err := protojson.Marshal(payloads)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, p.apiURL+"/codec/decode?preserveStorageRefs=true", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", p.dev.Stack.Namespace())
	req.Header.Set("Origin", origin)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := p.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Equal(t, want, resp.StatusCode, "%s", out)
	if want != http.StatusOK {
		return string(out)
	}
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(out, &decoded))
	var s strings.Builder
	for _, pl := range decoded.Payloads {
		s.Write(pl.Data)
	}
	return s.String()
}

// selfSignedCert makes a certificate for 127.0.0.1, the pool that trusts it, and its SPKI
// hash as Chromium's --ignore-certificate-errors-spki-list wants it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ballotflow test API"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, base64.StdEncoding.EncodeToString(sum[:])
}

// clickText clicks the first button, link or history row whose text holds text.
func clickText(t *testing.T, b *browser, text string) {
	t.Helper()
	b.waitFor("something saying "+text, `Array.from(document.querySelectorAll("button, a, [role=button], td, span"))
		.some(e => e.offsetParent !== null && e.textContent.includes(`+jsString(text)+`))`)
	require.Equal(t, "clicked", b.eval(`(() => {
		const e = Array.from(document.querySelectorAll("button, a, [role=button], td, span"))
			.find(e => e.offsetParent !== null && e.textContent.includes(`+jsString(text)+`));
		e.click();
		return "clicked";
	})()`))
}

// waitAcross waits until predicate holds on whatever page the browser is on: across the
// redirects of a sign-in, where a poll on one page dies with that page.
func waitAcross(t *testing.T, b *browser, what, predicate string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+predicate+`); } catch (e) { return false; } })()`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			url, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href`))
			text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: not after 45s (at %s; last error %v); the page says:\n%.2000s", what, url, err, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestAHalfSignInConfigurationStopsTheAPI: an issuer without an audience or an operator
// group would let any token of the provider's in, or none; `ballotflow api` refuses to start
// and names the variable. Without an issuer nothing changes: operators use keys.
func TestAHalfSignInConfigurationStopsTheAPI(t *testing.T) {
	for vars, want := range map[[2]string]string{
		{"OIDC_AUDIENCE", "ballotflow"}:                    "OIDC_OPERATOR_GROUP",
		{"OIDC_OPERATOR_GROUP", "ballotflow-operators"}:    "OIDC_AUDIENCE",
		{"OIDC_OPERATOR_CLIENT_ID", "ballotflow-operator"}: "OIDC_AUDIENCE",
	} {
		cfg := envConfig(t, map[string]string{"OIDC_ISSUER": "https://login.example.gov", vars[0]: vars[1]})
		_, err := app.WithOperatorSignIn(apiserver.Config{}, cfg)
		require.ErrorContains(t, err, want, "%s alone", vars[0])
	}
	cfg := envConfig(t, map[string]string{"OIDC_AUDIENCE": "ballotflow"})
	api, err := app.WithOperatorSignIn(apiserver.Config{}, cfg)
	require.NoError(t, err)
	require.Nil(t, api.Operators)
}
