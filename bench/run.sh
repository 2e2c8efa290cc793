#!/usr/bin/env bash
# `make bench`: every figure of BENCHMARKS.md, on this machine, loopback only.
#
#   bench/run.sh [SECTION...]    sections: parser ingest json search scale (default: all)
#
# Each load runs for a fixed time against 127.0.0.1 and stops by itself; every server
# started here (the feed server, Boxoffice, nginx) is stopped on exit, however it ends.
#
# search: Boxoffice and nginx side by side in one run. The exact bytes Boxoffice
# answers for each window are saved to files, nginx serves those files (and their
# gzip -9 / brotli -q 11 copies through gzip_static / brotli_static), and oha loads
# both in turn, ROUNDS rounds each, plain and with Accept-Encoding gzip and br.
#
# Environment: BENCH_DURATION (10s per run), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
# BENCH_SCALES ("150k 1.5M"), TEST_DATABASE_URL (PostgreSQL for the ingest figures),
# BENCH_BIN (another build of boxoffice to measure, e.g. an older commit's; nothing
# is built then), BENCH_LOADGEN=wrk (Debian's wrk instead of building oha).
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=${*:-parser ingest json search scale}
OUT=bench-out
BIN=${BENCH_BIN:-target/release/boxoffice}
TOOLS=target/bench-tools
PG_ADMIN=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
FEED_PORT=18081
APP_PORT=18080
NGINX_PORT=18082
DURATION=${BENCH_DURATION:-10s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-50}
SCALES=${BENCH_SCALES:-150k 1.5M}
NARROW="starts_at=2022-03-01T00:00:00Z&ends_at=2022-03-02T12:00:00Z"
WIDE="starts_at=2022-03-01T00:00:00Z&ends_at=2022-05-26T00:00:00Z"
SAME_SIZE="starts_at=2022-03-01T00:00:00Z&ends_at=2022-03-01T02:00:00Z"
mkdir -p "$OUT" "$TOOLS"

