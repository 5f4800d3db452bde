package notices_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/notices"
)

// sayNode is a <Say> as Twilio reads it: its voice, its language, and its SSML.
type sayNode struct {
	Voice    string `xml:"voice,attr"`
	Language string `xml:"language,attr"`
	Inner    string `xml:",innerxml"`
}

// text is what the voice says: the text of the SSML, markup aside.
func (s sayNode) text(t *testing.T) string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader("<x>" + s.Inner + "</x>"))
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok {
			b.Write(cd)
		}
	}
	return b.String()
}

type callDoc struct {
	XMLName xml.Name  `xml:"Response"`
	Says    []sayNode `xml:"Say"`
	Pauses  []struct {
		Length string `xml:"length,attr"`
	} `xml:"Pause"`
	Gather struct {
		NumDigits string    `xml:"numDigits,attr"`
		Action    string    `xml:"action,attr"`
		Method    string    `xml:"method,attr"`
		Says      []sayNode `xml:"Say"`
	} `xml:"Gather"`
}

func parseCall(t *testing.T, doc string) callDoc {
	t.Helper()
	var c callDoc
	require.NoError(t, xml.Unmarshal([]byte(doc), &c), doc)
	return c
}

func TestCallTwiMLOffersToRepeatAndEscapes(t *testing.T) {
	speech := `Ballot of "Ann & Bob" <test>`
	doc := notices.CallTwiML("es", speech, "https://x.example.org/v1/webhooks/twilio/voice?d=b1%2F1%2Fvoice&z=1")
	c := parseCall(t, doc)
	require.Equal(t, "1", c.Gather.NumDigits)
	require.Equal(t, "https://x.example.org/v1/webhooks/twilio/voice?d=b1%2F1%2Fvoice&z=1", c.Gather.Action)
	require.Len(t, c.Gather.Says, 2)
	require.Equal(t, speech, c.Gather.Says[0].text(t))
	require.Equal(t, notices.RepeatPrompt("es"), strings.TrimSpace(c.Gather.Says[1].text(t)))
	for _, s := range c.Gather.Says {
		require.Equal(t, "es-US", s.Language)
		require.Equal(t, "Polly.Lupe-Neural", s.Voice)
	}

	plain := parseCall(t, notices.CallTwiML("fr", "hello", ""))
	require.Empty(t, plain.Gather.Says, "without a voice webhook there is nothing to press")
	require.Len(t, plain.Says, 2, "read twice instead")
	require.Len(t, plain.Pauses, 1)
	for _, s := range plain.Says {
		require.Equal(t, "hello", s.text(t))
		require.Equal(t, "en-US", s.Language, "a language without a catalog is read in English")
	}
}

func TestEveryLanguageHasAVoiceOfItsOwn(t *testing.T) {
	want := map[string][2]string{
		"en":      {"Polly.Joanna-Neural", "en-US"},
		"es":      {"Polly.Lupe-Neural", "es-US"},
		"ko":      {"Polly.Seoyeon-Neural", "ko-KR"},
		"zh-Hant": {"Google.cmn-TW-Wavenet-A", "cmn-TW"},
		"vi":      {"Google.vi-VN-Wavenet-A", "vi-VN"},
		"tl":      {"Google.fil-PH-Wavenet-A", "fil-PH"},
	}
	for _, l := range notices.Languages() {
		w, ok := want[l.Code]
		require.True(t, ok, "catalog %s has no voice: add one to sayVoices", l.Code)
		voice, lang := notices.VoiceOf(l.Code)
		require.Equal(t, w, [2]string{voice, lang}, l.Code)
		// The voice's name says its locale, which must be the <Say> language's.
		if strings.HasPrefix(voice, "Google.") {
			require.True(t, strings.HasPrefix(voice, "Google."+lang+"-"), voice)
		}
	}
	voice, lang := notices.VoiceOf("xx")
	require.Equal(t, [2]string{"Polly.Joanna-Neural", "en-US"}, [2]string{voice, lang})
}

