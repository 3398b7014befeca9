package hooks

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Test vectors from Customer.io's documentation.
const cioKey = "cio-test-signing-key-0001"

var cioVectors = []struct {
	ts, body, sig string
}{
	{"1613063089", `{"metric":"sent","event_id":"01E4C4CT6YDC7Y5M7FE1GWWPQJ","object_type":"email","timestamp":1613063089,"data":{"action_id":42,"broadcast_id":9,"customer_id":"0200000001","delivery_id":"RPILAgUBcRhIBqSfeiIwdIYJKxTY","identifiers":{"id":"42","email":"test@example.com","cio_id":"d9c106000001"},"recipient":"test@example.com"}}`,
		"fd32107749ba753b64e001e2c300afff63180e4f53c13830cc07b241519a2777"},
	{"1613063089", `{"metric":"subscribed","event_id":"01E4C4CT6YDC7Y5M7FE1GWWPQJ","object_type":"customer","timestamp":1613063089,"data":{"customer_id":"0200000001","email_address":"test@example.com","identifiers":{"id":"42","email":"test@example.com","cio_id":"d9c106000001"}}}`,
		"7bcd85a334d5331a8212fb77c543df3a9ba899ff626aa106040026fc66828f3e"},
	{"1585254348", "{ \"event_id\":\"01E4C8BES5XT87ZWRJFTB35YJ3\", \"object_type\":\"email\", \"metric\":\"clicked\", \"timestamp\":1585254348, \"data\":{\"action_id\":36,\"broadcast_id\":9,\"customer_id\":\"0200102\",\"identifiers\":{\"id\":\"0200102\"},\"delivery_id\":\"RPILAgABcRhIBqSp7kiPekGBIeVh\",\"href\":\"http://google.com\",\"link_id\":1,\"recipient\":\"test@example.com\",\"subject\":\"hello \u00e9\"} }\n",
		"bda0964a2c61b58246294958ab4ee52b66be8d9b1bdf74b9dedd145f283c4c88"},
}

func cioHeader(ts, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderCIOTimestamp, ts)
	h.Set(HeaderCIOSignature, sig)
	return h
}

func wantCode(t *testing.T, name string, err error, code string) {
	t.Helper()
	if cdp.ErrorCode(err) != code {
		t.Errorf("%s: err = %v, want code %q", name, err, code)
	}
}

func TestCustomerIOVectors(t *testing.T) {
	now := time.Unix(1613063089, 0)
	for i, v := range cioVectors {
		if got := SignCustomerIO(cioKey, v.ts, []byte(v.body)); got != v.sig {
			t.Errorf("vector %d: sign = %s, want %s", i+1, got, v.sig)
		}
		wantCode(t, "vector", VerifyCustomerIO(cioKey, 0, cioHeader(v.ts, v.sig), []byte(v.body), now), "")
		// Any altered byte of the body, the timestamp or the signature.
		for j := range len(v.body) {
			b := []byte(v.body)
			b[j] ^= 0x01
			if VerifyCustomerIO(cioKey, 0, cioHeader(v.ts, v.sig), b, now) == nil {
				t.Fatalf("vector %d: body altered at byte %d accepted", i+1, j)
			}
		}
		wantCode(t, "altered timestamp", VerifyCustomerIO(cioKey, 0, cioHeader(v.ts+"0", v.sig), []byte(v.body), now), cdp.EUNAUTHORIZED)
		bad := []byte(v.sig)
		bad[10] = map[bool]byte{true: 'a', false: 'b'}[bad[10] != 'a']
		wantCode(t, "altered signature", VerifyCustomerIO(cioKey, 0, cioHeader(v.ts, string(bad)), []byte(v.body), now), cdp.EUNAUTHORIZED)
		wantCode(t, "other key", VerifyCustomerIO(cioKey+"x", 0, cioHeader(v.ts, v.sig), []byte(v.body), now), cdp.EUNAUTHORIZED)
	}
	v := cioVectors[2]
	// 3-neg: HMAC over the body alone, the wrong scheme.
	wantCode(t, "3-neg", VerifyCustomerIO(cioKey, 0, cioHeader(v.ts, "b1007ba4d2c83433500d5089e9d939c846bde31dd8ac4ee8d5d235cd41c0e25c"), []byte(v.body), now), cdp.EUNAUTHORIZED)
	wantCode(t, "no headers", VerifyCustomerIO(cioKey, 0, http.Header{}, []byte(v.body), now), cdp.EUNAUTHORIZED)
	wantCode(t, "not hex", VerifyCustomerIO(cioKey, 0, cioHeader(v.ts, "zz"), []byte(v.body), now), cdp.EUNAUTHORIZED)

	// Freshness, only when a window is set.
	ts := time.Unix(1585254348, 0)
	wantCode(t, "stale, window off", VerifyCustomerIO(cioKey, 0, cioHeader(v.ts, v.sig), []byte(v.body), ts.Add(24*time.Hour)), "")
	wantCode(t, "within window", VerifyCustomerIO(cioKey, 5*time.Minute, cioHeader(v.ts, v.sig), []byte(v.body), ts.Add(4*time.Minute)), "")
	wantCode(t, "stale", VerifyCustomerIO(cioKey, 5*time.Minute, cioHeader(v.ts, v.sig), []byte(v.body), ts.Add(6*time.Minute)), cdp.EUNAUTHORIZED)
	wantCode(t, "future", VerifyCustomerIO(cioKey, 5*time.Minute, cioHeader(v.ts, v.sig), []byte(v.body), ts.Add(-6*time.Minute)), cdp.EUNAUTHORIZED)
}