has() { [[ " $SECTIONS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
apt_install() { # packages, installed when missing (Debian)
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

LOADGEN=""
tools() {
  apt_install curl python3 gzip brotli nginx-light
  # nginx's brotli_static module is a package of its own; without it, br is measured
  # for Boxoffice alone.
  apt_install libnginx-mod-http-brotli-static 2>/dev/null || true
  if ! has ingest || command -v psql >/dev/null; then :; else apt_install postgresql-client; fi
  # The Debian package may start a system nginx on port 80; this script never uses it.
  if [[ ${BENCH_LOADGEN:-} == wrk ]]; then
    apt_install wrk
    LOADGEN=wrk
  elif [[ -x $TOOLS/bin/oha ]] || command -v oha >/dev/null; then
    LOADGEN=oha
  else
    echo "== building oha (cargo install --locked; about 9 min of CPU) into $TOOLS"
    local started=$SECONDS
    if cargo install oha --locked --root "$TOOLS" -q; then
      echo "oha built in $((SECONDS - started)) s"
      LOADGEN=oha
    else
      echo "oha could not be built: falling back to Debian's wrk"
      apt_install wrk
      LOADGEN=wrk
    fi
  fi
  OHA=$(command -v oha || echo "$TOOLS/bin/oha")
  [[ -x $TOOLS/bin/oha ]] && OHA=$TOOLS/bin/oha
  echo "load generator: $LOADGEN $([[ $LOADGEN == oha ]] && "$OHA" --version)"
}

# One load run: $1 = output file (without suffix), $2 = URL, $3 = Accept-Encoding or "".
load() {
  local out=$1 url=$2 coding=$3
  if [[ $LOADGEN == oha ]]; then
    # oha asks for compressed bodies unless told not to: each run names its coding.
    local args=(--no-tui --output-format json --disable-compression -c "$CONNECTIONS" -z "$DURATION")
    [[ -n $coding ]] && args+=(-H "Accept-Encoding: $coding")
    timeout $(( ${DURATION%s} + 30 )) "$OHA" "${args[@]}" "$url" > "$out.json"
  else
    local args=(-t2 -c"$CONNECTIONS" -d"$DURATION" --latency)
    [[ -n $coding ]] && args+=(-H "Accept-Encoding: $coding")
    timeout $(( ${DURATION%s} + 30 )) wrk "${args[@]}" "$url" > "$out.txt"
  fi
}

# ---------------------------------------------------------------- processes
pids=()
NGINX_PID=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n $NGINX_PID ]]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # $1 = pid: TERM, then wait for it
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

rss_mb() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
hwm_mb() { awk '/VmHWM/{printf "%.0f", $2/1024}' "/proc/$1/status"; }

# $1 = file, $2 = database url, $3 = feed file name. LOG=shipped keeps config.toml's
# logging (info, one access line per request); the default is quiet (warn, no access
# lines), PORT another port than APP_PORT.
config() {
  local log='level = "warn"'
  [[ ${LOG:-quiet} == shipped ]] && log=$(sed -n '/^\[log\]/,/^\[/{/^\[/d;p}' config.toml)
  cat > "$1" <<TOML
[server]
addr = "127.0.0.1:${PORT:-$APP_PORT}"
[database]
url = "$2"
[admin]
token = "bench"
[log]
$log
[archive]
enabled = false
dir = "$OUT/archive"
[providers.bench]
kind = "fever-xml"
enabled = false
url = "http://127.0.0.1:$FEED_PORT/${3:-feed.xml}"
timeout = "1800s"
deadline = "3600s"
max_feed_bytes = 8589934592
TOML
}

# Starts `boxoffice serve` with config $1; sets APP_PID and STARTUP_S (from the
# process's start to its first answer: loading the store and building the snapshot).
# $2: its port, when not APP_PORT.
serve() {
  local started port=${2:-$APP_PORT}
  started=$(date +%s.%N)
  "$BIN" --config "$1" serve 2>>"$OUT/serve${2:+-$2}.log" &
  APP_PID=$!
  pids+=("$APP_PID")
  for _ in $(seq 1 1200); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$APP_PID" 2>/dev/null || { echo "boxoffice serve died; see $OUT/serve.log"; exit 1; }
    sleep 0.05
  done
  STARTUP_S=$(python3 -c "import time,sys; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$started")
}

feed_server() {
  if [[ -z ${FEED_PID:-} ]]; then
    python3 -m http.server "$FEED_PORT" --bind 127.0.0.1 --directory "$OUT" >/dev/null 2>&1 &
    FEED_PID=$!
    pids+=("$FEED_PID")
    sleep 1
  fi
}

# Runs a command; prints its wall time and the peak RSS of the process.
measure() { python3 bench/measure.py "$@"; }

# ---------------------------------------------------------------- start
echo "== $(date -u +%FT%TZ), machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== $(rustc --version), commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
echo "== load on the machine before starting: $(cut -d' ' -f1-3 /proc/loadavg)"
tools
[[ -n ${BENCH_BIN:-} ]] || cargo build --release -q -p boxoffice-server --bin boxoffice
echo "== measuring $BIN"

if has parser; then
  echo "== parser throughput (criterion)"
  cargo bench -q -p boxoffice-provider-fever --bench parse 2>/dev/null | grep -E "time:|thrpt:" | tee "$OUT/parse.txt"
fi

if has ingest || has search; then
  echo "== feeds"
  [[ -f $OUT/large-1.xml ]] || "$BIN" gen-feed --base-events 5000 --events-per-base 3 --zones 100 --seed 1 > "$OUT/large-1.xml"
  [[ -f $OUT/large-2.xml ]] || "$BIN" gen-feed --base-events 5000 --events-per-base 3 --zones 100 --seed 2 > "$OUT/large-2.xml"
  ls -l "$OUT"/large-1.xml | awk '{printf "large feed: %.1f MB, 15,000 sessions x 100 zones\n", $5/1e6}'
  feed_server
fi

ingest() { # $1 = label, $2 = config
  echo "== ingest into $1"
  cp "$OUT/large-1.xml" "$OUT/feed.xml"
  printf "first sync:      "; measure "$BIN" --config "$2" sync --provider bench
  # The feed server answers If-Modified-Since: the same file again is a 304 (the kit's
  # conditional GET); touched, it is fetched and parsed whole, every record unchanged.
  printf "unchanged sync (304):        "; measure "$BIN" --config "$2" sync --provider bench
  # The feed server's Last-Modified counts whole seconds: a change within the second
  # of the last fetch would read as unchanged (a 304). Wait for the next second.
  sleep 1.1
  touch "$OUT/feed.xml"
  printf "unchanged sync, fetched:     "; measure "$BIN" --config "$2" sync --provider bench
  sleep 1.1
  cp "$OUT/large-2.xml" "$OUT/feed.xml"
  printf "all-changed sync: "; measure "$BIN" --config "$2" sync --provider bench
}

if has ingest; then
  rm -f "$OUT"/bench.db*
  config "$OUT/sqlite.toml" "sqlite://$OUT/bench.db?mode=rwc"
  ingest SQLite "$OUT/sqlite.toml"
  PG_DB="bench_$(date +%s)"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null
  config "$OUT/postgres.toml" "${PG_ADMIN%/*}/$PG_DB"
  ingest PostgreSQL "$OUT/postgres.toml"
  psql "$PG_ADMIN" -qc "DROP DATABASE $PG_DB WITH (FORCE)" >/dev/null
fi

# ---------------------------------------------------------------- json kind
if has json; then
  echo "== the json kind on the JSON rendition of the large feed (bench/json.sh)"
  bash bench/json.sh
fi

# ---------------------------------------------------------------- search vs nginx
nginx_conf() { # $1 = root
  local brotli_module=/usr/lib/nginx/modules/ngx_http_brotli_static_module.so
  local brotli_load="" brotli_on=""
  if [[ -f $brotli_module ]]; then
    brotli_load="load_module $brotli_module;"
    brotli_on="brotli_static on;"
  fi
  mkdir -p "$OUT/nginx/tmp"
  cat > "$OUT/nginx/nginx.conf" <<CONF
# Generated by bench/run.sh: nginx serving the very bytes Boxoffice answered.
$brotli_load
worker_processes $(nproc);
daemon off;
user root;
pid $PWD/$OUT/nginx/nginx.pid;
error_log $PWD/$OUT/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000000;
  open_file_cache max=64 inactive=600s;
  open_file_cache_valid 600s;
  keepalive_timeout 60s;
  client_body_temp_path $PWD/$OUT/nginx/tmp;
  proxy_temp_path $PWD/$OUT/nginx/tmp;
  fastcgi_temp_path $PWD/$OUT/nginx/tmp;
  uwsgi_temp_path $PWD/$OUT/nginx/tmp;
  scgi_temp_path $PWD/$OUT/nginx/tmp;
  types { application/json json; }
  default_type application/json;
  gzip_static on;
  gzip_vary on;
  $brotli_on
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $1;
  }
}
CONF
  [[ -n $brotli_on ]]
}

