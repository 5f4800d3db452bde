package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Callback delivery policy: a few attempts with exponential backoff, then
// the callback is dropped, as the providers do. Each attempt is bounded so a
// hung receiver cannot hold Close forever.
const (
	callbackAttempts              = 4
	callbackFirstBackoff          = 100 * time.Millisecond
	defaultCallbackAttemptTimeout = 5 * time.Second
)

// delivery is one webhook POST, fully built (and signed) up front.
type delivery struct {
	kind        string // for logs: "sendgrid_events", "twilio_sms_status", ...
	url         string
	contentType string
	header      http.Header // extra headers, e.g. signatures
	body        []byte
}

// callbacks delivers webhooks in the background, off the API request path.
type callbacks struct {
	log     *slog.Logger
	client  *http.Client
	timeout time.Duration   // of one attempt
	ctx     context.Context // canceled by close: abandons pending retries
	cancel  context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newCallbacks(log *slog.Logger, timeout time.Duration) *callbacks {
	ctx, cancel := context.WithCancel(context.Background())
	return &callbacks{
		log:     log,
		timeout: timeout,
		client: &http.Client{
			Transport: newTransport(),
			// Providers do not follow redirects for webhooks either.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		ctx:    ctx,
		cancel: cancel,
	}
}

// enqueue delivers ds in order on one goroutine, so that e.g. "sent" reaches
// the receiver before "delivered". It never blocks, and after close it
// silently drops ds.
func (c *callbacks) enqueue(ds ...delivery) {
	if len(ds) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	// Add under the lock that close takes before Wait, so no Add can race
	// with (or follow) Wait.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for _, d := range ds {
			if !c.deliver(d) && c.ctx.Err() != nil {
				return
			}
		}
	}()
}

// deliver POSTs d with retries; it reports whether a 2xx was received.
func (c *callbacks) deliver(d delivery) bool {
	backoff := callbackFirstBackoff
	for attempt := 1; ; attempt++ {
		status, err := c.post(d)
		if err == nil && status >= 200 && status < 300 {
			return true
		}
		attrs := []any{"kind", d.kind, "attempt", attempt, "status", status}
		if err != nil {
			attrs = append(attrs, "error", safeErr(err))
		}
		if attempt >= callbackAttempts || c.ctx.Err() != nil {
			c.log.Warn("sandbox: callback dropped", attrs...)
			return false
		}
		c.log.Debug("sandbox: callback failed, will retry", attrs...)
		if !sleepCtx(c.ctx, backoff) {
			c.log.Warn("sandbox: callback dropped on close", "kind", d.kind)
			return false
		}
		backoff *= 2
	}
}

func (c *callbacks) post(d delivery) (int, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	for k, vs := range d.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", d.contentType)
	req.Header.Set("User-Agent", "ballotflow-sandbox")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // allow connection reuse
	return resp.StatusCode, nil
}

func (c *callbacks) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.client.CloseIdleConnections() // no-op unless the transport is our own

}

// safeErr strips the URL from *url.Error: webhook URLs are ours, but their
// query strings are not guaranteed to be free of identifiers.
func safeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// newTransport returns a private copy of http.DefaultTransport, so that
// Close can drop its idle connections without touching anyone else's.
func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport
}
