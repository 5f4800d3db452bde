package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// uiRunner owns the Temporal UI HTTP server and the goroutine serving it.
type uiRunner struct {
	srv  *uiserver.Server
	url  string
	done chan struct{} // closed when srv.Start has returned
}

// newUIServer builds the UI server. uiserver.NewServer panics on invalid
// configuration instead of returning an error, so the panic is converted.
func newUIServer(cfg *uiconfig.Config) (srv *uiserver.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("devstack: build ui server: %v", r)
		}
	}()
	// The UI assets (index.html, _app/...) are embedded in the ui-server
	// module (package ui, //go:embed all:assets) and served from the "local"
	// subtree when EnableUI is set and UIAssetPath is empty. Nothing needs to
	// be downloaded or built.
	return uiserver.NewServer(uioptions.WithConfigProvider(cfg)), nil
}

func uiConfig(ip string, port int, frontendAddr, namespace, codecEndpoint string) *uiconfig.Config {
	return &uiconfig.Config{
		// ui-server formats the listen address as "%s:%d", so IPv6 literals
		// need their brackets here.
		Host:                bracketIPv6(ip),
		Port:                port,
		TemporalGRPCAddress: frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		// PublicPath "" = UI served at "/". CORS left at defaults (same
		// origin only); the codec endpoint is called by the browser, so the
		// codec server itself must allow the UI origin.
		Codec: uiconfig.Codec{Endpoint: codecEndpoint},
		// The UI sets a CSRF cookie; over plain http on localhost the browser
		// drops it unless it is marked insecure (the CLI does the same).
		CORS: uiconfig.CORS{CookieInsecure: true},
		// No echo banner and no per-request access log on stdout.
		HideLogs: true,
		// RefreshInterval 0: static config, no refresh goroutine to leak.
	}
}

// startUI starts the UI server in a goroutine and waits until /healthz answers.
//
// uiserver.Server.Start blocks, and on a listen error it calls echo's
// Logger.Fatal, which is os.Exit(1). There is no way to hand it a listener, so
// the port is checked right before starting to make that path unlikely; a
// competing process grabbing the port in the remaining window would still
// take the whole process down.
func startUI(ctx context.Context, cfg *uiconfig.Config) (*uiRunner, error) {
	if err := checkPortFree(unbracket(cfg.Host), cfg.Port); err != nil {
		return nil, fmt.Errorf("devstack: ui port %d not available: %w", cfg.Port, err)
	}
	srv, err := newUIServer(cfg)
	if err != nil {
		return nil, err
	}
	r := &uiRunner{
		srv:  srv,
		url:  "http://" + net.JoinHostPort(connectIP(unbracket(cfg.Host)), strconv.Itoa(cfg.Port)),
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		// Returns nil once Stop closes the server.
		_ = srv.Start()
	}()

	if err := waitHTTP(ctx, r.url+"/healthz"); err != nil {
		r.stop()
		return nil, fmt.Errorf("devstack: wait for ui server: %w", err)
	}
	return r, nil
}

// stop closes the UI server and waits (bounded) for its goroutine to exit.
func (r *uiRunner) stop() {
	r.srv.Stop()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return retry(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}

func bracketIPv6(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}

func unbracket(host string) string {
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return host
}
