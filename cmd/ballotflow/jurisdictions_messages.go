package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// jurisdictionsMessagesCommand lists, shows, sets and reverts a county's own wording of its
// notices, as /v1/jurisdictions/{jurisdiction}/messages does, with the same checks.
func jurisdictionsMessagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "messages",
		Short: "A county's own wording of its notices: list, show, set, revert",
		Long: `A county may replace the text of any notice message (notice.mailed.sms, notice.challenged.email, ...)
in any language with its own. Texts are checked as the catalogs are: only the placeholders the message may use,
the voter named, no markup, and a text message within the catalog's segments with the longest realistic names.
Every change and every revert is a new version, audited; a delivery records the version it used.
Ids: ballotflow notices preview.`,
	}
	list := &cobra.Command{
		Use:   "list JURISDICTION",
		Short: "List a county's overrides in force, e.g. list co-denver",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				version, list, err := st.MessageOverrideList(ctx, args[0], 0)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%s: wording at version %d, %d override(s)\n", args[0], version, len(list))
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MESSAGE\tLANGUAGE\tVERSION\tBY\tAT\tTEXT")
				for _, v := range list {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", v.MessageID, v.Language, v.Version, v.Actor,
						v.CreatedAt.UTC().Format(time.RFC3339), oneLine(v.Text))
				}
				return tw.Flush()
			})
		},
	}
	show := &cobra.Command{
		Use:   "show JURISDICTION MESSAGE LANGUAGE",
		Short: "Show one message: the catalog's text, the county's and its history",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, lang, err := messageArgs(args)
			if err != nil {
				return err
			}
			return withStore(cmd, func(ctx context.Context, st *store.Store) error {
				history, err := st.MessageVersionList(ctx, args[0], id, lang)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if text, ok := notices.CatalogText(lang, id); ok {
					fmt.Fprintf(w, "catalog: %s\n", text)
				}
				if len(history) == 0 || history[0].Reverted() {
					fmt.Fprintln(w, "county:  (none: the catalog's text is sent)")
				} else {
					fmt.Fprintf(w, "county:  %s\n", history[0].Text)
				}
				for _, v := range history {
					fmt.Fprintf(w, "  version %d by %s at %s: %s\n", v.Version, v.Actor, v.CreatedAt.UTC().Format(time.RFC3339),
						versionText(v))
				}
				return nil
			})
		},
	}
	var text, file string
	var dryRun bool
	set := &cobra.Command{
		Use:   "set JURISDICTION MESSAGE LANGUAGE (--text TEXT | --file PATH) [--dry-run]",
		Short: "Set a county's text of a message, as a new version",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, lang, err := messageArgs(args)
			if err != nil {
				return err
			}
			if (text == "") == (file == "") {
				return errors.New("give the text with --text or --file (one of them)")
			}
			if file != "" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				data, err := io.ReadAll(io.LimitReader(f, 16<<10))
				if err != nil {
					return err
				}
				text = strings.TrimRight(string(data), "\r\n")
			}
			if err := notices.CheckOverride(lang, id, text); err != nil {
				return fmt.Errorf("%s in %s: %w", id, lang, err)
			}
			if dryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "%s in %s: the text passes every check; nothing saved\n", id, lang)
				sample := notices.LongestNames
				sample.Overrides = notices.NewOverrides(0, []notices.Override{{MessageID: id, Language: lang, Text: text}})
				parts := strings.Split(id, ".")
				printPreview(cmd.OutOrStdout(), notices.Previews(lang, sample, notices.PreviewFilter{Message: strings.Join(parts[:2], ".")}))
				return nil
			}
			return saveWording(cmd, store.MessageVersion{JurisdictionID: args[0], MessageID: id, Language: lang, Text: text})
		},
	}
	set.Flags().StringVar(&text, "text", "", `the county's text, with placeholders such as {{.FirstName}}`)
	set.Flags().StringVar(&file, "file", "", "read the text from this file")
	set.Flags().BoolVar(&dryRun, "dry-run", false, "check the text and preview it with the longest realistic names; save nothing")
	revert := &cobra.Command{
		Use:   "revert JURISDICTION MESSAGE LANGUAGE",
		Short: "Put the catalog's text back, as a new version",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, lang, err := messageArgs(args)
			if err != nil {
				return err
			}
			return saveWording(cmd, store.MessageVersion{JurisdictionID: args[0], MessageID: id, Language: lang})
		},
	}
	cmd.AddCommand(list, show, set, revert)
	return cmd
}

// messageArgs checks a command's message id and language.
func messageArgs(args []string) (id, lang string, err error) {
	if !notices.Overridable(args[1]) {
		return "", "", fmt.Errorf("%q is not a notice message a county can override; see ballotflow notices preview for the ids", args[1])
	}
	lang, ok := ballot.LanguageCode(args[2])
	if !ok {
		return "", "", fmt.Errorf("no catalog in %q (there are %s)", args[2], ballot.LanguageList())
	}
	return args[1], lang, nil
}

func saveWording(cmd *cobra.Command, v store.MessageVersion) error {
	return withStore(cmd, func(ctx context.Context, st *store.Store) error {
		saved, outcome, err := st.MessageVersionSave(ctx, v, "cli:"+osUser())
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no jurisdiction %q; see ballotflow jurisdictions list", v.JurisdictionID)
		}
		if err != nil {
			return err
		}
		if outcome == store.Unchanged {
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s in %s: unchanged\n", v.JurisdictionID, v.MessageID, v.Language)
			return nil
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s in %s: %s, version %d\n", v.JurisdictionID, v.MessageID, v.Language, outcome,
			saved.Version)
		return nil
	})
}

func versionText(v store.MessageVersion) string {
	if v.Reverted() {
		return "(reverted to the catalog's text)"
	}
	return oneLine(v.Text)
}

// oneLine shows a text on one line of a table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
