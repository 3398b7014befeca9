package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// GaugeValue reads a gauge's value (the console shows some of them).
func GaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if g.Write(&m) != nil || m.Gauge == nil {
		return 0
	}
	return m.Gauge.GetValue()
}

// Series is one labelled value of a metric vector.
type Series struct {
	Labels map[string]string
	Value  float64
}

// CounterValues reads every series of a counter vector.
func CounterValues(v *prometheus.CounterVec) []Series {
	ch := make(chan prometheus.Metric, 64)
	go func() { v.Collect(ch); close(ch) }()
	var out []Series
	for pm := range ch {
		var m dto.Metric
		if pm.Write(&m) != nil || m.Counter == nil {
			continue
		}
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		out = append(out, Series{labels, m.Counter.GetValue()})
	}
	return out
}

// WebhookFailures are this process's webhook verification failures so
// far, by source.
func (m *Metrics) WebhookFailures() map[string]float64 {
	out := map[string]float64{}
	for _, s := range CounterValues(m.WebhookErrors) {
		if s.Labels["problem"] == WebhookUnauthorized {
			out[s.Labels["source"]] += s.Value
		}
	}
	return out
}

// Violations are this process's events that broke a tracking plan so
// far, by source, whatever became of them (an event that broke two plans
// counts twice).
func (m *Metrics) Violations() map[string]float64 {
	out := map[string]float64{}
	for _, s := range CounterValues(m.PlanViolations) {
		out[s.Labels["source"]] += s.Value
	}
	return out
}
