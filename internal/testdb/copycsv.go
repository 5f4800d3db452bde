package testdb

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"

	"github.com/jackc/pgx/v5"
)

// Copier is what CopyCSV writes with: a pool, a connection or a transaction.
type Copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// CopyCSV copies the rows of a CSV file with a header, as text, straight into table's
// columns: the plain-COPY ceiling the import benchmarks measure themselves against.
func CopyCSV(ctx context.Context, db Copier, table string, columns []string, data []byte) (int64, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // the header
		return 0, err
	}
	row := make([]any, len(columns))
	var readErr error
	n, err := db.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			readErr = err
			return nil, err
		}
		for i, v := range rec {
			row[i] = v
		}
		return row, nil
	}))
	if readErr != nil {
		return n, readErr
	}
	return n, err
}
