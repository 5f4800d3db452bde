package usps

import (
	"fmt"
	"log/slog"
	"strings"
)

// IMb is an Intelligent Mail barcode's data, read and checked by ParseIMb: a 20-digit
// tracking code (barcode ID, service type ID, mailer ID, serial number) and a routing code
// of 0, 5, 9 or 11 digits.
//
// An IMb is not personal data by itself, but the routing code of an outbound ballot
// envelope is the voter's ZIP+4 and delivery point. So an IMb prints as "[imb]" (fmt, slog):
// it is never logged by accident. Digits and TrackingCode give the digits to code that
// means to use them.
type IMb struct {
	digits string
	midLen int // 6 or 9
}

// Lengths of an IMb's fields.
const (
	TrackingCodeLen = 20
	PieceKeyLen     = 18 // TrackingCodeLen without the barcode ID
	barcodeIDLen    = 2
	serviceTypeLen  = 3
)

// IMbError is why a barcode is not an Intelligent Mail barcode. Its message never repeats
// the barcode.
type IMbError struct{ Reason string }

func (e *IMbError) Error() string { return e.Reason }

// ParseIMb reads an Intelligent Mail barcode's digits. Spaces and hyphens between digits
// (as printed under the bars) are dropped; anything else that is not a digit is refused, as
// are a length other than 20, 25, 29 or 31 digits and a barcode ID whose second digit is not
// 0 to 4.
func ParseIMb(s string) (IMb, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return IMb{}, &IMbError{"the barcode is empty"}
	}
	if len(s) > 64 { // 31 digits with a separator between each
		return IMb{}, &IMbError{"the barcode is too long: an Intelligent Mail barcode has at most 31 digits"}
	}
	var b strings.Builder
	b.Grow(31)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-':
		default:
			return IMb{}, &IMbError{"the barcode must be digits only (spaces and hyphens between them are allowed)"}
		}
	}
	d := b.String()
	switch len(d) {
	case 20, 25, 29, 31:
	default:
		return IMb{}, &IMbError{fmt.Sprintf(
			"the barcode has %d digits; an Intelligent Mail barcode has 20 (tracking code) and a routing code of 0, 5, 9 or 11", len(d))}
	}
	if d[1] > '4' {
		return IMb{}, &IMbError{"the barcode ID's second digit must be 0 to 4"}
	}
	// Mailer IDs of 9 digits begin with 9 and go with 6-digit serial numbers; those of 6
	// digits begin with 0 to 8 and go with 9-digit serial numbers.
	midLen := 6
	if d[barcodeIDLen+serviceTypeLen] == '9' {
		midLen = 9
	}
	return IMb{digits: d, midLen: midLen}, nil
}

// IsZero reports whether m holds no barcode.
func (m IMb) IsZero() bool { return m.digits == "" }

// Digits is the whole barcode: tracking code and routing code.
func (m IMb) Digits() string { return m.digits }

// TrackingCode is the barcode's first 20 digits: what identifies the mail piece.
func (m IMb) TrackingCode() string { return m.digits[:TrackingCodeLen] }

// PieceKey is what a scan is matched on: the tracking code without its barcode ID (service
// type, mailer ID, serial number). A mailer keeps a mailer ID and serial number unique for
// 45 days; the barcode ID only carries a presort level, which may differ between the
// barcode the county registered and the one presort software printed.
func (m IMb) PieceKey() string { return m.digits[barcodeIDLen:TrackingCodeLen] }

// BarcodeID is the 2-digit barcode identifier.
func (m IMb) BarcodeID() string { return m.digits[:barcodeIDLen] }

// ServiceType is the 3-digit service type identifier (STID): class of mail and services.
func (m IMb) ServiceType() string { return m.digits[barcodeIDLen : barcodeIDLen+serviceTypeLen] }

// MailerID is the 6- or 9-digit mailer ID.
func (m IMb) MailerID() string {
	from := barcodeIDLen + serviceTypeLen
	return m.digits[from : from+m.midLen]
}

// SerialNumber is the 9- or 6-digit serial number (9 with a 6-digit mailer ID).
func (m IMb) SerialNumber() string {
	return m.digits[barcodeIDLen+serviceTypeLen+m.midLen : TrackingCodeLen]
}

// RoutingCode is the 0, 5, 9 or 11 digits after the tracking code: a delivery ZIP Code.
func (m IMb) RoutingCode() string { return m.digits[TrackingCodeLen:] }

// String hides the digits: see IMb.
func (m IMb) String() string { return "[imb]" }

// GoString hides the digits from %#v too.
func (m IMb) GoString() string { return "usps.IMb{[imb]}" }

// LogValue hides the digits from slog.
func (m IMb) LogValue() slog.Value { return slog.StringValue("[imb]") }
