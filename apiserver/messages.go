package apiserver

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// A county's own wording of its notices (issue 14): a county key overrides the messages of
// its own county, a state key those of its state's counties, an operator any, one message
// in one language at a time. Every text is checked as the catalogs are before anything is
// stored (notices.CheckOverride); a refusal is a 422 naming the field and the rule, and
// neither the answer nor the log repeats the text. Every change and every revert is a new
// version with its audit row (store.MessageVersionSave).
//
//	GET    /v1/jurisdictions/{jurisdiction}/messages                        the overrides in force
//	GET    /v1/jurisdictions/{jurisdiction}/messages/{message_id}/{language} one, with the catalog's text and its history
//	PUT    /v1/jurisdictions/{jurisdiction}/messages/{message_id}/{language} {"text": "...", "dry_run": false}
//	DELETE /v1/jurisdictions/{jurisdiction}/messages/{message_id}/{language} back to the catalog's text

// maxMessageBody bounds a message's body: a text of notices.MaxOverrideRunes characters,
// each escaped as JSON at most allows.
const maxMessageBody = 16 << 10

const jurisdictionContext = "jurisdiction"

func (h *handlers) registerMessages(v1 *gin.RouterGroup) {
	g := v1.Group("/jurisdictions/:jurisdiction/messages",
		h.authenticate(store.RoleCounty, store.RoleState, store.RoleOperator), h.jurisdictionInScope)
	g.GET("", h.listMessages)
	g.GET("/:message_id/:language", h.getMessage)
	g.PUT("/:message_id/:language", h.putMessage)
	g.DELETE("/:message_id/:language", h.deleteMessage)
}

// jurisdictionInScope admits a request about the path's jurisdiction ("co-denver") when
// the key may act on it, and finds it: a county key only its own, a state key its state's.
func (h *handlers) jurisdictionInScope(c *gin.Context) {
	id := c.Param("jurisdiction")
	state, county, ok := strings.Cut(id, "-")
	if !ok || !jurisdictionIDShape(id) || state == "" || county == "" {
		abort(c, http.StatusBadRequest, "invalid_field", "the jurisdiction is its id, such as co-denver (GET /v1/jurisdictions)",
			"jurisdiction")
		return
	}
	key := apiKey(c)
	switch key.Role {
	case store.RoleCounty:
		if id != store.JurisdictionID(key.State, key.County) {
			abort(c, http.StatusForbidden, "other_county", "a county key changes only its own county's wording", "jurisdiction")
			return
		}
	case store.RoleState:
		if !strings.EqualFold(state, key.State) {
			abort(c, http.StatusForbidden, "other_state", "a "+key.State+" key changes only the wording of "+key.State+"'s counties",
				"jurisdiction")
			return
		}
	}
	j, err := h.cfg.Store.JurisdictionGetByCounty(c.Request.Context(), strings.ToUpper(state), county)
	if errors.Is(err, store.ErrNotFound) || (err == nil && j.ID != id) {
		abort(c, http.StatusNotFound, "not_found", "no such jurisdiction", "jurisdiction")
		return
	}
	if err != nil {
		h.adminUnavailable(c, "read jurisdiction", err)
		return
	}
	c.Set(jurisdictionContext, j)
	c.Next()
}

