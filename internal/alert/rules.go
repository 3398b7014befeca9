package alert

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/breaker"
)

// condition is one rule holding for one subject now.
type condition struct {
	rule    *Rule
	subject string
	summary string
	count   int
	link    string
	// hold keeps an alert that fires already from resolving, without
	// firing one: a destination an operator paused while it was failing
	// is not thereby healed.
	hold bool
}

// conditions evaluates every rule, keyed by rule and subject.
func (a *Alerts) conditions(ctx context.Context, now time.Time) (map[string]condition, error) {
	out := map[string]condition{}
	rules := a.cfg.Load().rules
	for i := range rules {
		r := &rules[i]
		var conds []condition
		var err error
		switch r.Kind {
		case DeadLetter:
			conds, err = a.deadLetters(ctx, r)
		case DestinationOpen:
			conds = a.openDestinations(r)
		case SourceSilent:
			conds, err = a.silentSources(ctx, r, now)
		case WebhookFailures:
			conds = a.overRate(r, a.facts.WebhookFailures(), now, "webhook verification failures")
		case PlanViolations:
			if a.facts.Violations != nil {
				conds = a.overRate(r, a.facts.Violations(), now, "events breaking a tracking plan")
			}
		case Backlog:
			conds, err = a.backlog(ctx, r)
		}
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		for _, c := range conds {
			out[c.key()] = c
		}
	}
	return out, nil
}

func (r *Rule) covers(subject string) bool { return r.Subject == "" || r.Subject == subject }

// deadLetters holds for each workflow with failed runs.
func (a *Alerts) deadLetters(ctx context.Context, r *Rule) ([]condition, error) {
	dl, err := a.facts.DeadLetters(ctx)
	if err != nil {
		return nil, err
	}
	var out []condition
	for wf, d := range dl {
		if !r.covers(wf) {
			continue
		}
		out = append(out, condition{rule: r, subject: wf, count: d.Runs,
			summary: fmt.Sprintf("%s of workflow %s in the dead letter (the newest: run %s)", plural(d.Runs, "run"), wf, d.Newest),
			link:    a.consoleURL + "/console/runs/" + url.PathEscape(d.Newest)})
	}
	return out, nil
}

// openDestinations holds for each destination whose breaker holds its
// attempts after failures, or that paused itself (a 410). One an operator
// paused fires nothing, but does not resolve an alert already firing: its
// failures are paused, not over.
func (a *Alerts) openDestinations(r *Rule) []condition {
	var out []condition
	for _, d := range a.facts.Destinations() {
		if !r.covers(d.ID) {
			continue
		}
		s := a.facts.Breaker(d.ID)
		if s.State == breaker.Open || s.State == breaker.HalfOpen || s.State == breaker.Paused {
			out = append(out, condition{rule: r, subject: d.ID, link: a.consoleURL + "/console/destinations",
				summary: fmt.Sprintf("destination %s is %s, runs wait on it: %s", d.ID, strings.ReplaceAll(string(s.State), "_", "-"), s.Reason),
				hold:    s.State == breaker.Paused && s.Reason == breaker.ByOperator})
		}
	}
	return out
}

// silentSources holds for each source with expect_every that received
// nothing for longer (counted from this process's start for a source that
// never received anything).
func (a *Alerts) silentSources(ctx context.Context, r *Rule, now time.Time) ([]condition, error) {
	var out []condition
	for _, s := range a.facts.Sources() {
		expect := s.Expected()
		if expect <= 0 || !s.Enabled || !r.covers(s.ID) {
			continue
		}
		last, err := a.facts.LastEvent(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		since := last
		if since.Before(a.started) {
			since = a.started
		}
		if quiet := now.Sub(since); quiet > expect {
			what := "nothing since " + last.UTC().Format(time.RFC3339)
			if last.IsZero() {
				what = "nothing yet"
			}
			out = append(out, condition{rule: r, subject: s.ID, link: a.consoleURL + "/console/sources/" + url.PathEscape(s.ID),
				summary: fmt.Sprintf("source %s received %s (expected every %s)", s.ID, what, s.ExpectEvery)})
		}
	}
	return out, nil
}

// sample is a source's failure total at a time.
type sample struct {
	at    time.Time
	total float64
}

// overRate holds for each source whose total (of what) grew by more than
// Above within the last Per.
func (a *Alerts) overRate(r *Rule, totals map[string]float64, now time.Time, what string) []condition {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []condition
	for src, total := range totals {
		if !r.covers(src) {
			continue
		}
		key := r.ID + ":" + src
		hist := append(a.rates[key], sample{at: now, total: total})
		for len(hist) > 1 && now.Sub(hist[1].at) >= r.Per {
			hist = hist[1:] // hist[0] stays the newest sample at least Per old
		}
		a.rates[key] = hist
		if n := total - hist[0].total; n > r.Above {
			out = append(out, condition{rule: r, subject: src, count: int(n), link: a.consoleURL + "/console/sources/" + url.PathEscape(src),
				summary: fmt.Sprintf("%.0f %s on source %s in the last %s (more than %.0f)", n, what, src, r.Per, r.Above)})
		}
	}
	return out
}

// backlog holds while more received events than Above wait to be stored.
func (a *Alerts) backlog(ctx context.Context, r *Rule) ([]condition, error) {
	n, err := a.facts.Backlog(ctx)
	if err != nil {
		return nil, err
	}
	if float64(n) <= r.Above {
		return nil, nil
	}
	return []condition{{rule: r, subject: "ingest", count: int(n), link: a.consoleURL + "/console/",
		summary: fmt.Sprintf("%d received events are not stored yet (more than %.0f): the store falls behind", n, r.Above)}}, nil
}
