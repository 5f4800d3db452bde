package activities

import (
	"context"
	"sync"
	"time"

	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// A county's own wording of its notices, read at send time. On mail-out day a worker sends
// hundreds of notices a second for a handful of counties, so the wording is not read per
// message: each worker keeps each county's wording, parsed, and after wordingCheckEvery asks
// PostgreSQL only for the version it is at (one index lookup), reading the texts again when
// it changed. A county's change reaches its notices within wordingCheckEvery; every message
// records the version it used (deliveries.messages_version), so what a voter read is known
// either way.

// wordingCheckEvery is how long a worker trusts the wording it holds before it checks the
// version again.
const wordingCheckEvery = 30 * time.Second

// wordingCache is each county's wording, by jurisdiction id. Its zero value is ready.
type wordingCache struct {
	mu      sync.Mutex
	byCode  map[string]wordingEntry
	loading sync.Mutex // one reload at a time: a burst of sends after the check reads once
}

type wordingEntry struct {
	overrides *notices.Overrides
	checked   time.Time
}

// wording returns the county's wording in force, as fresh as wordingCheckEvery.
func (a *Activities) wording(ctx context.Context, jurisdictionID string) (*notices.Overrides, error) {
	c := &a.wordings
	now := a.now()
	if e, ok := c.get(jurisdictionID); ok && now.Sub(e.checked) < wordingCheckEvery && !e.checked.After(now) {
		return e.overrides, nil
	}
	c.loading.Lock()
	defer c.loading.Unlock()
	if e, ok := c.get(jurisdictionID); ok && now.Sub(e.checked) < wordingCheckEvery && !e.checked.After(now) {
		return e.overrides, nil // another send reloaded it meanwhile
	}
	latest, err := a.Store.MessageVersionLatest(ctx, jurisdictionID)
	if err != nil {
		return nil, err
	}
	e, ok := c.get(jurisdictionID)
	if !ok || e.overrides.Version != latest {
		version, list, err := a.Store.MessageOverrideList(ctx, jurisdictionID, latest)
		if err != nil {
			return nil, err
		}
		e.overrides = notices.NewOverrides(version, overridesOf(list))
	}
	e.checked = now
	c.put(jurisdictionID, e)
	return e.overrides, nil
}

func (c *wordingCache) get(id string) (wordingEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byCode[id]
	return e, ok
}

func (c *wordingCache) put(id string, e wordingEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byCode == nil {
		c.byCode = map[string]wordingEntry{}
	}
	c.byCode[id] = e
}

// overridesOf turns stored versions into the texts notices renders with.
func overridesOf(list []store.MessageVersion) []notices.Override {
	out := make([]notices.Override, 0, len(list))
	for _, v := range list {
		out = append(out, notices.Override{MessageID: v.MessageID, Language: v.Language, Text: v.Text})
	}
	return out
}
