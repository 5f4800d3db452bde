package apiserver

import (
	"context"

	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
)

// auditEventPost records one ballot-events request in the audit log: the key that posted
// and what became of its events, as counts. Events are stored before this runs, so a
// failure here is logged, not answered.
func (h *handlers) auditEventPost(ctx context.Context, key store.APIKey, results []intake.Result) {
	counts := map[string]any{intake.Accepted: 0, intake.Duplicate: 0, intake.Rejected: 0}
	for _, r := range results {
		counts[r.Result] = counts[r.Result].(int) + 1
	}
	subject := "state:" + key.State
	if key.County != "" {
		subject = "jurisdiction:" + store.JurisdictionID(key.State, key.County)
	}
	if err := h.cfg.Store.Audit(ctx, key.Actor(), "ballot_events.post", subject, counts); err != nil {
		h.cfg.Logger.Error("audit ballot event post", "key", key.Prefix, "error", err)
	}
}
