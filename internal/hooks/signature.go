// Package hooks verifies and signs webhooks in the schemes Switchyard
// receives and sends (Customer.io's v0, Standard Webhooks, plain
// HMAC-SHA256), and compiles a webhook source's expressions. It knows
// nothing of HTTP serving: the receiving API and `switchyard send` share it.
package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Header names of the schemes.
const (
	HeaderCIOSignature = "X-CIO-Signature"
	HeaderCIOTimestamp = "X-CIO-Timestamp"
	HeaderCIODelivery  = "X-CIO-Delivery-ID"
	HeaderID           = "Webhook-Id"
	HeaderTimestamp    = "Webhook-Timestamp"
	HeaderSignature    = "Webhook-Signature"
)

// DefaultTolerance is Standard Webhooks' accepted clock difference.
const DefaultTolerance = 5 * time.Minute

func unauthorized(format string, args ...any) error {
	return cdp.Errorf(cdp.EUNAUTHORIZED, format, args...)
}

// SignCustomerIO returns Customer.io's X-CIO-Signature for a body sent at
// timestamp ts: hex(HMAC-SHA256(key, "v0:" + ts + ":" + body))
// (Customer.io's documentation).
func SignCustomerIO(key, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyCustomerIO checks a Customer.io reporting webhook's signature over
// the raw body, in constant time, and, when tolerance is positive, that
// its timestamp is within tolerance of now.
func VerifyCustomerIO(key string, tolerance time.Duration, h http.Header, body []byte, now time.Time) error {
	ts, sig := h.Get(HeaderCIOTimestamp), h.Get(HeaderCIOSignature)
	if ts == "" || sig == "" {
		return unauthorized("the request has no %s or %s header", HeaderCIOSignature, HeaderCIOTimestamp)
	}
	got, err := hex.DecodeString(strings.TrimSpace(sig))
	want, _ := hex.DecodeString(SignCustomerIO(key, ts, body))
	if err != nil || !hmac.Equal(got, want) {
		return unauthorized("the %s header does not match the body", HeaderCIOSignature)
	}
	return fresh(ts, tolerance, now)
}

// fresh checks a Unix-seconds timestamp against now, if tolerance > 0.
func fresh(ts string, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		return nil
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return unauthorized("the timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return unauthorized("the timestamp is %s away from the server's clock, more than the %s allowed", d.Round(time.Second).Abs(), tolerance)
	}
	return nil
}

// standardKey decodes a Standard Webhooks secret: whsec_ + base64 of the
// key bytes; a secret without the prefix is decoded the same way.
func standardKey(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
}

// ValidStandardSecret reports whether secret decodes to a key.
func ValidStandardSecret(secret string) bool {
	k, err := standardKey(secret)
	return err == nil && len(k) > 0
}

func standardSignature(key []byte, id string, ts int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return mac.Sum(nil)
}

// SignStandard returns the Standard Webhooks webhook-signature value
// ("v1,<base64>") for a message (the webhook specs).
func SignStandard(secret, id string, ts int64, body []byte) (string, error) {
	key, err := standardKey(secret)
	if err != nil {
		return "", cdp.Errorf(cdp.EINVALID, "the secret is not whsec_ followed by base64: %v", err)
	}
	return "v1," + base64.StdEncoding.EncodeToString(standardSignature(key, id, ts, body)), nil
}

// VerifyStandard checks the Standard Webhooks headers: any of the
// space-separated v1 signatures may match (key rotation), and the
// timestamp must be within tolerance of now.
func VerifyStandard(secret string, tolerance time.Duration, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return unauthorized("the request has no webhook-id, webhook-timestamp or webhook-signature header")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return unauthorized("webhook-timestamp %q is not Unix seconds", ts)
	}
	key, err := standardKey(secret)
	if err != nil {
		return cdp.Errorf(cdp.EINTERNAL, "the source's secret is not valid base64")
	}
	want := standardSignature(key, id, secs, body)
	for sig := range strings.FieldsSeq(sigs) {
		version, enc, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err == nil && hmac.Equal(got, want) {
			return fresh(ts, max(tolerance, time.Second), now)
		}
	}
	return unauthorized("no webhook-signature matches the body")
}

