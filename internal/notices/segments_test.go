package notices_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
)

func TestSMSCostCountsWhatCarriersBill(t *testing.T) {
	for _, c := range []struct {
		text     string
		encoding string
		units    int
		segments int
	}{
		{"", notices.EncodingGSM7, 0, 0},
		{"Your ballot was counted.", notices.EncodingGSM7, 24, 1},
		{strings.Repeat("a", 160), notices.EncodingGSM7, 160, 1},
		{strings.Repeat("a", 161), notices.EncodingGSM7, 161, 2}, // 153 septets a part once split
		{strings.Repeat("a", 306), notices.EncodingGSM7, 306, 2},
		{strings.Repeat("a", 307), notices.EncodingGSM7, 307, 3},
		{"Fee: 5€ [x]", notices.EncodingGSM7, 14, 1},         // €, [ and ] take two septets each
		{"é è ù ì ò à Ñ ü ¿ ¡", notices.EncodingGSM7, 19, 1}, // in the default alphabet
		{"José Núñez", notices.EncodingUCS2, 10, 1},          // ú is not: the whole text goes UCS-2
		{strings.Repeat("á", 70), notices.EncodingUCS2, 70, 1},
		{strings.Repeat("á", 71), notices.EncodingUCS2, 71, 2}, // 67 a part once split
		{"🗳️ ok", notices.EncodingUCS2, 6, 1},                  // a surrogate pair, a variation selector
		{"Quận Cam", notices.EncodingUCS2, 8, 1},
	} {
		got := notices.SMSCostOf(c.text)
		require.Equal(t, notices.SMSCost{Encoding: c.encoding, Units: c.units, Segments: c.segments}, got, "%q", c.text)
	}
}

// FuzzSMSCost: for any text, the figures agree with each other.
func FuzzSMSCost(f *testing.F) {
	for _, s := range []string{"", "hello", "€€€", "José", "🗳️", strings.Repeat("a", 161), "\x00", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := notices.SMSCostOf(s)
		runes := utf8.RuneCountInString(s)
		require.GreaterOrEqual(t, c.Units, runes)
		require.Equal(t, c.Units == 0, c.Segments == 0)
		single, part := 160, 153
		switch c.Encoding {
		case notices.EncodingGSM7:
			require.LessOrEqual(t, c.Units, 2*runes)
		case notices.EncodingUCS2:
			single, part = 70, 67
		default:
			t.Fatalf("encoding %q", c.Encoding)
		}
		if c.Segments == 1 {
			require.LessOrEqual(t, c.Units, single)
		} else if c.Segments > 1 {
			require.Greater(t, c.Units, single)
			require.GreaterOrEqual(t, c.Segments*part, c.Units)
			require.Less(t, (c.Segments-1)*part, c.Units, "no more segments than needed")
		}
	})
}

// BenchmarkSMSSegmentsPerVoter prints what a voter's texts cost over one election (mailed,
// received, accepted, counted) with long but realistic names, by language: the figure the
// county's text bill grows with. segments/voter has the opt-out footer on the first text, as
// for a number that has not had it this month (notices.SMSFooterPeriod); bare/voter without
// it; typical/voter with everyday names (a 25-character county, "Maria").
func BenchmarkSMSSegmentsPerVoter(b *testing.B) {
	long := notices.Data{FirstName: "Maximiliano Alejandro", LastName: "Castellanos-Villanueva",
		Jurisdiction: "City and County of Broomfield Elections Division", HelpText: "Call 303-555-0100.",
		Reason: "the signature does not match", CureDeadline: "2026-11-12"}
	typical := notices.Data{FirstName: "Maria", LastName: "Garcia", Jurisdiction: "Denver Elections Division"}
	election := []ballot.Status{ballot.StatusMailed, ballot.StatusReceived, ballot.StatusAccepted, ballot.StatusCounted}
	cost := func(b *testing.B, lang string, d notices.Data, footerFirst bool) int {
		total := 0
		for i, status := range election {
			d := d
			d.SMSFooter = footerFirst && i == 0
			m, err := notices.Render(lang, string(status), d)
			if err != nil {
				b.Fatal(err)
			}
			total += notices.SMSCostOf(m.SMS).Segments
		}
		return total
	}
	for _, lang := range ballot.Languages {
		b.Run(lang, func(b *testing.B) {
			var withFooter, bare, everyday int
			for range b.N {
				withFooter, bare, everyday = cost(b, lang, long, true), cost(b, lang, long, false), cost(b, lang, typical, true)
			}
			b.ReportMetric(float64(withFooter), "segments/voter")
			b.ReportMetric(float64(bare), "bare/voter")
			b.ReportMetric(float64(everyday), "typical/voter")
		})
	}
}
