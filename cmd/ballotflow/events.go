package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"golang.org/x/term"

	"github.com/ballotflow/ballotflow/internal/app"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/intake"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
)

// The commands a county (or its state) runs to load a file of ballot events, such as a
// mail-out day, straight into the database, and to follow its import.

func eventsCommand() *cobra.Command {
	events := &cobra.Command{Use: "events", Short: "Load files of ballot events and follow their imports"}
	events.AddCommand(eventsImportCommand(), eventsStatusCommand())
	return events
}

func eventsImportCommand() *cobra.Command {
	var formatName, state, county string
	var wait bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a CSV (with a header) or NDJSON file of ballot events; - reads stdin",
		Long: `Columns: ` + strings.Join(intake.EventColumns, ", ") + `.
Each row is checked as POST /v1/ballot-events checks one event; a bad row is reported with its
line and the field at fault, and the rest of the file loads. Events recorded before are counted
as duplicates. The stored events are then signaled by the import's workflow (import/<id>) at the
workers' INGEST_RATE, unless too many would move ballots backwards: then the import is held
until an operator approves or rejects it. The command acts as the county given by --county,
or as the state when none is given.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, logger, err := setup("")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			file, err := openImport(cmd, args[0], formatName)
			if err != nil {
				return err
			}
			defer file.Close()
			st, err := store.Open(ctx, cfg.DatabaseURL)
			if err != nil {
				return err
			}
			defer st.Close()
			caller, err := cliCaller(ctx, st, state, county)
			if err != nil {
				return err
			}

			tc := dialForImport(ctx, cfg, logger)
			if tc != nil {
				defer tc.Close()
			}
			svc := &intake.Service{Store: st, Logger: logger}
			if tc != nil {
				svc.Temporal = tc
			}
			opts := intake.ImportOptions{Format: file.format, Actor: "cli:" + osUser()}
			if file.onTerminal {
				opts.Progress = func(r intake.ImportResult) {
					printEventProgress(file.stderr, r, file.in.n.Load(), file.size, time.Since(file.started))
				}
			}
			res, err := svc.ImportEvents(ctx, caller, file.in, opts)
			file.progressDone(res.Rows)
			if err != nil {
				var fe *fileimport.FileError
				if errors.As(err, &fe) || res.ImportID == 0 {
					return err
				}
				return fmt.Errorf("%w\nimport %d stopped after line %d; run the same command again to finish "+
					"(rows stored already count as duplicates, and every event is signaled once)", err, res.ImportID, res.LastLine)
			}
			printEventSummary(cmd.OutOrStdout(), res)
			if tc == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "Temporal is not reachable from here: a worker starts signaling the events within two minutes.")
			}
			if wait {
				return followImport(ctx, cmd.OutOrStdout(), st, res.ImportID, file.onTerminal)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Follow it with: ballotflow events status %d\n", res.ImportID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&formatName, "format", "", "csv or ndjson (default: from the file's extension)")
	f.StringVar(&state, "state", "", "the two-letter state whose events these are (default: the only state configured)")
	f.StringVar(&county, "county", "", "act as this county: rows of other counties' voters are rejected (default: the whole state)")
	f.BoolVar(&wait, "wait", false, "follow the import until its events are signaled, or it is held or rejected")
	return cmd
}

func eventsStatusCommand() *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "status IMPORT_ID",
		Short: "Show an import's progress: done, duplicates, rejected, remaining",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return errors.New("IMPORT_ID is the number `events import` printed")
			}
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if wait {
					return followImport(ctx, cmd.OutOrStdout(), st, id, isTerminal(cmd.ErrOrStderr()))
				}
				im, err := st.EventImportGetByID(ctx, id)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), importLine(im))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the import until it is done, held or rejected")
	return cmd
}

// cliCaller is who the command acts as: the county given, or the state.
func cliCaller(ctx context.Context, st *store.Store, state, county string) (intake.Caller, error) {
	state, err := defaultState(ctx, st, state)
	if err != nil {
		return intake.Caller{}, err
	}
	if county == "" {
		return intake.Caller{Role: store.RoleState, State: state}, nil
	}
	county = strings.ToLower(county)
	if _, err := st.JurisdictionGetByCounty(ctx, state, county); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return intake.Caller{}, fmt.Errorf("--county: %s has no county %q configured (ballotflow jurisdictions list)", state, county)
		}
		return intake.Caller{}, err
	}
	return intake.Caller{Role: store.RoleCounty, State: state, County: county}, nil
}

// dialForImport connects to Temporal to start the import's workflow at once, or returns nil
// when it cannot: the stored import is then started by a worker's sweep.
func dialForImport(ctx context.Context, cfg config.Config, logger *slog.Logger) client.Client {
	pc, err := app.ClientPayloadCodec(cfg)
	if err != nil {
		logger.Warn("cannot start the import's workflow from here", "reason", err.Error())
		return nil
	}
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tc, err := worker.Dial(dialCtx, cfg.TemporalAddress, cfg.TemporalNamespace, pc.DataConverter(), logger)
	if err != nil {
		logger.Warn("cannot reach Temporal to start the import's workflow", "temporal", cfg.TemporalAddress, "error", err)
		return nil
	}
	return tc
}

// followImport prints an import's progress every second until it is done, held, rejected
// or failed.
func followImport(ctx context.Context, w io.Writer, st *store.Store, id int64, onTerminal bool) error {
	last := ""
	for {
		im, err := st.EventImportGetByID(ctx, id)
		if err != nil {
			return err
		}
		line := importLine(im)
		switch {
		case onTerminal:
			fmt.Fprintf(w, "\r%s ", line)
		case line != last:
			fmt.Fprintln(w, line)
		}
		last = line
		switch im.Status {
		case store.ImportDone, store.ImportHeld, store.ImportRejected, store.ImportFailed:
			if onTerminal {
				fmt.Fprintln(w)
			}
			if im.Status == store.ImportHeld {
				fmt.Fprintf(w, "Held: %d of %d events would move ballots backwards or contradict their history. "+
					"An operator approves or rejects it: POST /v1/imports/%d:approve or :reject\n",
					im.Backwards+im.Inconsistent, im.Accepted, id)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func importLine(im store.EventImport) string {
	line := fmt.Sprintf("import %d (%s): %s; %d rows, %d accepted, %d signaled, %d remaining, %d duplicates, %d rejected",
		im.ID, ballot.IngestWorkflowID(im.ID), im.Status, im.Rows, im.Accepted, im.Signaled,
		max(im.Accepted-im.Signaled, 0), im.Duplicates, im.Rejected)
	if im.FailureReason != "" {
		line += "\n" + im.FailureReason
	}
	return line
}

func printEventProgress(w io.Writer, r intake.ImportResult, read, size int64, elapsed time.Duration) {
	where := fmt.Sprintf("%.1f MB", float64(read)/1e6)
	if size > 0 {
		where = fmt.Sprintf("%3.0f%% of %.1f MB", 100*float64(read)/float64(size), float64(size)/1e6)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(r.Rows) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "\r%s  %d rows (%.0f/s)  accepted %d  duplicates %d  rejected %d ",
		where, r.Rows, rate, r.Accepted, r.Duplicates, r.Rejected)
}

func printEventSummary(w io.Writer, r intake.ImportResult) {
	fmt.Fprintf(w, "import %d (workflow %s): %d rows: %d accepted, %d duplicates, %d rejected\n",
		r.ImportID, r.WorkflowID, r.Rows, r.Accepted, r.Duplicates, r.Rejected)
	printRejections(w, r.Result)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
