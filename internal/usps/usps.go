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
// IV-MTR data. What each part follows:
//   - Delivery: USPS "Informed Visibility Mail Tracking & Reporting User Guide" V2.1, V2.2
//     and V2.6 (technodocbox.com transcriptions), section "Data Provisioning Options": a
//     one-time query or a data feed, as a delimited file, a JSON file, or Mail.XML push and
//     pull messages. The transcriptions hold the guides' tables of contents and opening
//     pages, not the file sections' field tables; so does that of the "IV Mail Tracking &
//     Reporting Mail.XML Guide" V2.4 (vdocuments.net), whose messages are not read here.
//   - Field names and lengths: the "IV Mail Tracking & Reporting External Facing Data
//     Dictionary" (12/8/2016, vdocuments.site transcription) lists attributes by record type,
//     but only its change history and contents could be read. USPS "Informed Delivery Data
//     via IV-MTR Data Dictionary" (5/20/2020, scribd.com), "Layout": each attribute has a
//     display name, used in the application and in delimited files, and a JSON name. The
//     piece-scan JSON names read here are those that independent public IV-MTR consumers
//     (GitHub code, read for names and lengths only) agree on: imb (31), imbTrackingCode
//     (20), imbRoutingCode and routingCodeImbMatchingPortion (11), scanDatetime,
//     scanEventCode (3), scanFacilityZip (9), scanFacilityName and scanFacilityCity (50),
//     scanFacilityState (2), handlingEventType (2), mailPhase, machineName; a push body
//     {"msgGrpId", "msgSerNbr", "totMsgCnt", "recCnt", "totRecCnt", "events": [...]}.
//     One such consumer records, from a live payload, that a push may give the barcode only
//     as imbTrackingCode and routingCodeImbMatchingPortion; another, that the IV-MTR piece
//     API answers with snake_case names (scan_date_time, scan_event_code, ...) and
//     handlingEventType "A" for a machine scan. Names are matched with case, spaces and
//     punctuation ignored, so a JSON name, its snake_case form and a spaced display name
//     ("Scan Facility ZIP") are one field.
//   - Operation codes: USPS's operation code list (the spreadsheet IV-MTR points to) has,
//     per code, machine type, equipment description, stop-the-clock flag, handling event
//     type (Actual, ...), piece mail type, mail level, mail phase and process description,
//     with three-digit codes that keep their leading zeros ("000", "004", "010"); its mail
//     phases are Phase 0 (origin cancellation), 1, 1a, 1b (origin), 2, 2a, 2b, 2c, 3a, 3b
//     (destination), 3c (destination sequenced carrier sortation), 4c (delivery), PARS,
//     FPARS, Miscellaneous and Foreign Processing. Known from public consumers that load it
//     (the ivymeter gem's rubydoc.info pages, and others' table definitions), not from the
//     list itself.
//
// NOT VERIFIED, and what is done instead:
//   - The list of operation codes itself (which code is delivered, out for delivery, a
//     facility's sort) could not be read: only its first rows and its columns. So an
//     operation code is kept as given (1 to 8 letters or digits, a number of fewer than
//     three digits given its leading zeros back) and never interpreted, and mailPhase and
//     handlingEventType are kept as given (bounded) and not interpreted either. Nor was the
//     table of Ballot Mail STIDs read (Kit 600 points to PostalPro for it): a scan's
//     direction is never guessed from its STID or operation code but is the direction of
//     the registered envelope whose barcode it carries (Envelopes.Direction).
//   - The delimited file's delimiter, column order and display names were not found: the
//     file must start with a header row naming its columns; the delimiter is taken from that
//     row (a pipe, else a tab, else a comma) and columns are matched by name in any order;
//     columns ballotflow does not use are skipped.
//   - scanDatetime's format and time zone were not found (public consumers parse it as ISO
//     8601). It is read as RFC 3339 when it carries an offset, and otherwise (YYYY-MM-DD
//     HH:MM:SS, with T or a space, optional fraction) as wall-clock time in
//     ReadOptions.Location, the county's time zone: a scan in a facility in another zone is
//     then off by the zones' difference, a few hours at most. Separate scanDate and scanTime
//     columns are joined.
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
