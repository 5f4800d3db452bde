package intake

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Events whose signal cannot be delivered. A ballot workflow lives until its election's
// canvass ends and a grace period after it; an event that comes later, or that Temporal
// refuses as invalid, would fail the same way on every try, so it is set aside with its
// reason (operators list such events) instead of holding up the events behind it.

const (
	// resignalBackoff is the wait before a failed re-signal is tried again; it doubles with
	// each failure up to resignalMaxBackoff.
	resignalBackoff    = 30 * time.Second
	resignalMaxBackoff = 30 * time.Minute

	// resignalTimeout bounds one re-signal, so that one slow call cannot hold up the sweep;
	// resignalFailuresInARow failures in a row end a sweep early (the next one starts over).
	resignalTimeout        = 15 * time.Second
	resignalFailuresInARow = 5

	// markSignaledTimeout bounds recording that Temporal has a signal once the caller's
	// context is gone.
	markSignaledTimeout = 10 * time.Second
)

// canvassClosed reports whether an election's canvass is over at now: its ballot workflows
// are closed, and nothing posted now could reach them.
func canvassClosed(e store.Election, now time.Time) bool {
	return !now.Before(e.CanvassEndsAt)
}

// poisonSignal reports whether a SignalWithStart error is one that would come back on every
// try (Temporal refused the request as invalid), and the reason code to set the event aside
// with. Unavailability, timeouts and rate limits pass, and are retried.
func poisonSignal(err error) (string, bool) {
	var invalid *serviceerror.InvalidArgument
	// A search attribute the namespace does not know is a deployment mistake, not a bad
	// event: setting every event aside for it would take a whole mail-out day out of the
	// sweep. It is retried (with backoff) until an operator registers the attributes.
	if errors.As(err, &invalid) && !strings.Contains(strings.ToLower(invalid.Error()), "search attribute") {
		return store.SetAsideInvalid, true
	}
	return "", false
}

// setAside records that an event's signal can never succeed, counts it, and logs it with
// ids only. It returns nil: the event is dealt with, and must not stop the ones after it.
func (s *Service) setAside(ctx context.Context, eventRef int64, b store.Ballot, code, detail string) error {
	if err := s.Store.BallotEventSetAside(ctx, eventRef, code, detail); err != nil {
		return err
	}
	metrics.EventsSetAside.WithLabelValues(code).Inc()
	s.logger().Warn("ballot event set aside: its signal cannot succeed; see GET /v1/operator/set-aside-events",
		"event_ref", eventRef, "workflow_id", ballot.WorkflowID(b.ElectionID, b.Key), "reason", code)
	return nil
}
