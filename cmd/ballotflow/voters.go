package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

// The commands a state's election office (or an operator for it) runs to load its voter
// roll, previous subscriptions, jurisdictions and elections straight into the database.

func votersCommand() *cobra.Command {
	voters := &cobra.Command{Use: "voters", Short: "Load a state's voter roll"}
	voters.AddCommand(fileImportCommand("import FILE", "Sync the voter roll from a CSV (with a header) or NDJSON file; - reads stdin",
		`Columns: `+strings.Join(roll.VoterColumns(), ", ")+`.
Voters are upserted by voter_id; only rows that changed are written. Voters with an email
are enrolled for email unless they already made a choice; confidential voters never are.
A bad row is reported with its line and the field at fault; the rest of the file loads.`,
		roll.ImportVoters))
	return voters
}

func subscriptionsCommand() *cobra.Command {
	subs := &cobra.Command{Use: "subscriptions", Short: "Import subscriptions voters made in a previous system"}
	subs.AddCommand(fileImportCommand("import FILE", "Import previous subscriptions from a CSV (with a header) or NDJSON file",
		`Columns: `+strings.Join(roll.SubscriptionColumns(), ", ")+`.
channel is email, sms or voice; state is active or opted_out. An opt-out is never undone
and a choice the voter made in ballotflow is kept. Load the voter roll first.`,
		roll.ImportSubscriptions))
	return subs
}

type importFunc func(context.Context, *store.Store, io.Reader, roll.Options) (roll.Result, error)

func fileImportCommand(use, short, long string, load importFunc) *cobra.Command {
	var formatName, state string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := openImport(cmd, args[0], formatName)
			if err != nil {
				return err
			}
			defer file.Close()
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				state, err := defaultState(ctx, st, state)
				if err != nil {
					return err
				}
				opts := roll.Options{State: state, Actor: "cli:" + osUser(), Format: file.format}
				if file.onTerminal {
					opts.Progress = func(r roll.Result) {
						printProgress(file.stderr, r, file.in.n.Load(), file.size, time.Since(file.started))
					}
				}
				res, err := load(ctx, st, file.in, opts)
				file.progressDone(res.Rows)
				if err != nil {
					var fe *fileimport.FileError
					if errors.As(err, &fe) || errors.Is(err, store.ErrImportRunning) {
						return err
					}
					return fmt.Errorf("%w\nthe rows up to line %d are loaded; run the same command again to finish (it changes only what differs)",
						err, res.LastLine)
				}
				printSummary(cmd.OutOrStdout(), res)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&formatName, "format", "", "csv or ndjson (default: from the file's extension)")
	cmd.Flags().StringVar(&state, "state", "", "the two-letter state whose file this is (default: the only state configured)")
	return cmd
}

// fileFormat is the --format asked for, or the one the file's extension says.
func fileFormat(path, flag string) (fileimport.Format, error) {
	if flag != "" {
		return fileimport.ParseFormat(flag)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return fileimport.CSV, nil
	case ".ndjson", ".jsonl":
		return fileimport.NDJSON, nil
	}
	return "", errors.New("cannot tell the file's format from its name: pass --format csv or --format ndjson")
}

// defaultState is the state asked for or, when none, the only one configured.
func defaultState(ctx context.Context, st *store.Store, state string) (string, error) {
	if state != "" {
		return strings.ToUpper(state), nil
	}
	states, err := st.JurisdictionListStates(ctx)
	if err != nil {
		return "", err
	}
	switch len(states) {
	case 0:
		return "", errors.New("no jurisdiction is configured yet: create them first (ballotflow jurisdictions create)")
	case 1:
		return states[0], nil
	}
	return "", fmt.Errorf("pass --state: jurisdictions of %s are configured", strings.Join(states, ", "))
}

// importFile is a file being imported: its format, a reader that counts the bytes read for
// the progress line, its size (-1 when unknown), and whether stderr is a terminal that
// shows that line.
type importFile struct {
	format     fileimport.Format
	in         *countingReader
	size       int64
	stderr     io.Writer
	onTerminal bool
	started    time.Time
	closer     io.Closer
}

