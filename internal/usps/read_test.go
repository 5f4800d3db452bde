package usps_test

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/usps"
)

// sampleOptions reads the samples in testdata as the Denver county would, a week after
// their first scan.
func sampleOptions(t testing.TB) usps.ReadOptions {
	t.Helper()
	denver, err := time.LoadLocation("America/Denver")
	require.NoError(t, err)
	return usps.ReadOptions{Now: time.Date(2026, 10, 20, 18, 0, 0, 0, time.UTC), Location: denver}
}

type reader interface {
	Next() (usps.Record, error)
}

// readAll reads every record until io.EOF; an error ends it and is returned.
func readAll(r reader) ([]usps.Record, error) {
	var out []usps.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// onlyScan reads r to its end and returns its one record's scan, which must have been read.
func onlyScan(t *testing.T, r reader) usps.Scan {
	t.Helper()
	recs, err := readAll(r)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Nil(t, recs[0].Bad)
	return recs[0].Scan
}

func TestTheSampleDelimitedFileReadsWithKnownValues(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/ivmtr-piece-scans.txt")
	require.NoError(t, err)
	defer f.Close()
	r, err := usps.NewDelimitedReader(f, sampleOptions(t))
	require.NoError(t, err)
	recs, err := readAll(r)
	require.NoError(t, err)
	require.Len(t, recs, 9)

	first := recs[0]
	require.Nil(t, first.Bad)
	require.Equal(t, 2, first.Line)
	require.Equal(t, "00300123456000000101", first.Scan.IMb.TrackingCode())
	// 21:14:07 in Denver in October is MDT, six hours behind UTC.
	require.Equal(t, time.Date(2026, 10, 14, 3, 14, 7, 0, time.UTC), first.Scan.ScannedAt)
	require.Equal(t, "891", first.Scan.OperationCode)
	require.Equal(t, "80299", first.Scan.FacilityZIP)
	require.Equal(t, "CENTENNIAL PEAK CO P&DC", first.Scan.FacilityName)
	require.Equal(t, "CENTENNIAL PEAK", first.Scan.FacilityCity)
	require.Equal(t, "CO", first.Scan.FacilityState)
	require.Equal(t, "A", first.Scan.HandlingEventType, "a machine scan is an actual handling event")
	require.Equal(t, "Phase 1 - Origin Processing", first.Scan.MailPhase)
	require.Equal(t, "DBCS-041", first.Scan.MachineName)

	require.Equal(t, recs[1].Scan, recs[2].Scan, "line 4 repeats line 3")
	require.Equal(t, "Phase 3c - Destination Sequenced Carrier Sortation", recs[1].Scan.MailPhase)
	require.Equal(t, "304", recs[4].Scan.IMb.ServiceType())

	bad := map[int]*fileimport.Rejection{}
	for _, rec := range recs {
		if rec.Bad != nil {
			bad[rec.Line] = rec.Bad
		}
	}
	require.Len(t, bad, 2)
	require.Equal(t, "imb", bad[9].Field)
	require.Equal(t, usps.CodeInvalidIMb, bad[9].Code)
	require.Equal(t, "scanDatetime", bad[10].Field)
	require.Equal(t, usps.CodeInvalidField, bad[10].Code)
	for _, b := range bad {
		require.NotContains(t, b.Reason, "12345600000")
		require.NotContains(t, b.Reason, "25:18")
	}
}

func TestTheSamplePushBodyReadsWithKnownValues(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/ivmtr-push.json")
	require.NoError(t, err)
	defer f.Close()
	r, err := usps.NewJSONReader(f, sampleOptions(t))
	require.NoError(t, err)
	recs, err := readAll(r)
	require.NoError(t, err)
	require.Len(t, recs, 5)

	require.Nil(t, recs[0].Bad)
	require.Equal(t, 1, recs[0].Line)
	require.Equal(t, time.Date(2026, 10, 15, 17, 2, 19, 0, time.UTC), recs[0].Scan.ScannedAt)
	require.Equal(t, "918", recs[0].Scan.OperationCode)
	require.Equal(t, "L", recs[0].Scan.HandlingEventType)
	require.Equal(t, "Phase 4c - Delivery", recs[0].Scan.MailPhase)

	require.Nil(t, recs[1].Bad)
	require.Equal(t, "271", recs[1].Scan.OperationCode, "a number is read as written")
	require.Equal(t, "802999998", recs[1].Scan.FacilityZIP)
	require.Equal(t, time.Date(2026, 10, 20, 0, 3, 12, 0, time.UTC), recs[1].Scan.ScannedAt)

	require.Nil(t, recs[2].Bad)
	require.NotNil(t, recs[3].Bad)
	require.Equal(t, 4, recs[3].Bad.Line)
	require.Equal(t, "scanDatetime", recs[3].Bad.Field)
	require.NotContains(t, recs[3].Bad.Reason, "tuesday")

	// No imb: the barcode is its tracking code and the routing code after it.
	require.Nil(t, recs[4].Bad)
	require.Equal(t, "0030412345600000010280202999901", recs[4].Scan.IMb.Digits())
	require.Equal(t, "919", recs[4].Scan.OperationCode)
}

func TestDelimitedHeadersAreMatchedByNameWhateverTheirStyleAndDelimiter(t *testing.T) {
	t.Parallel()
	opts := sampleOptions(t)
	for name, file := range map[string]string{
		"pipe, spaced names":   "Scan Date Time|IMb|Operation Code|Scan Facility ZIP\n2026-10-14 04:52:41|0030012345600000010180202123401|919|80266\n",
		"comma, snake case":    "SCAN_DATETIME,IMB,SCAN_EVENT_CODE,SCAN_FACILITY_ZIP\r\n2026-10-14 04:52:41,0030012345600000010180202123401,919,80266\r\n",
		"tab, camel case":      "scanDatetime\timb\topCode\tscanFacilityZip\n2026-10-14 04:52:41\t0030012345600000010180202123401\t919\t80266\n",
		"quoted, BOM":          "\ufeff\"imb\",\"scanDatetime\",\"scanEventCode\",\"scanFacilityZip\"\n\"0030012345600000010180202123401\",\"2026-10-14 04:52:41\",\"919\",\"80266\"\n",
		"date and time apart":  "imb|scanDate|scanTime|scanEventCode|scanFacilityZip|\n0030012345600000010180202123401|2026-10-14|04:52:41|919|80266|\n",
		"blank lines, no EOL":  "\n\nimb|scanDatetime|scanEventCode|scanFacilityZip\n\n0030012345600000010180202123401|2026-10-14T04:52:41|919|80266",
		"extra columns":        "edocJobId|imb|mailClassDescription|scanDatetime|scanEventCode|scanFacilityZip\nJ1|0030012345600000010180202123401|First-Class Mail|2026-10-14 04:52:41|919|80266\n",
		"quoted name, a comma": "imb,scanDatetime,scanEventCode,scanFacilityZip,scanFacilityName\n0030012345600000010180202123401,2026-10-14 04:52:41,919,80266,\"DENVER, CO P&DC \"\"MAIN\"\"\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := usps.NewDelimitedReader(strings.NewReader(file), opts)
			require.NoError(t, err)
			s := onlyScan(t, r)
			require.Equal(t, time.Date(2026, 10, 14, 10, 52, 41, 0, time.UTC), s.ScannedAt)
			require.Equal(t, "919", s.OperationCode)
			require.Equal(t, "80266", s.FacilityZIP)
			require.Equal(t, "300123456000000101", s.IMb.PieceKey())
			if name == "quoted name, a comma" {
				require.Equal(t, `DENVER, CO P&DC "MAIN"`, s.FacilityName)
			}
		})
	}
}

