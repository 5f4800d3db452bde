package apiserver

import (
	"errors"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
	"github.com/ballotflow/ballotflow/internal/store"
)

// Previews of the message catalogs: what voters read and hear in each language, for a
// sample voter with the longest realistic names, with each text's cost and each call's
// length. Any key may read them: they name a sample voter, never a real one.

const maxPreviewParam = 200

func (h *handlers) registerNotices(v1 *gin.RouterGroup) {
	g := v1.Group("/notices", h.authenticate(store.RoleCounty, store.RoleState, store.RoleOperator))
	g.GET("/preview", h.getNoticePreview)
	g.GET("/languages", h.getNoticeLanguages)
}

// getNoticeLanguages lists the catalogs, with whether each still needs a county's review.
func (h *handlers) getNoticeLanguages(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"languages": notices.Languages(), "reviewed": notices.ReviewedLanguages()})
}

// getNoticePreview renders the catalogs' messages: ?language= (repeatable; default every
// catalog), ?message= (an id prefix: notice.mailed, confirm, reply), ?channel= (email, sms,
// voice), ?jurisdiction= and ?help_text= to see a county's own name and help text, and
// ?county= (with ?state= for an operator's key) to see the county's own wording in force.
func (h *handlers) getNoticePreview(c *gin.Context) {
	sample := notices.LongestNames
	if c.Query("county") != "" || c.Query("state") != "" {
		o, ok := h.countyWording(c)
		if !ok {
			return
		}
		sample.Overrides = o
	}
	var filter notices.PreviewFilter
	for _, p := range []struct {
		name string
		into *string
	}{{"message", &filter.Message}, {"channel", &filter.Channel}, {"jurisdiction", &sample.Jurisdiction},
		{"help_text", &sample.HelpText}} {
		v, ok := c.GetQuery(p.name)
		if !ok {
			continue
		}
		if v == "" || utf8.RuneCountInString(v) > maxPreviewParam || !ballot.PlainText(v) {
			abort(c, http.StatusBadRequest, "invalid_field", p.name+" must be text of at most 200 characters", p.name)
			return
		}
		*p.into = v
	}
	if filter.Channel != "" && !slices.Contains(ballot.Channels, filter.Channel) {
		abort(c, http.StatusBadRequest, "invalid_field", "channel must be email, sms or voice", "channel")
		return
	}
	langs := c.QueryArray("language")
	if len(langs) == 0 {
		langs = ballot.Languages
	}
	if len(langs) > len(ballot.Languages) {
		abort(c, http.StatusBadRequest, "invalid_field", "language is given more often than there are catalogs", "language")
		return
	}
	previews := make([]notices.Preview, 0, len(langs))
	for _, l := range langs {
		code, ok := ballot.LanguageCode(l)
		if !ok {
			abort(c, http.StatusBadRequest, "invalid_field", "language must be one of "+ballot.LanguageList(), "language")
			return
		}
		previews = append(previews, notices.Previews(code, sample, filter))
	}
	c.JSON(http.StatusOK, gin.H{"previews": previews})
}

// countyWording is the wording in force of the county ?state= and ?county= name, as the key
// may see it (countyInScope); false when it answered an error.
func (h *handlers) countyWording(c *gin.Context) (*notices.Overrides, bool) {
	state, county, ok := countyInScope(c, c.Query("state"), c.Query("county"))
	if !ok {
		return nil, false
	}
	j, err := h.cfg.Store.JurisdictionGetByCounty(c.Request.Context(), state, county)
	if errors.Is(err, store.ErrNotFound) {
		abort(c, http.StatusNotFound, "not_found", "no such county in this state", "county")
		return nil, false
	}
	if err != nil {
		h.adminUnavailable(c, "read jurisdiction", err)
		return nil, false
	}
	version, list, err := h.cfg.Store.MessageOverrideList(c.Request.Context(), j.ID, 0)
	if err != nil {
		h.adminUnavailable(c, "read wording", err)
		return nil, false
	}
	return notices.NewOverrides(version, overridesOf(list)), true
}
