package testenv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Slack is a loopback stand-in for a Slack incoming webhook: it answers
// as Slack does ("ok", or 400 invalid_payload for a message without
// text) and keeps every message it accepted.
type Slack struct {
	URL  string
	mu   sync.Mutex
	msgs []map[string]any
}

// NewSlack starts a stand-in, closed when t ends.
func NewSlack(t testing.TB) *Slack {
	s := &Slack{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if json.NewDecoder(r.Body).Decode(&m) != nil || m["text"] == nil {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("invalid_payload"))
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/services/T0/B0/secret"
	return s
}

// Messages returns the messages so far.
func (s *Slack) Messages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.msgs...)
}

// Texts returns the text of each message so far.
func (s *Slack) Texts() []string {
	var out []string
	for _, m := range s.Messages() {
		text, _ := m["text"].(string)
		out = append(out, text)
	}
	return out
}
