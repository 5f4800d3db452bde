package app_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's Chromium; `make test` installs it (scripts/ensure-chromium.sh).
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium for the page tests, with step helpers that fail the test
// and a record of every script error and Content-Security-Policy violation the page logs.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
}

// newBrowser starts Chromium with the flags this machine needs (no sandbox as root, no
// background networking on a closed network) and a fresh profile; it stops with the test.
func newBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	return newBrowserWith(t, width, height)
}

// newBrowserWith is newBrowser with more of Chromium's flags (e.g. a test's own TLS
// certificate to trust).
func newBrowserWith(t *testing.T, width, height int, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need Debian's Chromium at %s: run scripts/ensure-chromium.sh (make test does)", chromiumPath)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}, extra...)...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: bctx}

	consoleCtx, stopConsole := context.WithCancel(bctx)
	messages := chromedp.Console(consoleCtx)
	consoleDone := make(chan struct{})
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.problems = append(b.problems, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		stopConsole()
		<-consoleDone
		cancelBrowser()
		cancelAlloc()
	})
	return b
}

// open navigates to url. The first action starts the browser, so it gets no timeout of its
// own (see chromedp.Run).
func (b *browser) open(url string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.Navigate(url)))
}

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	stepCtx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(stepCtx, steps...), what)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	stepCtx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(stepCtx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, sel)
	return s
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	stepCtx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(stepCtx, chromedp.Evaluate[string](expr))
	require.NoError(b.t, err, expr)
	return s
}

func (b *browser) waitFor(what, predicate string) {
	b.t.Helper()
	b.run(what, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(20*time.Second)))
}

// takeProblems returns the script errors and CSP violations logged so far and forgets them.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}
