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
// bucket's TTL (0: never): state every node must see at once (the console's
// sign-ins, the destinations' circuit breakers),
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

// Entry returns key's value and revision, or ENOTFOUND.
func (k *KV) Entry(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := k.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, 0, cdp.Errorf(cdp.ENOTFOUND, "no %s", key)
	case err != nil:
		return nil, 0, cdp.Errorf(cdp.EUNAVAILABLE, "read %s: %v", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// Swap stores value under key if its revision is still rev (0: if key has
// no value), and returns the new revision; ECONFLICT if another writer
// came first. Every node deciding on shared state goes through it, so two
// nodes cannot both win one transition.
func (k *KV) Swap(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	var err error
	var next uint64
	if rev == 0 {
		next, err = k.kv.Create(ctx, key, value)
	} else {
		next, err = k.kv.Update(ctx, key, value, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, cdp.Errorf(cdp.ECONFLICT, "%s changed meanwhile", key)
	case err != nil:
		return 0, cdp.Errorf(cdp.EUNAVAILABLE, "store %s: %v", key, err)
	}
	return next, nil
}

// Watch calls fn with every key's value and revision, then with each
// change (a deleted key with a nil value), until ctx is done. It returns
// once the current values were delivered.
func (k *KV) Watch(ctx context.Context, fn func(key string, value []byte, rev uint64)) error {
	w, err := k.kv.WatchAll(ctx)
	if err != nil {
		return cdp.Errorf(cdp.EUNAVAILABLE, "watch: %v", err)
	}
	initial := make(chan struct{})
	go func() {
		defer func() { _ = w.Stop() }()
		seen := false
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // the current values are all delivered
					if !seen {
						seen = true
						close(initial)
					}
					continue
				}
				var value []byte
				if e.Operation() == jetstream.KeyValuePut {
					value = e.Value()
				}
				fn(e.Key(), value, e.Revision())
			}
		}
	}()
	select {
	case <-initial:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
