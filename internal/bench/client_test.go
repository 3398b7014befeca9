package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConnAgainstNetHTTP(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Authorization")+r.Header.Get("X-Sig")+" "+string(b))
		switch string(b) {
		case "chunked":
			w.WriteHeader(201)
			for i := range 3 {
				fmt.Fprintf(w, "part %d", i)
				w.(http.Flusher).Flush()
			}
		case "close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(503)
		default:
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	c, err := newConn(srv.URL+"/track?x=1", "application/json", []string{"Authorization: Basic eDo="})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body string
		want int
	}{{"a", 200}, {"chunked", 201}, {"b", 200}, {"close", 503}, {"after-close", 200}} {
		got, err := c.post("", nil, []byte(tc.body))
		if err != nil || got != tc.want {
			t.Fatalf("post(%s) = %d, %v; want %d", tc.body, got, err, tc.want)
		}
	}
	if len(bodies) != 5 || bodies[0] != "POST /track application/json Basic eDo= a" {
		t.Fatalf("server saw %q", bodies)
	}
	if got, err := c.post("/other", []string{"X-Sig: 1"}, []byte("z")); err != nil || got != 200 || bodies[5] != "POST /other application/json Basic eDo=1 z" {
		t.Fatalf("post to /other = %d, %v; server saw %q", got, err, bodies[5])
	}
	if _, err := newConn("https://x", "a/b", nil); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("https accepted: %v", err)
	}
}

// TestRunSendsEveryRequestOnce checks the schedule: warm-up and measured
// requests together are each sent exactly once, with their own index.
func TestRunSendsEveryRequestOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
	}))
	defer srv.Close()
	res, err := Run(t.Context(), Load{URL: srv.URL, Rate: 2000, Warmup: 100 * time.Millisecond, Duration: 200 * time.Millisecond,
		Connections: 8, ContentType: "text/plain", Body: func(i int) []byte { return []byte(fmt.Sprint(i)) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 400 || res.OK != 400 {
		t.Fatalf("measured %d sent, %d ok; want 400", res.Sent, res.OK)
	}
	for i := range 600 {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Fatalf("request %d sent %d times", i, n)
		}
	}
}

// With several servers, request i goes to the i-th, round robin.
func TestRunSpreadsOverServers(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	var urls []string
	for range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[r.Host] = append(got[r.Host], string(b))
			mu.Unlock()
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	_, err := Run(t.Context(), Load{URL: urls[0], More: urls[1:], Rate: 1000, Duration: 300 * time.Millisecond,
		Connections: 6, ContentType: "text/plain", Body: func(i int) []byte { return []byte(fmt.Sprint(i)) }})
	if err != nil {
		t.Fatal(err)
	}
	for n, u := range urls {
		bodies := got[strings.TrimPrefix(u, "http://")]
		if len(bodies) != 100 {
			t.Fatalf("server %d got %d requests, want 100", n, len(bodies))
		}
		for _, b := range bodies {
			if i, _ := strconv.Atoi(b); i%3 != n {
				t.Fatalf("request %s went to server %d", b, n)
			}
		}
	}
}

// A closed loop keeps exactly Connections requests in flight, each sent
// once, and measures only those sent after the warm-up.
func TestRunClosedLoop(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	inFlight, most := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer srv.Close()
	res, err := Run(t.Context(), Load{URL: srv.URL, Closed: true, Warmup: 100 * time.Millisecond, Duration: 200 * time.Millisecond,
		Connections: 4, ContentType: "text/plain", Body: func(i int) []byte { return []byte(fmt.Sprint(i)) }})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 4 || most < 2 {
		t.Errorf("at most %d requests in flight; want up to the 4 connections", most)
	}
	if res.OK == 0 || res.OK >= len(seen) || res.Sent != res.OK {
		t.Errorf("measured %d sent, %d ok of %d requests; want the ones after the warm-up, all ok", res.Sent, res.OK, len(seen))
	}
	for body, n := range seen {
		if n != 1 {
			t.Fatalf("request %s sent %d times", body, n)
		}
	}
}
