package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"
)

// Portal sessions: a voter signed in to the portal, by the SHA-256 of a random token.

// PortalSessionCreate stores a session of a voter for a token, by the token's SHA-256, and
// returns when it expires. It stores nothing (ErrNotFound) when the voter may no longer sign
// in: the voter's row is share-locked while the session is stored, so a roll import that
// makes the voter confidential either waits for the session (and its trigger revokes it) or
// is seen by it.
func (s *Store) PortalSessionCreate(ctx context.Context, voterRef int64, token string, ttl time.Duration) (time.Time, error) {
	hash := sha256.Sum256([]byte(token))
	var expires time.Time
	err := s.pool.QueryRow(ctx, `
		INSERT INTO portal_sessions (token_hash, voter_ref, expires_at)
		SELECT $1, v.id, now() + make_interval(secs => $3)
		FROM (SELECT id FROM voters WHERE id = $2 AND status = 'active' AND NOT confidential FOR SHARE) v
		RETURNING expires_at`, hash[:], voterRef, ttl.Seconds()).Scan(&expires)
	if err != nil {
		return time.Time{}, notFound(err, "create portal session")
	}
	return expires, nil
}

// PortalSession is a live portal session.
type PortalSession struct {
	ID       int64
	VoterRef int64
}

// PortalSessionGetByToken returns a live session: one that exists, has not expired, was not
// revoked, and whose voter may still use the portal (active, not confidential). Anything
// else is ErrNotFound. A session is revoked for good when its voter stops being allowed to
// sign in (migration 009's trigger), so undoing that change does not bring it back.
func (s *Store) PortalSessionGetByToken(ctx context.Context, token string) (PortalSession, error) {
	hash := sha256.Sum256([]byte(token))
	var ps PortalSession
	err := s.pool.QueryRow(ctx, `
		SELECT p.id, p.voter_ref FROM portal_sessions p JOIN voters v ON v.id = p.voter_ref
		WHERE p.token_hash = $1 AND p.revoked_at IS NULL AND p.expires_at > now()
			AND v.status = 'active' AND NOT v.confidential`, hash[:]).Scan(&ps.ID, &ps.VoterRef)
	if err != nil {
		return PortalSession{}, notFound(err, "portal session")
	}
	return ps, nil
}

// PortalSessionGetVoterRef returns the voter of a live session (see PortalSessionGetByToken).
func (s *Store) PortalSessionGetVoterRef(ctx context.Context, token string) (int64, error) {
	ps, err := s.PortalSessionGetByToken(ctx, token)
	return ps.VoterRef, err
}

// PortalSessionRevoke ends a session (logout). Revoking an unknown or revoked one is no error.
func (s *Store) PortalSessionRevoke(ctx context.Context, token string) error {
	hash := sha256.Sum256([]byte(token))
	_, err := s.pool.Exec(ctx, `UPDATE portal_sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`, hash[:])
	if err != nil {
		return fmt.Errorf("revoke portal session: %w", err)
	}
	return nil
}