if has search; then
  # The store holds large-2's values (as the ingest leaves it) whatever ran before:
  # the windows' bytes are the same from run to run.
  config "$OUT/sqlite.toml" "sqlite://$OUT/bench.db?mode=rwc"
  cp "$OUT/large-2.xml" "$OUT/feed.xml"
  "$BIN" --config "$OUT/sqlite.toml" sync --provider bench >/dev/null
  echo "== /search vs nginx serving the same bytes ($LOADGEN -c $CONNECTIONS, $DURATION, $ROUNDS rounds each, alternating; SQLite store)"
  serve "$OUT/sqlite.toml"
  echo "start-up to serving: $STARTUP_S s, RSS $(rss_mb "$APP_PID") MB"
  curl -s "http://127.0.0.1:$APP_PORT/ready" | python3 -c 'import sys, json; print("searchable items:", json.load(sys.stdin)["data"]["items"])'
  WWW=$PWD/$OUT/www
  rm -rf "$WWW" "$OUT/runs"
  mkdir -p "$WWW" "$OUT/runs"
  for window in narrow wide; do
    query=$NARROW
    [[ $window == wide ]] && query=$WIDE
    url="http://127.0.0.1:$APP_PORT/search?$query"
    curl -sf -o "$WWW/$window.json" "$url"
    gzip -9 -n -c "$WWW/$window.json" > "$WWW/$window.json.gz"
    brotli -q 11 -c "$WWW/$window.json" > "$WWW/$window.json.br"
    # Boxoffice's own compressed answers must decode to the same bytes.
    curl -sf -H "Accept-Encoding: gzip" -o "$OUT/runs/$window.box.gz" "$url"
    curl -sf -H "Accept-Encoding: br" -o "$OUT/runs/$window.box.br" "$url"
    for coding in gz br; do
      if cmp -s "$OUT/runs/$window.box.$coding" "$WWW/$window.json"; then
        echo "$window: Boxoffice answers Accept-Encoding $coding uncompressed"
      elif ! { if [[ $coding == gz ]]; then gzip -dc; else brotli -dc; fi; } < "$OUT/runs/$window.box.$coding" | cmp -s - "$WWW/$window.json"; then
        echo "the $coding answer of $window does not decode to the plain bytes"
        exit 1
      fi
    done
    python3 - "$WWW/$window.json" "$OUT/runs/$window.box.gz" "$OUT/runs/$window.box.br" "$WWW/$window.json.gz" "$WWW/$window.json.br" <<'PY'
