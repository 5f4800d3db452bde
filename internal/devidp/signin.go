package devidp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Tokens are what a sign-in returns.
type Tokens struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// scriptedRedirect is where SignIn's sign-ins return to; nothing listens there: the code is
// read from the redirect itself.
const scriptedRedirect = "http://127.0.0.1:9/signed-in"

// SignIn signs username in as a browser would, for tests: the dashboard client's
// authorization code flow with PKCE through the provider's real endpoints and login form,
// and returns the tokens the code is exchanged for.
func (p *Provider) SignIn(ctx context.Context, username, password string) (Tokens, error) {
	if err := p.AllowRedirect(DashboardClientID, scriptedRedirect); err != nil {
		return Tokens{}, err
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	verifier := randomID() + randomID()
	sum := sha256.Sum256([]byte(verifier))
	state := randomID()
	q := url.Values{
		"client_id": {DashboardClientID}, "redirect_uri": {scriptedRedirect}, "response_type": {"code"},
		"scope": {"openid profile email groups"}, "state": {state}, "nonce": {randomID()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	loginURL, err := p.follow(ctx, client, http.MethodGet, p.issuer+"/authorize?"+q.Encode(), nil)
	if err != nil {
		return Tokens{}, fmt.Errorf("authorize: %w", err)
	}
	u, err := url.Parse(loginURL)
	if err != nil {
		return Tokens{}, err
	}
	form := url.Values{"id": {u.Query().Get(loginRequestParam)}, "username": {username}, "password": {password}}
	callback, err := p.follow(ctx, client, http.MethodPost, p.issuer+loginPath, form)
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	back, err := p.follow(ctx, client, http.MethodGet, callback, nil)
	if err != nil {
		return Tokens{}, fmt.Errorf("callback: %w", err)
	}
	ret, err := url.Parse(back)
	if err != nil {
		return Tokens{}, err
	}
	if ret.Query().Get("state") != state || ret.Query().Get("code") == "" {
		return Tokens{}, fmt.Errorf("the provider returned no code: %s", ret.Query().Get("error"))
	}
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {ret.Query().Get("code")},
		"redirect_uri": {scriptedRedirect}, "client_id": {DashboardClientID}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.issuer+"/oauth/token", strings.NewReader(exchange.Encode()))
	if err != nil {
		return Tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return Tokens{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return Tokens{}, fmt.Errorf("token exchange: %s: %s", resp.Status, body)
	}
	var t Tokens
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return Tokens{}, errors.New("token exchange: no access token in the answer")
	}
	return t, nil
}

// follow sends one request and returns where the provider redirects to.
func (p *Provider) follow(ctx context.Context, client *http.Client, method, target string, form url.Values) (string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return "", fmt.Errorf("%s %s: %s: %s", method, target, resp.Status, b)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", err
	}
	return loc.String(), nil
}
