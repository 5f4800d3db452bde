package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
)

// NoticeWaitGauge is the maintenance service behind the "notices waiting" gauge: every
// Interval it counts, by channel, the notices ballot workflows hold for the voters' contact
// hours (recorded in PostgreSQL by the workflows, removed by each delivery as it starts), and
// drops rows long past their time that only a terminated or reset workflow leaves behind.
// The count lives in PostgreSQL rather than in per-process counters, so it survives worker
// restarts and is the same whichever worker reports it (the dashboard takes the max).
type NoticeWaitGauge struct {
	Store    *store.Store
	Logger   *slog.Logger
	Interval time.Duration    // DefaultNoticeWaitInterval when 0
	StaleAge time.Duration    // DefaultNoticeWaitStaleAge when 0
	Now      func() time.Time // time.Now when nil; tests move it
}

// NoticeWaitGauge defaults.
const (
	DefaultNoticeWaitInterval = 15 * time.Second
	// A delivery removes its row when it starts; one that waited this long past its time was
	// never going to start (its workflow was terminated or reset).
	DefaultNoticeWaitStaleAge = 48 * time.Hour
)

// Run measures every Interval until ctx ends.
func (g *NoticeWaitGauge) Run(ctx context.Context) {
	t := time.NewTicker(g.interval())
	defer t.Stop()
	for {
		g.Measure(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Measure prunes stale rows, sets the gauges once and returns the counts it set, by channel
// (nil when it could not count). A failure keeps the last figures and is logged; the next
// interval tries again.
func (g *NoticeWaitGauge) Measure(ctx context.Context) map[string]store.NoticeWaitCount {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	if n, err := g.Store.NoticeWaitPrune(ctx, now().Add(-g.staleAge())); err != nil {
		g.warn(ctx, "prune stale notice waits", err)
	} else if n > 0 {
		g.logger().Warn("dropped notice waits long past their time (workflow terminated or reset?)", "count", n)
	}
	counts, err := g.Store.NoticeWaitCounts(ctx)
	if err != nil {
		g.warn(ctx, "count notice waits", err)
		return nil
	}
	byChannel := map[string]store.NoticeWaitCount{}
	for _, c := range counts {
		byChannel[c.Channel] = c
	}
	for _, ch := range ballot.Channels {
		c := byChannel[ch]
		metrics.NoticesWaiting.WithLabelValues(ch).Set(float64(c.Count))
		overdue := 0.0
		if c.Count > 0 && now().After(c.Earliest) {
			overdue = now().Sub(c.Earliest).Seconds()
		}
		metrics.NoticesWaitingOverdue.WithLabelValues(ch).Set(overdue)
	}
	return byChannel
}

func (g *NoticeWaitGauge) warn(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		g.logger().Warn(what, "error", err)
	}
}

func (g *NoticeWaitGauge) interval() time.Duration {
	if g.Interval > 0 {
		return g.Interval
	}
	return DefaultNoticeWaitInterval
}

func (g *NoticeWaitGauge) staleAge() time.Duration {
	if g.StaleAge > 0 {
		return g.StaleAge
	}
	return DefaultNoticeWaitStaleAge
}

func (g *NoticeWaitGauge) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}
