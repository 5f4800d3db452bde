package usps

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
)

// Scan is one IV-MTR piece scan as read and checked.
type Scan struct {
	IMb       IMb
	ScannedAt time.Time // UTC
	// OperationCode is the scan's operation code (scanEventCode) as given, or empty.
	OperationCode string
	// FacilityZIP is the scanning facility's ZIP Code, 5 or 9 digits, or empty.
	FacilityZIP   string
	FacilityName  string
	FacilityCity  string
	FacilityState string // two capital letters, or empty
	// Read within bounds, not interpreted.
	HandlingEventType string
	MailPhase         string
	MachineName       string
}

// ReadOptions says how to read scans.
type ReadOptions struct {
	// Now is the time scans are judged against (none from the future, none over a year old);
	// time.Now when zero.
	Now time.Time
	// Location is where a scan time without an offset is wall-clock time: the county's time
	// zone. UTC when nil.
	Location *time.Location
	// MaxBytes bounds the whole input; DefaultMaxBytes when 0. More is an *InputTooLargeError.
	MaxBytes int64
}

// Bounds of the input. An IV-MTR row holds a few hundred bytes, an event in JSON about a
// kilobyte: the bounds are far above a real file's and keep one hostile row or event from
// filling memory.
const (
	MaxFieldBytes   = 1 << 10
	MaxRecordBytes  = 16 << 10
	MaxEventBytes   = 64 << 10
	DefaultMaxBytes = 4 << 30
	// maxValueBytes is the most the JSON reader holds for any one value, whatever it is: past
	// it the input cannot be read on.
	maxValueBytes = 1 << 20
)

// Bounds of the checks on a scan.
const (
	maxFutureSkew     = 24 * time.Hour // a facility's clock, or a zone-less time taken in the wrong zone
	maxScanAge        = 400 * 24 * time.Hour
	maxZoneOffset     = 14 * 60 * 60
	maxOperationCode  = 8
	maxFacilityName   = 100
	maxFacilityCity   = 50
	maxInformational  = 64
	defaultRowProblem = "invalid_row"
)

// Rejection codes.
const (
	CodeInvalidRow   = defaultRowProblem // not a row that can be read: not delimited text or JSON, too long, not text
	CodeInvalidIMb   = "invalid_imb"
	CodeInvalidField = "invalid_field"
)

// InputTooLargeError is input past ReadOptions.MaxBytes, or a JSON value too large to read
// on from: reading stops there.
type InputTooLargeError struct{ Message string }

func (e *InputTooLargeError) Error() string { return e.Message }

// The fields ballotflow reads, in both formats.
type field int

const (
	fieldIMb field = iota
	fieldScanDatetime
	fieldScanDate
	fieldScanTime
	fieldOperationCode
	fieldFacilityZIP
	fieldFacilityName
	fieldFacilityCity
	fieldFacilityState
	fieldHandlingEventType
	fieldMailPhase
	fieldMachineName
	// A barcode may come as its tracking code and routing code apart, without imb.
	fieldTrackingCode
	fieldRoutingCode
	fieldRoutingMatch
	numFields
)

// fieldNames are the IV-MTR names of the fields, as rejections name them.
var fieldNames = [numFields]string{
	fieldIMb: "imb", fieldScanDatetime: "scanDatetime", fieldScanDate: "scanDate", fieldScanTime: "scanTime",
	fieldOperationCode: "scanEventCode", fieldFacilityZIP: "scanFacilityZip", fieldFacilityName: "scanFacilityName",
	fieldFacilityCity: "scanFacilityCity", fieldFacilityState: "scanFacilityState",
	fieldHandlingEventType: "handlingEventType", fieldMailPhase: "mailPhase", fieldMachineName: "machineName",
	fieldTrackingCode: "imbTrackingCode", fieldRoutingCode: "imbRoutingCode", fieldRoutingMatch: "routingCodeImbMatchingPortion",
}

// aliases are the names a field goes by, folded (see foldName).
var aliases = map[string]field{
	"imb": fieldIMb, "imbdigits": fieldIMb, "intelligentmailbarcode": fieldIMb,
	"scandatetime": fieldScanDatetime, "scantimestamp": fieldScanDatetime,
	"scandate":      fieldScanDate,
	"scantime":      fieldScanTime,
	"scaneventcode": fieldOperationCode, "opcode": fieldOperationCode, "operationcode": fieldOperationCode,
	"scanfacilityzip": fieldFacilityZIP, "scanfacilityzipcode": fieldFacilityZIP, "facilityzip": fieldFacilityZIP,
	"scanfacilityname": fieldFacilityName, "facilityname": fieldFacilityName,
	"scanfacilitycity": fieldFacilityCity, "facilitycity": fieldFacilityCity,
	"scanfacilitystate": fieldFacilityState, "facilitystate": fieldFacilityState,
	"handlingeventtype":             fieldHandlingEventType,
	"mailphase":                     fieldMailPhase,
	"machinename":                   fieldMachineName,
	"imbtrackingcode":               fieldTrackingCode,
	"imbroutingcode":                fieldRoutingCode,
	"routingcodeimbmatchingportion": fieldRoutingMatch,
}

