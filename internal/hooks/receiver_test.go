package hooks

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

func TestCheck(t *testing.T) {
	ok := &cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyStandardWebhooks, Secret: swSecret},
		EventType: "body.type", DedupKey: "headers['webhook-id'][0]"}
	if p := Check(ok); p != nil {
		t.Fatalf("valid source: %v", p)
	}
	for name, tc := range map[string]struct {
		src   cdp.Source
		field string
	}{
		"bad expression": {cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}, EventType: "body."}, "event_type"},
		"not a string":   {cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}, DedupKey: "headers"}, "dedup_key"},
		"unknown var":    {cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone}, EventType: "event.type"}, "event_type"},
		"secret not b64": {cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyStandardWebhooks, Secret: "whsec_!!"}}, "verify.secret"},
	} {
		p := Check(&tc.src)
		if p[tc.field] == "" {
			t.Errorf("%s: problems %v, want one for %s", name, p, tc.field)
		}
	}
}

func TestDecodeAndDescribe(t *testing.T) {
	src := &cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyStandardWebhooks, Secret: swSecret}}
	r, _ := Compile(src)
	ctx := context.Background()
	h := http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}}

	in := Decode(h, nil, []byte(`{"type":"invoice.paid","data":{"id":1}}`))
	typ, dedup, problem := r.Describe(ctx, in)
	if typ != "invoice.paid" || dedup != "msg_1" || problem != "" || string(in.Properties) != `{"type":"invoice.paid","data":{"id":1}}` {
		t.Errorf("json: %q %q %q %s", typ, dedup, problem, in.Properties)
	}
	in = Decode(http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, nil, []byte("a=1&b=2&b=3"))
	if got := string(in.Properties); got != `{"a":"1","b":["2","3"]}` {
		t.Errorf("form properties = %s", got)
	}
	if typ, _, _ := r.Describe(ctx, in); typ != cdp.EventWebhook {
		t.Errorf("form type = %q", typ)
	}
	in = Decode(http.Header{"Content-Type": {"text/plain"}}, nil, []byte("hello"))
	if got := string(in.Properties); got != `{"body":"hello"}` || in.Body != "hello" {
		t.Errorf("text = %s %v", got, in.Body)
	}
	in = Decode(http.Header{}, nil, []byte{0xff, 0xfe})
	if got := string(in.Properties); got != `{"body_base64":"//4="}` {
		t.Errorf("binary = %s", got)
	}
	in = Decode(http.Header{}, nil, []byte(`[1,2]`))
	if got := string(in.Properties); got != `{"body":[1,2]}` {
		t.Errorf("array = %s", got)
	}

	src = &cdp.Source{ID: "s", Kind: cdp.SourceWebhook, Verify: &cdp.WebhookVerify{Scheme: cdp.VerifyNone},
		EventType: "query.kind[0] + '.' + body.action", DedupKey: "body.id"}
	r, p := Compile(src)
	if p != nil {
		t.Fatal(p)
	}
	in = Decode(h, url.Values{"kind": {"repo"}}, []byte(`{"action":"opened","id":77}`))
	if typ, dedup, problem := r.Describe(ctx, in); typ != "repo.opened" || dedup != "77" || problem != "" {
		t.Errorf("expressions: %q %q %q", typ, dedup, problem)
	}
	in = Decode(h, nil, []byte(`{"other":true}`))
	typ, dedup, problem = r.Describe(ctx, in)
	if typ != cdp.EventWebhook || dedup != "" || !strings.Contains(problem, "event_type:") || !strings.Contains(problem, "dedup_key:") {
		t.Errorf("failing expressions: %q %q %q", typ, dedup, problem)
	}
}