// jurisdictionIDShape reports whether id looks like a jurisdiction's id: lowercase
// letters, digits, - and _, at most 80 of them.
func jurisdictionIDShape(id string) bool {
	if len(id) > 80 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func jurisdictionOf(c *gin.Context) store.Jurisdiction {
	return c.MustGet(jurisdictionContext).(store.Jurisdiction)
}

// messageVersionJSON is one version of a county's wording; text is null for a revert.
type messageVersionJSON struct {
	MessageID string  `json:"message_id"`
	Language  string  `json:"language"`
	Version   int64   `json:"version"`
	Text      *string `json:"text"`
	Actor     string  `json:"actor"`
	CreatedAt string  `json:"created_at"`
}

func messageVersionView(v store.MessageVersion) messageVersionJSON {
	out := messageVersionJSON{MessageID: v.MessageID, Language: v.Language, Version: v.Version, Actor: v.Actor,
		CreatedAt: v.CreatedAt.UTC().Format(time.RFC3339)}
	if !v.Reverted() {
		text := v.Text
		out.Text = &text
	}
	return out
}

// listMessages answers the county's overrides in force and the version its wording is at.
func (h *handlers) listMessages(c *gin.Context) {
	j := jurisdictionOf(c)
	version, list, err := h.cfg.Store.MessageOverrideList(c.Request.Context(), j.ID, 0)
	if err != nil {
		h.adminUnavailable(c, "list wording", err)
		return
	}
	out := make([]messageVersionJSON, len(list))
	for i, v := range list {
		out[i] = messageVersionView(v)
	}
	c.JSON(http.StatusOK, gin.H{"jurisdiction": j.ID, "version": version, "overrides": out})
}

// messageInPath is the path's message id and language, or a 4xx naming the one at fault.
func messageInPath(c *gin.Context) (id, lang string, ok bool) {
	id = c.Param("message_id")
	if !notices.Overridable(id) {
		abort(c, http.StatusNotFound, notices.CodeUnknownMessage,
			"no notice message a county can override has this id (see GET /v1/notices/preview for the ids)", "message_id")
		return "", "", false
	}
	lang, known := ballot.LanguageCode(c.Param("language"))
	if !known {
		abort(c, http.StatusNotFound, notices.CodeUnknownLanguage, "language must be one of "+ballot.LanguageList(), "language")
		return "", "", false
	}
	return id, lang, true
}

// getMessage answers one message: the catalog's text, the county's in force (null for
// none) and its history, newest first.
func (h *handlers) getMessage(c *gin.Context) {
	j := jurisdictionOf(c)
	id, lang, ok := messageInPath(c)
	if !ok {
		return
	}
	history, err := h.cfg.Store.MessageVersionList(c.Request.Context(), j.ID, id, lang)
	if err != nil {
		h.adminUnavailable(c, "read wording history", err)
		return
	}
	out := gin.H{"jurisdiction": j.ID, "message_id": id, "language": lang, "override": nil,
		"history": make([]messageVersionJSON, 0, len(history))}
	if text, ok := notices.CatalogText(lang, id); ok {
		out["default"] = text
	}
	for i, v := range history {
		view := messageVersionView(v)
		if i == 0 && !v.Reverted() {
			out["override"] = view
		}
		out["history"] = append(out["history"].([]messageVersionJSON), view)
	}
	c.JSON(http.StatusOK, out)
}

// messageBody is a PUT's body: the county's text, and dry_run to check it and see it
// rendered without saving it.
type messageBody struct {
	Text   string `json:"text"`
	DryRun bool   `json:"dry_run"`
}

// putMessage checks a county's text and saves it as a new version: 201 for a message that
// had no override, 200 otherwise ("unchanged" when it is the text in force). With dry_run,
// it only checks and previews it.
func (h *handlers) putMessage(c *gin.Context) {
	j := jurisdictionOf(c)
	id, lang, ok := messageInPath(c)
	if !ok {
		return
	}
	var body messageBody
	if !bindJSON(c, maxMessageBody, &body) {
		return
	}
	if err := notices.CheckOverride(lang, id, body.Text); err != nil {
		var te *notices.TextError
		if !errors.As(err, &te) {
			h.adminUnavailable(c, "check wording", err)
			return
		}
		// The message names the rule; the text is neither answered back nor logged.
		abort(c, http.StatusUnprocessableEntity, te.Code, id+" in "+lang+": "+te.Message, "text")
		return
	}
	if body.DryRun {
		c.JSON(http.StatusOK, gin.H{"result": "valid", "saved": false,
			"preview": h.previewWith(c, j, notices.Override{MessageID: id, Language: lang, Text: body.Text})})
		return
	}
	h.saveMessage(c, j, store.MessageVersion{JurisdictionID: j.ID, MessageID: id, Language: lang, Text: body.Text})
}

// deleteMessage puts the catalog's text back, as a new version; "unchanged" when the
// county had no override of it.
func (h *handlers) deleteMessage(c *gin.Context) {
	j := jurisdictionOf(c)
	id, lang, ok := messageInPath(c)
	if !ok {
		return
	}
	h.saveMessage(c, j, store.MessageVersion{JurisdictionID: j.ID, MessageID: id, Language: lang})
}

func (h *handlers) saveMessage(c *gin.Context, j store.Jurisdiction, v store.MessageVersion) {
	saved, outcome, err := h.cfg.Store.MessageVersionSave(c.Request.Context(), v, apiKey(c).Actor())
	switch {
	case errors.Is(err, store.ErrNotFound):
		abort(c, http.StatusNotFound, "not_found", "no such jurisdiction", "jurisdiction")
		return
	case errors.Is(err, store.ErrMessageVersionInvalid):
		abort(c, http.StatusUnprocessableEntity, notices.CodeInvalidText, "the text is out of bounds", "text")
		return
	case err != nil:
		h.adminUnavailable(c, "save wording", err)
		return
	}
	answer := gin.H{"result": outcome, "jurisdiction": j.ID}
	if outcome != store.Unchanged {
		answer["version"] = messageVersionView(saved)
	}
	c.JSON(createdOrOK(outcome), answer)
}

// previewWith renders the notice of a proposed override, with the county's other overrides
// in force, for the longest realistic names.
func (h *handlers) previewWith(c *gin.Context, j store.Jurisdiction, proposed notices.Override) notices.Preview {
	_, list, err := h.cfg.Store.MessageOverrideList(c.Request.Context(), j.ID, 0)
	if err != nil {
		h.cfg.Logger.Warn("preview without the county's other overrides", "jurisdiction", j.ID, "error", err)
	}
	texts := []notices.Override{proposed}
	for _, v := range list {
		if v.MessageID != proposed.MessageID || v.Language != proposed.Language {
			texts = append(texts, notices.Override{MessageID: v.MessageID, Language: v.Language, Text: v.Text})
		}
	}
	sample := notices.LongestNames
	sample.Overrides = notices.NewOverrides(0, texts)
	return notices.Previews(proposed.Language, sample, notices.PreviewFilter{Message: noticeOf(proposed.MessageID)})
}

// noticeOf is the preview filter of a message's notice: notice.mailed for
// notice.mailed.sms; every notice for notice.no_reason.
func noticeOf(id string) string {
	parts := strings.Split(id, ".")
	if len(parts) < 3 {
		return "notice."
	}
	return parts[0] + "." + parts[1] + "."
}

// overridesOf turns stored versions into the texts notices renders with.
func overridesOf(list []store.MessageVersion) []notices.Override {
	out := make([]notices.Override, 0, len(list))
	for _, v := range list {
		out = append(out, notices.Override{MessageID: v.MessageID, Language: v.Language, Text: v.Text})
	}
	return out
}
