package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ballotflow/ballotflow/internal/store"
)

// The activities of the RetentionPurge workflow, which the retention schedule starts once a
// day: find the elections whose records period is over, and purge the personal data tied to
// each (store.ElectionPurgeBatch says what goes and what stays). They carry election ids and
// counts only.

// DefaultPurgePage is how many ballots one transaction of a purge takes.
const DefaultPurgePage = 500

// Retention holds what the retention activities need. The worker registers one value of it.
type Retention struct {
	Store *store.Store
	// PageSize is how many ballots one transaction purges; DefaultPurgePage when 0.
	PageSize int
	// Now is the clock that says whether a records period is over; time.Now when nil. Tests
	// move it instead of waiting 22 months.
	Now    func() time.Time
	Logger *slog.Logger
}

// PurgeElectionInput names the election to purge.
type PurgeElectionInput struct {
	ElectionID string
}

// PurgeElectionResult is what PurgeElection did.
type PurgeElectionResult struct {
	// Kept: the election's records period was moved later (a litigation hold) after the
	// run found it due; nothing was purged.
	Kept bool
	// Changed counts the rows this attempt and the attempts before it changed.
	Changed store.PurgedRows
	// Finished: this call marked the election purged (false when it was purged before).
	Finished bool
}

// PurgeProgress is what a PurgeElection attempt heartbeats: how far through the election's
// ballots it got. A retry starts there (starting over would be as right, only slower).
type PurgeProgress struct {
	ElectionID string
	AfterRef   int64
	Changed    store.PurgedRows
}

// ErrElectionGone is the type of the non-retryable error of PurgeElection for an election
// that does not exist.
const ErrElectionGone = "ElectionNotFound"

// ListElectionsDue returns the ids of the elections whose records period is over and whose
// personal data are not purged yet.
func (r *Retention) ListElectionsDue(ctx context.Context) ([]string, error) {
	return r.Store.ElectionListDueForPurge(ctx, r.now())
}

// PurgeElection purges the personal data of one election, a page of ballots per transaction,
// heartbeating after each, then marks the election purged and writes its audit row. It may
// be run again at any point: a page purged before changes nothing.
func (r *Retention) PurgeElection(ctx context.Context, in PurgeElectionInput) (PurgeElectionResult, error) {
	logger := r.logger().With("election_id", in.ElectionID)
	if _, err := r.Store.ElectionBeginPurge(ctx, in.ElectionID, r.now()); err != nil {
		switch {
		case errors.Is(err, store.ErrRecordsKept):
			logger.Info("records period moved later; election not purged")
			return PurgeElectionResult{Kept: true}, nil
		case errors.Is(err, store.ErrNotFound):
			return PurgeElectionResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("election %s does not exist", in.ElectionID), ErrElectionGone, nil)
		}
		return PurgeElectionResult{}, err
	}
	p := r.resumed(ctx, in.ElectionID)
	pageSize := r.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPurgePage
	}
	for {
		page, err := r.Store.ElectionPurgeBatch(ctx, in.ElectionID, p.AfterRef, pageSize)
		if err != nil {
			return PurgeElectionResult{}, err
		}
		p.AfterRef = page.LastRef
		p.Changed.Add(page.Changed)
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
		if page.Ballots < pageSize {
			break
		}
		if err := ctx.Err(); err != nil {
			return PurgeElectionResult{}, err
		}
	}
	finished, err := r.Store.ElectionFinishPurge(ctx, in.ElectionID)
	if err != nil {
		return PurgeElectionResult{}, err
	}
	if finished {
		logger.Info("election purged", "ballots", p.Changed.Ballots, "events", p.Changed.Events,
			"deliveries", p.Changed.Deliveries, "delivery_events", p.Changed.DeliveryEvents,
			"mail_barcodes", p.Changed.MailBarcodes, "mail_scans", p.Changed.MailScans)
	}
	return PurgeElectionResult{Changed: p.Changed, Finished: finished}, nil
}

// resumed is where an earlier attempt of the election's purge stopped, from its heartbeat.
func (r *Retention) resumed(ctx context.Context, electionID string) PurgeProgress {
	p := PurgeProgress{ElectionID: electionID}
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return p
	}
	var earlier PurgeProgress
	if err := activity.GetHeartbeatDetails(ctx, &earlier); err == nil && earlier.ElectionID == electionID {
		return earlier
	}
	return p
}

func (r *Retention) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Retention) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
