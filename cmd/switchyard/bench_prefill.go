package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// prefillBatch is how many events each prefill request carries.
const prefillBatch = 500

// prefill stores n events in a spawned switchyard before it is measured,
// so that a run sees a store that has been in use (its indexes deep, its
// pages past the cache) rather than an empty one: Data Pipelines batches
// with unique message ids from 16 connections, each refused request
// retried after its Retry-After, then a wait until everything is stored.
func prefill(ctx context.Context, w io.Writer, t *target, n, users int) error {
	if n <= 0 || t.cmd == nil {
		return nil
	}
	if t.writeKey == "" {
		return fmt.Errorf("bench: --prefill needs the Data Pipelines write key from the banner")
	}
	start := time.Now()
	if err := postBatches(ctx, t, n, func(int, int) []byte { return pipelinesBatch(int(uniq.Add(1)), prefillBatch, users) }); err != nil {
		return err
	}
	for {
		c, err := t.counts(ctx)
		if err != nil {
			return err
		}
		if c.stored+c.duplicates >= c.accepted && c.lag == 0 {
			fmt.Fprintf(w, "  %s: prefilled %.0f events in %.0f s\n", t.name, c.stored, time.Since(start).Seconds())
			// Disk per event is measured from here on.
			t.emptyBytes, t.prefilled = t.diskBytes(ctx), c.stored
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// postBatches posts n events to t's /v1/batch from 16 connections,
// prefillBatch at a time: body makes the batch of events from to to (to
// excluded). A refused request is sent again as postUntilAccepted does.
func postBatches(ctx context.Context, t *target, n int, body func(from, to int) []byte) error {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(t.writeKey+":"))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				from := int(next.Add(prefillBatch) - prefillBatch)
				if from >= n {
					return
				}
				if err := postUntilAccepted(ctx, t.url+"/v1/batch", auth, body(from, min(from+prefillBatch, n))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// postUntilAccepted posts body until it gets a 2xx, waiting as a 429 or
// 503 asks.
func postUntilAccepted(ctx context.Context, url, auth string, body []byte) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			}
		default:
			return fmt.Errorf("bench: prefill got status %d", resp.StatusCode)
		}
	}
}
