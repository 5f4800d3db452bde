package fileimport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// With Concurrent, batches are claimed one at a time in the order of the file and stored
// several at once; a batch that finishes early still counts only after those before it.
func TestConcurrentBatchesAreClaimedInOrderAndCountedInOrder(t *testing.T) {
	var claimed []int
	inFlight, most := 0, 0
	var mu sync.Mutex
	var all3 sync.WaitGroup
	all3.Add(3)
	release := make(chan struct{})
	go func() { all3.Wait(); close(release) }()
	stored := map[int]int{}
	var progress []int
	var res fileimport.Result
	err := fileimport.Run(context.Background(), idFile(45), &res, fileimport.Steps[string]{
		BatchSize:  10,
		Concurrent: 3,
		Parse:      parseID,
		Claim: func(_ context.Context, b fileimport.Batch[string]) (fileimport.Batch[string], []fileimport.Rejection, error) {
			claimed = append(claimed, b.LastLine) // Run's goroutine: no lock needed
			first := b.Valid[0]
			b.Valid = b.Valid[1:] // the first row of each batch "repeats an earlier one"
			line, _ := strconv.Atoi(first)
			return b, []fileimport.Rejection{{Line: line + 1, Field: "id", Reason: "repeated"}}, nil
		},
		Store: func(_ context.Context, b fileimport.Batch[string]) ([]fileimport.Rejection, error) {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			stored[b.LastLine] = len(b.Valid)
			mu.Unlock()
			if b.LastLine <= 31 { // the first three wait for each other
				all3.Done()
				select {
				case <-release:
				case <-time.After(5 * time.Second): // fewer than three at once: most says so
				}
			}
			if b.LastLine == 11 {
				time.Sleep(20 * time.Millisecond) // the first batch is the slowest
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			return []fileimport.Rejection{{Line: b.LastLine, Reason: "refused"}}, nil
		},
		Progress: func() { progress = append(progress, res.LastLine) },
	})
	require.NoError(t, err)
	require.Equal(t, []int{11, 21, 31, 41, 46}, claimed)
	require.Equal(t, 3, most, "three batches were storing at once")
	require.Equal(t, map[int]int{11: 9, 21: 8, 31: 9, 41: 9, 46: 4}, stored,
		"Store gets the batch Claim returned (line 14 is refused by Parse)")
	require.Equal(t, []int{11, 21, 31, 41, 46}, progress, "counted in the order of the file")
	require.Equal(t, 45, res.Rows)
	require.Equal(t, 11, res.Rejected)
	lines := make([]int, len(res.Rejections))
	for i, r := range res.Rejections {
		lines[i] = r.Line
	}
	require.Equal(t, []int{2, 11, 12, 14, 21, 22, 31, 32, 41, 42, 46}, lines)
}

// A concurrent store that fails or panics ends the import; Run returns only once every
// batch it handed to Store has returned (the caller then releases their connection), and
// counts only the batches stored before the failed one.
func TestAConcurrentStoreFailureWaitsForTheOthersAndCountsTheBatchesBefore(t *testing.T) {
	for _, fail := range []string{"error", "panic"} {
		t.Run(fail, func(t *testing.T) {
			wireCut := errors.New("database went away")
			var running atomic.Int32
			var res fileimport.Result
			err := fileimport.Run(context.Background(), idFile(60), &res, fileimport.Steps[string]{
				BatchSize:  10,
				Concurrent: 2,
				Parse:      parseID,
				Store: func(_ context.Context, b fileimport.Batch[string]) ([]fileimport.Rejection, error) {
					running.Add(1)
					defer running.Add(-1)
					switch {
					case b.LastLine == 31 && fail == "panic":
						var m map[string]int
						m["x"]++
					case b.LastLine == 31:
						return nil, wireCut
					case b.LastLine == 41:
						time.Sleep(50 * time.Millisecond) // still storing when the batch before fails
					}
					return nil, nil
				},
			})
			if fail == "panic" {
				var panicked *fileimport.ReadPanicError
				require.ErrorAs(t, err, &panicked)
				require.Equal(t, 21, panicked.Line, "the line before the batch")
			} else {
				require.ErrorIs(t, err, wireCut)
			}
			require.Zero(t, running.Load(), "no Store is running once Run has returned")
			require.Equal(t, 20, res.Rows)
			require.Equal(t, 21, res.LastLine)
		})
	}
}
