package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	// NoticesWaiting is how many notices the ballot workflows hold for the voters' contact
	// hours, by channel, counted in PostgreSQL by each worker's NoticeWaitGauge: every worker
	// reports the same figure, so dashboards take the max. A morning backlog shows here until
	// its deliveries start.
	NoticesWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ballotflow_notices_waiting",
		Help: "Notices held for the voters' contact hours and not yet started, by channel (same figure from every worker).",
	}, []string{"channel"})

	// NoticesWaitingOverdue is how long past its time the oldest held notice of a channel is
	// (0 when none is due yet): a backlog draining slower than the provider rate allows.
	NoticesWaitingOverdue = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ballotflow_notices_waiting_overdue_seconds",
		Help: "How long past its time the oldest held notice is, by channel; 0 when none is due yet.",
	}, []string{"channel"})
)

func init() {
	Registry.MustRegister(NoticesWaiting, NoticesWaitingOverdue)
}
