#!/usr/bin/env python3
"""Evaluates every dashboard query and alert expression through a Prometheus HTTP API.

  evaluate_panels.py PROMETHEUS_URL GRAFANA_DIR

Every expression must evaluate without error (with Grafana's variables replaced as Grafana
would: all instances, all campaigns); every query of the sale-day overview, but its alert
table, must return data. Prints each problem and exits 1 if there is any.
"""
import json
import pathlib
import sys
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from check_dashboards import grafana_expr  # noqa: E402

CORE_BOARD = "hotdeal-overview.json"
# Empty on a good day: firing alerts.
MAY_BE_EMPTY = {"Firing alerts"}


def query(url, expr):
    request = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as error:
        body = json.load(error)
    return body


def main():
    url, grafana = sys.argv[1], pathlib.Path(sys.argv[2])
    checks = []  # (where, expr, must have data)
    for path in sorted((grafana / "dashboards").glob("*.json")):
        for p in json.loads(path.read_text())["panels"]:
            core = path.name == CORE_BOARD and p["title"] not in MAY_BE_EMPTY
            for t in p["targets"]:
                checks.append((f"{path.name} {p['title']!r} {t['refId']}", t["expr"], core))
    for path in sorted((grafana / "alerts").glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                checks.append((f"{path.name} {rule['alert']}", rule["expr"], False))
    problems = 0
    with_data = 0
    for where, expr, core in checks:
        body = query(url, grafana_expr(expr))
        if body.get("status") != "success":
            print(f"{where}: {body.get('errorType')}: {body.get('error')}")
            problems += 1
            continue
        if body["data"]["result"]:
            with_data += 1
        elif core:
            print(f"{where}: no data")
            problems += 1
    print(f"{len(checks)} expression(s) evaluated, {with_data} with data, {problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
