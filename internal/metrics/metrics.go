// Package metrics holds ballotflow's Prometheus metrics. Labels are statuses, channels and
// outcomes: never a voter, an address or a ballot.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every ballotflow metric plus the Go runtime's and the process's.
var Registry = prometheus.NewRegistry()

var (
	// Events counts county events by status and result (accepted, duplicate, rejected).
	Events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ballotflow_events_total",
		Help: "County ballot events received, by status and result.",
	}, []string{"status", "result"})

	// Notices counts delivery attempts by channel and outcome (sent, already_sent, skipped,
	// permanent_failure, transient_failure, config_failure, window_closed).
	Notices = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ballotflow_notice_attempts_total",
		Help: "Notice delivery attempts, by channel and outcome.",
	}, []string{"channel", "outcome"})

	// ProviderLatency is how long the provider took to answer a send.
	ProviderLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ballotflow_provider_request_seconds",
		Help:    "Time for SendGrid or Twilio to answer one send, by channel.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	}, []string{"channel"})

	// BulkRows counts the rows of bulk event files by result (accepted, duplicate, rejected).
	BulkRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ballotflow_bulk_event_rows_total",
		Help: "Rows of bulk ballot event files stored, by result.",
	}, []string{"result"})

	// ImportEventsSignaled counts stored bulk events the ingestion workflows have signaled:
	// with BulkRows{result="accepted"} it shows how far imports have got.
	ImportEventsSignaled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ballotflow_import_events_signaled_total",
		Help: "Stored bulk events signaled to their ballots by the ingestion workflows.",
	})

	// Webhooks counts provider webhooks by route and result (ok, forbidden, error).
	Webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ballotflow_webhooks_total",
		Help: "Provider webhooks received, by webhook and result.",
	}, []string{"webhook", "result"})
)

func init() {
	Registry.MustRegister(Events, Notices, ProviderLatency, Webhooks, BulkRows, ImportEventsSignaled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the metrics in Prometheus' text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{})
}
