package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ballotflow/ballotflow/internal/store"
)

// electionsRemindersCommand shows or sets a county's reminders for an election, as PUT
// /v1/elections/{id}/reminders does.
func electionsRemindersCommand() *cobra.Command {
	var r store.Reminders
	var set bool
	cmd := &cobra.Command{
		Use:   "reminders ID --state ST --county C [--return-days 7,2 --cure-days 3,1 --returns-close 19:00]",
		Short: "Show or set a county's return and cure reminders for an election",
		Long: `Show a county's reminders for an election, or set them with --return-days and --cure-days
(days before election day, and before a challenge's cure deadline; none for no reminders).
A reminder is due at --remind-at (default 10:00) county time on its day, then in each voter's contact hours, and
never after its deadline. Set them before mail-out: a ballot takes them when it starts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.ElectionID, r.State, r.County = args[0], strings.ToUpper(r.State), strings.ToLower(r.County)
			if r.State == "" || r.County == "" {
				return errors.New("name the county with --state and --county")
			}
			set = cmd.Flags().Changed("return-days") || cmd.Flags().Changed("cure-days") || cmd.Flags().Changed("returns-close") ||
				cmd.Flags().Changed("remind-at")
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				if set {
					if !cmd.Flags().Changed("return-days") || !cmd.Flags().Changed("cure-days") {
						return errors.New("give both --return-days and --cure-days (none for no reminders)")
					}
					saved, err := st.RemindersSave(ctx, r, "cli:"+osUser())
					var fe *store.ReminderFieldError
					if errors.As(err, &fe) {
						return fmt.Errorf("--%s: %s", strings.ReplaceAll(fe.Field, "_", "-"), fe.Message)
					}
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no election %q of %s with a county %q; see ballotflow elections list", r.ElectionID, r.State, r.County)
					}
					if err != nil {
						return err
					}
					r = saved
				} else {
					got, err := st.RemindersGet(ctx, r.ElectionID, r.State, r.County)
					if err != nil {
						return err
					}
					r = got
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s-%s: return reminders: %s (ballots in by %s on election day); cure reminders: %s; due at %s\n",
					r.ElectionID, r.State, r.County, days(r.ReturnDays, "election day"), r.ReturnsClose, days(r.CureDays, "the cure deadline"), r.RemindAt)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.State, "state", "", "two-letter state (required)")
	f.StringVar(&r.County, "county", "", "county (required)")
	f.IntSliceVar(&r.ReturnDays, "return-days", nil, "days before election day to remind voters whose ballot is not back, e.g. 7,2")
	f.IntSliceVar(&r.CureDays, "cure-days", nil, "days before a cure deadline to remind voters whose ballot is challenged, e.g. 3,1")
	f.StringVar(&r.ReturnsClose, "returns-close", "", `local time on election day ballots must be in (default "19:00")`)
	f.StringVar(&r.RemindAt, "remind-at", "", `local time a reminder is due, before each voter's contact hours apply (default "10:00")`)
	return cmd
}

// days reads reminder days: "7, 2 days before election day", or "none".
func days(ds []int, before string) string {
	if len(ds) == 0 {
		return "none"
	}
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprint(d)
	}
	return strings.Join(s, ", ") + " days before " + before
}
