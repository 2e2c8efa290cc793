#!/usr/bin/env bash
# What a small change costs at scale (issue 17's targets).
#
#   bench/change.sh sqlite|postgres [BASE_EVENTS]
#
# One big fever-xml instance (BASE_EVENTS x 3 sessions x 2 zones; 500000 gives the
# issue's 1.5 M) and a small one of 4 x 3 sessions whose titles change. The big feed is
# synced once (timed, with the process's peak RSS: item 6); then `serve` starts (one
# process on SQLite; two on PostgreSQL, polls an hour apart so that only the
# notification tells the second), start-up to /ready is timed (item 5), and five times
# the small feed changes and the first process syncs it through the admin API. For
# each change: when the admin call answered, when each process serves the change,
# from the run's commit (its report's finished_at) and from the POST; the CPU and the
# peak RSS beside idle of each process; /search's narrow p99 during the change beside
# idle; then the first process restarts from the snapshot file it wrote at shutdown. BENCH_BIN picks the binary (default: a fresh release build).
set -euo pipefail
cd "$(dirname "$0")/.."

STORE=${1:?sqlite or postgres}
BASES=${2:-500000}
BIN=${BENCH_BIN:-target/release/boxoffice}
PG_ADMIN=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
DIR=$PWD/bench-out/change
mkdir -p "$DIR"
[[ -n ${BENCH_BIN:-} ]] || cargo build --release -q -p boxoffice-server --bin boxoffice

pids=()
DB="bench_change_$(date +%s)"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ $STORE == postgres ]] && psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -f "$DIR"/store.db* "$DIR"/snapshot-*.bin
}
trap cleanup EXIT

[[ -f $DIR/big-$BASES.xml ]] || "$BIN" gen-feed --base-events "$BASES" --events-per-base 3 --zones 2 --seed 1 > "$DIR/big-$BASES.xml"
for seed in 1 2; do
  "$BIN" gen-feed --base-events 4 --events-per-base 3 --zones 2 --seed "$seed" > "$DIR/small-$seed.xml"
done
cp "$DIR/small-1.xml" "$DIR/small.xml"
if [[ $STORE == postgres ]]; then
  psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
  URL="${PG_ADMIN%/*}/$DB"
  PORTS=(18090 18091)
else
  rm -f "$DIR"/store.db*
  URL="sqlite://$DIR/store.db?mode=rwc"
  PORTS=(18090)
fi
for port in "${PORTS[@]}"; do
  cat > "$DIR/c$port.toml" <<TOML
[server]
addr = "127.0.0.1:$port"
snapshot_file = "$DIR/snapshot-$port.bin"
[database]
url = "$URL"
poll_interval = "1h"
[admin]
token = "bench"
[log]
level = "warn"
[archive]
enabled = false
[providers.big]
kind = "fever-xml"
enabled = false
url = "file://$DIR/big-$BASES.xml"
timeout = "600s"
deadline = "1800s"
max_feed_bytes = 2000000000
[providers.small]
kind = "fever-xml"
enabled = false
url = "file://$DIR/small.xml"
TOML
done
echo "== $(date -u +%FT%TZ), $("$BIN" --version 2>/dev/null || echo boxoffice), $STORE, $BASES x 3 sessions"
/usr/bin/time -f "first sync of the big feed: %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
  "$BIN" --config "$DIR/c18090.toml" --quiet sync --provider big >/dev/null
"$BIN" --config "$DIR/c18090.toml" --quiet sync --provider small >/dev/null
for port in "${PORTS[@]}"; do
  started=$(date +%s.%N)
  "$BIN" --config "$DIR/c$port.toml" serve 2>>"$DIR/serve-$port.log" &
  pids+=("$!")
  for _ in $(seq 1 1200); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
    sleep 0.05
  done
  echo "process on :$port ready after $(echo "$(date +%s.%N) - $started" | bc) s: $(curl -s "http://127.0.0.1:$port/ready")"
