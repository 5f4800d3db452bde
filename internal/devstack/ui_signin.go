package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	uiconfig "github.com/temporalio/ui-server/v2/server/config"
)

// UIOptions configures a Temporal UI of its own, in front of any Temporal frontend, wired as
// production wires it: operators sign in with an OpenID Connect provider, and the UI
// forwards their access token to the codec endpoint.
type UIOptions struct {
	// IP the UI binds to; default 127.0.0.1.
	IP string
	// Port; 0 picks a free one.
	Port int
	// FrontendHostPort is the Temporal frontend's gRPC address.
	FrontendHostPort string
	Namespace        string
	// CodecEndpoint is the remote codec the browser calls, e.g. https://api.example/codec.
	// Temporal UI sends a signed-in operator's access token only to an https endpoint.
	CodecEndpoint string
	// SignIn, when set, makes the UI ask every visitor to sign in at the provider and pass
	// their access token to the codec.
	SignIn *UISignIn
}

// UISignIn is Temporal UI's OpenID Connect client.
type UISignIn struct {
	// ProviderURL is the issuer; its discovery document must answer before the UI starts.
	ProviderURL  string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// CallbackURL is where the provider sends the browser back; empty is the UI's own
	// <UI URL>/auth/sso/callback, which must be registered at the provider.
	CallbackURL string
}

// UI is a running Temporal UI.
type UI struct {
	runner *uiRunner
}

// StartUI starts a Temporal UI and waits until it answers.
//
// ui-server reads its provider's discovery document while it is built and exits the
// process (log.Fatal) when that fails, so the document is fetched here first and a
// provider that does not answer is an error. ui-server also keeps the verifier of its
// sign-ins in a package variable: only one signing-in UI may run in a process at a time.
func StartUI(ctx context.Context, opts UIOptions) (*UI, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, uiStartTimeout)
		defer cancel()
	}
	if opts.IP == "" || opts.IP == "localhost" {
		opts.IP = DefaultIP
	}
	if net.ParseIP(opts.IP) == nil {
		return nil, fmt.Errorf("devstack: invalid UI IP %q", opts.IP)
	}
	if opts.FrontendHostPort == "" {
		return nil, errors.New("devstack: the UI needs a Temporal frontend address")
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = freePort(opts.IP); err != nil {
			return nil, fmt.Errorf("devstack: pick free UI port: %w", err)
		}
	}
	cfg := uiConfig(opts.IP, port, opts.FrontendHostPort, opts.Namespace, opts.CodecEndpoint)
	if s := opts.SignIn; s != nil {
		if s.ProviderURL == "" || s.ClientID == "" {
			return nil, errors.New("devstack: UI sign-in needs a provider URL and a client id")
		}
		if err := waitHTTP(ctx, strings.TrimRight(s.ProviderURL, "/")+"/.well-known/openid-configuration"); err != nil {
			return nil, fmt.Errorf("devstack: the UI's identity provider does not answer: %w", err)
		}
		callback := s.CallbackURL
		if callback == "" {
			callback = "http://" + net.JoinHostPort(connectIP(opts.IP), fmt.Sprint(port)) + "/auth/sso/callback"
		}
		cfg.Auth = uiconfig.Auth{Enabled: true, Providers: []uiconfig.AuthProvider{{
			Label: "Sign in", Type: "oidc", ProviderURL: s.ProviderURL, ClientID: s.ClientID,
			ClientSecret: s.ClientSecret, Scopes: s.Scopes, CallbackURL: callback,
		}}}
		cfg.Codec.PassAccessToken = true
	}
	r, err := startUI(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &UI{runner: r}, nil
}

// URL is the UI's base URL, e.g. http://127.0.0.1:8233.
func (u *UI) URL() string { return u.runner.url }

// CallbackURL is the UI's sign-in callback, to register at the provider.
func (u *UI) CallbackURL() string { return u.runner.url + "/auth/sso/callback" }

// Stop stops the UI.
func (u *UI) Stop() { u.runner.stop() }

// uiStartTimeout bounds StartUI when ctx has no deadline.
const uiStartTimeout = time.Minute
