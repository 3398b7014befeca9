package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// openTails opens n live tails (GET /admin/v1/tail) on t with the CEL
// filter, each reading and discarding what it is sent, so that a run
// measures ingest while they are open. It returns how many the server
// took (a node refuses those beyond tail.max_subscribers) and a stop
// that closes them all and says how many the server had disconnected
// first (for falling behind).
func openTails(ctx context.Context, t *target, n int, filter string) (opened int, stop func() (dropped int)) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var ended atomic.Int64
	u := t.url + "/admin/v1/tail"
	if filter != "" {
		u += "?filter=" + url.QueryEscape(filter)
	}
	for range n {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			continue
		}
		opened++
		wg.Go(func() {
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if ctx.Err() == nil {
				ended.Add(1)
			}
		})
	}
	return opened, func() int {
		n := int(ended.Load())
		cancel()
		wg.Wait()
		return n
	}
}
