package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestForwarded(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProxies([]string{"proxy.example"}); err == nil {
		t.Fatal("a host name was accepted as a proxy")
	}
	type seen struct {
		remote, host string
		https        bool
	}
	for _, c := range []struct {
		name, remote, xff, xfh, xfp string
		want                        seen
	}{
		{"untrusted peer keeps its address", "203.0.113.5:4000", "127.0.0.1", "localhost", "https", seen{"203.0.113.5:4000", "switchyard.example", false}},
		{"trusted proxy names the client", "10.1.2.3:4000", "198.51.100.9", "console.example", "https", seen{"198.51.100.9:0", "console.example", true}},
		{"spoofed left entries are skipped", "192.0.2.7:4000", "127.0.0.1, 198.51.100.9, 10.0.0.2", "", "http", seen{"198.51.100.9:0", "switchyard.example", false}},
		{"all hops trusted: the first", "10.1.2.3:1", "10.9.9.9, 10.0.0.2", "", "", seen{"10.9.9.9:0", "switchyard.example", false}},
		{"garbage keeps the peer", "10.1.2.3:1", "not-an-ip", "", "", seen{"10.1.2.3:1", "switchyard.example", false}},
	} {
		var got seen
		h := Forwarded(proxies, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = seen{r.RemoteAddr, r.Host, IsHTTPS(r)}
		}))
		req := httptest.NewRequest("GET", "http://switchyard.example/admin/v1/events", nil)
		req.RemoteAddr = c.remote
		for k, v := range map[string]string{"X-Forwarded-For": c.xff, "X-Forwarded-Host": c.xfh, "X-Forwarded-Proto": c.xfp} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