// A cure notice: the voter's name as a name, the deadline as the language says a date, the
// county's phone number as a phone number, a pause before the help text.
func TestNoticeCallSpeaksNaturally(t *testing.T) {
	d := notices.Data{FirstName: "MARIA", LastName: "O'BRIEN-GARCÍA", Jurisdiction: "Denver Elections Division",
		HelpText: "Questions? Call 720-555-0100.", Reason: "the signature is missing", CureDeadline: "2026-11-03"}
	repeat := "https://ballots.example.org/v1/webhooks/twilio/voice?d=k"

	tests := []struct {
		lang, voice, language string
		date                  string // the SSML of the deadline
		spoken                string // what the voice says of it
	}{
		{"en", "Polly.Joanna-Neural", "en-US", `Tuesday, <say-as interpret-as="date" format="md">11/3</say-as>`, "Tuesday, 11/3"},
		{"es", "Polly.Lupe-Neural", "es-US", `martes <say-as interpret-as="date" format="dm">3/11</say-as>`, "martes 3/11"},
		{"ko", "Polly.Seoyeon-Neural", "ko-KR", "11월 3일 화요일", "11월 3일 화요일"},
		{"zh-Hant", "Google.cmn-TW-Wavenet-A", "cmn-TW", "11月3日星期二", "11月3日星期二"},
		{"vi", "Google.vi-VN-Wavenet-A", "vi-VN", "thứ Ba, ngày 3 tháng 11", "thứ Ba, ngày 3 tháng 11"},
		{"tl", "Google.fil-PH-Wavenet-A", "fil-PH", "Martes, ika-3 ng Nobyembre", "Martes, ika-3 ng Nobyembre"},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			doc, err := notices.NoticeCall(tc.lang, "challenged", d, repeat)
			require.NoError(t, err)
			c := parseCall(t, doc)
			require.Equal(t, repeat, c.Gather.Action)
			require.Len(t, c.Gather.Says, 2)
			notice := c.Gather.Says[0]
			require.Equal(t, tc.voice, notice.Voice)
			require.Equal(t, tc.language, notice.Language)
			require.Contains(t, notice.Inner, tc.date)
			said := notice.text(t)
			require.Contains(t, said, tc.spoken)
			require.NotContains(t, said, "2026", "a deadline weeks away is said without its year")
			require.Contains(t, said, "Maria O'Brien-García", "a name in capitals is read as a name")
			require.NotContains(t, said, "MARIA")
			require.Contains(t, notice.Inner, `<break time="700ms"/>`, "a pause before the county's help text")
			require.True(t, strings.HasSuffix(said, "Questions? Call 720-555-0100."), said)
			require.Equal(t, notices.RepeatPrompt(tc.lang), strings.TrimSpace(c.Gather.Says[1].text(t)))
		})
	}

	en, err := notices.NoticeCall("en", "challenged", d, repeat)
	require.NoError(t, err)
	require.Contains(t, en, `<say-as interpret-as="telephone">720-555-0100</say-as>`)
	vi, err := notices.NoticeCall("vi", "challenged", d, repeat)
	require.NoError(t, err)
	require.NotContains(t, vi, "telephone", "only voices that read say-as telephone get it")
}

func TestNoticeCallSaysTimesAsPeopleDo(t *testing.T) {
	d := notices.Data{FirstName: "José", LastName: "Núñez", Jurisdiction: "Denver"}
	es, err := notices.NoticeCall("es", "mailed", d, "")
	require.NoError(t, err)
	c := parseCall(t, es)
	require.Len(t, c.Says, 2, "read twice without a voice webhook")
	said := c.Says[0].text(t)
	require.Contains(t, said, "las 7 de la noche")
	require.NotContains(t, said, "p.m.")
	require.Contains(t, said, "José Núñez", "a name written in lower case is read as written")

	en, err := notices.NoticeCall("en", "mailed", d, "")
	require.NoError(t, err)
	require.Contains(t, parseCall(t, en).Says[0].text(t), "by 7 p.m. on Election Day", "English voices read p.m. well")
}

func TestNoticeCallEscapesEverything(t *testing.T) {
	d := notices.Data{FirstName: `<Hangup/>`, LastName: `"&amp;`, Jurisdiction: `A & <B>`, HelpText: `<Dial>+15550100</Dial>`,
		Reason: "]]><Redirect>https://evil.example</Redirect>\x01", CureDeadline: "2026-11-03"}
	doc, err := notices.NoticeCall("en", "challenged", d, `https://x.example/v?a=1&b="2"`)
	require.NoError(t, err)
	c := parseCall(t, doc)
	require.Equal(t, `https://x.example/v?a=1&b="2"`, c.Gather.Action)
	for _, verb := range []string{"<Hangup", "<Dial", "<Redirect", "<B>"} {
		require.NotContains(t, doc, verb)
	}
	said := c.Gather.Says[0].text(t)
	require.Contains(t, said, `<Hangup/> "&amp;`)
	require.Contains(t, said, "<Dial>+15550100</Dial>")
	require.NotContains(t, said, "\x01", "a character XML cannot hold is replaced")

	_, err = notices.NoticeCall("en", "no-such-status", d, "")
	require.Error(t, err)
}

func TestSpokenName(t *testing.T) {
	for in, want := range map[string]string{
		"MARIA":        "Maria",
		"O'BRIEN":      "O'Brien",
		"DE LA CRUZ":   "De La Cruz",
		"NÚÑEZ-GARCÍA": "Núñez-García",
		"McDonald":     "McDonald",
		"van der Berg": "van der Berg",
		"  LEE ":       "Lee",
		"李":            "李",
		"":             "",
		"J.R.":         "J.R.",
		"ÆSIR":         "Æsir",
	} {
		require.Equal(t, want, notices.SpokenName(in), in)
	}
}

// Twilio refuses a call whose TwiML is over 4,000 characters (error 32018). With the
// longest realistic names, county name, reason (500, intake's limit) and help text (480,
// the jurisdiction's), every language's call, even read twice, stays well under it.
func TestNoticeCallFitsTwiliosTwiMLLimit(t *testing.T) {
	d := notices.Data{FirstName: strings.Repeat("Á", 50), LastName: strings.Repeat("B", 50), Jurisdiction: strings.Repeat("J", 100),
		HelpText: strings.Repeat("h", 466) + " 720-555-0100", Reason: strings.Repeat("r", 500), CureDeadline: "2026-11-03"}
	for _, l := range notices.Languages() {
		for _, status := range []string{"mailed", "undeliverable", "received", "accepted", "challenged", "cured", "rejected", "counted"} {
			for _, repeat := range []string{"https://ballots.example.org/v1/webhooks/twilio/voice?d=b5w3bskptc6vtdetyw5r6%2F12%2Fvoice", ""} {
				doc, err := notices.NoticeCall(l.Code, status, d, repeat)
				require.NoError(t, err)
				require.Less(t, len([]rune(doc)), 3600, "%s %s", l.Code, status)
			}
		}
	}
}