// The golden vector of the Standard Webhooks spec.
const (
	swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTS     = 1614265330
	swBody   = `{"test": 2432232314}`
	swSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func swHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	return h
}

func TestStandardWebhooksVector(t *testing.T) {
	sig, err := SignStandard(swSecret, swID, swTS, []byte(swBody))
	if err != nil || sig != swSig {
		t.Fatalf("sign = %q, %v; want %q", sig, err, swSig)
	}
	now := time.Unix(swTS, 0)
	ts := "1614265330"
	wantCode(t, "vector", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID, ts, swSig), []byte(swBody), now), "")
	wantCode(t, "bare base64 secret", VerifyStandard(swSecret[6:], DefaultTolerance, swHeader(swID, ts, swSig), []byte(swBody), now), "")
	wantCode(t, "rotation: second signature matches", VerifyStandard(swSecret, DefaultTolerance,
		swHeader(swID, ts, "v1,Ymxh v1a,abc "+swSig), []byte(swBody), now), "")
	wantCode(t, "wrong version", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID, ts, "v2,"+swSig[3:]), []byte(swBody), now), cdp.EUNAUTHORIZED)
	wantCode(t, "other id", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID+"x", ts, swSig), []byte(swBody), now), cdp.EUNAUTHORIZED)
	wantCode(t, "other body", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID, ts, swSig), []byte(`{"test": 2432232315}`), now), cdp.EUNAUTHORIZED)
	wantCode(t, "missing", VerifyStandard(swSecret, DefaultTolerance, http.Header{}, []byte(swBody), now), cdp.EUNAUTHORIZED)
	wantCode(t, "4 min late", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID, ts, swSig), []byte(swBody), now.Add(4*time.Minute)), "")
	wantCode(t, "6 min late", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID, ts, swSig), []byte(swBody), now.Add(6*time.Minute)), cdp.EUNAUTHORIZED)
	wantCode(t, "6 min early", VerifyStandard(swSecret, DefaultTolerance, swHeader(swID, ts, swSig), []byte(swBody), now.Add(-6*time.Minute)), cdp.EUNAUTHORIZED)
}

func TestHMAC(t *testing.T) {
	body := []byte(`{"action":"opened"}`)
	now := time.Unix(1700000000, 0)
	for name, v := range map[string]*cdp.WebhookVerify{
		"github hex with prefix": {Scheme: cdp.VerifyHMACSHA256, Secret: "s3cret", Header: "X-Hub-Signature-256", Prefix: "sha256="},
		"base64":                 {Scheme: cdp.VerifyHMACSHA256, Secret: "s3cret", Header: "X-Signature", Encoding: "base64"},
		"timestamp template": {Scheme: cdp.VerifyHMACSHA256, Secret: "s3cret", Header: "X-Signature", TimestampHeader: "X-Timestamp",
			Content: "{timestamp}.{body}", Tolerance: 300},
	} {
		s := HMAC{v: v}
		h := http.Header{}
		h.Set("X-Timestamp", "1700000000")
		h.Set(v.Header, s.Sign(h, body))
		wantCode(t, name, s.Verify(h, body, now), "")
		wantCode(t, name+": other body", s.Verify(h, []byte(`{"action":"closed"}`), now), cdp.EUNAUTHORIZED)
		h2 := h.Clone()
		h2.Del(v.Header)
		wantCode(t, name+": no signature", s.Verify(h2, body, now), cdp.EUNAUTHORIZED)
		if v.TimestampHeader != "" {
			h3 := h.Clone()
			h3.Set("X-Timestamp", "1700000001")
			wantCode(t, name+": timestamp not the signed one", s.Verify(h3, body, now), cdp.EUNAUTHORIZED)
			wantCode(t, name+": stale", s.Verify(h, body, now.Add(10*time.Minute)), cdp.EUNAUTHORIZED)
		}
	}
	// A known GitHub-style value, computed independently:
	// printf '%s' '{"action":"opened"}' | openssl dgst -sha256 -hmac s3cret
	s := HMAC{v: &cdp.WebhookVerify{Scheme: cdp.VerifyHMACSHA256, Secret: "s3cret", Header: "X-Hub-Signature-256", Prefix: "sha256="}}
	if got := s.Sign(http.Header{}, body); got != "sha256="+opensslHex {
		t.Errorf("sign = %s, want sha256=%s", got, opensslHex)
	}
}

const opensslHex = "3ef76f8f67c2839504b3534592c6f42cabaa13dca21ed349ad19be2f2124b158"
