// Package redact decides what must never be shown or stored in clear:
// credential headers of captured requests, inbound and outbound.
package redact

import "strings"

// Mask replaces a redacted value.
const Mask = "[redacted]"

// secretWords are the header-name fragments that mark a credential.
var secretWords = []string{"authorization", "cookie", "signature", "token", "secret", "api-key", "apikey"}

// SecretHeader reports whether a header carries a credential: any
// authorization, cookie, signature, token, secret or API key header.
func SecretHeader(name string) bool {
	name = strings.ToLower(name)
	for _, s := range secretWords {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// Values replaces every occurrence of the non-empty secrets in s.
func Values(s string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) >= 4 { // shorter values would mask ordinary text
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}
