package devidp

import (
	"context"
	"crypto/subtle"
	"html/template"
	"net/http"
)

const (
	loginPath         = "/login"
	loginRequestParam = "authRequestID"
	maxLoginFormBytes = 4 << 10
)

// loginForm is the page a browser signs in on: GET shows the form, POST checks the demo
// user's password and sends the browser back through the provider's callback.
type loginForm struct {
	storage  *storage
	callback func(ctx context.Context, requestID string) string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (development provider)</title>
</head>
<body>
<main>
<h1>Sign in</h1>
<p><strong>Development OpenID Provider.</strong> Demo users only: <code>operator</code> (in the
operator group) and <code>clerk</code> (not); each one's password is its name.</p>
{{if .Error}}<p id="login-error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="username">Username</label><br><input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button id="sign-in" type="submit">Sign in</button></p>
</form>
</main>
</body>
</html>
`))

func (l *loginForm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// No form-action: browsers apply it to the redirects after the post too, and those lead
	// to the client's own origin.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		l.render(w, http.StatusOK, r.URL.Query().Get(loginRequestParam), "")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxLoginFormBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "the form could not be read", http.StatusBadRequest)
			return
		}
		id := r.PostForm.Get("id")
		u, ok := userByName(r.PostForm.Get("username"))
		if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.PostForm.Get("password"))) != 1 {
			l.render(w, http.StatusUnauthorized, id, "Unknown user or wrong password.")
			return
		}
		if err := l.storage.signIn(id, u); err != nil {
			l.render(w, http.StatusBadRequest, id, "This sign-in has expired; start again from the application.")
			return
		}
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *loginForm) render(w http.ResponseWriter, status int, id, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, struct{ ID, Error string }{id, message})
}
