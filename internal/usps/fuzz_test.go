package usps_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/usps"
)

// safeText is what a message about the input may hold: our own words, numbers and field
// names. Anything else (a letter outside ASCII, most punctuation) could only have come from
// the input; and no message has a run of 8 digits, as a barcode would be.
var (
	safeText    = regexp.MustCompile(`^[A-Za-z0-9 ,.;:()"'_+±{}\[\]/-]+$`)
	digitRun    = regexp.MustCompile(`[0-9]{8}`)
	fieldNames  = []string{"", "header", "imb", "scanDatetime", "scanDate", "scanTime", "scanEventCode", "scanFacilityZip", "scanFacilityName", "scanFacilityCity", "scanFacilityState", "handlingEventType", "mailPhase", "machineName", "imbTrackingCode", "imbRoutingCode", "routingCodeImbMatchingPortion"}
	zipPattern  = regexp.MustCompile(`^([0-9]{5}([0-9]{4})?)?$`)
	codePattern = regexp.MustCompile(`^[A-Za-z0-9]{0,8}$`)
	statePatt   = regexp.MustCompile(`^([A-Z]{2})?$`)
)

func requireSafeMessage(t *testing.T, msg string) {
	t.Helper()
	require.Regexp(t, safeText, msg)
	require.NotRegexp(t, digitRun, msg)
}

// checkRecords reads r to its end and checks what every reader owes: lines go up; a bad
// row names a known field and never its data; a good one is a scan within every bound.
func checkRecords(t *testing.T, r interface{ Next() (usps.Record, error) }, opts usps.ReadOptions) error {
	t.Helper()
	last := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		require.Greater(t, rec.Line, last)
		last = rec.Line
		if rec.Bad != nil {
			require.Equal(t, rec.Line, rec.Bad.Line)
			require.Contains(t, fieldNames, rec.Bad.Field)
			require.Contains(t, []string{usps.CodeInvalidRow, usps.CodeInvalidIMb, usps.CodeInvalidField}, rec.Bad.Code)
			requireSafeMessage(t, rec.Bad.Reason)
			continue
		}
		s := rec.Scan
		require.False(t, s.IMb.IsZero())
		again, err := usps.ParseIMb(s.IMb.Digits())
		require.NoError(t, err)
		require.Equal(t, s.IMb, again)
		require.Equal(t, time.UTC, s.ScannedAt.Location())
		require.False(t, s.ScannedAt.After(opts.Now.Add(24*time.Hour)))
		require.False(t, s.ScannedAt.Before(opts.Now.Add(-400*24*time.Hour)))
		require.Regexp(t, zipPattern, s.FacilityZIP)
		require.Regexp(t, codePattern, s.OperationCode)
		require.Regexp(t, statePatt, s.FacilityState)
		for _, text := range []string{s.FacilityName, s.FacilityCity, s.HandlingEventType, s.MailPhase, s.MachineName} {
			require.True(t, ballot.PlainText(text))
			require.LessOrEqual(t, utf8.RuneCountInString(text), 100)
		}
	}
}

func FuzzParseIMb(f *testing.F) {
	for _, s := range []string{
		"0030012345600000010180202123401", "01234903456789123456", "0070081234500000000180202",
		"00700912345678000001802021234", " 00 300 123456 000000101 80202-1234-01 ", "", "0530012345600000010180202123401",
		"003001234560000001018020", "00300123456\x00000000101", "٠٠٣٠٠١٢٣٤٥٦٠٠٠٠٠٠١٠١", strings.Repeat("9", 31),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := usps.ParseIMb(in)
		if err != nil {
			var ie *usps.IMbError
			require.ErrorAs(t, err, &ie)
			requireSafeMessage(t, err.Error())
			return
		}
		d := m.Digits()
		require.Contains(t, []int{20, 25, 29, 31}, len(d))
		require.Equal(t, strings.Trim(d, "0123456789"), "")
		require.LessOrEqual(t, d[1], byte('4'))
		require.Equal(t, d, m.BarcodeID()+m.ServiceType()+m.MailerID()+m.SerialNumber()+m.RoutingCode())
		require.Len(t, m.MailerID()+m.SerialNumber(), 15)
		require.Equal(t, m.MailerID()[0] == '9', len(m.MailerID()) == 9)
		require.Len(t, m.PieceKey(), usps.PieceKeyLen)
		require.Equal(t, "[imb]", m.String())
	})
}