// foldName folds a column or member name for matching: ASCII letters and digits only,
// lowercased ("Scan Facility ZIP", "scan_facility_zip" and "scanFacilityZip" are one).
func foldName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	return b.String()
}

func lookupField(name string) (field, bool) {
	f, ok := aliases[foldName(name)]
	return f, ok
}

// rawScan is one row's or event's values by field, as sent.
type rawScan [numFields]string

// scanOf checks a row's values and makes its Scan; line is the row's line (or the event's
// position) for the rejection. No message repeats a value.
func scanOf(line int, raw *rawScan, opts *ReadOptions) (Scan, *fileimport.Rejection) {
	reject := func(f field, code, format string, args ...any) (Scan, *fileimport.Rejection) {
		return Scan{}, &fileimport.Rejection{Line: line, Field: fieldNames[f], Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	for f := range numFields {
		if !ballot.PlainText(raw[f]) {
			return reject(f, CodeInvalidField, "%s must be plain text, without control characters such as NUL", fieldNames[f])
		}
		raw[f] = strings.TrimSpace(raw[f])
	}
	var s Scan
	imb, f, err := scanIMb(raw)
	if err != nil {
		return reject(f, CodeInvalidIMb, "%s", err.Error())
	}
	s.IMb = imb

	at, timeField, err := scanTime(raw, opts)
	if err != nil {
		return reject(timeField, CodeInvalidField, "%s", err.Error())
	}
	s.ScannedAt = at

	if !operationCode(raw[fieldOperationCode]) {
		return reject(fieldOperationCode, CodeInvalidField, "scanEventCode must be at most %d letters or digits", maxOperationCode)
	}
	s.OperationCode = padOperationCode(raw[fieldOperationCode])
	zip, ok := facilityZIP(raw[fieldFacilityZIP])
	if !ok {
		return reject(fieldFacilityZIP, CodeInvalidField, "scanFacilityZip must be a ZIP Code of 5 or 9 digits (ZIP+4 may have a hyphen)")
	}
	s.FacilityZIP = zip
	if s.FacilityName = raw[fieldFacilityName]; utf8.RuneCountInString(s.FacilityName) > maxFacilityName {
		return reject(fieldFacilityName, CodeInvalidField, "scanFacilityName must be at most %d characters", maxFacilityName)
	}
	if s.FacilityCity = raw[fieldFacilityCity]; utf8.RuneCountInString(s.FacilityCity) > maxFacilityCity {
		return reject(fieldFacilityCity, CodeInvalidField, "scanFacilityCity must be at most %d characters", maxFacilityCity)
	}
	state, ok := stateCode(raw[fieldFacilityState])
	if !ok {
		return reject(fieldFacilityState, CodeInvalidField, "scanFacilityState must be a two-letter state code")
	}
	s.FacilityState = state
	for _, f := range []field{fieldHandlingEventType, fieldMailPhase, fieldMachineName} {
		if utf8.RuneCountInString(raw[f]) > maxInformational {
			return reject(f, CodeInvalidField, "%s must be at most %d characters", fieldNames[f], maxInformational)
		}
	}
	s.HandlingEventType, s.MailPhase, s.MachineName = raw[fieldHandlingEventType], raw[fieldMailPhase], raw[fieldMachineName]
	return s, nil
}

// scanIMb reads the scan's barcode: imb, or when a row or event has none, its tracking code
// (imbTrackingCode, 20 digits) followed by its routing code (imbRoutingCode, else
// routingCodeImbMatchingPortion; none is a barcode without one). It returns the field to
// name when it fails; no message repeats a digit.
func scanIMb(raw *rawScan) (IMb, field, error) {
	if raw[fieldIMb] != "" || raw[fieldTrackingCode] == "" {
		if raw[fieldIMb] == "" {
			return IMb{}, fieldIMb, errors.New("imb is required (or imbTrackingCode with imbRoutingCode)")
		}
		imb, err := ParseIMb(raw[fieldIMb])
		if err != nil {
			return IMb{}, fieldIMb, fmt.Errorf("imb is not an Intelligent Mail barcode: %w", err)
		}
		return imb, fieldIMb, nil
	}
	tracking := raw[fieldTrackingCode]
	if len(tracking) != TrackingCodeLen || strings.Trim(tracking, "0123456789") != "" {
		return IMb{}, fieldTrackingCode, fmt.Errorf("imbTrackingCode must be the barcode's first %d digits", TrackingCodeLen)
	}
	if _, err := ParseIMb(tracking); err != nil {
		return IMb{}, fieldTrackingCode, fmt.Errorf("imbTrackingCode is not an Intelligent Mail barcode's tracking code: %w", err)
	}
	routing, f := raw[fieldRoutingCode], fieldRoutingCode
	if routing == "" {
		routing, f = raw[fieldRoutingMatch], fieldRoutingMatch
	}
	if strings.Trim(routing, "0123456789") != "" {
		return IMb{}, f, fmt.Errorf("%s must be digits only", fieldNames[f])
	}
	imb, err := ParseIMb(tracking + routing)
	if err != nil {
		// The tracking code is sound: what is wrong is the routing code's length.
		return IMb{}, f, fmt.Errorf("%s must be a routing code of 0, 5, 9 or 11 digits", fieldNames[f])
	}
	return imb, fieldTrackingCode, nil
}

// Layouts of a scan time: with an offset, and without (wall-clock time in opts.Location).
// Go's parser takes a fraction of a second after the seconds whatever the layout says.
var (
	zonedLayouts    = []string{"2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05Z07:00"}
	zonelessLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"}
)

// scanTime reads the scan's time from scanDatetime, or from scanDate and scanTime, and
// checks it against opts.Now. It returns the field to name when it fails.
func scanTime(raw *rawScan, opts *ReadOptions) (time.Time, field, error) {
	value, f := raw[fieldScanDatetime], fieldScanDatetime
	if value == "" && (raw[fieldScanDate] != "" || raw[fieldScanTime] != "") {
		if raw[fieldScanDate] == "" {
			return time.Time{}, fieldScanDate, errors.New("scanDate is required with scanTime")
		}
		if raw[fieldScanTime] == "" {
			return time.Time{}, fieldScanTime, errors.New("scanTime is required with scanDate")
		}
		value, f = raw[fieldScanDate]+" "+raw[fieldScanTime], fieldScanDate
	}
	if value == "" {
		return time.Time{}, f, errors.New("scanDatetime is required")
	}
	at, err := parseScanTime(value, opts.Location)
	if err != nil {
		return time.Time{}, f, fmt.Errorf("%s %w", fieldNames[f], err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case at.After(now.Add(maxFutureSkew)):
		return time.Time{}, f, fmt.Errorf("%s is in the future", fieldNames[f])
	case at.Before(now.Add(-maxScanAge)):
		return time.Time{}, f, fmt.Errorf("%s is more than a year ago", fieldNames[f])
	}
	return at.UTC(), f, nil
}

var errScanTimeFormat = errors.New("must be a date and time, YYYY-MM-DD HH:MM:SS (local time of the county) or RFC 3339 with an offset")

// parseScanTime reads a scan time in one of the layouts; a zone-less one is taken in loc.
func parseScanTime(value string, loc *time.Location) (time.Time, error) {
	if len(value) > 40 {
		return time.Time{}, errScanTimeFormat
	}
	for _, layout := range zonedLayouts {
		if at, err := time.Parse(layout, value); err == nil {
			if _, offset := at.Zone(); offset < -maxZoneOffset || offset > maxZoneOffset {
				return time.Time{}, errors.New("has a zone offset beyond ±14:00")
			}
			return at, nil
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range zonelessLayouts {
		if at, err := time.ParseInLocation(layout, value, loc); err == nil {
			return at, nil
		}
	}
	return time.Time{}, errScanTimeFormat
}

func operationCode(s string) bool {
	if len(s) > maxOperationCode {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// opCodeDigits is the length of a USPS operation code: three digits, leading zeros kept
// ("004" in the operation code list). A spreadsheet or a JSON number drops them.
const opCodeDigits = 3

// padOperationCode gives an operation code written as a number with fewer than three digits
// its leading zeros back ("4" is "004"); any other code is kept as given.
func padOperationCode(s string) string {
	if s == "" || len(s) >= opCodeDigits || strings.Trim(s, "0123456789") != "" {
		return s
	}
	return strings.Repeat("0", opCodeDigits-len(s)) + s
}

// facilityZIP reads a ZIP Code of 5 digits or ZIP+4 (9 digits, with or without a hyphen
// after the fifth); empty is empty.
func facilityZIP(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	if len(s) == 10 && s[5] == '-' {
		s = s[:5] + s[6:]
	}
	if len(s) != 5 && len(s) != 9 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

func stateCode(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	if len(s) != 2 {
		return "", false
	}
	s = strings.ToUpper(s)
	for i := 0; i < 2; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return "", false
		}
	}
	return s, true
}
