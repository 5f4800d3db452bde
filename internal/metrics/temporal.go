package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// TemporalHandler returns a client.MetricsHandler that records the Temporal SDK's metrics
// (and the ones ballot workflows emit through workflow.GetMetricsHandler) in Registry:
// counters as counters, gauges as gauges, timers as histograms in seconds. Among them:
// temporal_activity_schedule_to_start_latency per task queue, which is how long deliveries
// wait for the provider rate limit.
//
// Prometheus needs one label set per metric name; a name keeps the tag keys of its first
// use (later uses fill missing keys with "" and drop unknown ones). The SDK uses one tag set
// per metric, so nothing is lost in practice.
func TemporalHandler() client.MetricsHandler {
	return &temporalHandler{vecs: sdkVecs}
}

// sdkVecs is shared by every handler of the process, so several clients (tests start
// several stacks) feed the same series.
var sdkVecs = &temporalVecs{m: map[string]prometheus.Collector{}}

type temporalVecs struct {
	mu sync.Mutex
	m  map[string]prometheus.Collector
}

type temporalHandler struct {
	vecs *temporalVecs
	tags map[string]string
}

func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return &temporalHandler{vecs: h.vecs, tags: merged}
}

// vec returns the collector registered for name, creating it with the handler's tag keys.
func (h *temporalHandler) vec(name string, make func(name string, keys []string) prometheus.Collector) prometheus.Collector {
	h.vecs.mu.Lock()
	defer h.vecs.mu.Unlock()
	name = promName(name)
	c, ok := h.vecs.m[name]
	if !ok {
		keys := slices.Sorted(maps.Keys(h.tags))
		c = make(name, keys)
		_ = Registry.Register(c) // a clash leaves it counted but not exported
		h.vecs.m[name] = c
	}
	return c
}

// labels returns the handler's tag values for keys, "" for a key it does not have.
func (h *temporalHandler) labels(keys []string) prometheus.Labels {
	l := make(prometheus.Labels, len(keys))
	for _, k := range keys {
		l[k] = h.tags[k]
	}
	return l
}

func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	c := h.vec(name, func(n string, keys []string) prometheus.Collector {
		return &keyedCounter{prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: "Temporal SDK metric " + n}, promKeys(keys)), keys}
	})
	kc, ok := c.(*keyedCounter)
	if !ok { // the name is already another kind of metric
		return counterFunc(func(int64) {})
	}
	counter := kc.With(promLabels(h.labels(kc.keys)))
	return counterFunc(func(d int64) { counter.Add(float64(d)) })
}

func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	c := h.vec(name, func(n string, keys []string) prometheus.Collector {
		return &keyedGauge{prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: "Temporal SDK metric " + n}, promKeys(keys)), keys}
	})
	kg, ok := c.(*keyedGauge)
	if !ok {
		return gaugeFunc(func(float64) {})
	}
	gauge := kg.With(promLabels(h.labels(kg.keys)))
	return gaugeFunc(gauge.Set)
}

func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	c := h.vec(name, func(n string, keys []string) prometheus.Collector {
		return &keyedHistogram{prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: n + "_seconds", Help: "Temporal SDK timer " + n,
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, promKeys(keys)), keys}
	})
	kh, ok := c.(*keyedHistogram)
	if !ok {
		return timerFunc(func(time.Duration) {})
	}
	hist := kh.With(promLabels(h.labels(kh.keys)))
	return timerFunc(func(d time.Duration) { hist.Observe(d.Seconds()) })
}

type keyedCounter struct {
	*prometheus.CounterVec
	keys []string
}
type keyedGauge struct {
	*prometheus.GaugeVec
	keys []string
}
type keyedHistogram struct {
	*prometheus.HistogramVec
	keys []string
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

// promName makes a Temporal metric name a valid Prometheus name.
func promName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, s)
}

func promKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = promName(k)
	}
	return out
}

func promLabels(l prometheus.Labels) prometheus.Labels {
	out := make(prometheus.Labels, len(l))
	for k, v := range l {
		out[promName(k)] = v
	}
	return out
}