func FuzzDelimitedReader(f *testing.F) {
	sample, err := os.ReadFile("testdata/ivmtr-piece-scans.txt")
	require.NoError(f, err)
	const header = "imb|scanDatetime|scanEventCode|scanFacilityZip|scanFacilityName|scanFacilityState"
	const row = "0030012345600000010180202123401|2026-10-14 04:52:41|919|80266|DENVER CO P&DC|CO"
	for _, s := range []string{
		string(sample),
		header + "\n" + row + "\n",
		header + "\r\n" + row + "\r\n" + row,
		strings.ReplaceAll(header+"\n"+row+"\n", "|", ","),
		strings.ReplaceAll(header+"\n"+row+"\n", "|", "\t"),
		header + "\n\"" + row + "\n" + row + "\n",
		header + "\n\"00300\"x|2026-10-14 04:52:41|919|80266|A|CO\n",
		header + "\n" + row + "|extra|more\n" + row + "\n",
		header + "\n" + "a\x00b|2026-10-14 04:52:41||||\n\xff\xfe|||||\n",
		header + "\n" + strings.Repeat("x", usps.MaxFieldBytes+1) + "|2026-10-14 04:52:41||||\n",
		row + "\n" + row + "\n", // no header
		"\ufeff" + header + "\n" + row + "\n",
		"imb|scanDate|scanTime\n0030012345600000010180202123401|2026-10-14|04:52\n",
		"imb|IMB|scanDatetime\n",
		"imbTrackingCode|imbRoutingCode|scanDatetime|scanEventCode\n00300123456000000101|80202123401|2026-10-14 04:52:41|4\n" +
			"00300123456000000101|802|2026-10-14 04:52:41|91\n05300123456000000101||2026-10-14 04:52:41|\n",
		"", "\n\n", "|||\n|||\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := fuzzOptions()
		r, err := usps.NewDelimitedReader(bytes.NewReader(data), opts)
		if err != nil {
			var fe *fileimport.FileError
			require.ErrorAs(t, err, &fe)
			require.True(t, slices.Contains(fieldNames, fe.Field), "field %q", fe.Field)
			requireSafeMessage(t, fe.Message)
			return
		}
		require.NoError(t, checkRecords(t, r, opts))
	})
}

func FuzzJSONReader(f *testing.F) {
	sample, err := os.ReadFile("testdata/ivmtr-push.json")
	require.NoError(f, err)
	const ev = `{"imb":"0030012345600000010180202123401","scanDatetime":"2026-10-14 04:52:41","scanEventCode":919,"scanFacilityZip":"80266-9998"}`
	for _, s := range []string{
		string(sample),
		`{"msgGrpId":"g","events":[` + ev + `,` + ev + `],"totRecCnt":2}`,
		`[` + ev + `]`,
		`{"events":[` + ev + `,"x",1,null,[],{}]}`,
		`{"events":[{"imb":{"a":1},"IMB":"1"},{"imb":"0030012345600000010180202123401","imb":"0"}]}`,
		`{"events":[{"imb":"\u0000","scanDatetime":"\ud800"}]}`,
		"{\"events\":[{\"imb\":\"\xff\"}]}",
		`{"events":[` + ev, `{"events":{}}`, `{"events":[],"events":[]}`, `{}`, `[]]`, `"x"`, ``, `{"events":[]} x`,
		`{"events":[{"scanDatetime":"2026-10-14T04:52:41+23:59","imb":"01234903456789123456"}]}`,
		`{"events":[{"imbTrackingCode":"00300123456000000101","routingCodeImbMatchingPortion":"80202123401","scan_date_time":"2026-10-14 04:52:41","scanEventCode":4}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := fuzzOptions()
		r, err := usps.NewJSONReader(bytes.NewReader(data), opts)
		if err != nil {
			var fe *fileimport.FileError
			require.ErrorAs(t, err, &fe)
			requireSafeMessage(t, fe.Message)
			return
		}
		err = checkRecords(t, r, opts)
		if err != nil {
			var malformed *usps.MalformedError
			var tooLarge *usps.InputTooLargeError
			require.True(t, errors.As(err, &malformed) || errors.As(err, &tooLarge), "%v", err)
			requireSafeMessage(t, err.Error())
		}
	})
}

func fuzzOptions() usps.ReadOptions {
	denver, err := time.LoadLocation("America/Denver")
	if err != nil {
		denver = time.UTC
	}
	return usps.ReadOptions{Now: time.Date(2026, 10, 20, 18, 0, 0, 0, time.UTC), Location: denver}
}
