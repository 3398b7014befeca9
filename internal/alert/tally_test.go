package alert_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/alert"
	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// Three nodes' tallies on one real bucket: each publishes its own totals,
// and every one sums the latest of all, a node's newer totals replacing
// its older ones.
func TestTallyAcrossNodes(t *testing.T) {
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	kv, err := l.KeyValue(t.Context(), "TALLY_TEST", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	local := map[string]map[string]float64{
		"a": {"hooks": 2, "cio": 1},
		"b": {"hooks": 3},
		"c": {},
	}
	tallies := map[string]*alert.Tally{}
	for _, node := range []string{"a", "b", "c"} {
		tally, err := alert.NewTally(t.Context(), kv, node, func() map[string]float64 { return local[node] })
		if err != nil {
			t.Fatal(err)
		}
		tallies[node] = tally
		tally.Publish(t.Context())
	}
	sumIs := func(tally *alert.Tally, hooks, cio float64) func() bool {
		return func() bool { s := tally.Sum(); return s["hooks"] == hooks && s["cio"] == cio }
	}
	for node, tally := range tallies {
		testenv.Eventually(t, "node "+node+" sums every node's totals", 5*time.Second, sumIs(tally, 5, 1))
	}
	local["a"] = map[string]float64{"hooks": 10, "cio": 1}
	tallies["a"].Publish(t.Context())
	testenv.Eventually(t, "a node's newer totals replace its older ones", 5*time.Second, sumIs(tallies["c"], 13, 1))
}
