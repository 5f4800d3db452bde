package signin

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// keyFetchInterval is how long a fetched key set is reused before the provider is asked
// again. A provider that rotates its keys publishes the new key before it signs with it, so
// a token signed with a brand-new key waits at most this long.
const keyFetchInterval = 10 * time.Second

// maxKeySetBytes bounds a discovery document or key set read from the provider.
const maxKeySetBytes = 1 << 20

// keyFetchThrottle answers a GET it answered successfully less than keyFetchInterval ago
// from memory.
type keyFetchThrottle struct {
	base http.RoundTripper
	now  func() time.Time

	mu    sync.Mutex
	cache map[string]fetched
}

type fetched struct {
	at     time.Time
	header http.Header
	body   []byte
}

func newKeyFetchThrottle(base http.RoundTripper, now func() time.Time) *keyFetchThrottle {
	if base == nil {
		base = http.DefaultTransport
	}
	return &keyFetchThrottle{base: base, now: now, cache: map[string]fetched{}}
}

func (t *keyFetchThrottle) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return t.base.RoundTrip(req)
	}
	key := req.URL.String()
	t.mu.Lock()
	f, ok := t.cache[key]
	t.mu.Unlock()
	if ok && t.now().Sub(f.at) < keyFetchInterval {
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: f.header.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)),
			ContentLength: int64(len(f.body)), Request: req,
		}, nil
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > maxKeySetBytes {
		return nil, errTooLarge
	}
	t.mu.Lock()
	t.cache[key] = fetched{at: t.now(), header: resp.Header.Clone(), body: body}
	t.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

var errTooLarge = errors.New("the provider's answer is larger than 1 MiB")
