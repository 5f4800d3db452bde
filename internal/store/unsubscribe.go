package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// UnsubscribeSecret returns the key material of notice emails' unsubscribe links
// (internal/unsubscribe): derived from the database's hash secret (migration 009), so that
// every API replica and worker shares it without configuration, and never the secret itself.
func (s *Store) UnsubscribeSecret(ctx context.Context) ([]byte, error) {
	var secret []byte
	if err := s.pool.QueryRow(ctx, `SELECT secret FROM hash_secret`).Scan(&secret); err != nil {
		return nil, fmt.Errorf("read the hash secret: %w", err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("ballotflow unsubscribe links"))
	return m.Sum(nil), nil
}
