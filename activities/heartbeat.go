package activities

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// SignalBatchProgress is what a SignalBatch attempt reports in its heartbeats: how far it
// got through its page. A retry of the page reads it back (and Temporal UI shows it on the
// pending activity).
type SignalBatchProgress struct {
	ImportID int64
	AfterID  int64 // the page: events after this id
	Events   int   // in the page
	Signaled int   // signaled by this attempt and the attempts before it
}

// heartbeatEvery is how often a page heartbeats even when no event finished meanwhile (one
// slow signal): well inside the workflow's heartbeat timeout. The SDK batches heartbeats
// sent more often, so reporting every event costs nothing.
const heartbeatEvery = 5 * time.Second

// pageHeartbeat heartbeats the progress of one SignalBatch attempt: on each event signaled,
// and every heartbeatEvery. Outside an activity (tests call SignalBatch directly) it only
// counts.
type pageHeartbeat struct {
	ctx     context.Context
	active  bool
	mu      sync.Mutex
	p       SignalBatchProgress
	earlier SignalBatchProgress
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newPageHeartbeat(ctx context.Context, in SignalBatchInput, events int) *pageHeartbeat {
	h := &pageHeartbeat{ctx: ctx, active: activity.IsActivity(ctx), quit: make(chan struct{}),
		p: SignalBatchProgress{ImportID: in.ImportID, AfterID: in.AfterID, Events: events}}
	if !h.active {
		return h
	}
	if activity.HasHeartbeatDetails(ctx) {
		var earlier SignalBatchProgress
		// Details of another page (none should be) or unreadable ones are ignored: the
		// events' signaled marks, not the details, say what is left to do.
		if err := activity.GetHeartbeatDetails(ctx, &earlier); err == nil && earlier.AfterID == in.AfterID {
			h.earlier = earlier
			h.p.Signaled = earlier.Signaled
		}
	}
	activity.RecordHeartbeat(ctx, h.p)
	h.wg.Add(1)
	go h.tick()
	return h
}

// setEvents records how many events the page holds, once the page is read (the heartbeat
// starts before the read, which on a busy database may take longer than the timeout).
func (h *pageHeartbeat) setEvents(n int) {
	h.mu.Lock()
	h.p.Events = n
	h.mu.Unlock()
}

// resumed is the progress a failed earlier attempt of the page reported.
func (h *pageHeartbeat) resumed() SignalBatchProgress { return h.earlier }

// signaled counts one event signaled and reports the progress.
func (h *pageHeartbeat) signaled() {
	h.mu.Lock()
	h.p.Signaled++
	p := h.p
	h.mu.Unlock()
	if h.active {
		activity.RecordHeartbeat(h.ctx, p)
	}
}

func (h *pageHeartbeat) tick() {
	defer h.wg.Done()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-h.quit:
			return
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		p := h.p
		h.mu.Unlock()
		activity.RecordHeartbeat(h.ctx, p)
	}
}

// stop ends the ticking heartbeat; the attempt's result (or failure) follows.
func (h *pageHeartbeat) stop() {
	if h.active {
		close(h.quit)
		h.wg.Wait()
	}
}