import json, os, sys
plain, box_gz, box_br, ngx_gz, ngx_br = sys.argv[1:]
items = len(json.load(open(plain))["data"]["events"])
size = lambda p: os.path.getsize(p)
name = os.path.basename(plain).split(".")[0]
print(f"{name} window: {items} items, {size(plain):,} bytes; gzip: Boxoffice {size(box_gz):,} / gzip -9 {size(ngx_gz):,}; "
      f"br: Boxoffice {size(box_br):,} / brotli -q 11 {size(ngx_br):,}")
PY
  done
  HAVE_NGINX_BR=0
  nginx_conf "$WWW" && HAVE_NGINX_BR=1
  [[ $HAVE_NGINX_BR == 1 ]] || echo "nginx has no brotli_static module here: br is measured for Boxoffice alone"
  nginx -t -q -c "$PWD/$OUT/nginx/nginx.conf" -p "$PWD/$OUT/nginx"
  nginx -c "$PWD/$OUT/nginx/nginx.conf" -p "$PWD/$OUT/nginx" &
  NGINX_PID=$!
  sleep 1
  # The shipped logging (info, an access line per request, to a file here) beside the
  # quiet configuration, on the same store, alternating with it and nginx round by round.
  SHIPPED_PORT=18083
  LOG=shipped PORT=$SHIPPED_PORT config "$OUT/shipped.toml" "sqlite://$OUT/bench.db?mode=rwc"
  QUIET_PID=$APP_PID
  rm -f "$OUT/serve-$SHIPPED_PORT.log"
  serve "$OUT/shipped.toml" "$SHIPPED_PORT"
  SHIPPED_PID=$APP_PID
  APP_PID=$QUIET_PID
  mkdir -p "$OUT/runs/shipped"
  for window in narrow wide; do
    query=$NARROW
    [[ $window == wide ]] && query=$WIDE
    curl -sf "http://127.0.0.1:$NGINX_PORT/$window.json" | cmp -s - "$WWW/$window.json" || { echo "nginx does not serve the same $window bytes"; exit 1; }
    for coding in plain gzip br; do
      accept=""
      [[ $coding != plain ]] && accept=$coding
      for round in $(seq 1 "$ROUNDS"); do
        load "$OUT/runs/$window.$coding.boxoffice.$round" "http://127.0.0.1:$APP_PORT/search?$query" "$accept"
        if [[ $coding == plain ]]; then
          load "$OUT/runs/shipped/$window.$coding.boxoffice.$round" "http://127.0.0.1:$SHIPPED_PORT/search?$query" ""
        fi
        if [[ $coding != br || $HAVE_NGINX_BR == 1 ]]; then
          load "$OUT/runs/$window.$coding.nginx.$round" "http://127.0.0.1:$NGINX_PORT/$window.json" "$accept"
          [[ $coding == plain ]] && cp "$OUT/runs/$window.$coding.nginx.$round".* "$OUT/runs/shipped/"
        fi
      done
    done
  done
  echo "-- quiet configuration (log.level = warn, no access lines)"
  python3 bench/summarize.py table "$OUT/runs"
  echo "-- shipped logging (config.toml's [log]: info, an access line per request), same rounds"
  python3 bench/summarize.py table "$OUT/runs/shipped"
  echo "access lines written: $(grep -c 'access' "$OUT/serve-$SHIPPED_PORT.log" || true), log lines dropped: $(curl -s "http://127.0.0.1:$SHIPPED_PORT/metrics" | awk '/^boxoffice_log_lines_dropped_total/{print $2}')"
  stop "$SHIPPED_PID"
  echo "-- CPU of answers rendered afresh (bench/probe.py; quiet configuration)"
  python3 bench/probe.py compression "$APP_PID" "http://127.0.0.1:$APP_PORT" 100
  # As wide as the wide window (86 days, ~1,000 items, ~210 KB).
  python3 bench/probe.py compression "$APP_PID" "http://127.0.0.1:$APP_PORT" 20 2064
  python3 bench/probe.py not-found "http://127.0.0.1:$APP_PORT" "$OUT/large-2.xml" bench 400
  echo "Boxoffice RSS after the runs: $(rss_mb "$APP_PID") MB (peak $(hwm_mb "$APP_PID") MB)"
  kill -QUIT "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=""

  echo "-- narrow window while a large sync (every record changed) runs in the same process, $ROUNDS runs"
  # The store holds large-2's values (the last ingest): syncing large-1 changes every
  # record, and each later run swaps the feed back, so every run rewrites all of them.
  for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then cp "$OUT/large-1.xml" "$OUT/feed.xml"; else cp "$OUT/large-2.xml" "$OUT/feed.xml"; fi
    ( sleep 1; curl -s -o "$OUT/sync-during-load.json" -w "sync answered %{http_code} after %{time_total}s\n" \
        -X POST -H "Authorization: Bearer bench" "http://127.0.0.1:$APP_PORT/admin/providers/bench/sync" ) &
    sync_pid=$!
    load "$OUT/runs/during-sync.$round" "http://127.0.0.1:$APP_PORT/search?$NARROW" ""
    wait "$sync_pid"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["data"]["report"]; print("sync report:", r["status"], "updated", r["updated"])' "$OUT/sync-during-load.json"
  done
  printf "during the syncs: "; python3 bench/summarize.py one "$OUT"/runs/during-sync.*
  printf "idle:             "; python3 bench/summarize.py one "$OUT"/runs/narrow.plain.boxoffice.*
  python3 bench/summarize.py p99-ratio "$OUT"/runs/during-sync.* -- "$OUT"/runs/narrow.plain.boxoffice.*
  stop "$APP_PID"
