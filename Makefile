# Boxoffice. `make run` serves on 127.0.0.1:8000 with SQLite; `make test` runs every test.
CARGO ?= cargo

.PHONY: run demo build test test-deps lint fmt clean bench

## Serves on 127.0.0.1:8000 without a network: the three recorded Fever responses
## synced in turn into a throwaway SQLite store, deleted at Ctrl-C (boxoffice demo).
demo:
	$(CARGO) run --release -p boxoffice-server --bin boxoffice -- demo

run:
	$(CARGO) run --release -p boxoffice-server --bin boxoffice -- serve

build:
	$(CARGO) build --release -p boxoffice-server --bin boxoffice

## Every test: unit and integration, on SQLite and on PostgreSQL, the /status page in
## headless Chromium, the alert rules of docs/ops with promtool, and schemathesis
## against the served OpenAPI document. Sets up what it needs (tools/test.sh):
## Debian's chromium, prometheus (for promtool), python3-venv, curl and postgresql
## when missing, ./.venv with schemathesis, and a throwaway PostgreSQL under
## target/test-postgres/ unless TEST_DATABASE_URL names one. Nothing may be skipped.
test:
	CARGO="$(CARGO)" bash tools/test.sh

## Only the set-up of `make test` (packages and ./.venv), without running anything.
test-deps:
	bash tools/test.sh deps

## Every figure of BENCHMARKS.md (parser, ingest on SQLite and PostgreSQL, /search beside nginx
## serving the same bytes, cost at 150k and 1.5M items). Installs nginx and oha when missing.
bench:
	bash bench/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