func TestUnusableDelimitedHeadersRefuseTheFileWithoutRepeatingIt(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ file, field string }{
		"empty":                 {"", ""},
		"only blank lines":      {"\n\r\n\n", ""},
		"a data row, no header": {"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266\n", "header"},
		"no time column":        {"imb|scanEventCode\n", "scanDatetime"},
		"date without time":     {"imb|scanDate\n", "scanDatetime"},
		"imb twice":             {"imb|IMB|scanDatetime\n", "imb"},
		"unclosed quote":        {"\"imb|scanDatetime\n", "header"},
		"header too long":       {"imb|scanDatetime|" + strings.Repeat("x", usps.MaxRecordBytes) + "\n", "header"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := usps.NewDelimitedReader(strings.NewReader(tc.file), sampleOptions(t))
			var fe *fileimport.FileError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
			require.NotContains(t, fe.Message, "00300123456")
		})
	}
}

func TestBadDelimitedRowsAreRejectedByLineAndFieldAndReadingGoesOn(t *testing.T) {
	t.Parallel()
	const good = "0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|DENVER CO P&DC|CO\n"
	rows := []struct {
		row, field, code string
	}{
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|DENVER CO P&DC\n", "", usps.CodeInvalidRow}, // too few values
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|A|CO|X|Y\n", "", usps.CodeInvalidRow},       // too many
		{"\"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|A|CO\n", "", usps.CodeInvalidRow},         // unclosed quote
		{strings.Repeat("9", usps.MaxRecordBytes+10) + "\n", "", usps.CodeInvalidRow},                               // line too long
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|" + strings.Repeat("A", usps.MaxFieldBytes+1) + "|CO\n", "scanFacilityName", usps.CodeInvalidRow},
		{"|2026-10-14 04:52:41|919|80266|A|CO\n", "imb", usps.CodeInvalidIMb},
		{"0030012345600000010180202123401||919|80266|A|CO\n", "scanDatetime", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2026-10-14|919|80266|A|CO\n", "scanDatetime", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2027-10-14 04:52:41|919|80266|A|CO\n", "scanDatetime", usps.CodeInvalidField}, // a year ahead
		{"0030012345600000010180202123401|2024-10-14 04:52:41|919|80266|A|CO\n", "scanDatetime", usps.CodeInvalidField}, // two years back
		{"0030012345600000010180202123401|2026-10-14T04:52:41+15:00|919|80266|A|CO\n", "scanDatetime", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2026-10-14 04:52:41|91-9|80266|A|CO\n", "scanEventCode", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|8026|A|CO\n", "scanFacilityZip", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|A|Colorado\n", "scanFacilityState", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|A\x00B|CO\n", "scanFacilityName", usps.CodeInvalidField},
		{"0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|\xff\xfe|CO\n", "scanFacilityName", usps.CodeInvalidField},
	}
	var file strings.Builder
	file.WriteString("imb|scanDatetime|scanEventCode|scanFacilityZip|scanFacilityName|scanFacilityState\n")
	for _, r := range rows {
		file.WriteString(good)
		file.WriteString(r.row)
	}
	file.WriteString(good)
	r, err := usps.NewDelimitedReader(strings.NewReader(file.String()), sampleOptions(t))
	require.NoError(t, err)
	recs, err := readAll(r)
	require.NoError(t, err)
	require.Len(t, recs, 2*len(rows)+1)
	for i, want := range rows {
		good, bad := recs[2*i], recs[2*i+1]
		require.Nil(t, good.Bad, "line %d", good.Line)
		require.NotNil(t, bad.Bad, "row %d", i)
		require.Equal(t, 2*i+3, bad.Bad.Line, "row %d", i)
		require.Equal(t, want.field, bad.Bad.Field, "row %d: %s", i, bad.Bad.Reason)
		require.Equal(t, want.code, bad.Bad.Code, "row %d", i)
		require.NotContains(t, bad.Bad.Reason, "00300123456", "row %d", i)
		require.NotContains(t, bad.Bad.Reason, "AAAA", "row %d", i)
	}
	require.Nil(t, recs[len(recs)-1].Bad)
}

