package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/store"
)

// electionsExportCommand writes an election's records to a CSV file, as the operators' API
// does (GET /v1/operator/elections/{id}/records), for the election office to keep before
// the retention purge.
func electionsExportCommand() *cobra.Command {
	var county, out string
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Write an election's records (every county event and every notice, with voter and ballot ids) to a CSV file",
		Long: `Write an election's records to a CSV file before the retention purge removes the personal
data in them: one row per county event and per delivery of a notice, ballot by ballot, with
the ballot and voter ids (see the README's Data retention). The file is written to
--output (default records-ID.csv) and must not exist already; '-' writes to standard output.
The export is audited. Once the election's purge has begun there is nothing left to export.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if out == "" {
				out = "records-" + id + ".csv"
			}
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				e, err := st.ElectionGetByID(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no election %q; see ballotflow elections list", id)
				}
				if err != nil {
					return err
				}
				if e.PurgeStartedAt != nil {
					return purgedError(e)
				}
				rows, err := exportTo(ctx, st, cmd.OutOrStdout(), out, e.ID, strings.ToLower(county))
				if errors.Is(err, store.ErrElectionPurged) {
					return purgedError(e)
				}
				if err != nil {
					return err
				}
				if out != "-" {
					fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d records of %s to %s\n", rows, e.ID, out)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&county, "county", "", "only this county's ballots, e.g. denver")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the file to write (default records-ID.csv; '-' for standard output)")
	return cmd
}

// exportTo writes the records to a new file named out (readable by its owner only: it holds
// voters' ids), or to stdout for "-". A file that breaks off is removed.
func exportTo(ctx context.Context, st *store.Store, stdout io.Writer, out, electionID, county string) (int, error) {
	actor := "cli:" + osUser()
	if out == "-" {
		return apiserver.ExportElectionRecords(ctx, st, stdout, electionID, county, actor)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	rows, err := apiserver.ExportElectionRecords(ctx, st, f, electionID, county, actor)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		_ = os.Remove(out)
		return 0, err
	}
	return rows, nil
}

func purgedError(e store.Election) error {
	return fmt.Errorf("the records period of %s ended on %s and its personal data are purged; only its counts remain",
		e.ID, e.RecordsUntil.Format(time.DateOnly))
}

// purgedCell is the PURGED column of `elections list`.
func purgedCell(e store.Election) string {
	switch {
	case e.PurgedAt != nil:
		return e.PurgedAt.UTC().Format(time.DateOnly)
	case e.PurgeStartedAt != nil:
		return "purging"
	}
	return "-"
}
