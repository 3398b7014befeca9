package config

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/auth"
)

// AdminToken is an entry of admin.tokens: a bare string (an admin token)
// or {name, token, role}.
type AdminToken struct {
	// Name is what the audit trail records for the token's changes;
	// default tokens[<index>].
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// Role is viewer, operator or admin (the default).
	Role string `yaml:"role"`
}

// UnmarshalYAML reads a bare token or a mapping.
func (t *AdminToken) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Token = n.Value
		return nil
	}
	type plain AdminToken
	return n.Decode((*plain)(t))
}

// Tokens are the admin tokens (bare strings are admin tokens).
func Tokens(secrets ...string) []AdminToken {
	out := make([]AdminToken, len(secrets))
	for i, s := range secrets {
		out[i] = AdminToken{Token: s}
	}
	return out
}

// AccessTokens are admin.tokens as the access check takes them, each
// named and with its role (Validate has checked them).
func (a Admin) AccessTokens() []auth.Token {
	out := make([]auth.Token, len(a.Tokens))
	for i, t := range a.Tokens {
		role, _ := auth.ParseRole(t.Role)
		out[i] = auth.Token{Name: t.Name, Secret: t.Token, Role: role}
		if t.Name == "" {
			out[i].Name = fmt.Sprintf("tokens[%d]", i)
		}
	}
	return out
}

// DefaultAuditRetention is how long the audit trail keeps an entry
// unless admin.audit_retention says.
const DefaultAuditRetention = 90 * 24 * time.Hour

// AuditRetentionDuration is admin.audit_retention (Validate has checked
// it).
func (a Admin) AuditRetentionDuration() time.Duration {
	if d, err := time.ParseDuration(a.AuditRetention); err == nil && d > 0 {
		return d
	}
	return DefaultAuditRetention
}

func (c *Config) checkAdminTokens(add func(path, format string, args ...any)) {
	if r := c.Admin.AuditRetention; r != "" {
		if d, err := time.ParseDuration(r); err != nil || d < time.Hour {
			add("admin.audit_retention", "must be a duration of at least 1h such as 2160h (90 days), not %q", r)
		}
	}
	names, secrets := map[string]bool{}, map[string]bool{}
	for i, t := range c.Admin.Tokens {
		path := fmt.Sprintf("admin.tokens[%d]", i)
		if strings.TrimSpace(t.Token) == "" {
			add(path, "is empty")
		}
		if secrets[t.Token] {
			add(path, "repeats another token: each token names one holder")
		}
		secrets[t.Token] = true
		if _, err := auth.ParseRole(t.Role); err != nil {
			add(path+".role", "%v", err)
		}
		if t.Name != "" {
			if names[t.Name] {
				add(path+".name", "%q names another token too", t.Name)
			}
			names[t.Name] = true
		}
	}
}
