# Boxoffice. `make run` serves on 127.0.0.1:8000 with SQLite; `make test` runs every test.
CARGO ?= cargo
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run build test lint fmt clean bench chromium

run:
	$(CARGO) run --release -p boxoffice-server --bin boxoffice -- serve

build:
	$(CARGO) build --release -p boxoffice-server --bin boxoffice

## Every test: unit and integration, on SQLite and on PostgreSQL ($$TEST_DATABASE_URL),
## the /status page in headless Chromium, and schemathesis against the served OpenAPI document.
test: chromium
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	bash tools/contract_test.sh

## Every figure of BENCHMARKS.md (parser, ingest on SQLite and PostgreSQL, /search under load).
bench:
	bash bench/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

## Headless Chromium, for the /status page test; installed when missing.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
