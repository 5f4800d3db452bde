// Package mailtrack follows ballot envelopes through the mail. It takes USPS Informed
// Visibility (IV-MTR) scans, as a county's push or file (read by internal/usps), matches them
// to the envelope barcodes counties gave with their "mailed" events, stores each scan once
// in PostgreSQL, and hands the first scan of each direction of a ballot to a Notifier: the
// ballot's workflow, which tells the voter "in transit" or "on its way back".
//
// Scans of barcodes no ballot (in the sender's county, or state) has are counted, never
// stored. Nothing here logs a barcode: the routing code of an outbound envelope is the
// voter's ZIP+4 and delivery point.
package mailtrack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/tzdb"
	"github.com/ballotflow/ballotflow/internal/usps"
)

// Notice is a scan of a ballot's envelope as a Notifier gets it. It carries the opaque
// ballot key, never the barcode.
type Notice struct {
	BallotKey  string
	ElectionID string
	State      string
	County     string
	Direction  usps.Direction
	ScannedAt  time.Time // UTC
	Facility   Facility
}

// Facility is where USPS scanned an envelope; any part may be empty.
type Facility struct {
	Name  string
	City  string
	State string
	ZIP   string
}

// Notifier hands a ballot's envelope scan to the ballot's workflow, which decides whether
// the voter hears of it. It is called at most once per stored scan, only for the first
// scan of each direction of a ballot that was not handed on before, and only while the
// ballot's recorded status is "mailed" (or none yet): a scan of an envelope already received
// (a late scan) is recorded and never handed on. The workflow must still keep to at most one
// notice per direction and none that contradicts a later status, since the status it holds
// may be newer than PostgreSQL's. An error leaves the scan not handed on: the next scan of
// that direction tries again.
//
// internal/app's notifier signals the ballot's workflow (ballot.SignalMailScan).
type Notifier interface {
	NotifyScan(ctx context.Context, n Notice) error
}

// Service stores scans and hands them on.
type Service struct {
	Store    *store.Store
	Notifier Notifier // nil: scans are stored, nothing is handed on
	Now      func() time.Time
	Logger   *slog.Logger
}

// Caller is who sends scans: the scope of its API key.
type Caller struct {
	KeyID  int64
	Role   string // county or state
	State  string
	County string // for county keys
	Actor  string // "key:<prefix>", for the audit log
}

// Format is how scans are sent.
type Format string

// Formats.
const (
	Delimited Format = "delimited" // an IV-MTR delimited file with a header row
	JSON      Format = "json"      // an IV-MTR push body or JSON file: {"events": [...]}
)

// Options says how to read what is sent.
type Options struct {
	Format Format
	// MaxBytes bounds the input (usps.DefaultMaxBytes when 0).
	MaxBytes int64
	// Whole reads everything before storing anything (a push body): input that breaks off
	// or is not valid stores nothing. MaxScans bounds it.
	Whole    bool
	MaxScans int
	// BatchSize is the number of scans stored per transaction; DefaultBatchSize when 0.
	BatchSize int
	// Progress, when set, is called after each batch stored.
	Progress func()
}

// DefaultBatchSize is the number of scans stored per transaction when Options sets none.
const DefaultBatchSize = 5000

// Result is what was done with the scans sent. Rows = Matched + Duplicates + Unknown + Rejected.
type Result struct {
	Rows       int `json:"rows"`
	Matched    int `json:"matched"`
	Duplicates int `json:"duplicates"`
	Unknown    int `json:"unknown"`
	Rejected   int `json:"rejected"`
	// The first fileimport.MaxRejectionsListed rejections: by line for a delimited file, by
	// position in the events list for JSON.
	Rejections          []fileimport.Rejection `json:"rejections"`
	RejectionsTruncated bool                   `json:"rejections_truncated,omitempty"`
	// LastLine is the last line (or event) of the last batch stored.
	LastLine int `json:"-"`
}

// TooManyScansError is a whole body of more than Options.MaxScans scans: nothing stored.
type TooManyScansError struct{ Max int }

