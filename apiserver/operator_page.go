package apiserver

import (
	"io/fs"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

// The operator dashboard: static HTML, CSS and JavaScript (web/operator/, embedded with the
// portal's files), at /operator/. It also links the portal's /static/base.css (the look both
// pages share) and /static/favicon.svg, which its CSP's 'self' allows. The page holds no data
// of its own: the operator signs in with the county's identity provider (when
// OIDC_OPERATOR_CLIENT_ID is set; see operator_signin.go) or pastes an operator key, and the
// page calls the operator API with the access token or key, kept in the tab's
// sessionStorage only.

func (h *handlers) registerOperatorPage(r *gin.Engine) {
	files, err := fs.Sub(webFiles, "web/operator")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	// /operator redirects here (Gin's trailing-slash redirect).
	r.GET("/operator/*file", securityHeaders, noStore, func(c *gin.Context) {
		name := path.Clean(c.Param("file"))[1:]
		if name == signInConfigFile {
			h.signInConfig(c)
			return
		}
		if name == "" || name == "index.html" {
			h.operatorPageCSP(c)
			c.Data(http.StatusOK, "text/html; charset=utf-8", index)
			return
		}
		if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
			abort(c, http.StatusNotFound, "not_found", "no such file", "")
			return
		}
		c.FileFromFS(name, http.FS(files))
	})
}
