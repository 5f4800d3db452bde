package apiserver

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/notices"
)

// The portal page's words come from the message catalogs, as notices' do: the page asks for
// the languages there are and for the texts of the one the voter picks.

// getPortalLanguages lists the languages of the page: code, own name, and whether a county
// has reviewed the catalog yet.
func (h *handlers) getPortalLanguages(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"languages": notices.Languages()})
}

// getPortalTexts answers the page's texts in the language of the path; a language without
// a catalog is a 404, so the page keeps the one it has.
func (h *handlers) getPortalTexts(c *gin.Context) {
	code, ok := ballot.LanguageCode(c.Param("lang"))
	if !ok {
		abort(c, http.StatusNotFound, "not_found", "no texts in this language; languages are "+ballot.LanguageList(), "")
		return
	}
	texts, lang := notices.PortalTexts(code)
	c.JSON(http.StatusOK, gin.H{"language": lang, "texts": texts})
}

// portalScript is /i18n.js, which the page loads before app.js: the languages and the
// English texts, so that the page has its words before its first keystroke; the other
// languages' texts come from getPortalTexts when a voter picks one.
func portalScript() gin.HandlerFunc {
	texts, _ := notices.PortalTexts(ballot.LanguageEnglish)
	boot, err := json.Marshal(gin.H{"languages": notices.Languages(), "texts": gin.H{ballot.LanguageEnglish: texts}})
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	script := []byte("window.ballotflowI18n = " + string(boot) + ";\n")
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", script)
	}
}
