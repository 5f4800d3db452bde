# The two commands a newcomer needs: `make run` and `make test`.
GO ?= go
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ballotflow?sslmode=disable
export DATABASE_URL

.PHONY: run test bench bench-cluster build postgres clean help histories fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

run: postgres build ## start everything: Temporal server and UI, worker, API, sandbox providers, demo data
	@# Run the binary itself, not `go run`, so Ctrl-C reaches it directly and it shuts down cleanly.
	./bin/ballotflow dev

test: postgres ## run every test against PostgreSQL and the embedded Temporal server
	@scripts/ensure-chromium.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench: postgres ## run the benchmarks; they print figures and ratios, never pass or fail on speed
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

bench-cluster: postgres ## mail-out day on the production topology: Temporal on PostgreSQL, 2 APIs, 1 then 2 workers, sandbox
	scripts/bench-cluster.sh

build: ## build bin/ballotflow
	$(GO) build -o bin/ballotflow ./cmd/ballotflow

postgres: ## make sure a local PostgreSQL answers on 127.0.0.1:5432 (installs and starts it when needed)
	@scripts/ensure-postgres.sh

clean: ## start the dev stack afresh: remove .data (Temporal, keys), bin, and the local `ballotflow` database
	rm -rf .data bin
	@# Only the local default database: a DATABASE_URL pointing elsewhere is never touched.
	psql "postgres://postgres@127.0.0.1:5432/postgres" -qc 'DROP DATABASE IF EXISTS ballotflow WITH (FORCE)'

histories: postgres ## record replay histories after a deliberate, versioned workflow change: make histories VERSION=v2-short-name
	@test -n "$(VERSION)" || { echo "name the workflow version the new histories are of: make histories VERSION=v2-short-name" >&2; exit 2; }
	BALLOTFLOW_RECORD_HISTORIES=1 BALLOTFLOW_HISTORY_SUFFIX=$(VERSION) $(GO) test -count=1 \
		-run 'TestRecordReplayHistories|TestRecordIngestHistories' ./internal/app/

FUZZTIME ?= 30s
fuzz: postgres ## run every fuzz target for FUZZTIME each (default 30s); `make test` runs their seeds
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done
