package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/fileimport"
	"github.com/ballotflow/ballotflow/internal/roll"
	"github.com/ballotflow/ballotflow/internal/store"
)

// TestAReaderPanicIsA422ThatNamesTheLineNotTheRow: a panic in a file's reader goroutine
// comes back as the load's error (see fileimport.ReadPanicError); the answer says where reading
// stopped and the log has the stack, and neither has the row.
func TestAReaderPanicIsA422ThatNamesTheLineNotTheRow(t *testing.T) {
	var logs bytes.Buffer
	h := &handlers{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}}
	panicking := func(context.Context, *store.Store, io.Reader, roll.Options) (roll.Result, error) {
		return roll.Result{Result: fileimport.Result{LastLine: 1000}}, func() (err error) {
			defer func() { err = fileimport.NewReadPanicError(recover(), 1234) }()
			var voters map[string]int
			voters["Maria Garcia"]++
			return nil
		}()
	}
	r := gin.New()
	r.POST("/load", func(c *gin.Context) {
		c.Set(keyContext, store.APIKey{Prefix: "bf_test", Role: store.RoleState, State: "CO"})
		h.importFile(c, panicking)
	})
	req := httptest.NewRequest(http.MethodPost, "/load", strings.NewReader("voter_id\nMaria Garcia\n"))
	req.Header.Set("Content-Type", "text/csv")
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)

	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	var body struct{ Error apiError }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "unreadable_row", body.Error.Code)
	require.Contains(t, body.Error.Message, "after line 1234")
	require.Contains(t, body.Error.Message, "up to line 1000 are loaded")
	require.Contains(t, logs.String(), "after_line=1234")
	require.Contains(t, logs.String(), "nil map")
	require.NotContains(t, rec.Body.String()+logs.String(), "Maria")
}
