#!/usr/bin/env bash
# ctest `flash_crowd_serve`: bench/flash_crowd's both flows against a real `hotdeal serve --log
# none` on a free loopback port, with user tokens from `hotdeal token --users-file` and confirms
# by the service token. 2000 users: about half claim 300 coupons, the rest order a 200-unit sale
# with 2 s holds (60 % confirmed, 20 % cancelled, the rest abandoned); the run waits for the holds
# to expire and must pass every audit (orders read back, per-user limit, the sale's books close
# and agree with the answers). A second, short run confirms with a wrong service token and
# must fail its audit. About 10 s.
#
# With `durable` (ctest `flash_crowd_durable`): the same sale on the real stack, `serve --log
# kafka --ack durable` with its persister, on a topic and a database of its own (dropped after);
# skipped (77) without HOTDEAL_KAFKA_BROKERS and HOTDEAL_MYSQL_* (eval "$(scripts/stack env)").
#
#   tests/bench/flash_crowd_serve_test.sh PATH/TO/hotdeal PATH/TO/flash_crowd [durable]
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
me=flash_crowd_serve
hotdeal=${1:?usage: $0 PATH/TO/hotdeal PATH/TO/flash_crowd}
flash_crowd=${2:?usage: $0 PATH/TO/hotdeal PATH/TO/flash_crowd}
mode=${3:-none}
if [ "$mode" = durable ]; then
  me=flash_crowd_durable
  if [ -z "${HOTDEAL_KAFKA_BROKERS:-}" ] || [ -z "${HOTDEAL_MYSQL_PORT:-}" ]; then
    echo "$me: skipped: no stack in the environment (eval \"\$(scripts/stack env)\")"
    exit 77
  fi
fi
work=$(mktemp -d "$PWD/flash-crowd-test.XXXXXX")
admin_token="fc-test-$RANDOM$RANDOM"
service_token="fc-test-service-$RANDOM$RANDOM"
user_token_key="fc-test-key-$RANDOM$RANDOM-0123456789abcdef0123"
server_pid="" passed=0 database=""
sql() {
  mariadb --no-defaults -h "${HOTDEAL_MYSQL_HOST:-127.0.0.1}" -P "$HOTDEAL_MYSQL_PORT" \
    -u "${HOTDEAL_MYSQL_USER:-hotdeal}" -p"${HOTDEAL_MYSQL_PASSWORD:-hotdeal}" -e "$1"
}

cleanup() {
  local code=$?
  stop_pid "$server_pid" 10
  [ -z "$database" ] || sql "DROP DATABASE \`$database\`" || true
  if [ "$passed" = 1 ]; then
    rm -rf "$work"
  else
    echo "$me: FAILED; files kept in $work" >&2
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
fail() {
  echo "$me: $*" >&2
  exit 1
}

unset_env=()
while read -r name; do unset_env+=(-u "$name"); done < <(compgen -e | grep '^HOTDEAL_' || true)
log_args=(--log none)
if [ "$mode" = durable ]; then
  run_id="$$_$RANDOM"
  sql "CREATE DATABASE \`hotdeal_test_flash_crowd_$run_id\`"
  database="hotdeal_test_flash_crowd_$run_id"
  # The stack's address from the environment; nothing else of the caller's settings.
  log_args=(--log kafka --ack durable --kafka-brokers "$HOTDEAL_KAFKA_BROKERS"
    --kafka-topic "hotdeal.test.flash_crowd.$run_id" --mysql-host "${HOTDEAL_MYSQL_HOST:-127.0.0.1}"
    --mysql-port "$HOTDEAL_MYSQL_PORT" --mysql-user "${HOTDEAL_MYSQL_USER:-hotdeal}"
    --mysql-database "$database")
fi
env "${unset_env[@]}" "$hotdeal" token --user-token-key "$user_token_key" \
  --users-file "$work/users.csv" --users 2000 >/dev/null
env "${unset_env[@]}" HOTDEAL_MYSQL_PASSWORD="${HOTDEAL_MYSQL_PASSWORD:-hotdeal}" \
  "$hotdeal" serve --listen 127.0.0.1:0 --threads 1 \
  --admin-token "$admin_token" --service-token "$service_token" \
  --user-token-key "$user_token_key" "${log_args[@]}" --data-dir "$work/data" \
  >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 300); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/server.log")
  [ -z "$port" ] || break
  kill -0 "$server_pid" 2>/dev/null || fail "hotdeal serve exited at start"
  sleep 0.1
done
[ -n "$port" ] || fail "hotdeal serve did not say where it listens within 30 s"

common=(--server "127.0.0.1:$port" --admin-token "$admin_token" --users-file "$work/users.csv"
  --users 2000 --stock 300 --sale-stock 200 --flow both --ramp-ms 500 --hold-seconds 2
  --timeout-s 30)
"$flash_crowd" "${common[@]}" --service-token "$service_token" --expire-wait \
  --json "$work/both.json" >"$work/both.txt" 2>&1 || { cat "$work/both.txt" >&2; fail "the both-flows run did not pass"; }
python3 - "$work/both.json" <<'PY' || fail "the report does not show both flows played"
import json, sys
r = json.load(open(sys.argv[1]))
o = r["orders"]
assert r["claims"]["known"] == 300, r["claims"]
assert o["reserved"] > 0 and o["confirmed"] > 0 and o["cancelled"] > 0 and o["abandoned"] > 0, o
assert o["other"] == 0 and o["reserves_in_doubt"] == 0, o
PY

if [ "$mode" = durable ]; then
  passed=1
  echo "$me: both flows pass against serve --log kafka --ack durable"
  exit 0
fi
# Confirms the server refuses (401): the audit must say so.
if "$flash_crowd" "${common[@]}" --service-token wrong-token >"$work/wrong.txt" 2>&1; then
  cat "$work/wrong.txt" >&2
  fail "a run whose confirms were refused passed its audit"
fi
grep -q "FAIL *orders: answers as the API says" "$work/wrong.txt" ||
  { cat "$work/wrong.txt" >&2; fail "the refused confirms were not the audit's failure"; }
passed=1
echo "$me: both flows pass against a real serve; refused confirms fail the audit"
