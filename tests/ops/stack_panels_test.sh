#!/usr/bin/env bash
# ctest ops_stack_panels (label `stack`): a short real sale, then every dashboard query and alert
# expression evaluated by Prometheus.
#
# Starts, on free loopback ports and all stopped at the end: `hotdeal serve --persister off`
# and `hotdeal persist --metrics-listen` against the local stack's Kafka and MariaDB (its own
# topic and database, the database dropped at the end), and a Prometheus of its own (Debian's
# binary) with grafana/prometheus.yml pointed at those two and the rules of grafana/alerts/.
# Its own because the shared stack's Prometheus scrapes the fixed port 8080, which this test
# must not take. Then it plays a sale (coupon claims past the stock, sale orders confirmed and
# cancelled), waits for MySQL to catch up and checks:
#   - the books close across processes: engine units == MySQL units per campaign, live;
#   - every query of both boards and every alert evaluates (evaluate_panels.py), the
#     overview's with data; the books alerts' expressions return nothing;
#   - every metric name used and documented (docs/metrics.md) is in the two live scrapes.
#   stack_panels_test.sh HOTDEAL_BINARY SOURCE_DIR      (exit 77: skipped, no stack env)
set -euo pipefail
hotdeal=$1
source_dir=$2
me=ops_stack_panels
if [[ -z ${HOTDEAL_KAFKA_BROKERS:-} || -z ${HOTDEAL_MYSQL_HOST:-} ]]; then
  echo "$me: skipped: no stack env (eval \"\$(scripts/stack env)\")"
  exit 77
fi
command -v prometheus >/dev/null || { echo "$me: skipped: no prometheus binary"; exit 77; }

