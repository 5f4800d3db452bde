package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Signing in to the portal: the lookup that finds a voter's registration (POST
// /v1/portal/session) and the session it opens, and signing out (DELETE).

// PortalSessionTTL is how long a portal session lasts.
const PortalSessionTTL = 30 * time.Minute

// noMatchMessage is the one answer to every lookup that finds nobody who may sign in.
const noMatchMessage = "The information you entered does not match any voters in our system."

// noMatchBody is written byte for byte the same for every kind of non-match.
var noMatchBody = []byte(`{"error":{"code":"no_match","message":"` + noMatchMessage + `"}}`)

// sessionRequest is the lookup form.
type sessionRequest struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	DateOfBirth string `json:"date_of_birth"`
	ZIP         string `json:"zip"`
	VoterID     string `json:"voter_id"`
}

// postPortalSession finds the voter and opens a session. Every lookup does the same work up
// to the answer: validate, count against the rate limits, run the one lookup query, and
// judge every candidate the same way; only a match then gives back the hits that count
// failures and stores a session.
func (h *handlers) postPortalSession(c *gin.Context, guard *lookupGuard) {
	var req sessionRequest
	if !decodePortalBody(c, &req) {
		return
	}
	dob, ok := validateLookup(c, &req)
	if !ok {
		return
	}
	if guard.breakerOpen(c) {
		return
	}
	ctx := c.Request.Context()
	limits := lookupLimits(h.portalLimits(), clientKey(c), networkKey(c), req.FirstName, req.LastName, dob.Format(time.DateOnly), req.ZIP)
	counted, waits, err := h.cfg.Store.RateLimitCount(ctx, limits...)
	if err != nil {
		h.unavailable(c, "portal rate limit", err)
		return
	}
	if waits[limitGlobal] > 0 {
		guard.openBreaker(waits[limitGlobal])
		lookupsPaused(c, waits[limitGlobal])
		return
	}
	if wait := slices.Max(waits); wait > 0 {
		tooManyAttempts(c, wait)
		return
	}

	candidates, err := h.cfg.Store.VoterListByLookup(ctx, req.FirstName, req.LastName, dob, req.ZIP)
	if err != nil {
		h.unavailable(c, "portal lookup", err)
		return
	}
	voterRef, matches := chooseVoter(candidates, req.VoterID)
	switch {
	case matches > 1:
		abort(c, http.StatusConflict, "voter_id_required", "More than one voter matches; enter your voter ID too.", "voter_id")
		return
	case matches == 0:
		noMatchAnswer(c)
		return
	}
	h.openSession(c, voterRef, counted[limitClient], counted[limitNetwork], counted[limitNameZIP], counted[limitGlobal])
}

// noMatchAnswer writes the one answer to every lookup that finds nobody who may sign in.
func noMatchAnswer(c *gin.Context) {
	c.Data(http.StatusNotFound, "application/json; charset=utf-8", noMatchBody)
	c.Abort()
}

// openSession signs the voter in: a lookup that found its voter is no failure, so its
// failure counts are given back, and a session is stored. A voter made confidential or
// inactive since the lookup gets the no-match answer.
func (h *handlers) openSession(c *gin.Context, voterRef int64, failures ...store.RateCount) {
	ctx := c.Request.Context()
	if err := h.cfg.Store.RateLimitUncount(ctx, failures...); err != nil {
		h.unavailable(c, "portal rate limit", err)
		return
	}
	token, err := randomToken()
	if err != nil {
		h.unavailable(c, "portal token", err)
		return
	}
	expires, err := h.cfg.Store.PortalSessionCreate(ctx, voterRef, token, PortalSessionTTL)
	if errors.Is(err, store.ErrNotFound) {
		noMatchAnswer(c)
		return
	}
	if err != nil {
		h.unavailable(c, "portal session", err)
		return
	}
	h.maybePrune(ctx)
	c.JSON(http.StatusCreated, gin.H{"token": token, "expires_at": expires.UTC().Format(time.RFC3339)})
}

// chooseVoter returns the one voter who may sign in, and how many could. Only active
// registrations may; with a voter ID, only the one it names. Every candidate is judged, and
// voter IDs are compared in constant time, whatever the outcome.
func chooseVoter(candidates []store.PortalCandidate, voterID string) (ref int64, matches int) {
	for _, cand := range candidates {
		active := subtle.ConstantTimeEq(boolInt(cand.Status == ballot.VoterActive), 1)
		idOK := 1
		if voterID != "" {
			idOK = subtle.ConstantTimeCompare([]byte(cand.VoterID), []byte(voterID))
		}
		if active&idOK == 1 {
			ref = cand.Ref
			matches++
		}
	}
	return ref, matches
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

var lastPrune atomic.Int64

// maybePrune deletes old sessions, counters and links, at most every ten minutes per process,
// after a sign-in (a few indexed deletes).
func (h *handlers) maybePrune(ctx context.Context) {
	now := time.Now().Unix()
	last := lastPrune.Load()
	if now-last < 600 || !lastPrune.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.cfg.Store.PortalPrune(ctx); err != nil {
		h.cfg.Logger.Warn("prune portal sessions", "error", err)
	}
}

// randomToken is 256 random bits, URL-safe.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// deletePortalSession logs out: the token stops working at once.
func (h *handlers) deletePortalSession(c *gin.Context) {
	if token := bearerToken(c); token != "" && len(token) <= 128 {
		if err := h.cfg.Store.PortalSessionRevoke(c.Request.Context(), token); err != nil {
			h.unavailable(c, "portal logout", err)
			return
		}
	}
	c.Status(http.StatusNoContent)
}
