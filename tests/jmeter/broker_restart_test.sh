#!/usr/bin/env bash
# ctest `jmeter_broker_restart`: a sale through a Kafka broker restart passes with 0 failed
# samples. Starts a Kafka broker of its own (scripts/stack from a shadow checkout under the
# test's folder, so its var/stack and ports are the test's, never the local stack's), a
# `hotdeal serve --log kafka --ack durable` on it with the persister inside and a database of
# its own on the local stack's MariaDB, and runs bench/jmeter/run (both flows, paced) against it.
# Mid-sale it stops the broker, checks that the log reports unhealthy, and starts it again. The
# plan retries every 503 after its Retry-After with the same Idempotency-Key, so the run must
# pass: no failed sample, grants and stock add up, the books close, MySQL's rows match. It also
# checks that the outage was met (503s retried) and settled (nothing left in doubt).
#
#   eval "$(scripts/stack env)"; tests/jmeter/broker_restart_test.sh PATH/TO/hotdeal
#
# Exit 77 (skipped) without the local stack's MariaDB. Stops everything it started by pid. The
# run's files stay in a jmeter-broker.* folder of the working directory when it fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
me=jmeter_broker_restart
hotdeal=${1:?usage: $0 PATH/TO/hotdeal}
[ -x "$hotdeal" ] || { echo "$me: $hotdeal is not an executable" >&2; exit 1; }
[ -n "${HOTDEAL_MYSQL_PORT:-}" ] || { echo "$me: no HOTDEAL_MYSQL_* (eval \"\$(scripts/stack env)\"); skipped"; exit 77; }
command -v mariadb >/dev/null || { echo "$me: no mariadb client; skipped"; exit 77; }

users=600 stock=150 sale_stock=100 threads=6 rate=25
work=$(mktemp -d "$PWD/jmeter-broker.XXXXXX")
token="jmeter-broker-$RANDOM$RANDOM"
service_token="jmeter-broker-service-$RANDOM$RANDOM"
database="hotdeal_test_jmeter_$$_$RANDOM"
server_pid="" run_pid="" passed=0 stack_up=0 db_made=0

sql() {
  mariadb -N -B -h "${HOTDEAL_MYSQL_HOST:-127.0.0.1}" -P "$HOTDEAL_MYSQL_PORT" \
    -u "${HOTDEAL_MYSQL_USER:-hotdeal}" -p"${HOTDEAL_MYSQL_PASSWORD:-hotdeal}" -e "$1"
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The shadow checkout: scripts/lib/common.sh puts var/stack beside the scripts folder it was
# sourced from, and finds the Kafka jars in the .cache beside it.
mkdir -p "$work/root"
ln -s "$root/scripts" "$work/root/scripts"
ln -s "$root/.cache" "$work/root/.cache"
kafka_port=$(free_port) controller_port=$(free_port)
stack() {
  HOTDEAL_SKIP_SETUP=1 HOTDEAL_STACK_KAFKA_PORT=$kafka_port \
    HOTDEAL_STACK_KAFKA_CONTROLLER_PORT=$controller_port "$work/root/scripts/stack" "$@"
}

stop_server() {
  stop_pid "$server_pid" 20
  server_pid=""
}
cleanup() {
  local code=$?
  end_pid "$run_pid"
  stop_server
  [ "$stack_up" = 0 ] || stack down kafka >/dev/null 2>&1 || true
  [ "$db_made" = 0 ] || sql "DROP DATABASE IF EXISTS $database" || true
  if [ "$passed" = 1 ]; then
    rm -rf "$work"
  else
    echo "$me: FAILED; files kept in $work" >&2
    [ ! -s "$work/server.log" ] || { echo "--- server.log" >&2; tail -n 30 "$work/server.log" >&2; }
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
fail() {
  echo "$me: $*" >&2
  exit 1
}
started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started)) s"; }

stack_up=1
stack up kafka >"$work/stack.log" 2>&1 || fail "own Kafka did not start: $(tail -n 5 "$work/stack.log")"
echo "$me: own Kafka on 127.0.0.1:$kafka_port ($(elapsed))"
sql "CREATE DATABASE $database"
db_made=1

