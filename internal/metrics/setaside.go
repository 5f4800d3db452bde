package metrics

import "github.com/prometheus/client_golang/prometheus"

// EventsSetAside counts stored ballot events set aside because their signal can never
// succeed (canvass_closed, invalid_argument, unknown_election); operators list them at
// GET /v1/operator/set-aside-events. Any increase deserves a look.
var EventsSetAside = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "ballotflow_events_set_aside_total",
	Help: "Stored ballot events set aside because their signal cannot succeed, by reason.",
}, []string{"reason"})

func init() {
	Registry.MustRegister(EventsSetAside)
}
