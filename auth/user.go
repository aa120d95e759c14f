// Package auth signs desk users in and guards every path that shows
// customer data: accounts with bcrypt password hashes or a trusted reverse
// proxy, signed session cookies, anti-forgery tokens on every write, and a
// limit on failed sign-ins.
package auth

import (
	"context"
	"net/http"

	"github.com/peakend/peakend/config"
)

// User is a signed-in desk user.
type User struct {
	Name string // sign-in name; recorded as "by" on feedback events
	Role string // config.RoleAgent or config.RoleSupervisor
}

// Supervisor reports whether u may approve or refuse recovery actions.
func (u User) Supervisor() bool { return u.Role == config.RoleSupervisor }

type userKey struct{}
type csrfKey struct{}

// WithUser returns ctx carrying u as the signed-in user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the signed-in user of a request's context.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// CSRFHeader is the request header that carries the anti-forgery token on
// writes made from script; HTML forms send it as the field CSRFField.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// withCSRF returns ctx carrying the session's anti-forgery token.
func withCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey{}, token)
}

// CSRFToken is the anti-forgery token of the request's session, to embed in
// a page ("" when nobody is signed in). Writes must send it back.
func CSRFToken(r *http.Request) string {
	t, _ := r.Context().Value(csrfKey{}).(string)
	return t
}
