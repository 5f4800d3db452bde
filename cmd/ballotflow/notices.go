package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

func noticesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "notices", Short: "Preview what voters read and hear, in every language"}
	var langs []string
	var filter notices.PreviewFilter
	var asJSON bool
	var county string
	sample := notices.LongestNames
	preview := &cobra.Command{
		Use:   "preview",
		Short: "Render every message for a sample voter with the longest realistic names",
		Long: `Renders the notices (email, text, call), confirmations, replies to texts and the call
prompt of each language's catalog for a sample voter with the longest realistic names, and
says what each text costs (GSM-7 or UCS-2, characters, segments) and about how long each
call takes to read. Catalogs no county has reviewed yet are marked "needs county review".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(langs) == 0 {
				langs = ballot.Languages
			}
			if county != "" {
				// The county's own wording in force, from the database.
				err := withStore(cmd, func(ctx context.Context, st *store.Store) error {
					version, list, err := st.MessageOverrideList(ctx, county, 0)
					if err != nil {
						return err
					}
					texts := make([]notices.Override, len(list))
					for i, v := range list {
						texts[i] = notices.Override{MessageID: v.MessageID, Language: v.Language, Text: v.Text}
					}
					sample.Overrides = notices.NewOverrides(version, texts)
					return nil
				})
				if err != nil {
					return err
				}
			}
			var previews []notices.Preview
			for _, l := range langs {
				code, ok := ballot.LanguageCode(l)
				if !ok {
					return fmt.Errorf("--language: no catalog for %q (there are %s)", l, ballot.LanguageList())
				}
				previews = append(previews, notices.Previews(code, sample, filter))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(previews)
			}
			for _, p := range previews {
				printPreview(cmd.OutOrStdout(), p)
			}
			return nil
		},
	}
	f := preview.Flags()
	f.StringSliceVar(&langs, "language", nil, "languages to preview (default: every catalog: "+ballot.LanguageList()+")")
	f.StringVar(&filter.Message, "message", "", "only messages whose id starts with this, e.g. notice.challenged, confirm, reply")
	f.StringVar(&filter.Channel, "channel", "", "only this channel: email, sms or voice")
	f.StringVar(&sample.Jurisdiction, "jurisdiction", sample.Jurisdiction, "the county office the messages name")
	f.StringVar(&sample.HelpText, "help-text", sample.HelpText, "the county's help text")
	f.StringVar(&sample.FirstName, "first-name", sample.FirstName, "the voter's first name")
	f.StringVar(&sample.LastName, "last-name", sample.LastName, "the voter's last name")
	f.BoolVar(&asJSON, "json", false, "print JSON, as GET /v1/notices/preview answers")
	f.StringVar(&county, "county", "", "show this county's own wording in force, by its jurisdiction id, e.g. co-denver")
	cmd.AddCommand(preview)
	return cmd
}

func printPreview(w io.Writer, p notices.Preview) {
	review := "reviewed by a county"
	if p.Language.NeedsReview {
		review = "NEEDS COUNTY REVIEW"
	}
	fmt.Fprintf(w, "== %s (%s, %s): %s; texts may take %d segments\n", p.Language.Name, p.Language.EnglishName,
		p.Language.Code, review, p.Language.SMSSegments)
	fmt.Fprintf(w, "   sample: %s %s, %s\n\n", p.Sample.FirstName, p.Sample.LastName, p.Sample.Jurisdiction)
	for _, m := range p.Messages {
		head := m.ID + " (" + m.Channel
		if m.Note != "" {
			head += ", " + m.Note
		}
		fmt.Fprintln(w, head+")")
		if m.Version > 0 {
			fmt.Fprintf(w, "   the county's wording, version %d\n", m.Version)
		}
		if m.Subject != "" {
			fmt.Fprintln(w, "   subject: "+m.Subject)
		}
		for _, line := range strings.Split(m.Text, "\n") {
			fmt.Fprintln(w, "   "+line)
		}
		if m.SMS != nil {
			over := ""
			if m.SMS.Segments > m.SMS.Limit {
				over = "  OVER THE LIMIT"
			}
			fmt.Fprintf(w, "   -> %s, %d characters, %d units, %d segment(s) of %d allowed%s\n",
				m.SMS.Encoding, m.SMS.Characters, m.SMS.Units, m.SMS.Segments, m.SMS.Limit, over)
		}
		if m.Speech != nil {
			fmt.Fprintf(w, "   -> about %d s to read (%d %ss)\n", m.Speech.Seconds, m.Speech.Units, m.Speech.Unit)
		}
		fmt.Fprintln(w)
	}
}
