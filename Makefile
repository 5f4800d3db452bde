# The two commands a newcomer needs: `make run` and `make test`.
GO ?= go
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ballotflow?sslmode=disable
export DATABASE_URL

.PHONY: run test bench build postgres clean help histories

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: postgres build ## start everything: Temporal server and UI, worker, API, sandbox providers, demo data
	@# Run the binary itself, not `go run`, so Ctrl-C reaches it directly and it shuts down cleanly.
	./bin/ballotflow dev

test: postgres ## run every test against PostgreSQL and the embedded Temporal server
	@scripts/ensure-chromium.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench: postgres ## run the benchmarks; they print figures and ratios, never pass or fail on speed
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

build: ## build bin/ballotflow
	$(GO) build -o bin/ballotflow ./cmd/ballotflow

postgres: ## make sure a local PostgreSQL answers on 127.0.0.1:5432 (installs and starts it when needed)
	@scripts/ensure-postgres.sh

clean: ## start the dev stack afresh: remove .data (Temporal, keys), bin, and the local `ballotflow` database
	rm -rf .data bin
	@# Only the local default database: a DATABASE_URL pointing elsewhere is never touched.
	psql "postgres://postgres@127.0.0.1:5432/postgres" -qc 'DROP DATABASE IF EXISTS ballotflow WITH (FORCE)'

histories: postgres ## re-record the workflow replay histories (after a deliberate, versioned workflow change)
	BALLOTFLOW_RECORD_HISTORIES=1 $(GO) test -count=1 -run TestRecordReplayHistories ./internal/app/
