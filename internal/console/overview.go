package console

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
)

type overview struct {
	Chart      template.HTML
	Legend     []legendItem
	Total      int
	Runs       map[string]cdp.RunCount
	Outcomes   map[string]float64 // action attempts since start, by outcome
	Lag        float64            // events received, not yet stored
	RunQueue   float64
	OldestWait time.Duration // oldest run not started yet
	Attention  []attention
}

type legendItem struct{ Name, Color string }

type attention struct{ Text, Link string }

// palette colours the sources of the chart, in order of volume.
var palette = []string{"#0b63c5", "#e07b00", "#1a7f37", "#8250df", "#c62828", "#0a8f8f", "#b35900", "#5d6873"}

// Overview serves GET /console/: events per minute over the last hour by
// source, delivery outcomes, lags, the dead letter, what needs attention.
func (c *Console) Overview() http.Handler {
	return c.page("overview", "Overview", func(r *http.Request) (any, error) {
		now := time.Now().UTC().Truncate(time.Minute)
		counts, err := c.d.Store.EventsPerMinute(r.Context(), now.Add(-59*time.Minute))
		if err != nil {
			return nil, err
		}
		o := &overview{Outcomes: map[string]float64{}}
		o.Chart, o.Legend, o.Total = chart(counts, now)
		if o.Runs, err = c.d.Store.CountRuns(r.Context(), cdp.RunPending, cdp.RunRunning, cdp.RunWaiting, cdp.RunFailed); err != nil {
			return nil, err
		}
		if m := c.d.Metrics; m != nil {
			o.Lag, o.RunQueue = metrics.GaugeValue(m.ProcessorLag), metrics.GaugeValue(m.RunQueue)
			for _, s := range metrics.CounterValues(m.Attempts) {
				o.Outcomes[s.Labels["outcome"]] += s.Value
			}
		}
		if p := o.Runs[cdp.RunPending]; p.Runs > 0 {
			o.OldestWait = time.Since(p.Oldest).Round(time.Second)
		}
		if n := o.Runs[cdp.RunFailed].Runs; n > 0 {
			o.Attention = append(o.Attention, attention{plural(n, "failed run") + " (the dead letter) can be retried", "/console/runs?status=failed"})
		}
		if o.OldestWait > time.Minute {
			o.Attention = append(o.Attention, attention{fmt.Sprintf("the oldest run not started has waited %v: the runners are behind", o.OldestWait), "/console/runs?status=pending"})
		}
		if ds := c.d.Destinations; ds != nil {
			for _, d := range ds.List() {
				switch st := ds.Breakers.Status(d.ID); st.State {
				case breaker.Open, breaker.HalfOpen:
					o.Attention = append(o.Attention, attention{fmt.Sprintf("destination %s is open: %s; runs wait on it", d.ID, st.Reason), "/console/destinations"})
				case breaker.Paused:
					o.Attention = append(o.Attention, attention{fmt.Sprintf("destination %s is paused; runs wait on it until it is resumed", d.ID), "/console/destinations"})
				}
			}
		}
		if o.Lag > 1000 {
			o.Attention = append(o.Attention, attention{fmt.Sprintf("%.0f received events are not stored yet", o.Lag), "/console/events"})
		}
		return o, nil
	})
}

// chart draws the last hour's events per minute as stacked SVG bars, one
// colour per source.
func chart(counts []cdp.MinuteCount, now time.Time) (template.HTML, []legendItem, int) {
	const w, h, bars = 720, 180, 60
	start := now.Add(-(bars - 1) * time.Minute)
	perSource, perMinute := map[string]int{}, make([]map[string]int, bars)
	total := 0
	for _, c := range counts {
		i := int(c.Minute.Sub(start) / time.Minute)
		if i < 0 || i >= bars {
			continue
		}
		if perMinute[i] == nil {
			perMinute[i] = map[string]int{}
		}
		perMinute[i][c.SourceID] += c.Events
		perSource[c.SourceID] += c.Events
		total += c.Events
	}
	sources := make([]string, 0, len(perSource))
	for s := range perSource {
		sources = append(sources, s)
	}
	slices.SortFunc(sources, func(a, b string) int { return perSource[b] - perSource[a] })
	color := map[string]string{}
	var legend []legendItem
	for i, s := range sources {
		color[s] = palette[min(i, len(palette)-1)]
		legend = append(legend, legendItem{fmt.Sprintf("%s (%d)", s, perSource[s]), color[s]})
	}
	peak := 1
	for _, m := range perMinute {
		n := 0
		for _, v := range m {
			n += v
		}
		peak = max(peak, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="Events per minute over the last hour, by source; %d in all; peak %d per minute">`, w, h+20, total, peak)
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#b8c1ca"/>`, h, w, h)
	bw := float64(w) / bars
	for i, m := range perMinute {
		y := float64(h)
		for _, s := range sources {
			v := m[s]
			if v == 0 {
				continue
			}
			bh := float64(v) / float64(peak) * (h - 10)
			y -= bh
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
				float64(i)*bw+1, y, bw-2, bh, color[s], template.HTMLEscapeString(s), start.Add(time.Duration(i)*time.Minute).Format("15:04 UTC"), v)
		}
	}
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="11" fill="#5d6873">60 min ago</text>`, h+16)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#5d6873" text-anchor="end">now</text>`, w, h+16)
	fmt.Fprintf(&b, `<text x="%d" y="12" font-size="11" fill="#5d6873" text-anchor="end">peak %d/min</text>`, w, peak)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), legend, total
}

// plural writes n thing, or n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
