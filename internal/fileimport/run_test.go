package fileimport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
)

var idColumns = fileimport.Columns([]string{"id", "note"}, 1)

// idFile is a CSV file of n rows "i,ok" (line i+1), each row whose i is in bad with a bare
// quote the reader cannot read.
func idFile(n int, bad ...int) *fileimport.Records {
	var b strings.Builder
	b.WriteString("id,note\n")
	for i := 1; i <= n; i++ {
		switch {
		case slices.Contains(bad, i):
			fmt.Fprintf(&b, "%d,o\"k\n", i)
		default:
			fmt.Fprintf(&b, "%d,ok\n", i)
		}
	}
	recs, err := fileimport.NewRecords(strings.NewReader(b.String()), fileimport.CSV, idColumns)
	if err != nil {
		panic(err)
	}
	return recs
}

func parseID(line int, values []string) (string, *fileimport.Rejection) {
	if values[0] == "13" {
		return "", &fileimport.Rejection{Line: line, Field: "id", Code: "unlucky", Reason: "id must not be 13"}
	}
	return values[0], nil
}

func TestRunStoresBatchesCountsRowsAndListsRejectionsByLine(t *testing.T) {
	var stored [][]string
	var starts, progress int
	var res fileimport.Result
	err := fileimport.Run(context.Background(), idFile(25, 4, 20), &res, fileimport.Steps[string]{
		BatchSize:      10,
		StartBatch:     func() { starts++ },
		UnreadableCode: "invalid_row",
		Parse:          parseID,
		Store: func(_ context.Context, b fileimport.Batch[string]) ([]fileimport.Rejection, error) {
			stored = append(stored, b.Valid)
			if len(stored) == 1 {
				return []fileimport.Rejection{{Line: 3, Code: "refused", Reason: "the database refused it"}}, nil
			}
			return nil, nil
		},
		Progress: func() { progress++ },
	})
	require.NoError(t, err)
	require.Len(t, stored, 3)
	require.Len(t, stored[0], 9) // line 5 (id 4) could not be read
	require.Equal(t, 3, progress)
	require.GreaterOrEqual(t, starts, 3, "every batch starts with StartBatch")
	require.Equal(t, 25, res.Rows)
	require.Equal(t, 26, res.LastLine)
	require.Equal(t, 4, res.Rejected)
	codes := make([]string, len(res.Rejections))
	lines := make([]int, len(res.Rejections))
	for i, r := range res.Rejections {
		codes[i], lines[i] = r.Code, r.Line
	}
	require.Equal(t, []int{3, 5, 14, 21}, lines, "by line within each batch")
	require.Equal(t, []string{"refused", "invalid_row", "unlucky", "invalid_row"}, codes)
}

func TestRunListsAtMostMaxRejectionsAndCountsThemAll(t *testing.T) {
	n := fileimport.MaxRejectionsListed + 50
	bad := make([]int, n)
	for i := range bad {
		bad[i] = i + 1
	}
	var listed int
	var res fileimport.Result
	err := fileimport.Run(context.Background(), idFile(n, bad...), &res, fileimport.Steps[string]{
		BatchSize: 300,
		Parse:     parseID,
		Store:     func(context.Context, fileimport.Batch[string]) ([]fileimport.Rejection, error) { return nil, nil },
		Listed: func(_ context.Context, rs []fileimport.Rejection) error {
			listed += len(rs)
			return nil
		},
	})
	require.NoError(t, err)
	require.Equal(t, n, res.Rejected)
	require.Len(t, res.Rejections, fileimport.MaxRejectionsListed)
	require.True(t, res.RejectionsTruncated)
	require.Equal(t, fileimport.MaxRejectionsListed, listed, "Listed sees each listed rejection once")
}

func TestRunStopsAtAStoreErrorCountingOnlyTheBatchesStored(t *testing.T) {
	wireCut := errors.New("database went away")
	batches := 0
	var res fileimport.Result
	err := fileimport.Run(context.Background(), idFile(35), &res, fileimport.Steps[string]{
		BatchSize: 10,
		Parse:     parseID,
		Store: func(context.Context, fileimport.Batch[string]) ([]fileimport.Rejection, error) {
			if batches++; batches == 2 {
				return nil, wireCut
			}
			return nil, nil
		},
	})
	require.ErrorIs(t, err, wireCut)
	require.Equal(t, 10, res.Rows)
	require.Equal(t, 11, res.LastLine, "the rows up to line 11 (the first batch) are stored, no more")
	require.Equal(t, []fileimport.Rejection{}, res.Rejections, "an answer lists none as []")
}

// TestAPanicWhileParsingFailsTheImportWithTheLineReached: rows are parsed in a goroutine no
// HTTP recovery covers; its panic must come back as the import's error, not end the process.
func TestAPanicWhileParsingFailsTheImportWithTheLineReached(t *testing.T) {
	var res fileimport.Result
	err := fileimport.Run(context.Background(), idFile(30), &res, fileimport.Steps[string]{
		BatchSize: 10,
		Parse: func(line int, values []string) (string, *fileimport.Rejection) {
			if line == 17 {
				var voters map[string]int
				voters["Maria Garcia"]++
			}
			return values[0], nil
		},
		Store: func(context.Context, fileimport.Batch[string]) ([]fileimport.Rejection, error) { return nil, nil },
	})
	var panicked *fileimport.ReadPanicError
	require.ErrorAs(t, err, &panicked)
	require.Equal(t, 16, panicked.Line)
	require.Contains(t, panicked.Panic, "nil map")
	require.NotContains(t, err.Error(), "Maria")
	require.Equal(t, 10, res.Rows, "the batch before the panic is stored")
}

// An import whose context ends before the end of the file (Ctrl-C on the command line) is an
// error, never a complete import of what was read so far.
func TestRunCutShortByItsContextIsNotComplete(t *testing.T) {
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		var res fileimport.Result
		err := fileimport.Run(ctx, idFile(50), &res, fileimport.Steps[string]{
			BatchSize: 10,
			Parse:     parseID,
			Store: func(context.Context, fileimport.Batch[string]) ([]fileimport.Rejection, error) {
				cancel()
				return nil, nil
			},
		})
		require.ErrorIs(t, err, context.Canceled, "after %d rows stored", res.Rows)
	}
}
