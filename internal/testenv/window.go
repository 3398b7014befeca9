package testenv

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Jitter is how much of a one-second window BusiestSecond gives to
// delivery jitter: on a loaded host a request can arrive late (a new
// connection's handshake) and so closer to the next one than it was
// sent. A burst or a faster rate still shows.
const Jitter = 50 * time.Millisecond

// BusiestSecond returns the most requests that arrived within one second
// (less Jitter) of one of them, and the index (in time order) of the
// first of those requests. It sorts at.
func BusiestSecond(at []time.Time) (most, first int) {
	slices.SortFunc(at, time.Time.Compare)
	for i := range at {
		n := 0
		for _, u := range at[i:] {
			if u.Sub(at[i]) < time.Second-Jitter {
				n++
			}
		}
		if n > most {
			most, first = n, i
		}
	}
	return most, first
}

// Arrivals is a loopback stand-in for a destination that answers every
// request with {} and records when each arrived.
type Arrivals struct {
	URL string
	mu  sync.Mutex
	at  []time.Time
}

// NewArrivals starts a stand-in, closed when t ends.
func NewArrivals(t testing.TB) *Arrivals {
	a := &Arrivals{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.at = append(a.at, time.Now())
		a.mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// Times returns a copy of the arrival times so far.
func (a *Arrivals) Times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.at)
}
