package apiserver

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/mailtrack"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/usps"
)

// USPS Intelligent Mail tracking: a county (or its state) sends the IV-MTR scans of its
// ballot envelopes, pushed as USPS pushes them (POST /v1/mail-scans) or as an IV-MTR file
// (POST /v1/mail-scans:bulk), and gets counts back: matched (stored for a ballot), duplicates
// (stored before), unknown (no ballot has the barcode: counted, not stored) and rejected
// scans, by line (or event) and field, never with their data. A new scan is handed to
// Config.ScanNotifier, when set, for the ballot's workflow.

// Bounds of what is sent: a push body is read whole before anything is stored; a file is
// streamed and stored a batch at a time.
const (
	maxScanPushBytes = 16 << 20
	maxScanPushScans = 10_000
	maxScanFileBytes = 2 << 30
)

func (h *handlers) registerMailScans(v1 *gin.RouterGroup) {
	auth := h.authenticate(store.RoleCounty, store.RoleState)
	v1.POST("/mail-scans", auth, h.postMailScans)
	v1.POST(`/mail-scans\:bulk`, auth, h.postMailScanFile)
}

func (h *handlers) mailTracking() *mailtrack.Service {
	return &mailtrack.Service{Store: h.cfg.Store, Notifier: h.cfg.ScanNotifier, Logger: h.cfg.Logger}
}

func mailCaller(c *gin.Context) mailtrack.Caller {
	key := apiKey(c)
	return mailtrack.Caller{KeyID: key.ID, Role: key.Role, State: key.State, County: key.County, Actor: key.Actor()}
}

