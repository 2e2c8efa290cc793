#!/usr/bin/env bash
# The json kind on the large generated feed: the JSON rendition of the 15,000-session
# feed `bench/run.sh` ingests as XML (`gen-feed --format json`: the same sessions and
# zones), served over loopback by python3 -m http.server, synced with the release
# binary on SQLite: the first sync, then the unchanged one (answered 304, then read
# again whole). Loopback only; everything it starts stops with it.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench-out/json
BIN=target/release/boxoffice
# A free port unless one is given: other benchmarks may hold the usual ones.
FEED_PORT=${BENCH_JSON_FEED_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
FIXTURE=providers/json/tests/fixtures/generated-feed.toml
mkdir -p "$OUT"
rm -rf "$OUT"/bench.db* "$OUT"/*.toml "$OUT"/archive

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== $(rustc --version)"

cargo build --release -q -p boxoffice-server --bin boxoffice

echo "== feed"
"$BIN" gen-feed --format json --base-events 5000 --events-per-base 3 --zones 100 --seed 1 > "$OUT/feed.json"
ls -l "$OUT/feed.json" | awk '{printf "large JSON feed: %.1f MB, 15,000 sessions x 100 zones\n", $5/1e6}'
python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory "$OUT" >/dev/null 2>&1 &
pids+=($!)
served=""
for _ in $(seq 1 50); do
  served=$(curl -sf -o /dev/null -w '%{size_download}' "http://127.0.0.1:$FEED_PORT/feed.json" || true)
  [ "$served" = "$(stat -c %s "$OUT/feed.json")" ] && break
  sleep 0.2
done
[ "$served" = "$(stat -c %s "$OUT/feed.json")" ] || { echo "the feed is not served on port $FEED_PORT" >&2; exit 1; }

# The instance is the crate's fixture, renamed, pointed at this server, with the run's
# limits in its own table (before its sub-tables).
{
  cat <<TOML
[database]
url = "sqlite://$OUT/bench.db?mode=rwc"
[log]
level = "warn"
[archive]
dir = "$OUT/archive"
TOML
  sed -e 's/providers\.generated/providers.bench/' \
      -e "s#^url = .*#url = \"http://127.0.0.1:$FEED_PORT/feed.json\"#" \
      -e 's/^kind = "json"$/kind = "json"\nenabled = false\ntimeout = "300s"\ndeadline = "600s"/' \
      "$FIXTURE"
} > "$OUT/sqlite.toml"

# Runs a command; prints its wall time and the peak RSS of the process.
measure() { python3 bench/measure.py "$@"; }

echo "== ingest into SQLite"
printf "first sync:                 "; measure "$BIN" --config "$OUT/sqlite.toml" sync --provider bench
# The server sends Last-Modified: the next run asks "only if changed" and gets a 304.
printf "unchanged sync (304):       "; measure "$BIN" --config "$OUT/sqlite.toml" sync --provider bench
# A new modification time defeats the 304: the same records are read and compared
# (in the next second: Last-Modified counts whole seconds).
sleep 1.1
touch "$OUT/feed.json"
printf "unchanged sync, re-read:    "; measure "$BIN" --config "$OUT/sqlite.toml" sync --provider bench