func TestJSONBodiesOfEveryShapeAreReadOrRefusedWithoutRepeatingThem(t *testing.T) {
	t.Parallel()
	const ev = `{"imb":"0030012345600000010180202123401","scanDatetime":"2026-10-14 04:52:41","scanEventCode":"919"}`
	for name, tc := range map[string]struct {
		body      string
		events    int
		bad       int
		fileErr   bool
		malformed bool
	}{
		"push envelope":            {body: `{"msgGrpId":"g","msgSerNbr":1,"totMsgCnt":1,"recCnt":2,"totRecCnt":2,"events":[` + ev + `,` + ev + `]}`, events: 2},
		"members after the list":   {body: `{"events":[` + ev + `],"msgGrpId":{"nested":[1,2,3]}}`, events: 1},
		"a bare list":              {body: `[` + ev + `]`, events: 1},
		"an empty list":            {body: `{"events":[]}`},
		"unknown members skipped":  {body: `{"events":[{"imb":"0030012345600000010180202123401","scanDatetime":"2026-10-14 04:52:41","edocJobId":"x","pieceId":{"a":1}}]}`, events: 1},
		"names in another case":    {body: `{"EVENTS":[{"IMB":"0030012345600000010180202123401","Scan_Datetime":"2026-10-14 04:52:41"}]}`, events: 1},
		"an event not an object":   {body: `{"events":[` + ev + `,"0030012345600000010180202123401",` + ev + `]}`, events: 3, bad: 1},
		"a field as an object":     {body: `{"events":[{"imb":{"x":"0030012345600000010180202123401"},"scanDatetime":"2026-10-14 04:52:41"}]}`, events: 1, bad: 1},
		"a field twice":            {body: `{"events":[{"imb":"0030012345600000010180202123401","IMb":"0030012345600000010180202123401","scanDatetime":"2026-10-14 04:52:41"}]}`, events: 1, bad: 1},
		"an event too large":       {body: `{"events":[{"imb":"0030012345600000010180202123401","x":"` + strings.Repeat("A", usps.MaxEventBytes) + `"},` + ev + `]}`, events: 2, bad: 1},
		"empty":                    {body: ``, fileErr: true},
		"a string":                 {body: `"0030012345600000010180202123401"`, fileErr: true},
		"not JSON":                 {body: `imb|scanDatetime`, fileErr: true},
		"no events list":           {body: `{"msgGrpId":"g"}`, malformed: true},
		"events not a list":        {body: `{"events":{"imb":"0030012345600000010180202123401"}}`, malformed: true},
		"two events lists":         {body: `{"events":[` + ev + `],"events":[]}`, events: 1, malformed: true},
		"cut short":                {body: `{"events":[` + ev + `,{"imb":"0030012345600000010180202123401"`, events: 1, malformed: true},
		"text after the object":    {body: `{"events":[]} 0030012345600000010180202123401`, malformed: true},
		"text after the bare list": {body: `[]]`, malformed: true},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := usps.NewJSONReader(strings.NewReader(tc.body), sampleOptions(t))
			if tc.fileErr {
				var fe *fileimport.FileError
				require.ErrorAs(t, err, &fe)
				require.NotContains(t, fe.Message, "00300123456")
				return
			}
			require.NoError(t, err)
			recs, err := readAll(r)
			require.Len(t, recs, tc.events)
			bad := 0
			for _, rec := range recs {
				if rec.Bad != nil {
					bad++
					require.NotContains(t, rec.Bad.Reason, "00300123456")
				}
			}
			require.Equal(t, tc.bad, bad)
			if tc.malformed {
				var me *usps.MalformedError
				require.ErrorAs(t, err, &me)
				require.NotContains(t, me.Message, "00300123456")
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestReadersStopAtTheirBoundsWithoutHoldingTheInput(t *testing.T) {
	t.Parallel()
	opts := sampleOptions(t)
	opts.MaxBytes = 4 << 10
	big := "imb|scanDatetime\n" + strings.Repeat("0030012345600000010180202123401|2026-10-14 04:52:41\n", 200)
	r, err := usps.NewDelimitedReader(strings.NewReader(big), opts)
	require.NoError(t, err)
	_, err = readAll(r)
	var tooLarge *usps.InputTooLargeError
	require.ErrorAs(t, err, &tooLarge)

	// One JSON value (here blank space) larger than the reader holds: reading stops.
	opts.MaxBytes = 0
	jr, err := usps.NewJSONReader(strings.NewReader(`{"events":[`+strings.Repeat(" ", 3<<20)+`]}`), opts)
	require.NoError(t, err)
	_, err = readAll(jr)
	require.ErrorAs(t, err, &tooLarge)
	jr, err = usps.NewJSONReader(strings.NewReader(`{"msgGrpId":"`+strings.Repeat("g", 3<<20)+`","events":[]}`), opts)
	require.NoError(t, err)
	_, err = readAll(jr)
	require.ErrorAs(t, err, &tooLarge)
}

// Some IV-MTR feeds carry a piece's barcode as imbTrackingCode (its first 20 digits) and
// imbRoutingCode or routingCodeImbMatchingPortion (the rest), with no imb: the barcode is
// the two joined, and a bad part is named without its digits.
func TestABarcodeSentAsTrackingAndRoutingCodesIsJoined(t *testing.T) {
	t.Parallel()
	opts := sampleOptions(t)
	const tracking, routing = "00300123456000000101", "80202123401"
	for name, file := range map[string]string{
		"imbRoutingCode":                "imbTrackingCode|imbRoutingCode|scanDatetime|scanEventCode\n" + tracking + "|" + routing + "|2026-10-14 04:52:41|919\n",
		"routingCodeImbMatchingPortion": "IMb Tracking Code|Routing Code IMb Matching Portion|Scan Date Time|Scan Event Code\n" + tracking + "|" + routing + "|2026-10-14 04:52:41|919\n",
		"an empty imb column":           "imb|imbTrackingCode|imbRoutingCode|scanDatetime\n|" + tracking + "|" + routing + "|2026-10-14 04:52:41\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := usps.NewDelimitedReader(strings.NewReader(file), opts)
			require.NoError(t, err)
			require.Equal(t, tracking+routing, onlyScan(t, r).IMb.Digits())
		})
	}

	// Without a routing code, the tracking code is a barcode of its own; imb, when given, wins.
	body := `{"events":[
		{"imbTrackingCode":"` + tracking + `","scanDatetime":"2026-10-14 04:52:41"},
		{"imb":"0030412345600000010280202999901","imbTrackingCode":"` + tracking + `","scanDatetime":"2026-10-14 04:52:41"}]}`
	r, err := usps.NewJSONReader(strings.NewReader(body), opts)
	require.NoError(t, err)
	recs, err := readAll(r)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Nil(t, recs[0].Bad)
	require.Equal(t, tracking, recs[0].Scan.IMb.Digits())
	require.Equal(t, "0030412345600000010280202999901", recs[1].Scan.IMb.Digits())

	for name, tc := range map[string]struct{ event, field string }{
		"short tracking code":   {`"imbTrackingCode":"0030012345600000010"`, "imbTrackingCode"},
		"barcode ID 05":         {`"imbTrackingCode":"05300123456000000101"`, "imbTrackingCode"},
		"routing code 3 digits": {`"imbTrackingCode":"` + tracking + `","imbRoutingCode":"802"`, "imbRoutingCode"},
		"matching portion text": {`"imbTrackingCode":"` + tracking + `","routingCodeImbMatchingPortion":"80202-12x"`, "routingCodeImbMatchingPortion"},
		"neither":               {`"imbRoutingCode":"` + routing + `"`, "imb"},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := usps.NewJSONReader(strings.NewReader(`{"events":[{`+tc.event+`,"scanDatetime":"2026-10-14 04:52:41"}]}`), opts)
			require.NoError(t, err)
			recs, err := readAll(r)
			require.NoError(t, err)
			require.Len(t, recs, 1)
			require.NotNil(t, recs[0].Bad)
			require.Equal(t, tc.field, recs[0].Bad.Field)
			require.Equal(t, usps.CodeInvalidIMb, recs[0].Bad.Code)
			require.NotContains(t, recs[0].Bad.Reason, "0030012345")
			require.NotContains(t, recs[0].Bad.Reason, "80202")
		})
	}
}

