package intake

import (
	"context"
	"time"

	"github.com/ballotflow/ballotflow/internal/store"
)

// holdLoadLease renews, every store.LoadLease until the returned stop is called, the lease
// of this process on an import it is loading. An upload may stall between two batches for
// longer than the worker's sweeper waits; the lease tells the sweeper this process is alive,
// and its absence that the process died and the import will never finish loading.
func (s *Service) holdLoadLease(ctx context.Context, importID int64) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(store.LoadLease)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.Store.EventImportTouchLoad(ctx, importID); err != nil && ctx.Err() == nil {
				s.logger().Warn("renew import load lease", "import_id", importID, "error", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// FailStaleLoads marks failed the imports left loading by a process that died (no batch and
// no lease renewal for store.StaleLoadAfter), so GET /v1/imports/{id} says to send the file
// again instead of showing "loading" for ever. It returns how many it marked.
func (s *Service) FailStaleLoads(ctx context.Context) (int, error) {
	ids, err := s.Store.EventImportFailStale(ctx, store.StaleLoadAfter)
	for _, id := range ids {
		s.logger().Warn("import abandoned while loading marked failed; the file must be sent again", "import_id", id)
	}
	return len(ids), err
}
