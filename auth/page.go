package auth

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
)

//go:embed login.html
var loginHTML string

var loginTmpl = template.Must(template.New("login").Parse(loginHTML))

// loginView is what the sign-in page shows.
type loginView struct {
	Next     string
	User     string
	Error    string
	Token    string
	Password bool // accounts exist: show the form
	Proxy    bool // a proxy signs users in
}

// render writes the sign-in page with a fresh form token.
func (a *Auth) render(w http.ResponseWriter, r *http.Request, code int, v loginView) {
	v.Password = len(a.accounts) > 0
	v.Proxy = a.proxyHeader != ""
	if v.Password {
		v.Token = a.loginToken(a.loginNonce(w, r, false))
	}
	var b bytes.Buffer
	if err := loginTmpl.Execute(&b, v); err != nil {
		a.log.Error("login page", "err", err)
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	PageHeaders(w.Header(), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// PageHeaders sets the headers of an HTML page that shows or acts on
// customer data: not cached, never framed by another site (a page's own
// meta tag cannot forbid framing, so a claim or an approval could be
// clickjacked), no type sniffing, no referrer to other sites, and csp as
// its Content-Security-Policy (which should say frame-ancestors 'none').
func PageHeaders(h http.Header, csp string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", csp)
}
