#!/usr/bin/env bash
# ctest `jmeter_flash_sale`: the JMeter plan end to end. Starts its own `hotdeal serve --log
# none` with user tokens on a free loopback port, runs bench/jmeter/run small against it (500
# users with tokens, half claiming 100 coupons, half ordering 60 units that are confirmed (80 %),
# cancelled (10 %) or abandoned with a 5 s hold, 4 threads, HTML report on), waits for the abandoned
# holds to expire, checks the exit status, the summary and the report, and that the plan's
# Backend Listener (--influxdb-url) POSTed InfluxDB lines per sampler to a local sink, then stops
# the server by its pid. Needs JMeter in .cache/jmeter (scripts/setup fetches it).
#
#   tests/jmeter/flash_sale_test.sh PATH/TO/hotdeal
#
# The run's files stay in a jmeter-test.* folder of the working directory when it fails, and
# are removed when it passes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
me=jmeter_flash_sale
hotdeal=${1:?usage: $0 PATH/TO/hotdeal}
[ -x "$hotdeal" ] || { echo "$me: $hotdeal is not an executable" >&2; exit 1; }

users=500 stock=100 sale_stock=60 threads=4
work=$(mktemp -d "$PWD/jmeter-test.XXXXXX")
token="jmeter-test-$RANDOM$RANDOM"
user_token_key="jmeter-test-key-$RANDOM$RANDOM-0123456789abcdef0123"
# Confirms are the shop's service's (docs/api.md): the plan sends this token on them.
service_token="jmeter-test-service-$RANDOM$RANDOM"
server_pid="" watchdog_pid="" run_pid="" sink_pid="" passed=0

