package bench

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestConnAgainstNetHTTP(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(b))
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
	c, err := newConn(srv.URL+"/track?x=1", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body string
		want int
	}{{"a", 200}, {"chunked", 201}, {"b", 200}, {"close", 503}, {"after-close", 200}} {
		got, err := c.post([]byte(tc.body))
		if err != nil || got != tc.want {
			t.Fatalf("post(%s) = %d, %v; want %d", tc.body, got, err, tc.want)
		}
	}
	if len(bodies) != 5 || bodies[0] != "POST /track application/json a" {
		t.Fatalf("server saw %q", bodies)
	}
	if _, err := newConn("https://x", "a/b"); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("https accepted: %v", err)
	}
}
