package hooks

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// FuzzVerifiers signs a body with each scheme and checks that the
// signature verifies, and that changing any byte of the body, the
// signature or the timestamp makes verification fail.
func FuzzVerifiers(f *testing.F) {
	f.Add([]byte(`{"event_id":"01E4","metric":"sent"}`), "key", uint16(3), uint8(0))
	f.Add([]byte(""), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", uint16(0), uint8(1))
	f.Add([]byte("\x00\xff"), "s3cret", uint16(1), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, secret string, at uint16, flip uint8) {
		now := time.Unix(1733120000, 0)
		h := http.Header{}
		var verify func(http.Header, []byte) error
		switch flip % 3 {
		case 0:
			ts := strconv.FormatInt(now.Unix(), 10)
			h.Set(HeaderCIOTimestamp, ts)
			h.Set(HeaderCIOSignature, SignCustomerIO(secret, ts, body))
			verify = func(h http.Header, b []byte) error { return VerifyCustomerIO(secret, 300*time.Second, h, b, now) }
		case 1:
			if !ValidStandardSecret(secret) {
				secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			}
			sig, err := SignStandard(secret, "msg_1", now.Unix(), body)
			if err != nil {
				t.Fatal(err)
			}
			h.Set(HeaderID, "msg_1")
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			h.Set(HeaderSignature, sig)
			verify = func(h http.Header, b []byte) error { return VerifyStandard(secret, 5*time.Minute, h, b, now) }
		default:
			s := HMAC{v: &cdp.WebhookVerify{Scheme: cdp.VerifyHMACSHA256, Secret: secret, Header: "X-Sig", Prefix: "sha256=",
				TimestampHeader: "X-Ts", Content: "{timestamp}.{body}", Tolerance: 300}}
			h.Set("X-Ts", strconv.FormatInt(now.Unix(), 10))
			h.Set("X-Sig", s.Sign(h, body))
			verify = func(h http.Header, b []byte) error { return s.Verify(h, b, now) }
		}
		if err := verify(h, body); err != nil {
			t.Fatalf("a correctly signed body is refused: %v", err)
		}
		if len(body) > 0 {
			tampered := append([]byte(nil), body...)
			tampered[int(at)%len(tampered)] ^= 1 << (flip % 8)
			if verify(h, tampered) == nil {
				t.Fatalf("a tampered body verifies: %q", tampered)
			}
		}
		for _, name := range []string{HeaderCIOSignature, HeaderSignature, "X-Sig"} {
			if v := h.Get(name); v != "" {
				bad := h.Clone()
				b := []byte(v)
				// The middle: the last base64 character has bits no
				// decoder reads, so changing them is no forgery.
				b[len(b)/2+int(at)%4] ^= 1
				bad.Set(name, string(b))
				if verify(bad, body) == nil {
					t.Fatalf("a tampered %s verifies: %q", name, b)
				}
			}
		}
		for _, name := range []string{HeaderCIOTimestamp, HeaderTimestamp, "X-Ts"} {
			if h.Get(name) != "" {
				bad := h.Clone()
				bad.Set(name, strconv.FormatInt(now.Unix()+1, 10))
				if verify(bad, body) == nil {
					t.Fatalf("a changed %s verifies", name)
				}
			}
		}
	})
}
