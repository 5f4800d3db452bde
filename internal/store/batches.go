package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// withoutJIT turns JIT compilation off for the rest of a batch's transaction. A batch's
// statements find some thousands of rows one by one through indexes; the planner, pricing
// each probe as a read from disk, takes them for statements that read millions and compiles
// them, which costs more than running them.
func withoutJIT(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
		return fmt.Errorf("set up batch: %w", err)
	}
	return nil
}