// openImport opens path ("-" for stdin) in the format --format names or its extension says.
func openImport(cmd *cobra.Command, path, formatName string) (*importFile, error) {
	format, err := fileFormat(path, formatName)
	if err != nil {
		return nil, err
	}
	in, size, err := openInput(path)
	if err != nil {
		return nil, err
	}
	stderr := cmd.ErrOrStderr()
	return &importFile{format: format, in: &countingReader{r: in}, size: size, stderr: stderr,
		onTerminal: isTerminal(stderr), started: time.Now(), closer: in}, nil
}

func (f *importFile) Close() error { return f.closer.Close() }

// progressDone ends the progress line, when one was drawn.
func (f *importFile) progressDone(rows int) {
	if f.onTerminal && rows > 0 {
		fmt.Fprintln(f.stderr)
	}
}

// openInput opens path, or stdin for "-", with its size when known (else -1).
func openInput(path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, nil
}

// countingReader counts the bytes read; the progress line reads the count from another
// goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// printProgress rewrites one terminal line: how far into the file, and the counts so far.
func printProgress(w io.Writer, r roll.Result, read, size int64, elapsed time.Duration) {
	where := fmt.Sprintf("%.1f MB", float64(read)/1e6)
	if size > 0 {
		where = fmt.Sprintf("%3.0f%% of %.1f MB", 100*float64(read)/float64(size), float64(size)/1e6)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(r.Rows) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "\r%s  %d rows (%.0f/s)  inserted %d  updated %d  unchanged %d  rejected %d ",
		where, r.Rows, rate, r.Inserted, r.Updated, r.Unchanged, r.Rejected)
}

// printSummary prints the counts, then the listed rejections.
func printSummary(w io.Writer, r roll.Result) {
	fmt.Fprintf(w, "%d rows: %d inserted, %d updated, %d unchanged, %d rejected\n",
		r.Rows, r.Inserted, r.Updated, r.Unchanged, r.Rejected)
	if r.Enrolled > 0 || r.ConfidentialOptOuts > 0 {
		fmt.Fprintf(w, "%d voters enrolled for email; %d subscriptions turned off for confidential voters\n",
			r.Enrolled, r.ConfidentialOptOuts)
	}
	printRejections(w, r.Result)
}

// printRejections prints each listed rejection of an import as "line N: field: reason".
func printRejections(w io.Writer, r fileimport.Result) {
	for _, rej := range r.Rejections {
		field := rej.Field
		if field == "" {
			field = "-"
		}
		fmt.Fprintf(w, "line %d: %s: %s\n", rej.Line, field, rej.Reason)
	}
	if r.RejectionsTruncated {
		fmt.Fprintf(w, "(only the first %d rejections are listed)\n", len(r.Rejections))
	}
}

func jurisdictionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "jurisdictions", Short: "Create and list jurisdictions (county election offices)"}
	var j store.Jurisdiction
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a county's jurisdiction, or replace its settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checked, err := roll.CheckJurisdiction(j)
			if err != nil {
				return flagError(err)
			}
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				saved, outcome, err := st.JurisdictionSave(ctx, checked, "cli:"+osUser())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", saved.ID, outcome)
				return nil
			})
		},
	}
	f := create.Flags()
	f.StringVar(&j.State, "state", "", "two-letter state, e.g. CO (required)")
	f.StringVar(&j.County, "county", "", "county code: lowercase letters, digits, - and _, e.g. el-paso (required)")
	f.StringVar(&j.Name, "name", "", "the office's name as voters know it (required)")
	f.StringVar(&j.TimeZone, "time-zone", "", "IANA time zone, e.g. America/Denver (required)")
	f.StringVar(&j.EmailFrom, "email-from", "", "address notices are emailed from (required)")
	f.StringVar(&j.EmailFromName, "email-from-name", "", "sender name voters see (required)")
	f.StringVar(&j.SMSFrom, "sms-from", "", "E.164 number texts come from (required)")
	f.StringVar(&j.VoiceFrom, "voice-from", "", "E.164 number calls come from (required)")
	f.StringVar(&j.HelpText, "help-text", "", "how voters reach the office; the answer to HELP (required)")
	f.StringVar(&j.ReplyTo, "reply-to", "", "the office's contact address, where voters' answers to notice emails go")
	f.StringSliceVar(&j.Languages, "languages", nil, "languages the county offers, the default first, of "+
		strings.Join(ballot.Languages, ",")+" (default "+strings.Join(notices.ReviewedLanguages(), ",")+
		": the catalogs a county has reviewed)")
	f.StringToStringVar(&j.HelpTexts, "help-texts", nil, "the answer to HELP in the county's other languages, e.g. es='Llame al 720-555-0100.'")

	var listState string
	list := &cobra.Command{
		Use:   "list",
		Short: "List jurisdictions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				js, err := st.JurisdictionList(ctx, strings.ToUpper(listState))
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tTIME ZONE\tEMAIL FROM\tSMS FROM\tVOICE FROM")
				for _, j := range js {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Name, j.TimeZone, j.EmailFrom, j.SMSFrom, j.VoiceFrom)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&listState, "state", "", "only this state")
	cmd.AddCommand(create, list, jurisdictionsMessagesCommand())
	return cmd
}

func electionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "elections", Short: "Create and list elections"}
	var e store.Election
	var day, canvass, recordsUntil string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an election, or update its name and dates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if day != "" {
				if e.ElectionDay, err = time.Parse(time.DateOnly, day); err != nil {
					return errors.New("--election-day must be a date YYYY-MM-DD")
				}
			}
			if canvass != "" {
				if e.CanvassEndsAt, err = time.Parse(time.RFC3339, canvass); err != nil {
					return errors.New("--canvass-ends-at must be an RFC 3339 time with a zone, e.g. 2026-12-01T17:00:00-07:00")
				}
			}
			if recordsUntil != "" {
				if e.RecordsUntil, err = time.Parse(time.DateOnly, recordsUntil); err != nil {
					return errors.New("--records-until must be a date YYYY-MM-DD")
				}
			}
			checked, err := roll.CheckElection(e)
			if err != nil {
				return flagError(err)
			}
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				saved, outcome, err := st.ElectionSave(ctx, checked, "cli:"+osUser())
				if errors.Is(err, store.ErrRecordsBeforeCanvass) {
					return fmt.Errorf("--records-until: %w", err)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s, records kept until %s\n", saved.ID, outcome,
					saved.RecordsUntil.Format(time.DateOnly))
				return nil
			})
		},
	}
	f := create.Flags()
	f.StringVar(&e.ID, "id", "", "election id, e.g. 2026-11-03-general (required)")
	f.StringVar(&e.State, "state", "", "two-letter state (required)")
	f.StringVar(&e.Name, "name", "", "the election's name (required)")
	f.StringVar(&day, "election-day", "", "YYYY-MM-DD (required)")
	f.StringVar(&canvass, "canvass-ends-at", "", "RFC 3339 time after election day when tracking ends (required)")
	f.StringVar(&recordsUntil, "records-until", "", "YYYY-MM-DD, the last day the election's records are kept whole "+
		"(left out: the period the election has; a new one's is election day + 22 months)")

	var listState string
	list := &cobra.Command{
		Use:   "list",
		Short: "List elections, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				es, err := st.ElectionList(ctx, strings.ToUpper(listState))
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tNAME\tELECTION DAY\tCANVASS ENDS\tRECORDS UNTIL\tPURGED")
				for _, e := range es {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.Name, e.ElectionDay.Format(time.DateOnly),
						e.CanvassEndsAt.UTC().Format(time.RFC3339), e.RecordsUntil.Format(time.DateOnly), purgedCell(e))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&listState, "state", "", "only this state")
	cmd.AddCommand(create, list, electionsExportCommand(), electionsRemindersCommand())
	return cmd
}

// withStore runs fn with a store opened from the configuration.
func withStore(cmd *cobra.Command, fn func(context.Context, *store.Store) error) error {
	cfg, _, err := setup("")
	if err != nil {
		return err
	}
	st, err := store.Open(cmd.Context(), cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cmd.Context(), st)
}

// flagError names the flag of a field at fault: time_zone is --time-zone.
func flagError(err error) error {
	var fe *roll.FieldError
	if errors.As(err, &fe) && fe.Field != "" {
		return fmt.Errorf("--%s: %s", strings.ReplaceAll(fe.Field, "_", "-"), fe.Message)
	}
	return err
}
