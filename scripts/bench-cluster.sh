#!/usr/bin/env bash
# `make bench-cluster`: mail-out day end to end on the production topology
# (BenchmarkMailOutDayCluster in internal/app/mailout_cluster_test.go): the real Temporal
# server built from go.temporal.io/server (the version in go.mod) on PostgreSQL, its schema
# set up with its own temporal-sql-tool; `ballotflow api` x2, `ballotflow worker` x1 then x2
# and `ballotflow sandbox` as separate processes. It prints figures and ratios and fails
# only when a notice is lost.
#
# Everything it starts is stopped and every database it made is dropped when it ends, however
# it ends (the trap below backs up the benchmark's own cleanup). Nothing of an earlier run is
# used: each run makes databases named bfc_<time>_<pid>_{app,temporal,visibility}.
#
# Settings (environment): BALLOTFLOW_BENCH_VOTERS (5000), BALLOTFLOW_BENCH_MODES
# (bulk,single; batched too), BALLOTFLOW_BENCH_POSTERS (8), BALLOTFLOW_BENCH_BATCH (100),
# BALLOTFLOW_CLUSTER_WORKERS (2), BALLOTFLOW_CLUSTER_SHARDS (4), BALLOTFLOW_CLUSTER_KEEP=1
# keeps the processes' logs, BALLOTFLOW_CLUSTER_PPROF=dir saves CPU profiles of the first
# worker and of the Temporal server. BALLOTFLOW_BENCH_SHAPES=N first runs the shape ladder (N
# workflows a rung; BALLOTFLOW_BENCH_SHAPE_RUNGS=0,4 picks rungs; BALLOTFLOW_BENCH_MODES=none
# runs the ladder alone), BALLOTFLOW_BENCH_NOOP_POLLERS (auto, or a number) sets the no-op
# worker's polls. BALLOTFLOW_CLUSTER_BENCH=MorningBacklogCluster runs the 08:00 drain instead
# (BenchmarkMorningBacklogCluster in internal/app/backlog_cluster_test.go: BALLOTFLOW_BENCH_BACKLOG
# texts at BALLOTFLOW_BENCH_SMS_RATE, BALLOTFLOW_BENCH_WORKFLOW_CACHE the workers' cache). The first build of the Temporal server takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
PG=${BALLOTFLOW_CLUSTER_PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}

run="bfc_$(date +%s)_$$"
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-cluster.XXXXXX")
driver=

cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
		kill -TERM "$driver" 2>/dev/null || true
		sleep 2
		kill -KILL "$driver" 2>/dev/null || true
	fi
	# Every process the benchmark started leads a process group of its own.
	if [ -f "$dir/pids" ]; then
		while read -r pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done <"$dir/pids"
		sleep 1
		while read -r pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done <"$dir/pids"
	fi
	for db in $(psql "$PG" -Atc "SELECT datname FROM pg_database WHERE datname LIKE '${run}\\_%'" 2>/dev/null); do
		psql "$PG" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
		echo "bench-cluster: dropped database $db left behind" >&2
	done
	if [ "${BALLOTFLOW_CLUSTER_KEEP:-}" = 1 ] || [ "$status" != 0 ]; then
		echo "bench-cluster: the processes' logs are in $dir" >&2
	else
		rm -rf "$dir"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench-cluster: building bin/ballotflow, bin/temporal-server and bin/temporal-sql-tool" >&2
"$GO" build -o bin/ballotflow ./cmd/ballotflow
"$GO" build -o bin/temporal-server go.temporal.io/server/cmd/server
"$GO" build -o bin/temporal-sql-tool go.temporal.io/server/cmd/tools/sql
"$GO" test -c -o "$dir/app.test" ./internal/app/

echo "bench-cluster: run $run, $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >&2
(
	cd internal/app
	BALLOTFLOW_CLUSTER_BIN="$OLDPWD/bin" BALLOTFLOW_CLUSTER_RUN="$run" BALLOTFLOW_CLUSTER_DIR="$dir" \
		exec "$dir/app.test" -test.run '^$' -test.bench "^Benchmark${BALLOTFLOW_CLUSTER_BENCH:-MailOutDayCluster}\$" -test.benchtime 1x \
		-test.timeout 180m -test.v
) &
driver=$!
wait "$driver"
