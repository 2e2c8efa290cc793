#!/usr/bin/env bash
# Instructions per /search request, counted by callgrind (deterministic, unlike a
# load test on a shared machine), and where they go.
#
#   bench/profile.sh BINARY CONFIG [REQUESTS] [QUERY] [ACCEPT_ENCODING]
#
# Starts BINARY serve under callgrind with instrumentation off, waits until it answers,
# sends a few warm-up requests uninstrumented, then counts REQUESTS (default 2000) requests made one
# after another on one kept-alive connection from 127.0.0.1, and prints the count per
# request and the functions that take most of it (inclusive).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1
CONFIG=$2
REQUESTS=${3:-2000}
QUERY=${4:-starts_at=2022-03-01T00:00:00Z&ends_at=2022-03-02T12:00:00Z}
ACCEPT=${5:-}
OUT=bench-out/profile
mkdir -p "$OUT"
PORT=$(awk -F'[:"]' '/^addr/{print $(NF-1)}' "$CONFIG")
name=$(basename "$BIN")-$(date +%s)
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/$name.out" \
  "$BIN" --config "$CONFIG" serve 2>"$OUT/$name.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
client() { # $1 = requests
  python3 - "$PORT" "$1" "$QUERY" "$ACCEPT" <<'PY'
import http.client, sys
port, count, query, accept = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Accept-Encoding": accept} if accept else {}
for _ in range(count):
    connection.request("GET", "/search?" + query, headers=headers)
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
}
client 50
callgrind_control -i on "$pid" >/dev/null
client "$REQUESTS"
callgrind_control -d "$pid" >/dev/null
callgrind_control -i off "$pid" >/dev/null
kill "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
file="$OUT/$name.out.1"
total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$(basename "$BIN"): $total instructions for $REQUESTS requests: $((total / REQUESTS)) per request"
callgrind_annotate --inclusive=yes "$file" 2>/dev/null | sed -n '/^Ir/,$p' | head -45
