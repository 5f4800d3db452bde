package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/metrics"
)

// dashboardFile is the Grafana dashboard operators import (README, "Operators").
const dashboardFile = "../../deploy/grafana/ballotflow.json"

type panel struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

// TestGrafanaDashboardQueriesOnlyMetricsThatExist keeps deploy/grafana/ballotflow.json in step
// with this package: every series and label a panel queries is one ballotflow exports, and
// every panel reads the dashboard's Prometheus data source variable.
func TestGrafanaDashboardQueriesOnlyMetricsThatExist(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var dash struct {
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name, Type, Query string
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "ballotflow", dash.UID)
	require.Len(t, dash.Templating.List, 1)
	require.Equal(t, "datasource", dash.Templating.List[0].Name)
	require.Equal(t, "datasource", dash.Templating.List[0].Type)
	require.Equal(t, "prometheus", dash.Templating.List[0].Query)

	// What ballotflow exports: metric name -> its labels.
	known := map[string][]string{}
	descPattern := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	for _, c := range []prometheus.Collector{metrics.Events, metrics.Notices, metrics.ProviderLatency, metrics.Webhooks,
		metrics.BulkRows, metrics.ImportEventsSignaled, metrics.NoticesWaiting, metrics.NoticesWaitingOverdue} {
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := descPattern.FindStringSubmatch(d.String())
			require.NotNil(t, m, d.String())
			labels := strings.Split(m[2], ",")
			known[m[1]] = labels
			if c == metrics.ProviderLatency {
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					known[m[1]+suffix] = append(slices.Clone(labels), "le")
				}
			}
		}
	}

	seriesPattern := regexp.MustCompile(`(ballotflow_[a-z_]+)(\{[^}]*\})?`)
	byPattern := regexp.MustCompile(`by \(([^)]*)\)`)
	matcherPattern := regexp.MustCompile(`([a-z_]+)\s*(=~|!~|!=|=)`)
	queried := map[string]bool{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotNil(t, p.Datasource, p.Title)
		require.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, target := range p.Targets {
			require.Equal(t, "${datasource}", target.Datasource.UID, p.Title)
			series := seriesPattern.FindAllStringSubmatch(target.Expr, -1)
			require.NotEmpty(t, series, "%s: %s", p.Title, target.Expr)
			var labels []string
			for _, s := range series {
				l, ok := known[s[1]]
				require.True(t, ok, "%s queries %s, which ballotflow does not export", p.Title, s[1])
				queried[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s[1], "_bucket"), "_count"), "_sum")] = true
				labels = append(labels, l...)
				for _, m := range matcherPattern.FindAllStringSubmatch(s[2], -1) {
					require.Contains(t, l, m[1], "%s: %s has no label %s", p.Title, s[1], m[1])
				}
			}
			for _, m := range byPattern.FindAllStringSubmatch(target.Expr, -1) {
				for _, l := range strings.Split(m[1], ",") {
					require.Contains(t, labels, strings.TrimSpace(l), "%s: grouped by a label the metric lacks", p.Title)
				}
			}
		}
	}
	for name := range known {
		if !strings.HasSuffix(name, "_bucket") && !strings.HasSuffix(name, "_count") && !strings.HasSuffix(name, "_sum") {
			require.True(t, queried[name], "the dashboard shows no panel for %s", name)
		}
	}
}
