package server_test

import (
	"context"
	"testing"

	customerio "github.com/customerio/go-customerio/v3"
)

func TestCustomerIODevices(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	if err := c.AddDevice("u1", "tok123", "ios", map[string]any{"last_used": 1700000002, "app_version": "1.0"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddDevice("u1", "tok/456", "android", nil); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	p := s.profileOf(t, "id:u1")
	devs := p["devices"].([]any)
	if len(devs) != 2 {
		t.Fatalf("devices = %v", devs)
	}
	d := devs[0].(map[string]any)
	if d["id"] != "tok123" || d["platform"] != "ios" || d["last_used"] != "2023-11-14T22:13:22Z" ||
		d["attributes"].(map[string]any)["app_version"] != "1.0" {
		t.Fatalf("device = %v", d)
	}
	if err := c.DeleteDevice("u1", "tok/456"); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	if devs := s.profileOf(t, "id:u1")["devices"].([]any); len(devs) != 1 {
		t.Fatalf("after delete: %v", devs)
	}
	auth := "Basic " + basic(cioSite, cioKey)
	for body, want := range map[string]string{
		`{}`: "device is required", `{"device":{"platform":"ios"}}`: "device id is required",
		`{"device":{"id":"t","platform":"web"}}`: "device platform must be one of ios, android",
	} {
		r := s.do(t, "PUT", "/api/v1/customers/u1/devices", "application/json", body, "Authorization", auth)
		wantStatus(t, r, 400)
		if got := r.json(t)["meta"].(map[string]any)["error"]; got != want {
			t.Errorf("%s: error %q, want %q", body, got, want)
		}
	}
}

func TestCustomerIOSuppress(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	if err := c.Identify("u2", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	auth := "Basic " + basic(cioSite, cioKey)
	wantStatus(t, s.do(t, "POST", "/api/v1/customers/u2/suppress", "application/json", `{}`, "Authorization", auth), 200)
	s.settle(t)
	if p := s.profileOf(t, "id:u2"); p["suppressed"] != true {
		t.Fatalf("suppressed = %v", p["suppressed"])
	}
	wantStatus(t, s.do(t, "POST", "/api/v1/customers/u2/unsuppress", "", "", "Authorization", auth), 200)
	s.settle(t)
	if p := s.profileOf(t, "id:u2"); p["suppressed"] != false {
		t.Fatalf("suppressed after unsuppress = %v", p["suppressed"])
	}
}

func TestCustomerIOMerge(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	if err := c.Identify("u1", map[string]any{"plan": "pro"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Identify("b@example.com", map[string]any{"plan": "free", "city": "Oslo"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Track("b@example.com", "clicked", nil); err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	old := s.profileOf(t, "email:b@example.com")["id"].(string)
	err := c.MergeCustomers(customerio.Identifier{Type: customerio.IdentifierTypeID, Value: "u1"},
		customerio.Identifier{Type: customerio.IdentifierTypeEmail, Value: "b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	p := s.profileOf(t, "id:u1")
	traits := p["traits"].(map[string]any)
	if traits["plan"] != "pro" || traits["city"] != "Oslo" || p["identifiers"].(map[string]any)["email"] != "b@example.com" {
		t.Fatalf("survivor = %v", p)
	}
	if s.profileOf(t, "email:b@example.com")["id"] != p["id"] {
		t.Fatal("the secondary's email does not resolve to the survivor")
	}
	if got := s.do(t, "GET", "/admin/v1/profiles/"+old, "", "").json(t)["id"]; got != p["id"] {
		t.Fatalf("the merged id resolves to %v", got)
	}
	s.events(t, "type=clicked&profile_id="+p["id"].(string), 1)
	// Unknown people: a no-op, not an error.
	err = c.MergeCustomers(customerio.Identifier{Type: customerio.IdentifierTypeID, Value: "nobody"},
		customerio.Identifier{Type: customerio.IdentifierTypeID, Value: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	r := s.do(t, "POST", "/api/v1/merge_customers", "application/json", `{"primary":{"id":"a","email":"b"},"secondary":{"id":"c"}}`,
		"Authorization", "Basic "+basic(cioSite, cioKey))
	wantStatus(t, r, 400)
}

func TestCustomerIOSegments(t *testing.T) {
	t.Parallel()
	s, c := newCIOStack(t)
	for _, id := range []string{"s1@example.com", "s2@example.com"} {
		if err := c.Identify(id, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	err := c.AddPeopleToSegment(ctx, 7, []string{"s1@example.com", "S2@example.com", "unknown@example.com"},
		customerio.WithSegmentIDType(customerio.IdentifierTypeEmail))
	if err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	for _, e := range []string{"email:s1@example.com", "email:s2@example.com"} {
		if segs := s.profileOf(t, e)["segments"].([]any); len(segs) != 1 || segs[0] != "7" {
			t.Fatalf("%s segments = %v", e, segs)
		}
	}
	err = c.RemovePeopleFromSegment(ctx, 7, []string{"s1@example.com"}, customerio.WithSegmentIDType(customerio.IdentifierTypeEmail))
	if err != nil {
		t.Fatal(err)
	}
	s.settle(t)
	if segs := s.profileOf(t, "email:s1@example.com")["segments"].([]any); len(segs) != 0 {
		t.Fatalf("after remove: %v", segs)
	}
	auth := "Basic " + basic(cioSite, cioKey)
	wantStatus(t, s.do(t, "POST", "/api/v1/segments/7/add_customers", "application/json", `{"ids":[]}`, "Authorization", auth), 400)
	wantStatus(t, s.do(t, "POST", "/api/v1/segments/7/add_customers?id_type=phone", "application/json", `{"ids":["1"]}`, "Authorization", auth), 400)
}

func TestCustomerIODeliveryReportsAndForms(t *testing.T) {
	t.Parallel()
	s, _ := newCIOStack(t)
	auth := "Basic " + basic(cioSite, cioKey)
	wantStatus(t, s.do(t, "POST", "/api/v1/metrics", "application/json",
		`{"delivery_id":"RPILAgUBcRhIBqSfeiIwdIYJKxTY","timestamp":1613063089,"metric":"clicked","href":"https://x"}`, "Authorization", auth), 200)
	wantStatus(t, s.do(t, "POST", "/api/v1/metrics", "application/json", `{"delivery_id":"d","metric":"eaten"}`, "Authorization", auth), 400)
	wantStatus(t, s.do(t, "POST", "/api/v1/metrics", "application/json", `{"metric":"opened"}`, "Authorization", auth), 400)
	wantStatus(t, s.do(t, "POST", "/api/v1/push/events", "application/json",
		`{"delivery_id":"d2","event":"opened","device_id":"tok","timestamp":1613063089}`, "Authorization", auth), 200)
	wantStatus(t, s.do(t, "POST", "/api/v1/push/events", "application/json", `{"delivery_id":"d2","event":"lost"}`, "Authorization", auth), 400)

	// Unsubscribe needs no credentials, but JSON.
	wantStatus(t, s.do(t, "POST", "/unsubscribe/RPIL123", "application/json", `{"unsubscribe":true}`), 200)
	wantStatus(t, s.do(t, "POST", "/unsubscribe/RPIL123", "text/plain", `{"unsubscribe":true}`), 400)

	r := s.do(t, "POST", "/api/v1/forms/contact/submit", "application/json",
		`{"data":{"email":"Form@Example.com","name":"Ann"}}`, "Authorization", auth)
	if r.status != 204 {
		t.Fatalf("form submit: %d %s, want 204", r.status, r.body)
	}
	wantStatus(t, s.do(t, "POST", "/api/v1/forms/contact/submit", "application/json", `{"name":"no id"}`, "Authorization", auth), 400)
	wantStatus(t, s.do(t, "POST", "/api/v1/forms/contact/submit", "application/json", `{"email":"a@b.c","id":"1"}`, "Authorization", auth), 400)
	s.settle(t)

	if ev := s.events(t, "type=delivery_clicked", 1)[0]; ev["timestamp"] != "2021-02-11T17:04:49Z" ||
		ev["properties"].(map[string]any)["href"] != "https://x" {
		t.Fatalf("metric event = %v", ev)
	}
	s.events(t, "type=push_opened", 1)
	if ev := s.events(t, "type=delivery_unsubscribed", 1)[0]; ev["properties"].(map[string]any)["delivery_id"] != "RPIL123" {
		t.Fatalf("unsubscribe event = %v", ev)
	}
	p := s.profileOf(t, "email:form@example.com")
	if p["traits"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("form traits = %v", p["traits"])
	}
	if ev := s.events(t, "type=form_submitted&profile_id="+p["id"].(string), 1)[0]; ev["properties"].(map[string]any)["form_id"] != "contact" {
		t.Fatalf("form event = %v", ev)
	}
}
