package alert

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
)

// Bucket is the key-value bucket every node of a cluster shares (a NATS
// bucket whose entries expire when their node stops writing them).
type Bucket interface {
	Put(ctx context.Context, key string, value []byte) error
	Watch(ctx context.Context, fn func(key string, value []byte, rev uint64)) error
}

// Tally adds up a per-source count over every node of a cluster (the
// webhook verification failures the webhook_failures rule watches): each
// node publishes its own totals under its name, and the leader sums the
// latest of each.
type Tally struct {
	bucket Bucket
	node   string
	local  func() map[string]float64

	mu    sync.Mutex
	nodes map[string]map[string]float64
}

// NewTally watches bucket for every node's totals; local is this node's,
// which Publish writes under node.
func NewTally(ctx context.Context, bucket Bucket, node string, local func() map[string]float64) (*Tally, error) {
	t := &Tally{bucket: bucket, node: node, local: local, nodes: map[string]map[string]float64{}}
	err := bucket.Watch(ctx, func(node string, value []byte, _ uint64) {
		var totals map[string]float64
		if value != nil && json.Unmarshal(value, &totals) != nil {
			return
		}
		t.mu.Lock()
		t.nodes[node] = totals
		t.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Publish writes this node's totals (a failed write is retried by the
// next one).
func (t *Tally) Publish(ctx context.Context) {
	if data, err := json.Marshal(t.local()); err == nil {
		_ = t.bucket.Put(ctx, t.node, data)
	}
}

// Sum is every node's latest totals, added up per source.
func (t *Tally) Sum() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for _, totals := range t.nodes {
		for src, n := range totals {
			out[src] += n
		}
	}
	return out
}

// Counts are several per-source counts a tally carries together, by
// name: Local is what a node publishes (each source under "name/").
type Counts map[string]func() map[string]float64

// Local is every count's totals, each source's key prefixed with its
// count's name.
func (c Counts) Local() map[string]float64 {
	out := map[string]float64{}
	for name, local := range c {
		for src, n := range local() {
			out[name+"/"+src] = n
		}
	}
	return out
}

// Of is the summed totals of the count name of a tally of Counts.
func (t *Tally) Of(name string) func() map[string]float64 {
	return func() map[string]float64 {
		out := map[string]float64{}
		for key, n := range t.Sum() {
			if src, ok := strings.CutPrefix(key, name+"/"); ok {
				out[src] = n
			}
		}
		return out
	}
}