unset_env=()
while read -r name; do unset_env+=(-u "$name"); done < <(compgen -e | grep '^HOTDEAL_' || true)
env "${unset_env[@]}" "$hotdeal" serve --listen 127.0.0.1:0 --threads 1 --admin-token "$token" \
  --service-token "$service_token" --log kafka --ack durable --persister on \
  --kafka-brokers "127.0.0.1:$kafka_port" --mysql-host "${HOTDEAL_MYSQL_HOST:-127.0.0.1}" \
  --mysql-port "$HOTDEAL_MYSQL_PORT" --mysql-user "${HOTDEAL_MYSQL_USER:-hotdeal}" \
  --mysql-password "${HOTDEAL_MYSQL_PASSWORD:-hotdeal}" --mysql-database "$database" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 300); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/server.log")
  if [ -n "$port" ] && curl -fsS -o /dev/null "127.0.0.1:$port/readyz" 2>/dev/null; then break; fi
  kill -0 "$server_pid" 2>/dev/null || fail "hotdeal serve exited at start"
  sleep 0.1
done
curl -fsS -o /dev/null "127.0.0.1:$port/readyz" || fail "hotdeal serve not ready within 30 s"
echo "$me: hotdeal serve (pid $server_pid) on 127.0.0.1:$port ($(elapsed))"
metric() {
  curl -fsS "127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name { print $2 + 0 }'
}

# Paced (rate shoppers a second) so the sale is still on when the broker goes; a response
# timeout above the producer's 10 s delivery timeout, so an answer held for Kafka is an answer.
timeout --kill-after=10 150 "$root/bench/jmeter/run" --server "127.0.0.1:$port" --token "$token" \
  --service-token "$service_token" --users "$users" --stock "$stock" --sale-stock "$sale_stock" \
  --confirm-pct 70 --cancel-pct 20 --threads "$threads" --arrival-rate "$rate" --duration 100 \
  --retries-max 60 --mysql-database "$database" --heap 192m --no-report --out "$work/run" \
  -- -Jresponse_timeout=15000 >"$work/run.out" 2>&1 &
run_pid=$!

# Mid-sale: once some claims were granted, the broker goes for a few seconds.
for _ in $(seq 600); do
  granted=$(metric 'hotdeal_engine_outcomes_total{operation="claim",outcome="created"}')
  [ "${granted:-0}" -lt 20 ] || break
  kill -0 "$run_pid" 2>/dev/null || fail "the run ended before the sale started: $(tail -n 5 "$work/run.out")"
  sleep 0.1
done
echo "$me: $granted claims granted; stopping the broker ($(elapsed))"
stack down kafka >>"$work/stack.log" 2>&1
unhealthy=""
for _ in $(seq 150); do
  [ "$(metric hotdeal_log_healthy)" != 0 ] || { unhealthy=yes; break; }
  sleep 0.1
done
sleep 3
echo "$me: starting the broker again ($(elapsed))"
stack up kafka >>"$work/stack.log" 2>&1 || fail "own Kafka did not start again: $(tail -n 5 "$work/stack.log")"
echo "$me: broker back ($(elapsed))"
status=0
wait "$run_pid" || status=$?
run_pid=""
cat "$work/run.out"
[ "$status" = 0 ] || fail "bench/jmeter/run exited with $status"
[ -n "$unhealthy" ] || fail "hotdeal_log_healthy never said 0 while the broker was down"

summary="$work/run/summary.env"
value() { sed -n "s/^$1=//p" "$summary"; }
[ "$(value result)" = pass ] || fail "summary: result is '$(value result)'"
[ "$(value errors)" = 0 ] || fail "summary: $(value errors) failed samples"
[ "$(value claim_granted)" = "$stock" ] || fail "granted $(value claim_granted) of $stock"
retried=$(($(value claim_retries) + $(value reserve_retries) + $(value confirm_retries) + $(value cancel_retries)))
((retried > 0)) || fail "no request was retried: the restart missed the sale"
# Every decision made while the broker was away was settled, none is left in doubt.
[ "$(metric hotdeal_in_doubt_waiting)" = 0 ] || fail "decisions still in doubt: $(metric hotdeal_in_doubt_waiting)"
kill -0 "$server_pid" 2>/dev/null || fail "hotdeal serve died during the run"
echo "$me: pass: $retried requests retried through the restart, $(value samples) samples, 0 failed ($(elapsed))"
passed=1
