package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeMailOutSeries writes a mail-out round's time series when BALLOTFLOW_BENCH_SERIES
// names a directory: <dir>/<benchmark>.csv with, for each second since the round began,
// the voters whose notices were all in the outbox by then (completed that second) and the
// outbox's size. `go run ./benchmarks/chart` draws it.
func writeMailOutSeries(b *testing.B, start time.Time, first map[string]sandboxMessage, voters mailOutVoterSet) {
	dir := os.Getenv("BALLOTFLOW_BENCH_SERIES")
	if dir == "" {
		return
	}
	done := make(map[int]time.Time, len(voters.ids))
	var outbox []int
	for addr, m := range first {
		v := voters.byAddr[addr]
		if m.at.After(done[v]) {
			done[v] = m.at
		}
		s := max(int(m.at.Sub(start)/time.Second), 0)
		for len(outbox) <= s {
			outbox = append(outbox, 0)
		}
		outbox[s]++
	}
	events := make([]int, len(outbox))
	for _, at := range done {
		events[max(int(at.Sub(start)/time.Second), 0)]++
	}
	var out strings.Builder
	out.WriteString("second,events,outbox\n")
	total := 0
	for s := range outbox {
		total += outbox[s]
		fmt.Fprintf(&out, "%d,%d,%d\n", s, events[s], total)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(b.Name()) + ".csv"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Error(err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		b.Error(err)
		return
	}
	b.Logf("time series in %s (go run ./benchmarks/chart -in %s -out chart.png)", path, path)
}
