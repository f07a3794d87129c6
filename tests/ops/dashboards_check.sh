#!/usr/bin/env bash
# ctest dashboards_check: the boards are what grafana/dashboards/generate.py writes, and pass
# check_dashboards.py against a live scrape of `hotdeal serve --log none` (started here on a free
# loopback port, stopped at the end).
#   dashboards_check.sh HOTDEAL_BINARY SOURCE_DIR
# Python is Debian's /usr/bin/python3, whose yaml module scripts/setup installs (python3-yaml).
set -euo pipefail
hotdeal=$1
source_dir=$2
work=$(mktemp -d)
server=
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$source_dir/grafana/dashboards/generate.py" --check

"$hotdeal" serve --log none --listen 127.0.0.1:0 2>"$work/serve.log" &
server=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/serve.log")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { cat "$work/serve.log"; echo "hotdeal serve did not start"; exit 1; }
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/serve.prom"

/usr/bin/python3 "$source_dir/tests/ops/check_dashboards.py" "$source_dir/grafana" \
  "$source_dir/docs/metrics.md" --exposition "$work/serve.prom"