// postMailScans takes an IV-MTR push body, {"events": [...]} (JSON), read whole before
// anything is stored: a body that is not valid JSON, or too large, stores nothing.
func (h *handlers) postMailScans(c *gin.Context) {
	mediaType, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mediaType != "application/json" && mediaType != "" {
		abort(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the IV-MTR push body as application/json, {\"events\": [...]}; send files to /v1/mail-scans:bulk", "")
		return
	}
	if c.Request.ContentLength > maxScanPushBytes {
		abort(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf(
			"the body is larger than %d MiB; send larger sets of scans to /v1/mail-scans:bulk", maxScanPushBytes>>20), "")
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxScanPushBytes)
	// A client that hangs up once the body is read must not leave a batch half-handled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 2*time.Minute)
	defer cancel()
	res, err := h.mailTracking().Ingest(ctx, mailCaller(c), body, mailtrack.Options{
		Format: mailtrack.JSON, MaxBytes: maxScanPushBytes, Whole: true, MaxScans: maxScanPushScans, BatchSize: maxScanPushScans,
	})
	var fileErr *fileimport.FileError
	var malformed *usps.MalformedError
	var tooMany *mailtrack.TooManyScansError
	switch {
	case err == nil:
		c.JSON(http.StatusOK, res)
	case errors.As(err, &fileErr):
		abort(c, http.StatusBadRequest, "invalid_body", fileErr.Message+"; nothing was stored", fileErr.Field)
	case errors.As(err, &malformed):
		abort(c, http.StatusBadRequest, "invalid_body", malformed.Message+"; nothing was stored", "events")
	case errors.As(err, &tooMany):
		abort(c, http.StatusRequestEntityTooLarge, "too_many_scans", tooMany.Error()+"; nothing was stored", "events")
	case tooLarge(err):
		abort(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf(
			"the body is larger than %d MiB; nothing was stored. Send larger sets of scans to /v1/mail-scans:bulk", maxScanPushBytes>>20), "")
	default:
		h.cfg.Logger.Error("store mail scans", "key", apiKey(c).Prefix, "error", err)
		msg := "the scans could not be stored; nothing was recorded, please retry"
		if res.Rows > 0 {
			msg = fmt.Sprintf("the scans could not all be stored (the first %d were); send the body again: "+
				"scans stored already count as duplicates", res.Rows)
		}
		abort(c, http.StatusServiceUnavailable, "unavailable", msg, "")
	}
}

// postMailScanFile streams an IV-MTR file: delimited (text/plain, text/csv or
// text/tab-separated-values, with a header row) or JSON (application/json, as a push body).
// It is stored a batch at a time; a file that breaks off keeps the batches stored before,
// and sending it again stores the rest (stored scans count as duplicates).
func (h *handlers) postMailScanFile(c *gin.Context) {
	var format mailtrack.Format
	mediaType, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mediaType {
	case "text/plain", "text/csv", "text/tab-separated-values":
		format = mailtrack.Delimited
	case "application/json":
		format = mailtrack.JSON
	default:
		abort(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send an IV-MTR delimited file (text/plain, text/csv or text/tab-separated-values, with its header row) "+
				"or an IV-MTR JSON file (application/json)", "")
		return
	}
	if c.Request.ContentLength > maxScanFileBytes {
		abort(c, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the file is larger than %d GiB; split it", maxScanFileBytes>>30), "")
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxScanFileBytes)
	rc := http.NewResponseController(c.Writer)
	extendRead := func() { _ = rc.SetReadDeadline(time.Now().Add(uploadReadWindow)) }
	extendRead()
	// A client that hangs up ends the body, which ends the load; the batch in flight still
	// commits or rolls back whole.
	ctx := context.WithoutCancel(c.Request.Context())
	res, err := h.mailTracking().Ingest(ctx, mailCaller(c), body, mailtrack.Options{
		Format: format, MaxBytes: maxScanFileBytes, Progress: extendRead,
	})
	var fileErr *fileimport.FileError
	var malformed *usps.MalformedError
	stored := storedSoFar(res)
	again := "Send the whole file again: scans stored already count as duplicates."
	switch {
	case err == nil:
		c.JSON(http.StatusOK, res)
	case errors.As(err, &fileErr):
		abort(c, http.StatusUnprocessableEntity, "invalid_file", fileErr.Message+"; nothing was stored", fileErr.Field)
	case errors.As(err, &malformed):
		abort(c, http.StatusUnprocessableEntity, "invalid_file", fmt.Sprintf("%s. %s Fix the file, then: %s",
			malformed.Message, stored, again), "")
	case tooLarge(err):
		abort(c, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf(
			"the file is larger than %d GiB, or holds a JSON value larger than 1 MiB; reading stopped. %s Split the file and send each part",
			maxScanFileBytes>>30, stored), "")
	case c.Request.Context().Err() != nil:
		h.cfg.Logger.Warn("mail scan upload broke off", "key", apiKey(c).Prefix, "last_line", res.LastLine)
	default:
		h.cfg.Logger.Error("store mail scan file", "key", apiKey(c).Prefix, "last_line", res.LastLine, "error", err)
		abort(c, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf("the file could not be stored to its end. %s %s", stored, again), "")
	}
}

// storedSoFar says what a file that stopped part way stored.
func storedSoFar(res mailtrack.Result) string {
	if res.Rows == 0 {
		return "Nothing was stored."
	}
	return fmt.Sprintf("The scans up to line (or event) %d were read: %d matched, %d duplicates, %d unknown, %d rejected.",
		res.LastLine, res.Matched, res.Duplicates, res.Unknown, res.Rejected)
}

// tooLarge reports whether err is input past a bound: the HTTP body's or the reader's.
func tooLarge(err error) bool {
	var maxBytes *http.MaxBytesError
	var input *usps.InputTooLargeError
	return errors.As(err, &maxBytes) || errors.As(err, &input)
}

// ---- Scans in the ballot histories ---------------------------------------------------------

// mailScanJSON is one USPS scan of a ballot's envelope as the operator API shows it.
type mailScanJSON struct {
	Direction     string    `json:"direction"` // outbound, return
	ScannedAt     time.Time `json:"scanned_at"`
	OperationCode string    `json:"operation_code,omitempty"`
	FacilityZIP   string    `json:"facility_zip,omitempty"`
	FacilityName  string    `json:"facility_name,omitempty"`
	FacilityCity  string    `json:"facility_city,omitempty"`
	FacilityState string    `json:"facility_state,omitempty"`
	ReceivedAt    time.Time `json:"received_at"`
}

func mailScansView(scans []store.MailScan) []mailScanJSON {
	out := make([]mailScanJSON, len(scans))
	for i, m := range scans {
		out[i] = mailScanJSON{Direction: m.Direction, ScannedAt: m.ScannedAt.UTC(), OperationCode: m.OperationCode,
			FacilityZIP: m.FacilityZIP, FacilityName: m.FacilityName, FacilityCity: m.FacilityCity,
			FacilityState: m.FacilityState, ReceivedAt: m.ReceivedAt.UTC()}
	}
	return out
}

// portalMailJSON is where the voter's envelope was last seen by USPS, in each direction:
// "in transit" (outbound) or "on its way back" (return).
type portalMailJSON struct {
	Direction string    `json:"direction"`
	ScannedAt time.Time `json:"scanned_at"`
	Facility  string    `json:"facility,omitempty"`
	City      string    `json:"city,omitempty"`
	State     string    `json:"state,omitempty"`
}

func portalMailView(scans []store.MailScan) []portalMailJSON {
	out := make([]portalMailJSON, len(scans))
	for i, m := range scans {
		out[i] = portalMailJSON{Direction: m.Direction, ScannedAt: m.ScannedAt.UTC(), Facility: m.FacilityName,
			City: m.FacilityCity, State: m.FacilityState}
	}
	return out
}
