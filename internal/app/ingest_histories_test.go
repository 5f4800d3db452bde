package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
)

// ingestHistoriesDir holds the committed histories of import workflows that workflows'
// ingest replay test replays (TestReplayCommittedIngestHistories).
const ingestHistoriesDir = "../../workflows/testdata/ingest-histories"

// TestRecordIngestHistories runs a paced import through the whole stack and writes its
// workflow's history as ingest-paced-<BALLOTFLOW_HISTORY_SUFFIX>.json. It only runs when
// asked: `make histories` after a deliberate, versioned change to the ingestion workflow
// (name the suffix after the change; keep the histories of earlier versions).
func TestRecordIngestHistories(t *testing.T) {
	if os.Getenv("BALLOTFLOW_RECORD_HISTORIES") == "" {
		t.Skip("set BALLOTFLOW_RECORD_HISTORIES=1 (make histories) to re-record the replay histories")
	}
	suffix := os.Getenv("BALLOTFLOW_HISTORY_SUFFIX")
	if suffix == "" {
		suffix = "current"
	}
	key, err := os.ReadFile(filepath.Join(historiesDir, "payload-key"))
	require.NoError(t, err)
	t.Setenv("PAYLOAD_KEYS", strings.TrimSpace(string(key)))
	// Two events a second, in pages of two: five events take three pages and two pace timers.
	d := startDevWith(t, app.DevOptions{}, func(cfg *config.Config) { cfg.IngestRate = 2 })
	voters := bulkVoters(t, d, 5, 0)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := []string{bulkHeader}
	for i, v := range voters {
		lines = append(lines, csvRow(fmt.Sprintf("hist-ingest-%d", i), v, fmt.Sprintf("DEN-H%d", i), "mailed", at))
	}
	res := postBulk(t, d, d.DemoKey, "text/csv", strings.Join(lines, "\n"))
	require.Equal(t, 202, res.Status, res.Body)
	waitForImport(t, d, d.DemoKey, res.ImportID, "done")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := ballot.IngestWorkflowID(res.ImportID)
	require.NoError(t, d.Temporal.GetWorkflow(ctx, id, "").Get(ctx, nil))
	require.NoError(t, os.MkdirAll(ingestHistoriesDir, 0o755))
	writeHistory(t, d, id, filepath.Join(ingestHistoriesDir, "ingest-paced-"+suffix+".json"))
}
