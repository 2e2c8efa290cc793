#!/usr/bin/env bash
# `make test`: sets up everything the tests need, then runs every test; nothing may
# be skipped.
#
# 1. Debian packages, when missing, if it can (root or `sudo -n`, and apt-get):
#    chromium (the /status page test), prometheus for its promtool (the alert rules
#    of docs/ops, server/tests/api/ops_docs.rs), python3 + python3-venv and curl (the
#    contract test), postgresql (only when TEST_DATABASE_URL is unset).
# 2. ./.venv with schemathesis, from PyPI (tools/contract_test.sh prepare).
# 3. PostgreSQL: $TEST_DATABASE_URL when set (nothing is provisioned); otherwise a
#    throwaway server under target/test-postgres/ (tools/test-postgres.sh), stopped
#    when this script ends, whether the tests pass, fail or are interrupted.
# 4. cargo test (all targets, then doc tests) with TEST_REQUIRE_SERVICES=1, so a
#    test that would skip for want of PostgreSQL, Chromium or promtool fails
#    instead; then the schemathesis contract test.
#
# `tools/test.sh deps` does 1 and 2 only.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
say() { echo "test: $*" >&2; }
die() { say "$*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

# The Chromium binary: $CHROMIUM when set, else /usr/bin/chromium, else one on PATH.
find_chromium() {
  if [ -n "${CHROMIUM:-}" ]; then
    [ -x "$CHROMIUM" ] && { echo "$CHROMIUM"; return 0; }
    return 1
  fi
  [ -x /usr/bin/chromium ] && { echo /usr/bin/chromium; return 0; }
  command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null
}

# promtool: $PROMTOOL when set, else one on PATH (Debian's prometheus package).
find_promtool() {
  if [ -n "${PROMTOOL:-}" ]; then
    [ -x "$PROMTOOL" ] && { echo "$PROMTOOL"; return 0; }
    return 1
  fi
  command -v promtool 2>/dev/null
}

install_packages() {
  local missing=()
  if [ -n "${CHROMIUM:-}" ] && [ ! -x "$CHROMIUM" ]; then
    die "CHROMIUM=$CHROMIUM is no executable"
  fi
  if [ -n "${PROMTOOL:-}" ] && [ ! -x "$PROMTOOL" ]; then
    die "PROMTOOL=$PROMTOOL is no executable"
  fi
  find_chromium >/dev/null || missing+=(chromium)
  # Only its promtool is used. Installing it starts no Prometheus where services
  # are not started by package scripts (containers' policy-rc.d); elsewhere Debian
  # starts one on port 9090, which the tests never use.
  find_promtool >/dev/null || missing+=(prometheus)
  if ! command -v python3 >/dev/null; then
    missing+=(python3 python3-venv)
  elif ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
  fi
  command -v curl >/dev/null || missing+=(curl)
  if [ -z "${TEST_DATABASE_URL:-}" ] && ! tools/test-postgres.sh bindir >/dev/null 2>&1; then
    missing+=(postgresql)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  say "missing: ${missing[*]}: installing Debian's packages"
  if ! command -v apt-get >/dev/null || ! as_root true; then
    die "cannot install ${missing[*]} (needs apt-get, and root or password-less sudo): install them, then run make test again"
  fi
  as_root timeout 300 apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive timeout 900 \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

install_packages
tools/contract_test.sh prepare
if [ "${1:-}" = deps ]; then
  exit 0
fi

CHROMIUM=$(find_chromium) || die "Chromium is still missing"
export CHROMIUM
PROMTOOL=$(find_promtool) || die "promtool is still missing"
export PROMTOOL
# Not BOXOFFICE_*: the server would warn that it is no configuration key.
export TEST_REQUIRE_SERVICES=1

postgres_started=0
cleanup() {
  if [ "$postgres_started" = 1 ]; then
    tools/test-postgres.sh stop || say "stopping the test PostgreSQL failed"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  say "PostgreSQL: TEST_DATABASE_URL=$TEST_DATABASE_URL (provisioning nothing)"
else
  postgres_started=1
  line=$(tools/test-postgres.sh start)
  export TEST_DATABASE_URL=${line#TEST_DATABASE_URL=}
fi

"$CARGO" test --workspace --all-targets
"$CARGO" test --workspace --doc
tools/contract_test.sh
