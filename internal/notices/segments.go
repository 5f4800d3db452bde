package notices

import "unicode/utf16"

// SMS encodings.
const (
	EncodingGSM7 = "GSM-7" // the GSM 03.38 default alphabet: 160 characters in one segment
	EncodingUCS2 = "UCS-2" // anything else: 70 characters in one segment
)

// SMSCost is what one text costs to send: its encoding, its length in that encoding's units
// (GSM-7 septets, counting an extension character such as € as two; UCS-2 code units,
// counting a character outside the Basic Multilingual Plane as two) and the segments a
// carrier bills. A text longer than one segment is split into parts that each lose room to
// the concatenation header: 153 septets or 67 code units a part.
type SMSCost struct {
	Encoding string
	Units    int
	Segments int
}

// SMSCostOf measures text as Twilio would send it (no smart-encoding substitutions).
func SMSCostOf(text string) SMSCost {
	septets, gsm := 0, true
	for _, r := range text {
		switch {
		case gsmBasic[r]:
			septets++
		case gsmExtension[r]:
			septets += 2
		default:
			gsm = false
		}
		if !gsm {
			break
		}
	}
	if gsm {
		return SMSCost{Encoding: EncodingGSM7, Units: septets, Segments: segments(septets, 160, 153)}
	}
	units := len(utf16.Encode([]rune(text)))
	return SMSCost{Encoding: EncodingUCS2, Units: units, Segments: segments(units, 70, 67)}
}

func segments(units, single, part int) int {
	switch {
	case units == 0:
		return 0
	case units <= single:
		return 1
	default:
		return (units + part - 1) / part
	}
}

// gsmBasic is the GSM 03.38 default alphabet (one septet each); gsmExtension the characters
// of its extension table (an escape and a septet: two).
var gsmBasic, gsmExtension = func() (map[rune]bool, map[rune]bool) {
	basic := map[rune]bool{}
	for _, r := range "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà" {
		basic[r] = true
	}
	ext := map[rune]bool{}
	for _, r := range "\f^{}\\[~]|€" {
		ext[r] = true
	}
	return basic, ext
}()
