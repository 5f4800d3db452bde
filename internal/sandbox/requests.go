package sandbox

import (
	"bufio"
	"net"
	"net/http"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// Request is one provider API request that passed authentication and validation, as the
// request log shows it: how often, when and with what answer the providers were called,
// which the outbox (accepted messages only) cannot tell. It holds the recipients only, never
// a body.
type Request struct {
	Channel string    `json:"channel"`
	To      []string  `json:"to"`
	At      time.Time `json:"at"` // when the request arrived, before any injected latency
	// Status is the HTTP status answered; 0 when no answer was written: the connection was
	// dropped after acceptance (DropAfterAccept) or the client gave up during a latency.
	Status int `json:"status"`
	// Fault is the kind of the injected fault that applied ("" for none), or "rate_limit"
	// when the sandbox's own rate limit (Options.RateLimits) refused the request.
	Fault string `json:"fault,omitempty"`
}

// maxRequests bounds the request log of a long-running dev process; the oldest go first.
const maxRequests = 10_000

// faultRateLimit is Request.Fault for a refusal by Options.RateLimits.
const faultRateLimit = "rate_limit"

// RateLimited returns how many requests Options.RateLimits refused since the server
// started, by channel; unlike the request log it keeps counting past maxRequests and is not
// cleared with the outbox.
func (s *Server) RateLimited() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for channel := range s.limiters {
		out[channel] = s.limited[channel]
	}
	return out
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
		out[i].To = slices.Clone(r.To)
	}
	return out
}

// newLimiters builds one token bucket per limited channel. The burst is one second's worth
// (at least one request), as providers measure their limits per second.
func newLimiters(limits map[string]float64) map[string]*rate.Limiter {
	out := map[string]*rate.Limiter{}
	for channel, perSecond := range limits {
		if perSecond > 0 {
			out[channel] = rate.NewLimiter(rate.Limit(perSecond), max(int(perSecond+0.999), 1))
		}
	}
	return out
}

// admit decides how a validated request on channel is disturbed: first the channel's rate
// limit (a refusal is a RateLimited fault with the wait until the next token as its
// Retry-After, and uses up no injected fault), then the injected faults (see takeFaults).
// It logs the request; the returned writer fills in the answer's status.
func (s *Server) admit(w http.ResponseWriter, channel string, recipients []string) (http.ResponseWriter, time.Duration, *Fault) {
	now := s.clock()
	entry := &Request{Channel: channel, To: slices.Clone(recipients), At: now}
	var (
		delay time.Duration
		fault *Fault
	)
	if lim := s.limiters[channel]; lim != nil {
		if r := lim.ReserveN(now, 1); r.DelayFrom(now) > 0 {
			wait := r.DelayFrom(now)
			r.CancelAt(now)
			fault, entry.Fault = &Fault{Channel: channel, Kind: RateLimited, Delay: wait}, faultRateLimit
			s.log.Info("sandbox: rate limit exceeded", "channel", channel)
		}
	}
	if fault == nil {
		delay, fault = s.takeFaults(channel, recipients)
		if fault != nil {
			entry.Fault = fault.Kind.String()
		}
	}
	s.mu.Lock()
	if entry.Fault == faultRateLimit {
		if s.limited == nil {
			s.limited = map[string]int{}
		}
		s.limited[channel]++
	}
	s.requests = append(s.requests, entry)
	if len(s.requests) > maxRequests {
		s.requests = slices.Delete(s.requests, 0, len(s.requests)-maxRequests)
	}
	s.mu.Unlock()
	return &loggedWriter{ResponseWriter: w, s: s, entry: entry}, delay, fault
}

// loggedWriter records the status a handler answers in its request log entry.
type loggedWriter struct {
	http.ResponseWriter
	s     *Server
	entry *Request
}

func (w *loggedWriter) WriteHeader(status int) {
	w.s.mu.Lock()
	if w.entry.Status == 0 {
		w.entry.Status = status
	}
	w.s.mu.Unlock()
	w.ResponseWriter.WriteHeader(status)
}

func (w *loggedWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	if w.entry.Status == 0 {
		w.entry.Status = http.StatusOK
	}
	w.s.mu.Unlock()
	return w.ResponseWriter.Write(b)
}

// Hijack lets dropConnection close the connection of a logged request; its status stays 0.
func (w *loggedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