func (e *TooManyScansError) Error() string {
	return fmt.Sprintf("the body holds more than %d scans; send larger sets as a file", e.Max)
}

// Ingest reads scans from r and stores them for caller. Input that cannot be read at all (no
// header, not JSON) is a *fileimport.FileError and nothing is stored; past the bounds it is
// a *usps.InputTooLargeError, and JSON that breaks off a *usps.MalformedError. With
// Options.Whole those store nothing; otherwise they come back with the Result of the batches
// stored before, as does an error of the database. Storing again what was stored is
// harmless: a scan is stored once.
func (s *Service) Ingest(ctx context.Context, caller Caller, r io.Reader, opts Options) (res Result, err error) {
	ropts := usps.ReadOptions{Now: s.now(), Location: s.location(ctx, caller), MaxBytes: opts.MaxBytes}
	var rd interface{ Next() (usps.Record, error) }
	switch opts.Format {
	case Delimited:
		rd, err = usps.NewDelimitedReader(r, ropts)
	case JSON:
		rd, err = usps.NewJSONReader(r, ropts)
	default:
		return Result{}, &fileimport.FileError{Field: "format", Message: fmt.Sprintf("unknown format %q", opts.Format)}
	}
	if err != nil {
		return Result{}, err
	}
	res.Rejections = []fileimport.Rejection{}
	scope := store.MailScanScope{State: caller.State, KeyID: caller.KeyID}
	if caller.Role == store.RoleCounty {
		scope.County = caller.County
	}
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	defer func() { s.account(ctx, caller, res, err == nil) }()

	if opts.Whole {
		var recs []usps.Record
		for {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return Result{Rejections: []fileimport.Rejection{}}, err
			}
			if recs = append(recs, rec); opts.MaxScans > 0 && len(recs) > opts.MaxScans {
				return Result{Rejections: []fileimport.Rejection{}}, &TooManyScansError{Max: opts.MaxScans}
			}
		}
		for batch := range slices.Chunk(recs, size) {
			if err := s.store(ctx, scope, batch, &res, opts); err != nil {
				return res, err
			}
		}
		return res, nil
	}

	batch := make([]usps.Record, 0, size)
	for {
		rec, rerr := rd.Next()
		if rerr == nil {
			if batch = append(batch, rec); len(batch) < size {
				continue
			}
		}
		// A full batch, the end, or a read error: what was read is stored first.
		if len(batch) > 0 {
			if err := s.store(ctx, scope, batch, &res, opts); err != nil {
				return res, err
			}
			batch = batch[:0]
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF):
			return res, nil
		default:
			return res, rerr
		}
	}
}

// store stores one batch of records, counts it into res and hands its new scans on.
func (s *Service) store(ctx context.Context, scope store.MailScanScope, recs []usps.Record, res *Result, opts Options) error {
	var rejected []fileimport.Rejection
	scans := make([]store.StagedMailScan, 0, len(recs))
	for _, rec := range recs {
		if rec.Bad != nil {
			rejected = append(rejected, *rec.Bad)
			continue
		}
		sc := rec.Scan
		scans = append(scans, store.StagedMailScan{Line: rec.Line, PieceKey: sc.IMb.PieceKey(), ScannedAt: sc.ScannedAt,
			OperationCode: sc.OperationCode, FacilityZIP: sc.FacilityZIP, FacilityName: sc.FacilityName,
			FacilityCity: sc.FacilityCity, FacilityState: sc.FacilityState})
	}
	counts := store.MailScanCounts{}
	if len(scans) > 0 {
		var err error
		if counts, err = s.Store.MailScanRecordBatch(ctx, scope, scans, s.now()); err != nil {
			return err
		}
	}
	res.Rows += len(recs)
	res.LastLine = recs[len(recs)-1].Line
	res.Matched += counts.Matched
	res.Duplicates += counts.Duplicates
	res.Unknown += counts.Unknown
	res.Rejected += len(rejected)
	if room := fileimport.MaxRejectionsListed - len(res.Rejections); len(rejected) > room {
		res.RejectionsTruncated = true
		rejected = rejected[:room]
	}
	res.Rejections = append(res.Rejections, rejected...)
	s.handOn(ctx, counts.Stored)
	if opts.Progress != nil {
		opts.Progress()
	}
	return nil
}