work=$(mktemp -d)
unique=ops_$$_$(date +%s)
export HOTDEAL_KAFKA_TOPIC=hotdeal.test.$unique HOTDEAL_MYSQL_DATABASE=hotdeal_test_$unique
admin=ops-admin
pids=()
sql() {
  mariadb -h "$HOTDEAL_MYSQL_HOST" -P "$HOTDEAL_MYSQL_PORT" -u "$HOTDEAL_MYSQL_USER" \
    -p"$HOTDEAL_MYSQL_PASSWORD" -N -B "$@"
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  sql -e "DROP DATABASE IF EXISTS $HOTDEAL_MYSQL_DATABASE" || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "$me: FAILED: $*"
  for log in "$work"/*.log; do echo "--- $log"; tail -20 "$log"; done
  exit 1
}
# The port a process printed on its log after `pattern` (HOST:PORT), waiting up to 30 s.
port_from_log() {
  local log=$1 pattern=$2 port
  for _ in $(seq 300); do
    port=$(sed -n "s|.*$pattern 127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p" "$log" | head -1)
    [[ -n $port ]] && { echo "$port"; return; }
    sleep 0.1
  done
  fail "no port in $log"
}
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sql -e "CREATE DATABASE $HOTDEAL_MYSQL_DATABASE"
serve_flags=(--listen 127.0.0.1:0 --persister off --admin-token "$admin" --data-dir "$work/data"
  --user-rate-per-second 0)
confirm_auth=()
if "$hotdeal" serve --help 2>&1 | grep -q -- --service-token; then
  serve_flags+=(--service-token ops-service)
  confirm_auth=(-H 'Authorization: Bearer ops-service')
fi
"$hotdeal" serve "${serve_flags[@]}" 2>"$work/serve.log" &
pids+=($!)
serve_port=$(port_from_log "$work/serve.log" "listening on")
"$hotdeal" persist --metrics-listen 127.0.0.1:0 2>"$work/persist.log" &
pids+=($!)
persist_port=$(port_from_log "$work/persist.log" "/metrics on")

prometheus_port=$(free_port)
/usr/bin/python3 - "$source_dir/grafana" "$work/prometheus.yml" "$serve_port" "$persist_port" <<'EOF'
import pathlib, sys, yaml
grafana, out, serve, persist = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
config = yaml.safe_load((grafana / "prometheus.yml").read_text())
config["rule_files"] = [str(grafana / rule) for rule in config["rule_files"]]
(job,) = config["scrape_configs"]
job["static_configs"] = [{"targets": [f"127.0.0.1:{serve}"]}]
config["scrape_configs"].append({"job_name": "hotdeal-persist", "metrics_path": "/metrics",
                                 "static_configs": [{"targets": [f"127.0.0.1:{persist}"]}]})
pathlib.Path(out).write_text(yaml.safe_dump(config))
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prometheus_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
prom=http://127.0.0.1:$prometheus_port
base=http://127.0.0.1:$serve_port
for _ in $(seq 300); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && curl -fsS "$prom/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null || fail "hotdeal serve not ready"
curl -fsS "$prom/-/ready" >/dev/null || fail "prometheus not ready"

# The sale: 40 users for 25 coupons; 12 orders of 1 unit for 20, 5 confirmed, 3 cancelled.
# send PATH BODY [CURL_ARGS...]: POSTs as a client should, retrying a 503 (the log has not
# acknowledged yet: a campaign sells nothing before its creation is acknowledged) after a
# second with the same Idempotency-Key; prints the final body and appends the status to codes.
send() {
  local path=$1 body=$2 key=ops-$RANDOM$RANDOM answer code
  shift 2
  for _ in $(seq 10); do
    answer=$(curl -sS -X POST -w '\n%{http_code}' -H "Idempotency-Key: $key" "$@" -d "$body" "$base$path")
    code=${answer##*$'\n'}
    [[ $code == 503 ]] || break
    sleep 1
  done
  echo "$code" >>"$work/codes"
  echo "${answer%$'\n'*}"
}
post() { send "$@" >/dev/null; }
post /v1/campaigns '{"id":"ops-coupon","kind":"coupon","name":"ops","stock":25}' \
  -H "Authorization: Bearer $admin"
post /v1/campaigns '{"id":"ops-sale","kind":"sale","name":"ops","stock":20,"price":100,"hold_seconds":300}' \
  -H "Authorization: Bearer $admin"
for i in $(seq 40); do
  post /v1/campaigns/ops-coupon/claims "{\"user_id\":\"u-$i\"}"
done
for i in $(seq 12); do
  send /v1/campaigns/ops-sale/orders "{\"user_id\":\"u-$i\",\"quantity\":1}" |
    sed -n 's/.*"order_id": *"\([^"]*\)".*/\1/p' >>"$work/orders"
done
[[ $(wc -l <"$work/orders") == 12 ]] || fail "expected 12 orders, got $(wc -l <"$work/orders"): $(sort "$work/codes" | uniq -c)"
n=0
while read -r order; do
  n=$((n + 1))
  if ((n <= 5)); then
    post "/v1/orders/$order/confirm" "{\"user_id\":\"u-$n\"}" "${confirm_auth[@]}"
  elif ((n <= 8)); then
    post "/v1/orders/$order/cancel" "{\"user_id\":\"u-$n\"}"
  fi
done <"$work/orders"
[[ $(grep -c '^201$' "$work/codes") == 39 ]] || fail "expected 39 creations (2 campaigns, 25 claims, 12 orders): $(sort "$work/codes" | uniq -c)"
[[ $(grep -c '^409$' "$work/codes") == 15 ]] || fail "expected 15 sold out: $(sort "$work/codes" | uniq -c)"
[[ $(grep -c '^200$' "$work/codes") == 8 ]] || fail "expected 8 order moves: $(sort "$work/codes" | uniq -c)"

# Let MySQL catch up and Prometheus take several scrapes of the result.
value() {
  curl -fsS "$prom/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
books='sum by (campaign) (hotdeal_campaign_units{state=~"claimed|held|confirmed"}) - on (campaign) sum by (campaign) (hotdeal_persister_units)'
caught_up=
for _ in $(seq 60); do
  if [[ $(value 'sum(hotdeal_persister_lag_events)') == 0 &&
    $(value "count($books == 0)") == 2 &&
    $(value 'sum(hotdeal_persister_units{campaign="ops-coupon"})') == 25 ]]; then
    caught_up=yes
    break
  fi
  sleep 1
done
[[ -n $caught_up ]] || fail "books did not close: $(curl -fsS "$prom/api/v1/query" --data-urlencode "query=$books")"
[[ $(value 'sum(hotdeal_persister_units{campaign="ops-sale"})') == 9 ]] ||
  fail "MySQL should hold 9 sale units (4 held + 5 confirmed)"
# The third source: the events the persister consumed, folded by id, equal the rows.
log_books='sum by (campaign) (hotdeal_persister_log_units) - on (campaign) sum by (campaign) (hotdeal_persister_units)'
[[ $(value "count($log_books == 0)") == 2 && $(value 'sum(hotdeal_persister_log_units{campaign="ops-sale"})') == 9 ]] ||
  fail "Kafka-side books differ from MySQL's: $(curl -fsS "$prom/api/v1/query" --data-urlencode "query=$log_books")"
sleep 5  # rate() windows with a few points after the sale

/usr/bin/python3 "$source_dir/tests/ops/evaluate_panels.py" "$prom" "$source_dir/grafana" ||
  fail "panel or alert expressions"
for alert in HotdealBooksDoNotClose HotdealEngineBooksDoNotClose; do
  expr=$(/usr/bin/python3 -c 'import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        if r["alert"] == sys.argv[2]: print(r["expr"])' "$source_dir/grafana/alerts/hotdeal.rules.yml" "$alert")
  [[ $(value "count($expr)") == none ]] || fail "$alert would fire after a clean sale"
done

curl -fsS "$base/metrics" >"$work/serve.prom"
curl -fsS "http://127.0.0.1:$persist_port/metrics" >"$work/persist.prom"
/usr/bin/python3 "$source_dir/tests/ops/check_dashboards.py" "$source_dir/grafana" \
  "$source_dir/docs/metrics.md" --exposition "$work/serve.prom" \
  --exposition "$work/persist.prom" --complete || fail "metric names"
echo "$me: passed"
