package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
)

// PrepareTemporal sets up in Temporal what data retention relies on: how long the namespace
// keeps closed workflows (TEMPORAL_RETENTION) and the daily schedule of the retention purge
// (RETENTION_PURGE_TIME). `worker` and `dev` call it at start; both steps change nothing when
// all is as configured already. A configuration not read from the environment (zero
// retention) leaves the namespace's retention as it is.
func PrepareTemporal(ctx context.Context, cfg config.Config, tc client.Client, namespace string, logger *slog.Logger) error {
	if cfg.TemporalRetention > 0 {
		err := worker.EnsureNamespaceRetention(ctx, tc, namespace, cfg.TemporalRetention)
		var denied *serviceerror.PermissionDenied
		switch {
		case errors.As(err, &denied):
			// A namespace managed elsewhere (Temporal Cloud) keeps its own retention: that is
			// no reason to leave ballots without a worker.
			logger.Error("namespace retention left as it is", "error", err)
		case err != nil:
			return err
		}
	}
	if err := worker.EnsureRetentionSchedule(ctx, tc, cfg.RetentionPurgeAt); err != nil {
		return err
	}
	logger.Info("data retention set up", "namespace", namespace, "closed_workflows_kept", worker.Days(cfg.TemporalRetention),
		"purge_schedule", "daily at "+time.Time{}.Add(cfg.RetentionPurgeAt).Format("15:04")+" UTC")
	return nil
}

// newRetention returns the retention purge's activities; now is their clock (nil: the real one).
func newRetention(st *store.Store, now func() time.Time, logger *slog.Logger) *activities.Retention {
	return &activities.Retention{Store: st, Now: now, Logger: logger.With("component", "retention")}
}
