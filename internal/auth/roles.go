package auth

import (
	"context"
	"fmt"
)

// Role is what a token may do, each role everything the one before may.
type Role int

// The roles, least first.
const (
	// Viewer reads everything but secrets, and changes nothing.
	Viewer Role = iota + 1
	// Operator is a viewer who may also act on what runs: retry, replay,
	// backfill, pause and resume destinations, cancel backfills.
	Operator
	// Admin may do everything: change the configuration kept in the
	// store, erase profiles, read secrets.
	Admin
)

var roleNames = map[Role]string{Viewer: "viewer", Operator: "operator", Admin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole reads a role's name; "" is admin (a bare token).
func ParseRole(s string) (Role, error) {
	if s == "" {
		return Admin, nil
	}
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role must be viewer, operator or admin, not %q", s)
}

// Token is an admin token: its secret (sent as a bearer token, or
// exchanged for a console session), the name the audit trail records,
// and its role.
type Token struct {
	Name   string
	Secret string
	Role   Role
}

// Principal is who a request acts as.
type Principal struct {
	// Name is the token's name; "loopback" while no tokens are
	// configured and loopback clients are served.
	Name string
	Role Role
	// Session is set when the request came with a console sign-in rather
	// than the token itself.
	Session bool
}

// Actor names the principal in the audit trail: token:<name>,
// console:<name> (a sign-in opened with the token) or loopback.
func (p Principal) Actor() string {
	switch {
	case p.Name == loopback:
		return loopback
	case p.Session:
		return "console:" + p.Name
	}
	return "token:" + p.Name
}

// Can reports whether the principal has role need.
func (p Principal) Can(need Role) bool { return p.Role >= need }

const loopback = "loopback"

type principalKey struct{}

// WithPrincipal returns ctx acting as p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns who ctx acts as (the zero Principal, which may do
// nothing, outside an admitted request).
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