fi

# ---------------------------------------------------------------- scale
if has scale; then
  echo "== cost at scale (one provider, SQLite; oha -c $CONNECTIONS -z $DURATION, $ROUNDS rounds)"
  feed_server
  for scale in $SCALES; do
    case $scale in
      150k) shape=(--base-events 50000 --events-per-base 3 --zones 10) ;;
      1.5M) shape=(--base-events 500000 --events-per-base 3 --zones 2) ;;
      *) echo "unknown scale $scale"; continue ;;
    esac
    db="$OUT/scale-$scale.db"
    config "$OUT/scale-$scale.toml" "sqlite://$db?mode=rwc" "scale-$scale.xml"
    if [[ ! -f $db.done ]]; then
      rm -f "$db"*
      "$BIN" gen-feed "${shape[@]}" --seed 1 > "$OUT/scale-$scale.xml"
      ls -l "$OUT/scale-$scale.xml" | awk -v s="$scale" '{printf "%s feed: %.0f MB\n", s, $5/1e6}'
      printf "%s first sync: " "$scale"
      measure "$BIN" --config "$OUT/scale-$scale.toml" sync --provider bench
      rm -f "$OUT/scale-$scale.xml"
      touch "$db.done"
    fi
    serve "$OUT/scale-$scale.toml"
    items=$(curl -s "http://127.0.0.1:$APP_PORT/ready" | python3 -c 'import sys, json; print(json.load(sys.stdin)["data"]["items"])')
    sleep 2
    echo "$scale: $items searchable items; start-up to serving $STARTUP_S s; RSS serving $(rss_mb "$APP_PID") MB (peak during start-up $(hwm_mb "$APP_PID") MB)"
    # At 1.5 M items the narrow window holds 90 times the items it holds at 15,000
    # (376 KB): "same-size" is a window that holds about as many as the narrow one
    # there (19 items, 4.1 KB against 23 and 4.9 KB), to compare the cost of search
    # itself with the 15,000-item figure.
    windows="narrow wide"
    [[ $scale == 1.5M ]] && windows="narrow wide same-size"
    for window in $windows; do
      case $window in
        narrow) query=$NARROW ;;
        wide) query=$WIDE ;;
        same-size) query=$SAME_SIZE ;;
      esac
      bytes=$(curl -s "http://127.0.0.1:$APP_PORT/search?$query" | wc -c)
      for round in $(seq 1 "$ROUNDS"); do
        load "$OUT/runs/scale-$scale.$window.$round" "http://127.0.0.1:$APP_PORT/search?$query" ""
      done
      echo "$scale $window ($bytes bytes): $(python3 bench/summarize.py one "$OUT"/runs/scale-"$scale".$window.*)"
    done
    echo "$scale: RSS after the runs $(rss_mb "$APP_PID") MB"
    stop "$APP_PID"
  done
fi
echo "== done $(date -u +%FT%TZ)"
