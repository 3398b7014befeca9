package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// Every kind of secret a deployment holds goes through a real server —
// source credentials sent in bodies, queries and headers, a destination
// URL's password, credentials written into a workflow's headers and
// echoed back by the destination, the admin token — and then no log line,
// banner, help text, API answer or console page shows any of them, nor
// does any file under the data directory hold the ones that came in
// with requests. (What an operator configures is theirs to read back:
// /admin/v1/sources and the console's source page show a source's
// credentials, which clients are set up with, and a workflow's definition is returned as written.)
func TestSecretsNeverShown(t *testing.T) {
	const (
		writeKey    = "wk-SECRET-PIPE-1111"
		cioKey      = "cio-SECRET-KEY-2222"
		urlPassword = "PASS-SECRET-3333"
		wfBearer    = "HDR-SECRET-4444"
		wfCustom    = "HDR-SECRET-5555"
		adminToken  = "ADMIN-SECRET-6666"
		envToken    = "ENV-TOKEN-7777"
		querySecret = "QUERY-SECRET-8888"
		authKey     = "HDRIN-SECRET-9999"
		password    = "HDRIN-SECRET-AAAA"
		stepQuery   = "STEPQ-SECRET-BBBB"
		stepBodyKey = "STEPB-SECRET-CCCC"
		stepField   = "STEPF-SECRET-DDDD"
	)
	// The destination echoes the request back, as httpbin does: its
	// headers (with the Basic credential the client derived from the
	// URL's userinfo), its URL and its body.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "url": r.URL.String(), "data": string(body)})
	}))
	defer echo.Close()
	dest := strings.Replace(echo.URL, "http://", "http://svc:"+urlPassword+"@", 1) + "/api"

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "switchyard.yaml")
	os.WriteFile(cfg, []byte(`
admin:
  tokens: ["${TOKEN}"]
sources:
  - {id: web, kind: track}
  - {id: cdp, kind: customerio_pipelines, write_key: "`+writeKey+`"}
  - {id: cio, kind: customerio_track, site_id: site1, api_key: "`+cioKey+`"}
  - {id: open, kind: webhook, verify: {scheme: none}}
destinations:
  - {id: echo, kind: http, url: "`+dest+`", allow_private_network: true}
workflows:
  - id: call-out
    trigger: {source: open}
    steps:
      - id: call
        action: http.call
        destination: echo
        with:
          url: "'/hook?api_key=`+stepQuery+`&x=1'"
          headers: "{'Authorization': 'Bearer `+wfBearer+`', 'X-Custom-Auth': '`+wfCustom+`'}"
          body: "{'api_key': '`+stepBodyKey+`', 'secret_field': '`+stepField+`', 'n': 1}"
`), 0o600)
	t.Setenv("TOKEN", adminToken)
	p := start(t, data, "--config", cfg)
	auth := "Bearer " + adminToken

	// Requests that carry secrets where clients put them.
	send := func(method, path, body string, headers ...string) {
		t.Helper()
		req, _ := http.NewRequest(method, p.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	send("POST", "/v1/t", `{"writeKey":"`+writeKey+`","userId":"u1","event":"Browser Event","messageId":"m1"}`)
	send("POST", "/v1/batch", `{"writeKey":"`+writeKey+`","batch":[{"type":"track","userId":"u1","event":"Batched","messageId":"m2"}]}`)
	send("POST", "/v1/track", `{"userId":"u1","event":"Basic"}`, "Authorization", "Basic "+basicAuth(writeKey, ""))
	send("PUT", "/api/v1/customers/42?api_key="+cioKey, `{"email":"a@example.com"}`, "Authorization", "Basic "+basicAuth("site1", cioKey))
	send("POST", "/webhooks/open?api_key="+querySecret+"&page=2", `{"type":"ping"}`,
		"X-Auth-Key", authKey, "X-Password", password, "X-Padding", strings.Repeat("p", 200<<10))

	// The workflow's run succeeds (the destination echoed its headers).
	var runs struct {
		Runs []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	testenv.Await(t, "a succeeded run", 20*time.Second, func() (bool, string) {
		_ = json.Unmarshal(get(t, p.url+"/admin/v1/runs", auth), &runs)
		return len(runs.Runs) > 0 && runs.Runs[0].Status == "succeeded", fmt.Sprintf("%+v\n%s", runs, p.logs())
	})
	var events struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	_ = json.Unmarshal(get(t, p.url+"/admin/v1/events?limit=1000", auth), &events)

	// Everything a person or a log collector may read.
	shown := map[string][]byte{"banner": []byte(p.banner)}
	for _, path := range []string{"/admin/v1/runs", "/admin/v1/runs/" + runs.Runs[0].ID, "/console/runs/" + runs.Runs[0].ID,
		"/admin/v1/events?limit=1000", "/metrics"} {
		shown[path] = get(t, p.url+path, auth)
	}
	for _, e := range events.Events {
		shown["/admin/v1/events/"+e.ID] = get(t, p.url+"/admin/v1/events/"+e.ID, auth)
		shown["/console/events/"+e.ID] = get(t, p.url+"/console/events/"+e.ID, auth)
	}
	if !bytes.Contains(shown["/admin/v1/runs/"+runs.Runs[0].ID], []byte(`"[redacted]"`)) {
		t.Errorf("the run shows no masked value: %s", shown["/admin/v1/runs/"+runs.Runs[0].ID])
	}
	var pings struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	_ = json.Unmarshal(get(t, p.url+"/admin/v1/events?source=open", auth), &pings)
	dry := postJSON(t, p.url+"/admin/v1/workflows/dry-run?event="+pings.Events[0].ID, auth, `{"id":"dry","trigger":{"source":"open"},"steps":[{"id":"call","action":"http.call","destination":"echo",`+
		`"with":{"url":"'/x?api_key=`+stepQuery+`'","headers":"{'Authorization': 'Bearer `+wfBearer+`'}","body":"{'secret_field': '`+stepField+`'}"}}]}`)
	shown["dry run"] = dry
	for _, args := range [][]string{{"tail", "--help"}, {"send", "webhook", "--help"}, {"listen", "--help"}} {
		cmd := exec.Command(bin(t), args...)
		cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN_TOKEN="+envToken)
		out, _ := cmd.CombinedOutput()
		shown[strings.Join(args, " ")] = out
	}
	// Stop the server, so that its log is complete and its files flushed.
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
	shown["log"] = []byte(p.stderr.String())

	all := []string{writeKey, cioKey, urlPassword, wfBearer, wfCustom, adminToken, envToken, querySecret, authKey, password,
		stepQuery, stepBodyKey, stepField, basicAuth("svc", urlPassword)}
	for name, body := range shown {
		for _, s := range all {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("%s shows %s", name, s)
			}
		}
	}
	// The data directory: the workflow's own definition (and the run
	// record, which a retry resends) must keep the headers written into
	// it, so only what came in with requests is checked there.
	_ = filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, s := range []string{writeKey, cioKey, urlPassword, adminToken, querySecret, authKey, password} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %s", path, s)
			}
		}
		if bytes.Contains(b, []byte(strings.Repeat("p", 17<<10))) {
			t.Errorf("%s holds the 200 KB header: captured headers are not capped", path)
		}
		return nil
	})
}

func get(t *testing.T, url, auth string) []byte { return call(t, "GET", url, auth, "") }

func postJSON(t *testing.T, url, auth, body string) []byte { return call(t, "POST", url, auth, body) }

// call sends a management request and returns the body of its 200.
func call(t *testing.T, method, url, auth, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return b
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
