#!/usr/bin/env bash
# How soon a second process on one PostgreSQL serves a small change (issue 17, item 3).
#
#   bench/notify.sh [POLL]    POLL: database.poll_interval of both processes (1h: only
#                             the notification can tell the second one in time)
#
# 150,000 sessions of one instance (`big`) and 12 of another (`small`) in a fresh
# database; two `boxoffice serve` on 127.0.0.1:18090 and :18091; five times, the small
# feed's titles change and the first process syncs it through the admin API. Printed:
# when the first answered and when the second serves the change, from the POST, and
# the CPU each spent. Needs TEST_DATABASE_URL's server (default 127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."

POLL=${1:-1h}
BIN=${BENCH_BIN:-target/release/boxoffice}
PG_ADMIN=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
DIR=$PWD/bench-out/notify
DB="bench_notify_$(date +%s)"
mkdir -p "$DIR"
[[ -n ${BENCH_BIN:-} ]] || cargo build --release -q -p boxoffice-server --bin boxoffice

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

[[ -f $DIR/big.xml ]] || "$BIN" gen-feed --base-events 50000 --events-per-base 3 --zones 10 --seed 1 > "$DIR/big.xml"
for seed in 1 2; do
  "$BIN" gen-feed --base-events 4 --events-per-base 3 --zones 2 --seed "$seed" > "$DIR/small-$seed.xml"
done
cp "$DIR/small-1.xml" "$DIR/small.xml"
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
for port in 18090 18091; do
  cat > "$DIR/c$port.toml" <<TOML
[server]
addr = "127.0.0.1:$port"
[database]
url = "${PG_ADMIN%/*}/$DB"
poll_interval = "$POLL"
[admin]
token = "bench"
[log]
level = "warn"
[archive]
enabled = false
[providers.big]
kind = "fever-xml"
enabled = false
url = "file://$DIR/big.xml"
timeout = "600s"
deadline = "900s"
max_feed_bytes = 1000000000
[providers.small]
kind = "fever-xml"
enabled = false
url = "file://$DIR/small.xml"
TOML
done
"$BIN" --config "$DIR/c18090.toml" --quiet sync --provider big >/dev/null
"$BIN" --config "$DIR/c18090.toml" --quiet sync --provider small >/dev/null
for port in 18090 18091; do
  "$BIN" --config "$DIR/c$port.toml" serve 2>>"$DIR/serve-$port.log" &
  pids+=("$!")
done
for port in 18090 18091; do
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
    sleep 0.1
  done
done
echo "== $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), poll_interval $POLL, $(curl -s http://127.0.0.1:18091/ready)"
python3 - "$DIR" "${pids[0]}" "${pids[1]}" <<'PY'
import http.client, json, os, shutil, sys, time

directory, first, second = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def titles(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/search?provider=small&starts_at=2020-01-01T00:00:00Z&ends_at=2025-01-01T00:00:00Z")
    return sorted(e["title"] + e["start_date"] for e in json.loads(conn.getresponse().read())["data"]["events"])

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

for round in range(5):
    before = titles(18091)
    shutil.copy(os.path.join(directory, f"small-{2 if round % 2 == 0 else 1}.xml"), os.path.join(directory, "small.xml"))
    cpu_a, cpu_b = cpu(first), cpu(second)
    conn = http.client.HTTPConnection("127.0.0.1", 18090, timeout=120)
    sent = time.monotonic()
    conn.request("POST", "/admin/providers/small/sync", headers={"Authorization": "Bearer bench"})
    response = conn.getresponse()
    response.read()
    answered = time.monotonic() - sent
    while titles(18091) == before and time.monotonic() - sent < 120:
        time.sleep(0.005)
    served = time.monotonic() - sent
    time.sleep(1)
    print(f"change {round + 1}: sync {response.status}; the first process answered after {answered * 1000:.0f} ms, "
          f"the second serves it after {served * 1000:.0f} ms; CPU {cpu(first) - cpu_a:.2f} s and {cpu(second) - cpu_b:.2f} s")
PY
