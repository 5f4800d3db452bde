// Package devidp is a DEVELOPMENT OpenID Provider with fixed demo users, for tests and
// local trials of operators' sign-in: a real OpenID Connect implementation
// (github.com/zitadel/oidc's op package) with discovery, published keys, the authorization
// code flow with PKCE, a login form a browser fills in, and JWT access tokens that carry a
// "groups" claim. It keeps everything in memory, listens on loopback only, and is never
// part of `ballotflow api` or `worker`: production uses the county's own provider.
package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ballotflow/ballotflow/internal/loopback"
)

// The demo users. Their passwords are their names: this provider is for development only.
const (
	// OperatorUser is in OperatorGroup: an operator.
	OperatorUser = "operator"
	// ClerkUser is a county employee who is not in OperatorGroup.
	ClerkUser = "clerk"
	// OperatorGroup is the group the demo operator is in.
	OperatorGroup = "ballotflow-operators"
)

// The clients the provider knows, and the audience their access tokens carry.
const (
	// Audience is put in every access token beside the client's own id: the API's
	// OIDC_AUDIENCE.
	Audience = "ballotflow"
	// TemporalUIClientID is Temporal UI's client, confidential (it has a secret).
	TemporalUIClientID = "temporal-ui"
	// TemporalUIClientSecret is that client's secret; public, as everything here.
	TemporalUIClientSecret = "temporal-ui-dev-secret"
	// DashboardClientID is the operator dashboard's public client (PKCE, no secret).
	DashboardClientID = "ballotflow-operator"
)

// User is a demo user.
type User struct {
	Username string
	Password string
	Subject  string
	Name     string
	Email    string
	Groups   []string
}

// Users are the demo users every provider has.
var Users = []User{
	{Username: OperatorUser, Password: OperatorUser, Subject: "demo-operator-1", Name: "Olivia Operator",
		Email: "operator@county.example", Groups: []string{OperatorGroup, "elections-staff"}},
	{Username: ClerkUser, Password: ClerkUser, Subject: "demo-clerk-1", Name: "Carl Clerk",
		Email: "clerk@county.example", Groups: []string{"elections-staff"}},
}

// Options configures a provider.
type Options struct {
	// Addr is where it listens: a loopback address; empty is a free port on 127.0.0.1.
	Addr string
	// TokenLifetime is how long access tokens last; zero is 15 minutes.
	TokenLifetime time.Duration
	Logger        *slog.Logger
}

// Provider is a running development OpenID Provider.
type Provider struct {
	issuer  string
	storage *storage
	srv     *http.Server
	done    chan struct{}
}

// Start listens and serves until Close.
func Start(opts Options) (*Provider, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if !loopback.Addr(addr) {
		return nil, fmt.Errorf("devidp: %s is not a loopback address: the development provider signs anyone in with a demo password, so it listens on this machine only", addr)
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = 15 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: signing key: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	st := newStorage(key, opts.TokenLifetime)
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		ln.Close()
		return nil, err
	}
	provider, err := op.NewOpenIDProvider(issuer, &op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		AuthMethodPost: true,
	}, st, op.WithAllowInsecure(), op.WithLogger(opts.Logger.With("component", "devidp")))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("devidp: %w", err)
	}
	mux := http.NewServeMux()
	login := &loginForm{storage: st, callback: op.AuthCallbackURL(provider)}
	mux.Handle(loginPath, op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler(login))
	mux.Handle("/", provider)
	p := &Provider{issuer: issuer, storage: st, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// Issuer is the provider's issuer URL, e.g. http://127.0.0.1:41234.
func (p *Provider) Issuer() string { return p.issuer }

// AllowRedirect registers redirect URIs for a client, e.g. Temporal UI's callback once its
// port is known. Unknown clients are an error.
func (p *Provider) AllowRedirect(clientID string, uris ...string) error {
	return p.storage.allowRedirect(clientID, uris...)
}

// Close stops the provider.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	<-p.done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func userByName(name string) (User, bool) {
	i := slices.IndexFunc(Users, func(u User) bool { return u.Username == name })
	if i < 0 {
		return User{}, false
	}
	return Users[i], true
}

func userBySubject(subject string) (User, bool) {
	i := slices.IndexFunc(Users, func(u User) bool { return u.Subject == subject })
	if i < 0 {
		return User{}, false
	}
	return Users[i], true
}