// HMAC is the hmac_sha256 scheme of one source.
type HMAC struct {
	v *cdp.WebhookVerify
}

// content renders what the scheme signs.
func (s HMAC) content(h http.Header, body []byte) []byte {
	tmpl := s.v.Content
	if tmpl == "" {
		return body
	}
	before, after, _ := strings.Cut(tmpl, "{body}")
	ts := h.Get(s.v.TimestampHeader)
	out := []byte(strings.ReplaceAll(before, "{timestamp}", ts))
	out = append(out, body...)
	return append(out, strings.ReplaceAll(after, "{timestamp}", ts)...)
}

// Sign returns the header value for body (with the prefix).
func (s HMAC) Sign(h http.Header, body []byte) string {
	mac := hmac.New(sha256.New, []byte(s.v.Secret))
	mac.Write(s.content(h, body))
	sum := mac.Sum(nil)
	if s.v.Encoding == "base64" {
		return s.v.Prefix + base64.StdEncoding.EncodeToString(sum)
	}
	return s.v.Prefix + hex.EncodeToString(sum)
}

// Verify checks the signature header in constant time, and the timestamp
// header's freshness when a tolerance is set.
func (s HMAC) Verify(h http.Header, body []byte, now time.Time) error {
	sig := strings.TrimSpace(h.Get(s.v.Header))
	if sig == "" {
		return unauthorized("the request has no %s header", s.v.Header)
	}
	if s.v.TimestampHeader != "" && h.Get(s.v.TimestampHeader) == "" {
		return unauthorized("the request has no %s header", s.v.TimestampHeader)
	}
	want := s.Sign(h, body)
	if s.v.Encoding != "base64" { // hex digits in either case
		sig, want = strings.ToLower(sig), strings.ToLower(want)
	}
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return unauthorized("the %s header does not match the body", s.v.Header)
	}
	return fresh(h.Get(s.v.TimestampHeader), time.Duration(s.v.Tolerance)*time.Second, now)
}

// SetStandard sets the Standard Webhooks headers of a delivery: its id,
// its timestamp and, when secret is set, the signature of body.
func SetStandard(h http.Header, secret, id string, now time.Time, body []byte) error {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if secret == "" {
		return nil
	}
	sig, err := SignStandard(secret, id, now.Unix(), body)
	if err != nil {
		return err
	}
	h.Set(HeaderSignature, sig)
	return nil
}

// Sign returns the headers a provider would send with body to src at now:
// Customer.io's signature for a customerio_webhook source, the source's
// scheme for a webhook source (id is the Standard Webhooks webhook-id).
func Sign(src *cdp.Source, body []byte, now time.Time, id string) (http.Header, error) {
	h := http.Header{}
	ts := strconv.FormatInt(now.Unix(), 10)
	switch {
	case src.Kind == cdp.SourceCustomerIOWebhook:
		h.Set(HeaderCIOTimestamp, ts)
		h.Set(HeaderCIOSignature, SignCustomerIO(src.SigningKey, ts, body))
	case src.Kind != cdp.SourceWebhook || src.Verify == nil:
		return nil, cdp.Errorf(cdp.EINVALID, "source %s (kind %s) does not receive webhooks", src.ID, src.Kind)
	case src.Verify.Scheme == cdp.VerifyStandardWebhooks:
		if err := SetStandard(h, src.Verify.Secret, id, now, body); err != nil {
			return nil, err
		}
	case src.Verify.Scheme == cdp.VerifyHMACSHA256:
		if src.Verify.TimestampHeader != "" {
			h.Set(src.Verify.TimestampHeader, ts)
		}
		h.Set(src.Verify.Header, HMAC{v: src.Verify}.Sign(h, body))
	}
	return h, nil
}
