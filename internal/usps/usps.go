// Package usps reads what the U.S. Postal Service says about ballot envelopes: Intelligent
// Mail barcodes (ParseIMb) and Informed Visibility Mail Tracking & Reporting (IV-MTR) piece
// scans, as a delimited file (NewDelimitedReader) or as JSON, pushed or as a file
// (NewJSONReader). It only reads and checks; matching scans to ballots and storing them is
// internal/mailtrack's, in PostgreSQL.
//
// Every reader is bounded whatever it is sent (MaxFieldBytes, MaxRecordBytes, MaxEventBytes,
// and a whole-input bound in ReadOptions) and reports a bad row by its line (for JSON, the
// event's position) and field, never with the row's data: a barcode's routing code is an
// address.
//
// # What this is built on (and what could not be found)
//
// Intelligent Mail barcode. USPS "Official Election Mail Kit 600", "Step 3: Populate the
// Barcode" (https://about.usps.com/kits/kit600/kit600_017.htm), and the IMb field tables of
// "USPS Intelligent Mail Barcode Content" (Loftware and NiceLabel designer help) and of the
// Microcom 224/424 operator's manual (manualslib.com), with the Wikipedia-derived article on
// the IMb (tickerdossier.com mirror) for the two rules about digit values: five fields,
// barcode ID (2 digits, the second 0 to 4), service type ID (STID, 3 digits), mailer ID (6
// digits beginning 0 to 8, or 9 digits beginning with 9), serial number (9 digits with a
// 6-digit mailer ID, 6 with a 9-digit one; unique for 45 days under Full-Service), and a
// routing code (delivery ZIP Code) of 0, 5, 9 or 11 digits: 20, 25, 29 or 31 digits in all.
//
// IV-MTR data. USPS "Informed Visibility Mail Tracking & Reporting User Guide" (V2.1, V2.2,
// V2.6; transcriptions at technodocbox.com) names the ways scan data is delivered (one-time
// query or data feed; delimited file, JSON file, Mail.XML push and pull messages) and the
// "IV Mail Tracking & Reporting External Facing Data Dictionary" (12/8/2016, transcription at
// vdocuments.site) lists the data attributes by record type. The library held those
// documents' tables of contents but not their attribute tables, delimiter or date format.
// The piece-scan attribute names used here are those of the JSON data (imb, scanDatetime,
// scanEventCode, scanFacilityZip, scanFacilityName, scanFacilityCity, scanFacilityState,
// handlingEventType, mailPhase, machineName, and a push body {"msgGrpId": ..., "events":
// [...]}), as public IV-MTR consumers read them (GitHub code in the search library, read for
// the names only), with the lengths those consumers give them (imb 31, scanEventCode 3,
// scanFacilityZip 9, scanFacilityName and scanFacilityCity 50, scanFacilityState 2).
//
// CLOSEST DOCUMENTED FORM, where the published layout could not be read:
//   - The delimited file has a header row naming its columns; the delimiter is taken from
//     that row (a pipe, else a tab, else a comma), and columns are matched by name with case,
//     spaces and punctuation ignored, so "scanFacilityZip", "Scan Facility ZIP" and
//     "SCAN_FACILITY_ZIP" are one column. Columns ballotflow does not use are skipped.
//   - scanDatetime is RFC 3339 when it carries an offset, and otherwise (YYYY-MM-DD
//     HH:MM:SS, with T or a space, optional fraction) a wall-clock time taken in
//     ReadOptions.Location, the county's time zone: a scan in a facility in another zone is
//     then off by the zones' difference, a few hours at most. Separate scan date and scan
//     time columns are joined.
//   - The operation code (scanEventCode, also read from opCode or operationCode) is kept as
//     given, 1 to 8 letters or digits, and never interpreted: USPS's table of operation
//     codes was not in the library. Nor was the table of Ballot Mail STIDs (Kit 600 points to
//     PostalPro for it), so a scan's direction is never guessed from its STID or operation
//     code: it is the direction of the registered envelope whose barcode it carries
//     (Envelopes.Direction).
//   - handlingEventType, mailPhase and machineName are read within bounds and not
//     interpreted.
package usps

// Direction is which way an envelope travels.
type Direction string

// Directions.
const (
	Outbound Direction = "outbound" // from the election office to the voter
	Return   Direction = "return"   // the return envelope, from the voter to the election office
)

// Envelopes are the barcodes a ballot was mailed with: the outbound envelope's and the
// return envelope's inside it. Either may be zero.
type Envelopes struct {
	Outbound IMb
	Return   IMb
}

// Direction says which of the envelopes a scanned barcode is, by its piece key (service
// type, mailer ID and serial number; see IMb.PieceKey): false when it is neither.
func (e Envelopes) Direction(scanned IMb) (Direction, bool) {
	if scanned.IsZero() {
		return "", false
	}
	switch key := scanned.PieceKey(); {
	case !e.Outbound.IsZero() && e.Outbound.PieceKey() == key:
		return Outbound, true
	case !e.Return.IsZero() && e.Return.PieceKey() == key:
		return Return, true
	}
	return "", false
}

// Distinct reports whether the two envelopes can be told apart by a scan: two registered
// barcodes with the same piece key could never say which way a scan went.
func (e Envelopes) Distinct() bool {
	return e.Outbound.IsZero() || e.Return.IsZero() || e.Outbound.PieceKey() != e.Return.PieceKey()
}