// USPS operation codes are three digits with their leading zeros ("004"); a JSON number or a
// file that went through a spreadsheet drops them, and they are put back.
func TestOperationCodesGetTheirLeadingZerosBack(t *testing.T) {
	t.Parallel()
	const imb = `"imb":"0030012345600000010180202123401","scanDatetime":"2026-10-14 04:52:41"`
	body := `{"events":[{` + imb + `,"scanEventCode":4},{` + imb + `,"scanEventCode":"10"},{` + imb +
		`,"scanEventCode":"919"},{` + imb + `,"scanEventCode":"004"},{` + imb + `},{` + imb + `,"scanEventCode":"0"}]}`
	r, err := usps.NewJSONReader(strings.NewReader(body), sampleOptions(t))
	require.NoError(t, err)
	recs, err := readAll(r)
	require.NoError(t, err)
	var codes []string
	for _, rec := range recs {
		require.Nil(t, rec.Bad)
		codes = append(codes, rec.Scan.OperationCode)
	}
	require.Equal(t, []string{"004", "010", "919", "004", "", "000"}, codes)

	file := "imb|scanDatetime|scanEventCode\n0030012345600000010180202123401|2026-10-14 04:52:41|91\n"
	d, err := usps.NewDelimitedReader(strings.NewReader(file), sampleOptions(t))
	require.NoError(t, err)
	recs, err = readAll(d)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "091", recs[0].Scan.OperationCode)
}

