// Package actiontest sends an action's request the way the workflow
// engine does (through the outbound client, over the destination's
// connection), for the tests of the action families.
package actiontest

import (
	"context"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Sender sends the actions of one family.
type Sender struct {
	Registry *action.Registry
	Client   *httpclient.Client
}

// New returns a Sender of f whose connections close when the test ends.
func New(t testing.TB, f action.Family) *Sender {
	s := &Sender{Registry: action.NewRegistry(f), Client: httpclient.New(nil)}
	t.Cleanup(s.Client.Close)
	return s
}

// Send builds action kind with in for d under key, and makes one attempt.
// It fails t if the request does not build; the attempt's outcome is the
// caller's to check.
func (s *Sender) Send(t testing.TB, ctx context.Context, d *action.Destination, kind string, in map[string]any, key string) (*httpclient.Attempt, action.Call) {
	t.Helper()
	spec, ok := s.Registry.Action(kind)
	if !ok {
		t.Fatalf("no action %s", kind)
	}
	call, err := spec.Build(d, in, key, time.Now())
	if err != nil {
		t.Fatalf("build %s: %v", kind, err)
	}
	a, err := s.Client.Do(ctx, s.Registry.Client(d), 1, call.Request)
	if err != nil {
		t.Fatalf("send %s: %v", kind, err)
	}
	return a, call
}

// Output is the step output of a successful attempt; it fails t otherwise.
func Output(t testing.TB, a *httpclient.Attempt, call action.Call) map[string]any {
	t.Helper()
	if a.Class != httpclient.Succeeded {
		t.Fatalf("attempt %s: %s", a.Class, a.Error)
	}
	out, err := call.Output(a.Response.Status, a.Body)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := out.(map[string]any)
	return m
}

// Deliver sends as Send does and returns the step output; it fails t
// unless the attempt succeeded.
func (s *Sender) Deliver(t testing.TB, ctx context.Context, d *action.Destination, kind string, in map[string]any, key string) map[string]any {
	t.Helper()
	a, call := s.Send(t, ctx, d, kind, in, key)
	return Output(t, a, call)
}

// Retry sends as Send does, again every 200 ms until an attempt succeeds
// (a broker coming back), and fails t if none did within the time.
func (s *Sender) Retry(t testing.TB, ctx context.Context, d *action.Destination, kind string, in map[string]any, key string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		a, _ := s.Send(t, ctx, d, kind, in, key)
		if a.Class == httpclient.Succeeded {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %s", within, a.Error)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
