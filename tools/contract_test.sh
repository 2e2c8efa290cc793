#!/usr/bin/env bash
# Contract test: schemathesis (PyPI, in ./.venv) against the served /openapi.json.
# Every documented route, every check (--checks all) in every phase, stateful included. Loopback only,
# bounded by --max-examples and --max-time; the server is stopped at the end.
# `tools/contract_test.sh prepare` only builds ./.venv (python3 with venv, and PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
if [ ! -x .venv/bin/schemathesis ] || ! .venv/bin/schemathesis --version | grep -q "$SCHEMATHESIS_VERSION"; then
  timeout 120 python3 -m venv --clear .venv
  timeout 900 .venv/bin/pip install -q --timeout 60 "schemathesis==$SCHEMATHESIS_VERSION"
fi
if [ "${1:-}" = prepare ]; then
  exit 0
fi

cargo build -q -p boxoffice-server --bin boxoffice
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
FEED_PORT=$(free_port)
APP_PORT=$(free_port)
cp providers/fever/tests/fixtures/response_1.xml "$work/feed.xml"
python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf --max-time 2 "http://127.0.0.1:$FEED_PORT/feed.xml" >/dev/null && break; sleep 0.1; done
cat > "$work/config.toml" <<TOML
[server]
addr = "127.0.0.1:$APP_PORT"
[database]
url = "sqlite://$work/contract.db?mode=rwc"
[admin]
token = "contract"
# schemathesis tries wrong tokens on purpose (ignored_auth): the throttle of failed
# attempts would then answer 429 to the right ones for a minute.
max_failures = 1000000
[archive]
dir = "$work/archive"
[log]
level = "error"
[providers.fever]
kind = "fever-xml"
enabled = false
url = "http://127.0.0.1:$FEED_PORT/feed.xml"
timeout = "5s"
retries = 0
TOML
"${CARGO_TARGET_DIR:-target}/debug/boxoffice" --config "$work/config.toml" serve &
pids+=($!)
for _ in $(seq 1 100); do curl -sf --max-time 2 "http://127.0.0.1:$APP_PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf --max-time 60 -X POST -H "Authorization: Bearer contract" "http://127.0.0.1:$APP_PORT/admin/providers/fever/sync" >/dev/null

# One worker: with two, hypothesis parses lambdas from two threads at once and CPython 3.11
# fails with "AST constructor recursion depth mismatch" (a CPython bug, not ours).
timeout 600 .venv/bin/schemathesis --config-file tools/schemathesis.toml run "http://127.0.0.1:$APP_PORT/openapi.json" \
  --checks all \
  --header "Authorization: Bearer contract" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples 40 \
  --max-time 60 \
  --workers 1 \
  --suppress-health-check all
