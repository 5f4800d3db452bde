package apiserver

import (
	"encoding/csv"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// CSV exports of the operator reports, streamed row by row.

// wantsCSV reads ?format= (json or csv); without it, an Accept header naming text/csv asks
// for CSV. It answers 400 for another format.
func wantsCSV(c *gin.Context) (asCSV, ok bool) {
	switch strings.ToLower(c.Query("format")) {
	case "csv":
		return true, true
	case "json":
		return false, true
	case "":
		return strings.Contains(strings.ToLower(c.GetHeader("Accept")), "text/csv"), true
	}
	abort(c, http.StatusBadRequest, "invalid_field", "format must be json or csv", "format")
	return false, false
}

// csvStream writes a CSV answer row by row, flushing as it goes, so that a large export
// never sits in memory.
type csvStream struct {
	c     *gin.Context
	w     *csv.Writer
	rows  int
	wrErr error
}

var unsafeFilename = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// startCSV answers 200 with a CSV attachment and writes its header row.
func startCSV(c *gin.Context, name string, header ...string) *csvStream {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="ballotflow-`+unsafeFilename.ReplaceAllString(name, "_")+`.csv"`)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	s := &csvStream{c: c, w: csv.NewWriter(c.Writer)}
	s.row(header...)
	return s
}

// row writes one row, its cells made formulaSafe.
func (s *csvStream) row(cells ...string) {
	if s.wrErr != nil {
		return
	}
	s.wrErr = s.w.Write(formulaSafe(cells))
	s.rows++
	if s.rows%500 == 0 {
		s.w.Flush()
		s.c.Writer.Flush()
	}
}

// formulaSafe returns cells with every cell a spreadsheet would read as a formula (= + - @,
// or a tab or carriage return first) prefixed with an apostrophe.
func formulaSafe(cells []string) []string {
	out := make([]string, len(cells))
	for i, v := range cells {
		out[i] = v
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			out[i] = "'" + v
		}
	}
	return out
}

func (s *csvStream) err() error {
	if s.wrErr != nil {
		return s.wrErr
	}
	return s.w.Error()
}

// finish flushes the export. When it broke off (readErr, a database error after the first
// rows went out), the connection is cut so the client sees a failed download, not a file
// that looks complete.
func (s *csvStream) finish(h *handlers, readErr error) {
	s.w.Flush()
	err := errors.Join(readErr, s.err())
	if err == nil {
		s.c.Writer.Flush()
		return
	}
	h.cfg.Logger.Error("operator: CSV export broke off", "route", s.c.FullPath(), "rows", s.rows, "error", err)
	if conn, _, hjErr := s.c.Writer.Hijack(); hjErr == nil {
		_ = conn.Close()
	}
}

func timeCell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
