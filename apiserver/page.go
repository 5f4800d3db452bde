package apiserver

import (
	"embed"
	"io/fs"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

// The portal's web page: static HTML, CSS and JavaScript embedded in the binary, with no
// build step. / is the page; its files are under /static/, among them base.css and
// favicon.svg, which the operator dashboard links too.

//go:embed web
var webFiles embed.FS

func (h *handlers) registerPage(r *gin.Engine) {
	files, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	page := r.Group("", securityHeaders)
	page.GET("/", func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/html; charset=utf-8", index)
	})
	page.GET("/static/*file", func(c *gin.Context) {
		name := path.Clean(c.Param("file"))[1:]
		if name == "" || name == "index.html" {
			abort(c, http.StatusNotFound, "not_found", "no such file", "")
			return
		}
		if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
			abort(c, http.StatusNotFound, "not_found", "no such file", "")
			return
		}
		c.Header("Cache-Control", "no-cache")
		c.FileFromFS(name, http.FS(files))
	})
}
