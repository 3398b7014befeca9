package redact

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Credential names are recognised by their fragments, in any case; names
// that merely contain a fragment but carry nothing secret are not.
func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "X-Auth-Key": true, "Cookie": true, "webhook-signature": true, "api_key": true,
		"APP_API_KEY": true, "password": true, "sig": true, "pwd": true, "client_secret": true,
		"Content-Type": false, "Idempotency-Key": false, "idempotency_key": false, "email": false, "signal": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

// Values masks every occurrence of each secret, but not values too short
// to tell from ordinary text; Bytes returns its input when nothing is
// masked.
func TestValuesAndBytes(t *testing.T) {
	got := Values("key s3cr3t-value in s3cr3t-value and ab", "s3cr3t-value", "ab", "")
	if got != "key [redacted] in [redacted] and ab" {
		t.Fatalf("Values = %q", got)
	}
	in := []byte("nothing to hide")
	if out := Bytes(in, "s3cr3t"); &out[0] != &in[0] {
		t.Fatal("Bytes copied an input with no secret in it")
	}
	if out := Bytes([]byte(`{"token":"s3cr3t"}`), "s3cr3t"); string(out) != `{"token":"[redacted]"}` {
		t.Fatalf("Bytes = %s", out)
	}
}

// Query masks credential parameters, escaped names too, and leaves the
// rest of the URI as it was.
func TestQuery(t *testing.T) {
	for in, want := range map[string]string{
		"/p":                                 "/p",
		"/p?a=1&b=2":                         "/p?a=1&b=2",
		"/p?api_key=abc&n=1":                 "/p?api_key=%5Bredacted%5D&n=1",
		"/p?n=1&access%5Ftoken=abc":          "/p?n=1&access%5Ftoken=%5Bredacted%5D",
		"/p?Signature=x&signature=y&keep=no": "/p?Signature=%5Bredacted%5D&signature=%5Bredacted%5D&keep=no",
	} {
		if got := Query(in); got != want {
			t.Errorf("Query(%q) = %q, want %q", in, got, want)
		}
	}
}

// A URL's user and password are secrets, in each escaping a request may
// carry them in.
func TestURLSecrets(t *testing.T) {
	got := URLSecrets("https://user:p%40ss%2Fw@host/x")
	for _, want := range []string{"user", "p@ss/w", "p%40ss%2Fw", "dXNlcjpwQHNzL3c="} { // the last: Basic user:p@ss/w
		if !slices.Contains(got, want) {
			t.Errorf("URLSecrets lacks %q: %q", want, got)
		}
	}
	if URLSecrets("https://host/x") != nil || URLSecrets("://bad") != nil {
		t.Fatal("secrets from a URL without userinfo")
	}
}

// JSON credential fields are masked at any depth (objects under a secret
// name are walked, not replaced), their values collected, and a document
// without one comes back unchanged.
func TestJSONFields(t *testing.T) {
	doc := json.RawMessage(`{"headers":{"Authorization":"Bearer t0k","Accept":"*/*"},"items":[{"api_key":"k3y"}],"credentials":{"user":"u"},"n":1}`)
	masked := string(JSONFields(doc))
	for _, leak := range []string{"t0k", "k3y"} {
		if strings.Contains(masked, leak) {
			t.Errorf("JSONFields left %q in %s", leak, masked)
		}
	}
	if !strings.Contains(masked, `"Accept":"*/*"`) || !strings.Contains(masked, `"user":"u"`) {
		t.Errorf("JSONFields masked too much: %s", masked)
	}
	secrets := JSONSecrets(doc)
	slices.Sort(secrets)
	if want := []string{"Bearer t0k", "k3y", "u"}; !slices.Equal(secrets, want) {
		t.Errorf("JSONSecrets = %q, want %q", secrets, want)
	}
	plain := json.RawMessage(`{"a":[1,2],"b":"c"}`)
	if got := JSONFields(plain); string(got) != string(plain) {
		t.Errorf("JSONFields changed %s to %s", plain, got)
	}
	if got := JSONFields(json.RawMessage(`not json: x`)); string(got) != "not json: x" {
		t.Errorf("JSONFields changed invalid JSON to %s", got)
	}
	if f := Fields(map[string]any{"password": "pw", "to": "a@b.c"}); f["password"] != Mask || f["to"] != "a@b.c" {
		t.Errorf("Fields = %v", f)
	}
}

// A URI's credential parameters are collected as sent and unescaped.
func TestQuerySecrets(t *testing.T) {
	got := QuerySecrets("/p?api_key=a%2Fb&x=1&token=&Signature=s1#frag")
	if want := []string{"a%2Fb", "a/b", "s1"}; !slices.Equal(got, want) {
		t.Errorf("QuerySecrets = %q, want %q", got, want)
	}
	if QuerySecrets("/p") != nil {
		t.Error("secrets from a URI without a query")
	}
}

// Strings in a JSON document that carry credential query parameters (a
// step's url) are masked, and their values collected; Body masks known
// values and credential fields of a JSON body.
func TestJSONQueriesAndBody(t *testing.T) {
	doc := json.RawMessage(`{"url":"/echo?api_key=k1&x=1","list":["https://h/p?token=t2"]}`)
	masked := string(JSONFields(doc))
	if strings.Contains(masked, "k1") || strings.Contains(masked, "t2") || !strings.Contains(masked, "x=1") {
		t.Errorf("JSONFields = %s", masked)
	}
	if got := JSONSecrets(doc); !slices.Contains(got, "k1") || !slices.Contains(got, "t2") {
		t.Errorf("JSONSecrets = %q", got)
	}
	if got := Body([]byte(`{"secret_field":"s","note":"known-value"}`), "known-value"); strings.Contains(got, `"s"`) || strings.Contains(got, "known-value") {
		t.Errorf("Body = %s", got)
	}
	if got := Body([]byte("plain known-value"), "known-value"); got != "plain [redacted]" {
		t.Errorf("Body = %s", got)
	}
}
