package customerio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cio "github.com/customerio/go-customerio/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// seen is a request as the stand-in received it, reduced to what
// Customer.io reads: method, escaped path, credentials and JSON body.
type seen struct {
	Method, Path, User, Pass, Bearer, ContentType string
	Body                                          any
}

// standIn is a local server standing in for Customer.io's Track and App
// APIs: it records each request and answers as Customer.io does.
func standIn(t *testing.T) (*httptest.Server, func() []seen) {
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{Method: r.Method, Path: r.URL.EscapedPath(), ContentType: r.Header.Get("Content-Type")}
		auth := r.Header.Get("Authorization")
		if enc, ok := strings.CutPrefix(auth, "Basic "); ok {
			for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				if raw, err := e.DecodeString(enc); err == nil {
					s.User, s.Pass, _ = strings.Cut(string(raw), ":")
					break
				}
			}
		}
		s.Bearer, _ = strings.CutPrefix(auth, "Bearer ")
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 && string(b) != "null" {
			if err := json.Unmarshal(b, &s.Body); err != nil {
				t.Errorf("%s %s: body %q is not JSON", r.Method, s.Path, b)
			}
		}
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/send/email" {
			w.Write([]byte(`{"delivery_id":"dGVzdA==","queued_at":1700000000}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// The requests the actions build are the ones Customer.io's own Go client
// sends for the same calls.
func TestRequestsMatchTheOfficialClient(t *testing.T) {
	srv, take := standIn(t)
	ctx := context.Background()
	d := Workspace{SiteID: "site_1", APIKey: "key_1", AppAPIKey: "app_key_1", TrackURL: srv.URL, AppURL: srv.URL + "/"}
	dest := httpclient.Target{ID: "cio", AllowPrivateNetwork: true, Secrets: d.Secrets()}
	client := httpclient.New(nil)
	send := func(req httpclient.Request, err error) *httpclient.Attempt {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		a, err := client.Do(ctx, dest, 1, req)
		if err != nil || a.Class != httpclient.Succeeded {
			t.Fatalf("%+v %v", a, err)
		}
		return a
	}
	official := cio.NewTrackClient("site_1", "key_1", cio.WithURL(srv.URL))
	app := cio.NewAPIClient("app_key_1", cio.WithURL(srv.URL))
	data := map[string]any{"price": 23.45, "product": "socks"}
	at := time.Unix(1700000000, 0)

	for name, tc := range map[string]struct {
		theirs func() error
		ours   func()
	}{
		"track event": {
			func() error {
				return official.TrackCtx(ctx, "user/1 a", "purchase", data, cio.WithEventID("01HX"), cio.WithEventTimestamp(at))
			},
			func() {
				send(TrackEvent(d, Event{Identifier: "user/1 a", Name: "purchase", Data: data, ID: "01HX", Timestamp: at.Unix()}))
			},
		},
		"anonymous event": {
			func() error { return official.TrackAnonymousCtx(ctx, "anon-1", "watched_video", data) },
			func() { send(TrackEvent(d, Event{AnonymousID: "anon-1", Name: "watched_video", Data: data})) },
		},
		"identify": {
			func() error { return official.IdentifyCtx(ctx, "a@example.com", map[string]any{"plan": "pro", "n": 3}) },
			func() { send(Identify(d, "a@example.com", map[string]any{"plan": "pro", "n": 3})) },
		},
		"delete person": {
			func() error { return official.DeleteCtx(ctx, "cio_abc123") },
			func() { send(DeletePerson(d, "cio_abc123")) },
		},
		"send email": {
			func() error {
				_, err := app.SendEmail(ctx, &cio.SendEmailRequest{TransactionalMessageID: "3", To: "Sarah <sarah@example.io>",
					Identifiers: map[string]string{"id": "u1"}, MessageData: map[string]any{"name": "x"}, Subject: "Hi"})
				return err
			},
			func() {
				a := send(SendEmail(d, Email{TransactionalMessageID: "3", To: "Sarah <sarah@example.io>",
					Identifiers: map[string]string{"id": "u1"}, MessageData: map[string]any{"name": "x"}, Fields: map[string]any{"subject": "Hi"}}))
				out, err := SendEmailOutput(a.Body)
				if err != nil || out["delivery_id"] != "dGVzdA==" || out["queued_at"] != int64(1700000000) {
					t.Errorf("output %v, %v", out, err)
				}
			},
		},
	} {
		if err := tc.theirs(); err != nil {
			t.Fatalf("%s: the official client: %v", name, err)
		}
		want := take()
		tc.ours()
		got := take()
		for i := range got { // ours always names its content type; go-customerio omits it on DELETE
			if got[i].Method == "DELETE" {
				got[i].ContentType = want[i].ContentType
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-official +ours)\n%s", name, diff)
		}
	}
}

func TestInvalidInputs(t *testing.T) {
	d := Workspace{SiteID: "s", APIKey: "k"}
	for name, err := range map[string]error{
		"no name":        second(TrackEvent(d, Event{Identifier: "u"})),
		"no identifier":  second(Identify(d, " ", nil)),
		"no credentials": second(DeletePerson(Workspace{}, "u")),
		"no app key":     second(SendEmail(d, Email{TransactionalMessageID: 1, Identifiers: map[string]string{"id": "u"}})),
		"two identifiers": second(SendEmail(Workspace{AppAPIKey: "a"}, Email{TransactionalMessageID: 1,
			Identifiers: map[string]string{"id": "u", "email": "e"}})),
		"no template": second(SendEmail(Workspace{AppAPIKey: "a"}, Email{Identifiers: map[string]string{"id": "u"}})),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p := (Workspace{Region: "mars", TrackURL: "ftp://x"}).Validate(); p["region"] == "" || p["track_url"] == "" {
		t.Errorf("Validate = %v", p)
	}
	if p := (Workspace{Region: "EU"}).Validate(); p != nil || (Workspace{Region: "eu"}).trackURL() != "https://track-eu.customer.io" {
		t.Errorf("eu: %v", p)
	}
	if got := ErrorMessage([]byte(`{"meta":{"error":"'from' address domain has not been verified"}}`)); got != "'from' address domain has not been verified" {
		t.Errorf("ErrorMessage = %q", got)
	}
}

func second(_ httpclient.Request, err error) error { return err }

// A 207's errors fail the items they name and no others; an answer
// naming items out of range, or not JSON, or not a 207, fails none.
func TestSplitBatch(t *testing.T) {
	r := splitBatch(207, []byte(`{"errors":[{"batch_index":1,"reason":"invalid","field":"name","message":"required"},{"batch_index":9},{"reason":"x"}]}`), 3)
	if len(r) != 3 || r[0].Outcome != httpclient.Succeeded || r[1].Outcome != httpclient.Permanent || r[2].Outcome != httpclient.Succeeded ||
		!strings.Contains(r[1].Error, "invalid name required") {
		t.Fatalf("results %+v", r)
	}
	for _, body := range []string{`nope`, `{"errors":"x"}`} {
		if r := splitBatch(207, []byte(body), 3); r != nil {
			t.Fatalf("%s: %+v", body, r)
		}
	}
	if r := splitBatch(200, []byte(`{"errors":[{"batch_index":0}]}`), 1); r != nil {
		t.Fatalf("a 200: %+v", r)
	}
}

// Whatever a destination answers, splitting it never panics and gives
// one result per item, or none.
func FuzzSplitBatch(f *testing.F) {
	f.Add(207, []byte(`{"errors":[{"batch_index":1,"reason":"invalid"}]}`), 3)
	f.Add(207, []byte(`{"errors":[{"batch_index":-1}]}`), 1)
	f.Add(207, []byte(`{"errors":[{"batch_index":99999999999999999999}]}`), 2)
	f.Fuzz(func(t *testing.T, status int, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		r := splitBatch(status, body, n)
		if r != nil && len(r) != n {
			t.Fatalf("%d results for %d items", len(r), n)
		}
		for _, res := range r {
			if res.Outcome != httpclient.Succeeded && res.Outcome != httpclient.Permanent {
				t.Fatalf("outcome %q", res.Outcome)
			}
		}
	})
}
