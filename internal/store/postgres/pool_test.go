package postgres

import (
	"log/slog"
	"testing"

	"github.com/switchyardhq/switchyard/internal/testenv"
)

// The pool holds DefaultMaxConns connections unless the URL says
// otherwise (pool_max_conns, pgxpool's own parameter): N nodes open up
// to N times the pool, which PostgreSQL's max_connections must allow.
func TestPoolSize(t *testing.T) {
	url := testenv.Postgres(t)
	for _, tc := range []struct {
		url  string
		want int32
	}{{url, DefaultMaxConns}, {url + "&pool_max_conns=5", 5}} {
		s, err := Open(t.Context(), Options{URL: tc.url, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.pool.Config().MaxConns; got != tc.want {
			t.Errorf("%s: pool of %d, want %d", tc.url, got, tc.want)
		}
		s.Close()
	}
}
