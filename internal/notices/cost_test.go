package notices_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
)

// longest is the voter previews show: a 40-character county office and 30-character first
// and last names.
var longest = notices.LongestNames

// maxSegments is what a text may cost: one segment in English, two in any other language.
// A catalog may promise less (its sms_segments), never more.
func maxSegments(lang string) int {
	if lang == "en" {
		return 1
	}
	return 2
}

// gsm7 are the languages whose texts are written in the GSM-7 alphabet: a UCS-2 text costs
// a segment every 67 characters instead of 153. Spanish avoids á, í, ó and ú, which GSM-7
// lacks, by its choice of words, never by dropping an accent.
var gsm7 = map[string]bool{"en": true, "es": true, "tl": true}

// everySMS renders every text ballotflow sends to a phone in lang: each notice with and
// without the opt-out footer, the confirmation and every reply.
func everySMS(t testing.TB, lang string, d notices.Data) map[string]string {
	out := map[string]string{}
	var keys []string
	for _, status := range ballot.Statuses {
		if status.Notifies() {
			keys = append(keys, string(status))
		}
	}
	keys = append(keys, notices.NoticeKinds...) // mail scans and reminders
	for _, was := range ballot.Statuses {       // corrections: every status told in error, every right one
		if !was.Notifies() {
			continue
		}
		for _, now := range append([]ballot.Status{""}, ballot.Statuses...) {
			if now != was && (now == "" || now.Notifies()) {
				keys = append(keys, notices.CorrectionKey(was, now))
			}
		}
	}
	for _, status := range keys {
		for _, footer := range []bool{false, true} {
			d := d
			d.SMSFooter = footer
			d.CureDeadline = "2026-11-30" // the longest month name in most languages
			m, err := notices.Render(lang, status, d)
			require.NoError(t, err)
			name := "notice " + status
			if footer {
				name += " with footer"
			}
			out[name] = m.SMS
		}
	}
	c, err := notices.RenderConfirmation(lang, ballot.ChannelSMS, notices.ConfirmData{FirstName: d.FirstName,
		LastName: d.LastName, Jurisdiction: d.Jurisdiction, HelpText: d.HelpText})
	require.NoError(t, err)
	out["confirmation"] = c.SMS
	for _, kind := range []notices.ReplyKind{notices.ReplyHelp, notices.ReplyConfirmed, notices.ReplyPending,
		notices.ReplyOther, notices.ReplyUnknown} {
		out["reply "+string(kind)] = notices.Reply(lang, kind, d)
	}
	return out
}

func TestEveryTextFitsItsSegmentsWithTheLongestNames(t *testing.T) {
	require.Equal(t, 40, utf8.RuneCountInString(longest.Jurisdiction))
	require.Equal(t, 30, utf8.RuneCountInString(longest.FirstName))
	require.Equal(t, 30, utf8.RuneCountInString(longest.LastName))
	for _, l := range notices.Languages() {
		require.LessOrEqual(t, l.SMSSegments, maxSegments(l.Code), "%s promises more segments than allowed", l.Code)
		for name, text := range everySMS(t, l.Code, longest) {
			cost := notices.SMSCostOf(text)
			t.Logf("%-7s %-32s %s %3d units %d segments", l.Code, name, cost.Encoding, cost.Units, cost.Segments)
			budget := l.SMSSegments
			if strings.HasPrefix(name, "notice "+notices.KindCorrection+"/") {
				budget += notices.CorrectionExtraSegments // rare, and it must be understood
			}
			require.LessOrEqual(t, cost.Segments, budget, "%s %s: %q", l.Code, name, text)
			if gsm7[l.Code] {
				require.Equal(t, notices.EncodingGSM7, cost.Encoding, "%s %s: %q", l.Code, name, text)
			}
		}
	}
}

func TestTheFooterRidesOnlyWhenAskedFor(t *testing.T) {
	for _, l := range notices.Languages() {
		plain, err := notices.Render(l.Code, "counted", longest)
		require.NoError(t, err)
		d := longest
		d.SMSFooter = true
		footed, err := notices.Render(l.Code, "counted", d)
		require.NoError(t, err)
		require.NotContains(t, plain.SMS, "STOP", "%s: the footer is not on every text", l.Code)
		require.Contains(t, footed.SMS, "STOP", l.Code)
	}
}
