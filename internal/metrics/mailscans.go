package metrics

import "github.com/prometheus/client_golang/prometheus"

// MailScans counts USPS IV-MTR scans received, by result: matched (a ballot's envelope,
// stored), duplicate (stored before), unknown (no ballot has the barcode: counted, never
// stored) and rejected (not a scan that could be read).
var MailScans = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "ballotflow_mail_scans_total",
	Help: "USPS IV-MTR envelope scans received, by result.",
}, []string{"result"})

func init() {
	Registry.MustRegister(MailScans)
}