done
python3 - "$DIR" "${pids[@]}" <<'PY'
import http.client, json, os, shutil, sys, threading, time
from datetime import datetime

directory, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
ports = [18090 + i for i in range(len(pids))]
NARROW = "/search?starts_at=2022-03-01T00:00:00Z&ends_at=2022-03-01T12:00:00Z"
SMALL = "/search?provider=small&starts_at=2020-01-01T00:00:00Z&ends_at=2025-01-01T00:00:00Z"

def get(port, path, conn={}):
    c = conn.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn[port] = c
    c.request("GET", path)
    return c.getresponse().read()

def titles(port, conns={}):
    body = get(port, SMALL, conns.setdefault(port, {}))
    return sorted(e["title"] + e["start_date"] for e in json.loads(body)["data"]["events"])

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

def p99(samples):
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000 if samples else float("nan")

class Watch(threading.Thread):
    """Narrow /search latencies and peak RSS of every process while it runs."""
    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.latencies, self.peak = False, [], [0.0] * len(pids)
    def run(self):
        conns = {}
        while not self.stop:
            sent = time.perf_counter()
            get(ports[0], NARROW, conns)
            self.latencies.append(time.perf_counter() - sent)
            self.peak = [max(p, rss_mb(pid)) for p, pid in zip(self.peak, pids)]
            time.sleep(0.002)

idle = Watch(); idle.start(); time.sleep(3); idle.stop = True; idle.join()
print(f"idle: narrow p99 {p99(idle.latencies):.2f} ms over {len(idle.latencies)} requests; RSS "
      + ", ".join(f"{rss_mb(pid):.0f} MB" for pid in pids))
for round in range(5):
    before = [titles(port) for port in ports]
    shutil.copy(os.path.join(directory, f"small-{2 if round % 2 == 0 else 1}.xml"), os.path.join(directory, "small.xml"))
    idle_rss = [rss_mb(pid) for pid in pids]
    cpus = [cpu(pid) for pid in pids]
    watch = Watch(); watch.start()
    conn = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=600)
    sent = time.monotonic()
    conn.request("POST", "/admin/providers/small/sync", headers={"Authorization": "Bearer bench"})
    response = conn.getresponse()
    report = json.loads(response.read())["data"]["report"]
    answered = time.monotonic() - sent
    committed = datetime.fromisoformat(report["finished_at"].replace("Z", "+00:00")).timestamp()
    seen = []
    for port, old in zip(ports, before):
        while titles(port) == old and time.monotonic() - sent < 120:
            time.sleep(0.002)
        seen.append((time.monotonic() - sent, time.time() - committed))
    time.sleep(1)
    watch.stop = True; watch.join()
    print(f"change {round + 1}: sync {response.status} ({report['updated']} updated), answered after {answered * 1000:.0f} ms; "
          + "; ".join(f":{port} serves it {s * 1000:.0f} ms after the POST, {c * 1000:.0f} ms after the commit"
                      for port, (s, c) in zip(ports, seen))
          + "; CPU " + ", ".join(f"{cpu(pid) - c0:.3f} s" for pid, c0 in zip(pids, cpus))
          + "; RSS peak/idle " + ", ".join(f"{p:.0f}/{i:.0f} MB" for p, i in zip(watch.peak, idle_rss))
          + f"; narrow p99 {p99(watch.latencies):.2f} ms over {len(watch.latencies)}")
PY
# Start-up from the snapshot file the first process writes at shutdown (item 5).
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
started=$(date +%s.%N)
"$BIN" --config "$DIR/c18090.toml" serve 2>>"$DIR/serve-18090.log" &
pids[0]=$!
for _ in $(seq 1 1200); do
  curl -sf "http://127.0.0.1:18090/ready" >/dev/null && break
  sleep 0.05
done
echo "restarted with its snapshot file ($(du -m "$DIR/snapshot-18090.bin" | cut -f1) MB): ready after $(echo "$(date +%s.%N) - $started" | bc) s: $(curl -s http://127.0.0.1:18090/ready)"