// handOn gives the Notifier the earliest new scan of each ballot and direction that was not
// handed on before, while the ballot's recorded status is "mailed" or none, and records the
// ones it took.
func (s *Service) handOn(ctx context.Context, stored []store.StoredMailScan) {
	if s.Notifier == nil || len(stored) == 0 {
		return
	}
	type key struct {
		ballot    int64
		direction string
	}
	first := map[key]store.StoredMailScan{}
	var order []key
	for _, st := range stored {
		if st.DirectionNotified || !noticeMayFollow(st.Ballot.Status) {
			continue
		}
		k := key{st.Ballot.Ref, st.Direction}
		if prev, ok := first[k]; !ok || st.ScannedAt.Before(prev.ScannedAt) {
			if !ok {
				order = append(order, k)
			}
			first[k] = st
		}
	}
	var handed []int64
	for _, k := range order {
		st := first[k]
		n := Notice{BallotKey: st.Ballot.Key, ElectionID: st.Ballot.ElectionID, State: st.Ballot.State, County: st.Ballot.County,
			Direction: usps.Direction(st.Direction), ScannedAt: st.ScannedAt.UTC(),
			Facility: Facility{Name: st.FacilityName, City: st.FacilityCity, State: st.FacilityState, ZIP: st.FacilityZIP}}
		if err := s.Notifier.NotifyScan(ctx, n); err != nil {
			s.logger().Warn("hand a mail scan to its ballot; the next scan of that envelope tries again",
				"workflow_id", ballot.WorkflowID(st.Ballot.ElectionID, st.Ballot.Key), "direction", st.Direction, "error", err)
			continue
		}
		handed = append(handed, st.Ref)
	}
	// Handed on: recorded even if the caller gave up meanwhile, or it would be handed on again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Store.MailScanMarkNotified(mctx, handed); err != nil {
		s.logger().Error("record mail scans handed on", "scans", len(handed), "error", err)
	}
}

// noticeMayFollow reports whether a scan may still tell the voter something, by the
// ballot's recorded status: only while it is "mailed" (or none is recorded yet). Once the
// county received the ballot (or anything after), a scan is history.
func noticeMayFollow(status string) bool {
	return status == "" || status == string(ballot.StatusMailed)
}

// location is where zone-less scan times are wall-clock time: the county's time zone; for a
// state key, the zone of the state's counties (the first county's when they differ).
func (s *Service) location(ctx context.Context, caller Caller) *time.Location {
	var zone string
	if caller.Role == store.RoleCounty {
		j, err := s.Store.JurisdictionGetByCounty(ctx, caller.State, caller.County)
		if err == nil {
			zone = j.TimeZone
		}
	} else if js, err := s.Store.JurisdictionList(ctx, caller.State); err == nil && len(js) > 0 {
		zone = js[0].TimeZone
	}
	if zone == "" {
		return time.UTC
	}
	loc, err := tzdb.Load(zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// account counts an ingest in the metrics and the audit log: counts only, never a scan.
func (s *Service) account(ctx context.Context, caller Caller, res Result, complete bool) {
	metrics.MailScans.WithLabelValues("matched").Add(float64(res.Matched))
	metrics.MailScans.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	metrics.MailScans.WithLabelValues("unknown").Add(float64(res.Unknown))
	metrics.MailScans.WithLabelValues("rejected").Add(float64(res.Rejected))
	if res.Rows == 0 {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := s.Store.Audit(actx, caller.Actor, "mail_scans.ingest", "", map[string]any{
		"complete": complete, "rows": res.Rows, "matched": res.Matched, "duplicates": res.Duplicates,
		"unknown": res.Unknown, "rejected": res.Rejected,
	})
	if err != nil {
		s.logger().Error("audit mail scans", "error", err)
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
