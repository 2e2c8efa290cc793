#!/usr/bin/env bash
# `make bench`: every figure of BENCHMARKS.md, on this machine, loopback only.
# Each load runs for a fixed time against 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench-out
BIN=target/release/boxoffice
PG_ADMIN=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
FEED_PORT=18081
APP_PORT=18080
DURATION=${BENCH_DURATION:-10s}
mkdir -p "$OUT"
rm -f "$OUT"/bench.db* "$OUT"/*.toml

if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== $(rustc --version)"

cargo build --release -q -p boxoffice-server --bin boxoffice

echo "== parser throughput (criterion)"
cargo bench -q -p boxoffice-provider-fever --bench parse 2>/dev/null | grep -E "time:|thrpt:" | tee "$OUT/parse.txt"

echo "== feeds"
"$BIN" gen-feed --base-events 5000 --events-per-base 3 --zones 100 --seed 1 > "$OUT/large-1.xml"
"$BIN" gen-feed --base-events 5000 --events-per-base 3 --zones 100 --seed 2 > "$OUT/large-2.xml"
cp "$OUT/large-1.xml" "$OUT/feed.xml"
ls -l "$OUT"/large-1.xml | awk '{printf "large feed: %.1f MB, 15,000 sessions x 100 zones\n", $5/1e6}'
python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory "$OUT" >/dev/null 2>&1 &
pids+=($!)
sleep 1

config() { # $1 = file, $2 = database url
  cat > "$1" <<TOML
[server]
addr = "127.0.0.1:$APP_PORT"
[database]
url = "$2"
[admin]
token = "bench"
[log]
level = "warn"
[archive]
dir = "$OUT/archive"
[providers.bench]
kind = "fever-xml"
enabled = false
url = "http://127.0.0.1:$FEED_PORT/feed.xml"
timeout = "300s"
deadline = "600s"
TOML
}

# Runs a command; prints its wall time and the peak RSS of the process.
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
elapsed = time.monotonic() - started
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if done.returncode != 0:
    print(done.stderr, file=sys.stderr)
    sys.exit(done.returncode)
import json
report = json.loads(done.stdout)
print(f"{elapsed:6.2f} s  peak RSS {rss:6.1f} MB  inserted {report['inserted']} updated {report['updated']} unchanged {report['unchanged']} rejected {report['rejected']}")
PY
}

ingest() { # $1 = label, $2 = config
  echo "== ingest into $1"
  cp "$OUT/large-1.xml" "$OUT/feed.xml"
  printf "first sync:      "; measure "$BIN" --config "$2" sync --provider bench
  printf "unchanged sync:  "; measure "$BIN" --config "$2" sync --provider bench
  cp "$OUT/large-2.xml" "$OUT/feed.xml"
  printf "all-changed sync: "; measure "$BIN" --config "$2" sync --provider bench
}

config "$OUT/sqlite.toml" "sqlite://$OUT/bench.db?mode=rwc"
ingest SQLite "$OUT/sqlite.toml"

PG_DB="bench_$(date +%s)"
psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null
config "$OUT/postgres.toml" "${PG_ADMIN%/*}/$PG_DB"
ingest PostgreSQL "$OUT/postgres.toml"
psql "$PG_ADMIN" -qc "DROP DATABASE $PG_DB WITH (FORCE)" >/dev/null

echo "== /search under load (wrk -t2 -c64 -d$DURATION, SQLite store)"
"$BIN" --config "$OUT/sqlite.toml" serve 2>"$OUT/serve.log" &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$APP_PORT/ready" >/dev/null && break; sleep 0.2; done
items=$(curl -s "http://127.0.0.1:$APP_PORT/ready" | python3 -c 'import sys, json; print(json.load(sys.stdin)["data"]["items"])')
echo "searchable items: $items"

NARROW="starts_at=2022-03-01T00:00:00Z&ends_at=2022-03-02T12:00:00Z"
WIDE="starts_at=2022-03-01T00:00:00Z&ends_at=2022-06-01T00:00:00Z"
count() { curl -s "http://127.0.0.1:$APP_PORT/search?$1" | python3 -c 'import sys, json; print(len(json.load(sys.stdin)["data"]["events"]))'; }
load() { # $1 = label, $2 = query
  echo "-- $1: $(count "$2") items, $(curl -s "http://127.0.0.1:$APP_PORT/search?$2" | wc -c) bytes"
  wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$APP_PORT/search?$2" | grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors"
}
load "narrow window" "$NARROW"
load "wide window" "$WIDE"

echo "-- narrow window while a large sync (every record changed) runs"
# The store holds large-2's values (the last ingest): syncing large-1 changes every record.
cp "$OUT/large-1.xml" "$OUT/feed.xml"
( sleep 1; curl -s -o "$OUT/sync-during-load.json" -w "sync answered %{http_code} after %{time_total}s\n" \
    -X POST -H "Authorization: Bearer bench" "http://127.0.0.1:$APP_PORT/admin/providers/bench/sync" ) &
sync_pid=$!
wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$APP_PORT/search?$NARROW" | grep -E "Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors"
wait "$sync_pid"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["report"]; print("sync report:", r["status"], "updated", r["updated"])' "$OUT/sync-during-load.json"
