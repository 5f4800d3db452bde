package intake_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/testdb"
)

// panicAfter reads r and panics once n bytes have been read: a bug deep in the reader.
type panicAfter struct {
	r io.Reader
	n int
}

func (p *panicAfter) Read(b []byte) (int, error) {
	if p.n <= 0 {
		var rows []int
		_ = rows[len(b)] // a runtime error, as a real bug would be
	}
	if len(b) > p.n {
		b = b[:p.n]
	}
	n, err := p.r.Read(b)
	p.n -= n
	return n, err
}

// TestAPanicReadingAnEventsFileFailsTheImportNotTheProcess: events are read in a goroutine
// of their own, which no HTTP recovery covers: its panic used to end the whole process.
func TestAPanicReadingAnEventsFileFailsTheImportNotTheProcess(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	var b strings.Builder
	b.WriteString("event_id,election_id,voter_id,ballot_id,status,occurred_at\n")
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for i := range 20_000 { // more than the reader's 256 KiB buffer
		fmt.Fprintf(&b, "e-%d,demo-general,%09d,B-%d,mailed,%s\n", i, 600100000+i, i, at)
	}
	svc := &intake.Service{Store: st, Logger: slog.New(slog.DiscardHandler)}
	res, err := svc.ImportEvents(ctx, intake.Caller{Role: store.RoleCounty, State: "CO", County: "denver"},
		&panicAfter{r: strings.NewReader(b.String()), n: b.Len() / 2}, intake.ImportOptions{Format: fileimport.CSV, Actor: "test", BatchSize: 1000})
	var panicked *fileimport.ReadPanicError
	require.ErrorAs(t, err, &panicked)
	require.Contains(t, panicked.Panic, "index out of range")
	require.Positive(t, panicked.Line)
	require.Equal(t, store.ImportFailed, res.Status)
	im, err := st.EventImportGetByID(ctx, res.ImportID)
	require.NoError(t, err)
	require.Equal(t, store.ImportFailed, im.Status, "the import says it failed; sending the file again completes it")
	require.Equal(t, store.FailedUnreadable(panicked.Line), im.FailureReason, "and why: a row it could not read, not a broken upload")
	require.Contains(t, im.FailureReason, fmt.Sprintf("after line %d", panicked.Line))
}
