package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// FaultKind says how an injected fault disturbs a request.
type FaultKind int

// Fault kinds. The zero value is not a valid kind.
const (
	// Latency delays the request by Delay, then handles it normally. It
	// composes with one other matching fault.
	Latency FaultKind = iota + 1
	// RateLimited answers 429 with Retry-After (Delay, at least 1s) and
	// X-RateLimit-* headers, like both providers do.
	RateLimited
	// ServerError answers Code (500 or 503; default 500) with the provider's
	// error JSON, plus Retry-After when Delay is set.
	ServerError
	// DropAfterAccept records the message as accepted (outbox and callbacks
	// included) and then closes the connection without a response: the
	// "accepted but response lost" case. The client sees a transport error
	// although the message was sent.
	DropAfterAccept
	// Permanent rejects the message. Twilio: 400 with Code (21211, 21610,
	// 21612, 21614, ...; default 21211 for SMS, 21217 for voice) in Twilio's
	// error JSON. SendGrid: Code as the HTTP status if it is a 4xx (default
	// 400) with SendGrid's error JSON.
	Permanent
)

var faultKindNames = map[FaultKind]string{
	Latency:         "latency",
	RateLimited:     "rate_limited",
	ServerError:     "server_error",
	DropAfterAccept: "drop_after_accept",
	Permanent:       "permanent",
}

// String returns the JSON name of the kind, e.g. "rate_limited".
func (k FaultKind) String() string {
	if n, ok := faultKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// MarshalText encodes the kind by name.
func (k FaultKind) MarshalText() ([]byte, error) {
	if _, ok := faultKindNames[k]; !ok {
		return nil, fmt.Errorf("unknown fault kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText accepts a kind name such as "rate_limited" (case-insensitive).
func (k *FaultKind) UnmarshalText(b []byte) error {
	for kind, name := range faultKindNames {
		if strings.EqualFold(name, string(b)) {
			*k = kind
			return nil
		}
	}
	return fmt.Errorf("unknown fault kind %q", b)
}

// Fault is an injected failure for matching API requests.
//
// JSON (POST /dev/faults): {"channel":"sms","to":"+15005550001",
// "kind":"rate_limited","delay":"2s","times":1}; "delay" is a Go duration
// string (a bare number is nanoseconds, like time.Duration's own encoding).
type Fault struct {
	Channel string        `json:"channel,omitempty"` // a ballot.Channel* name, or "" for all
	To      string        `json:"to,omitempty"`      // only for this recipient; "" for any
	Kind    FaultKind     `json:"kind"`
	Code    int           `json:"code,omitempty"`  // see Permanent and ServerError
	Delay   time.Duration `json:"delay,omitempty"` // for Latency; Retry-After for RateLimited/ServerError
	Times   int           `json:"times,omitempty"` // requests it applies to; 0 = until cleared
}

type faultJSON struct {
	Channel string          `json:"channel,omitempty"`
	To      string          `json:"to,omitempty"`
	Kind    FaultKind       `json:"kind"`
	Code    int             `json:"code,omitempty"`
	Delay   json.RawMessage `json:"delay,omitempty"`
	Times   int             `json:"times,omitempty"`
}

// MarshalJSON writes Delay as a duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Channel: f.Channel, To: f.To, Kind: f.Kind, Code: f.Code, Times: f.Times}
	if f.Delay != 0 {
		j.Delay, _ = json.Marshal(f.Delay.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads Delay as a duration string or nanoseconds.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Fault{Channel: j.Channel, To: j.To, Kind: j.Kind, Code: j.Code, Times: j.Times}
	if len(j.Delay) == 0 || string(j.Delay) == "null" {
		return nil
	}
	var str string
	if json.Unmarshal(j.Delay, &str) == nil {
		d, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("delay: %w", err)
		}
		f.Delay = d
		return nil
	}
	var ns int64
	if err := json.Unmarshal(j.Delay, &ns); err != nil {
		return errors.New("delay: want a duration string such as \"1.5s\"")
	}
	f.Delay = time.Duration(ns)
	return nil
}

func (f Fault) validate() error {
	if _, ok := faultKindNames[f.Kind]; !ok {
		return fmt.Errorf("unknown kind %d", int(f.Kind))
	}
	if f.Channel != "" && !ballot.IsChannel(f.Channel) {
		return fmt.Errorf("unknown channel %q", f.Channel)
	}
	if f.Delay < 0 || f.Times < 0 {
		return errors.New("delay and times must not be negative")
	}
	if f.Kind == ServerError && f.Code != 0 && (f.Code < 500 || f.Code > 599) {
		return errors.New("server_error code must be a 5xx status")
	}
	return nil
}

// InjectFault adds a fault. Faults are checked in insertion order; a request
// gets every matching Latency fault plus the first other matching fault, and
// each of them uses up one of its Times. Invalid faults are ignored.
func (s *Server) InjectFault(f Fault) {
	if err := f.validate(); err != nil {
		s.log.Warn("sandbox: ignoring invalid fault", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFaults consumes the faults that apply to a request on channel for the
// given recipients: the summed delay of matching Latency faults and the first
// matching fault of another kind (nil if none).
func (s *Server) takeFaults(channel string, recipients []string) (time.Duration, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		delay     time.Duration
		hit       *Fault
		exhausted []*Fault
	)
	for _, f := range s.faults {
		if f.Channel != "" && f.Channel != channel {
			continue
		}
		if f.To != "" && !slices.Contains(recipients, f.To) {
			continue
		}
		if f.Kind == Latency {
			delay += f.Delay
		} else if hit == nil {
			c := *f
			hit = &c
		} else {
			continue // not applied, so not used up
		}
		// Times == 0 means "until cleared", so a fault that counts down to
		// zero must be removed rather than left at 0.
		if f.Times > 0 {
			if f.Times--; f.Times == 0 {
				exhausted = append(exhausted, f)
			}
		}
	}
	if len(exhausted) > 0 {
		s.faults = slices.DeleteFunc(s.faults, func(f *Fault) bool { return slices.Contains(exhausted, f) })
	}
	if hit != nil {
		s.log.Info("sandbox: fault injected", "kind", hit.Kind.String(), "channel", channel)
	}
	return delay, hit
}

// sleepCtx waits for d or until ctx is done; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// setRateLimitHeaders sets the headers both providers send with a 429:
// Retry-After (Twilio, and what well-behaved clients read first) and
// X-RateLimit-* (SendGrid).
func (s *Server) setRateLimitHeaders(h http.Header, delay time.Duration) {
	secs := retryAfterSeconds(delay)
	h.Set("Retry-After", fmt.Sprint(secs))
	h.Set("X-RateLimit-Limit", "600")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", fmt.Sprint(s.clock().Add(time.Duration(secs)*time.Second).Unix()))
}

// dropConnection closes the client connection without writing a response.
// Hijacking works for HTTP/1.x; elsewhere http.ErrAbortHandler makes the
// server reset the stream, which looks the same to the client.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// retryAfterSeconds rounds d up to whole seconds, at least 1: Retry-After
// has no sub-second form and 0 would invite an immediate retry storm.
func retryAfterSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}