// The IV-MTR piece tracking API answers with snake_case names (scan_date_time,
// scan_event_code, ...): they are the same fields.
func TestSnakeCaseIVMTRNamesAreTheSameFields(t *testing.T) {
	t.Parallel()
	body := `[{"imb":"0030012345600000010180202123401","scan_date_time":"2026-10-14T04:52:41-06:00",
		"scan_event_code":"919","scan_facility_zip":"80299","scan_facility_city":"CENTENNIAL PEAK",
		"scan_facility_state":"CO","handling_event_type":"A","mail_phase":"Phase 3c - Destination Sequenced Carrier Sortation",
		"machine_name":"DBCS-017"}]`
	r, err := usps.NewJSONReader(strings.NewReader(body), sampleOptions(t))
	require.NoError(t, err)
	s := onlyScan(t, r)
	require.Equal(t, time.Date(2026, 10, 14, 10, 52, 41, 0, time.UTC), s.ScannedAt)
	require.Equal(t, "919", s.OperationCode)
	require.Equal(t, "80299", s.FacilityZIP)
	require.Equal(t, "CENTENNIAL PEAK", s.FacilityCity)
	require.Equal(t, "CO", s.FacilityState)
	require.Equal(t, "A", s.HandlingEventType)
	require.Equal(t, "Phase 3c - Destination Sequenced Carrier Sortation", s.MailPhase)
	require.Equal(t, "DBCS-017", s.MachineName)
}
