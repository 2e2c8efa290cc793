#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, under target/test-postgres/.
#
#   tools/test-postgres.sh start    # prints TEST_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/test
#   tools/test-postgres.sh stop     # stops it and deletes its data
#   tools/test-postgres.sh status
#   tools/test-postgres.sh bindir   # prints the folder of initdb, fails when there is none
#
# `start` installs Debian's `postgresql` package when initdb is missing and it can
# (root, or password-less sudo, and apt-get), runs initdb into a fresh data folder,
# and starts the server on a free port of 127.0.0.1 only: no Unix socket, trust
# authentication for 127.0.0.1 alone, fsync off (the data is thrown away). PostgreSQL
# refuses to run as root, so as root it runs as the `postgres` system user (made by
# Debian's package), else as `nobody`. Every step is bounded in time.
# `eval "$(tools/test-postgres.sh start)"; export TEST_DATABASE_URL` gives a shell
# the same server `make test` uses; `tools/test-postgres.sh stop` ends it.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target="$PWD/$target" ;; esac
home="$target/test-postgres"
# Where the data folder is: $home/data, unless the server's user cannot reach $home
# (then a folder under /tmp, whose path is kept in $home/location).
location_file="$home/location"

say() { echo "test-postgres: $*" >&2; }
die() { say "$*"; exit 1; }

# Runs "$@" as root: directly, or through password-less sudo; fails otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

can_install() {
  command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; }
}

# The folder holding initdb and pg_ctl: $PG_BINDIR, else PATH, else Debian's
# /usr/lib/postgresql/<newest>/bin.
find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    [ -x "$PG_BINDIR/initdb" ] && { echo "$PG_BINDIR"; return 0; }
    return 1
  fi
  local initdb
  if initdb=$(command -v initdb 2>/dev/null); then
    dirname "$(readlink -f "$initdb")"
    return 0
  fi
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  return 1
}

ensure_postgres() {
  if bindir=$(find_bindir); then return 0; fi
  [ -z "${PG_BINDIR:-}" ] || die "PG_BINDIR=$PG_BINDIR holds no initdb"
  can_install || die "initdb not found, and installing Debian's postgresql package needs root (or sudo -n) and apt-get: \
install PostgreSQL (initdb, pg_ctl) yourself, or set TEST_DATABASE_URL to a server of yours"
  say "initdb not found: installing Debian's postgresql package"
  as_root timeout 300 apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends postgresql >&2
  bindir=$(find_bindir) || die "initdb is still missing after installing postgresql"
}

# The unprivileged user the server runs as, and a prefix that runs commands as it.
choose_user() {
  run_as=()
  pg_user=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
    run_as=(runuser -u "$pg_user" --)
  fi
}

# The data folder's parent: $home if the server's user can write there, else /tmp.
choose_location() {
  mkdir -p "$home"
  local base="$home"
  if [ ${#run_as[@]} -gt 0 ]; then
    chown "$pg_user" "$home"
    if ! (cd / && "${run_as[@]}" test -w "$home" -a -x "$home"); then
      base=$(mktemp -d "${TMPDIR:-/tmp}/boxoffice-test-postgres.XXXXXX")
      chown "$pg_user" "$base"
      say "$pg_user cannot reach $home: using $base"
    fi
  fi
  echo "$base" > "$location_file"
  echo "$base"
}

current_base() {
  if [ -f "$location_file" ]; then cat "$location_file"; else echo "$home"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  local base data pid
  base=$(current_base)
  data="$base/data"
  if [ -f "$data/postmaster.pid" ]; then
    pid=$(head -n 1 "$data/postmaster.pid")
    if kill -0 "$pid" 2>/dev/null; then
      bindir=$(find_bindir) || bindir=""
      choose_user
      if [ -n "$bindir" ]; then
        (cd "$base" && timeout 40 "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1) ||
          (cd "$base" && timeout 20 "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1) || true
      fi
      if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
      say "stopped (pid $pid)"
    fi
  fi
  # The last server's log stays, for a failed run to be looked into.
  if [ -f "$base/postgres.log" ]; then mv -f "$base/postgres.log" "$home/last-postgres.log"; fi
  rm -rf "$data" "$base/initdb.log" "$home/url"
  if [ "$base" != "$home" ]; then rm -rf "$base"; fi
  rm -f "$location_file"
}

start() {
  command -v python3 >/dev/null || die "python3 is needed (to pick a free port)"
  stop
  ensure_postgres
  choose_user
  local base data log port url
  base=$(choose_location)
  data="$base/data"
  log="$base/postgres.log"
  say "initdb ($bindir) into $data as $pg_user"
  (cd "$base" && timeout 120 "${run_as[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1) || {
    cat "$base/initdb.log" >&2
    die "initdb failed"
  }
  # Only TCP from 127.0.0.1 is let in; there is no Unix socket.
  printf 'host all all 127.0.0.1/32 trust\n' > "$data/pg_hba.conf"
  if [ ${#run_as[@]} -gt 0 ]; then chown "$pg_user" "$data/pg_hba.conf" "$base"; fi
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if (cd "$base" && timeout 90 "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1); then
      break
    fi
    if [ "$attempt" -eq 5 ]; then
      tail -n 30 "$log" >&2 2>/dev/null || true
      die "PostgreSQL did not start (log: $log)"
    fi
    say "port $port: no start, trying another"
  done
  url="postgres://postgres@127.0.0.1:$port"
  timeout 30 "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$url/postgres" -c 'CREATE DATABASE test' >/dev/null ||
    die "creating the database test failed"
  echo "$url/test" > "$home/url"
  say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $url/test (data in $data)"
  echo "TEST_DATABASE_URL=$url/test"
}

status() {
  local base
  base=$(current_base)
  if [ -f "$base/data/postmaster.pid" ] && kill -0 "$(head -n 1 "$base/data/postmaster.pid")" 2>/dev/null &&
    [ -f "$home/url" ]; then
    echo "running: TEST_DATABASE_URL=$(cat "$home/url")"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  bindir) find_bindir ;;
  *) die "usage: $0 start|stop|status|bindir" ;;
esac