stop_server() {
  # It drains for up to 5 s; give it 10, then KILL.
  stop_pid "$server_pid" 10
  server_pid=""
}
cleanup() {
  local code=$?
  # The run first (timeout passes TERM on to it, and it stops its JMeter), then the server.
  end_pid "$run_pid"
  stop_server
  end_pid "$sink_pid"
  end_pid "$watchdog_pid"
  if [ "$passed" = 1 ]; then
    rm -rf "$work"
  else
    echo "$me: FAILED; files kept in $work" >&2
    [ ! -s "$work/server.log" ] || { echo "--- server.log" >&2; tail -n 20 "$work/server.log" >&2; }
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
fail() {
  echo "$me: $*" >&2
  exit 1
}

# The server, with none of the caller's HOTDEAL_* settings: this test defines its own.
unset_env=()
while read -r name; do unset_env+=(-u "$name"); done < <(compgen -e | grep '^HOTDEAL_' || true)
env "${unset_env[@]}" "$hotdeal" serve --listen 127.0.0.1:0 --threads 1 --admin-token "$token" \
  --user-token-key "$user_token_key" --service-token "$service_token" --log none \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
# Should this script be killed outright (a ctest timeout may send KILL), the watchdog still
# stops the run (its pid is in run.pid once started) and the server within a second.
(
  parent=$$
  while kill -0 "$parent" 2>/dev/null; do sleep 1; done
  [ ! -s "$work/run.pid" ] || kill -TERM "$(cat "$work/run.pid")" 2>/dev/null
  kill -TERM "$server_pid" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
watchdog_pid=$!

port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/server.log")
  [ -z "$port" ] || break
  kill -0 "$server_pid" 2>/dev/null || fail "hotdeal serve exited at start"
  sleep 0.1
done
[ -n "$port" ] || fail "hotdeal serve did not say where it listens within 10 s"
echo "$me: hotdeal serve (pid $server_pid) on 127.0.0.1:$port"

# Where the plan's Backend Listener sends its InfluxDB lines: a sink that keeps every POST body.
python3 -c '
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[1], "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Sink)
print(server.server_port, flush=True)
server.serve_forever()
' "$work/influx.lines" >"$work/sink.port" 2>"$work/sink.log" &
sink_pid=$!
for _ in $(seq 50); do [ ! -s "$work/sink.port" ] || break; sleep 0.1; done
[ -s "$work/sink.port" ] || fail "the InfluxDB sink did not start"

# The run, bounded: its --duration caps the load; timeout caps JVM start and the report too.
# In the background, so that a TERM to this script is handled at once, not after the run.
timeout --kill-after=10 180 "$root/bench/jmeter/run" --server "127.0.0.1:$port" --token "$token" \
  --service-token "$service_token" --user-token-key "$user_token_key" --users "$users" --stock "$stock" --sale-stock "$sale_stock" \
  --confirm-pct 80 --cancel-pct 10 --hold-seconds 5 --expire-wait --threads "$threads" --duration 60 --heap 192m \
  --influxdb-url "http://127.0.0.1:$(cat "$work/sink.port")/write?db=jmeter" --out "$work/run" &
run_pid=$!
echo "$run_pid" >"$work/run.pid"
status=0
wait "$run_pid" || status=$?
run_pid=""
rm -f "$work/run.pid"
[ "$status" = 0 ] || fail "bench/jmeter/run exited with $status"

# The summary agrees with what the sale must have been.
summary="$work/run/summary.env"
[ -s "$summary" ] || fail "no $summary"
expect() {
  local key=$1 want=$2 got
  got=$(sed -n "s/^$key=//p" "$summary")
  [ "$got" = "$want" ] || fail "summary: $key is '$got', expected '$want'"
}
value() { sed -n "s/^$1=//p" "$summary"; }
expect result pass
expect errors 0
expect books 1
# Every user played once, about half of them each flow (the split is by user id).
[ $(($(value claim_decided) + $(value reserve_decided))) = "$users" ] || fail "not every user played"
((200 <= $(value claim_decided) && $(value claim_decided) <= 300)) || fail "claimers: $(value claim_decided)"
expect claim_granted "$stock"
expect claim_sold_out $(($(value claim_decided) - stock))
expect claim_already_claimed 0
expect coupon_remaining 0
# The sale sold out, orders were confirmed and cancelled, and once the abandoned holds expired
# only the confirmed units stay taken (run's audit: sale_taken = confirmed, remaining agrees).
(($(value reserve_reserved) >= sale_stock)) || fail "only $(value reserve_reserved) reservations for $sale_stock units"
(($(value reserve_sold_out) > 0)) || fail "the sale never sold out"
(($(value confirm_confirmed) > 0 && $(value cancel_cancelled) > 0)) || fail "no confirm or no cancel"
expect sale_taken $(($(value confirm_confirmed)))
expect sale_remaining $((sale_stock - $(value confirm_confirmed)))
grep -q '^result: pass' "$work/run/summary.txt" || fail "summary.txt does not end in 'result: pass'"
for key in throughput all_p50_ms all_p99_ms; do
  grep -Eq "^$key=[0-9]+(\.[0-9]+)?$" "$summary" || fail "summary: $key is not a number"
done

# JMeter's dashboard was written, and counted the same samples.
[ -s "$work/run/report/index.html" ] || fail "no report/index.html"
grep -Eq '"sampleCount" *: *'"$(value samples)"'[,[:space:]]' "$work/run/report/statistics.json" ||
  fail "report/statistics.json does not count $(value samples) samples"

# The Backend Listener reported per sampler while the sale ran.
grep -q '^jmeter,application=[^,]*,transaction=claim,' "$work/influx.lines" ||
  fail "no claim lines reached the InfluxDB sink: $(head -c 300 "$work/influx.lines" 2>/dev/null)"

# Nothing of the run is left running (JMeter's command line names the run folder), and the
# server survived it. /proc rather than pgrep: procps is not on every machine.
leftover=()
for cmdline in /proc/[0-9]*/cmdline; do
  if tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -qF -- "$work/run"; then
    pid=${cmdline#/proc/}
    leftover+=("${pid%/cmdline}")
  fi
done
[ ${#leftover[@]} = 0 ] || fail "processes of the run still alive: ${leftover[*]}"
kill -0 "$server_pid" 2>/dev/null || fail "hotdeal serve died during the run"
passed=1
echo "$me: pass"
