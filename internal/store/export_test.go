package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// InTx exposes inTx to the package's external tests.
func InTx(s *Store, ctx context.Context, fn func(tx pgx.Tx) error) error { return s.inTx(ctx, fn) }
