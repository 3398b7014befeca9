package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// KV is a JetStream key-value bucket whose entries expire after the
// bucket's TTL: state every node must see at once (the console's sign-ins),
// on the same server as the event log, embedded or external.
type KV struct {
	kv jetstream.KeyValue
}

// KeyValue creates or opens bucket with entries that live for ttl.
func (l *Log) KeyValue(ctx context.Context, bucket string, ttl time.Duration) (*KV, error) {
	kv, err := l.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, TTL: ttl,
		Replicas: l.opts.Replicas, Storage: jetstream.FileStorage, History: 1})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", bucket, err)
	}
	return &KV{kv: kv}, nil
}

// Put stores value under key.
func (k *KV) Put(ctx context.Context, key string, value []byte) error {
	if _, err := k.kv.Put(ctx, key, value); err != nil {
		return cdp.Errorf(cdp.EUNAVAILABLE, "store %s: %v", key, err)
	}
	return nil
}

// Get returns key's value, or ENOTFOUND when there is none (or it expired).
func (k *KV) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := k.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, cdp.Errorf(cdp.ENOTFOUND, "no %s", key)
	case err != nil:
		return nil, cdp.Errorf(cdp.EUNAVAILABLE, "read %s: %v", key, err)
	}
	return e.Value(), nil
}

// Delete removes key (and its history, so nothing of it stays on disk).
func (k *KV) Delete(ctx context.Context, key string) error {
	if err := k.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return cdp.Errorf(cdp.EUNAVAILABLE, "delete %s: %v", key, err)
	}
	return nil
}
