#!/usr/bin/env python3
"""Checks grafana/ as Grafana and Prometheus would, without either running.

  check_dashboards.py GRAFANA_DIR METRICS_DOC [--exposition FILE]... [--complete]
                      [--promtool PATH]

- the provisioning files name a Prometheus data source and the dashboards folder;
- each dashboard: a unique uid (<= 40 characters) and title, the variables datasource,
  instance and campaign (the query ones read from ${datasource}), unique panel ids, panels
  inside the 24-column grid, every panel and target on ${datasource}, unique refIds;
- every panel expression and alert expression parses (promtool check rules, with Grafana's
  variables replaced as Grafana would);
- every metric name they use is documented in METRICS_DOC;
- every family of each --exposition FILE (a scrape, text format) is documented; with
  --complete (the files are every kind of process: serve with the log, persist) every name
  used and every name documented is in one of them.
Prints each problem and exits 1 if there is any.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

REQUIRED_VARIABLES = ("datasource", "instance", "campaign")
DATASOURCE_UID = "${datasource}"
# What Grafana puts in place of its variables before the query reaches Prometheus.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "15m",
    "$instance": ".*",
    "$campaign": ".*",
}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and",
    "or", "unless", "inf", "nan", "le",
}
BUILTIN_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE"}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

problems = []


def problem(where, what):
    problems.append(f"{where}: {what}")


def grafana_expr(expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expr):
    """Metric names a PromQL expression selects (a lexical reading, enough for our queries)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        rest = text[match.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if word in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def family(name, known):
    """The family a series name belongs to: name itself, or a histogram's base name."""
    if name in known:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return None


def documented_names(doc):
    # Every `hotdeal_...`, `process_...` or `exposer_...` name in backquotes in the metrics doc.
    return set(re.findall(r"`((?:hotdeal|process|exposer)_[a-z0-9_]+)`", doc.read_text()))


def exposed_names(paths):
    names = set()
    for path in paths:
        for line in pathlib.Path(path).read_text().splitlines():
            match = re.match(r"# TYPE (\S+) ", line)
            if match:
                names.add(match.group(1))
    return names


def check_provisioning(grafana):
    datasources = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yml").read_text())
    sources = datasources.get("datasources", [])
    if not any(s.get("type") == "prometheus" and s.get("url") for s in sources):
        problem("provisioning/datasources", "no prometheus data source with a url")
    providers = yaml.safe_load((grafana / "provisioning/dashboards/hotdeal.yml").read_text())
    paths = [p.get("options", {}).get("path", "") for p in providers.get("providers", [])]
    if not any(p.endswith("/dashboards") for p in paths):
        problem("provisioning/dashboards", "no file provider reading the dashboards folder")


def check_variables(where, board):
    variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
    for name in REQUIRED_VARIABLES:
        if name not in variables:
            problem(where, f"no variable {name}")
    if variables.get("datasource", {}).get("type") != "datasource":
        problem(where, "variable datasource is not of type datasource")
    for name in ("instance", "campaign"):
        variable = variables.get(name, {})
        if variable.get("datasource", {}).get("uid") != DATASOURCE_UID:
            problem(where, f"variable {name} does not query ${{datasource}}")


def check_board(path, uids, titles, exprs):
    where = path.name
    board = json.loads(path.read_text())
    uid = board.get("uid", "")
    if not uid or len(uid) > 40 or not re.fullmatch(r"[A-Za-z0-9_-]+", uid):
        problem(where, f"bad uid {uid!r}")
    if uid in uids:
        problem(where, f"uid {uid} used twice")
    uids.add(uid)
    if board.get("title") in titles:
        problem(where, f"title {board.get('title')!r} used twice")
    titles.add(board.get("title"))
    if not isinstance(board.get("schemaVersion"), int):
        problem(where, "no schemaVersion")
    check_variables(where, board)
    ids = set()
    for p in board.get("panels", []):
        at = f"{where} panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids or not isinstance(p.get("id"), int):
            problem(at, "panel id missing or used twice")
        ids.add(p.get("id"))
        grid = p.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "xywh") or grid["x"] + grid["w"] > 24:
            problem(at, f"gridPos {grid} outside the 24-column grid")
        if p.get("datasource", {}).get("uid") != DATASOURCE_UID:
            problem(at, "panel datasource is not ${datasource}")
        targets = p.get("targets", [])
        if not targets:
            problem(at, "no query")
        if len({t.get("refId") for t in targets}) != len(targets):
            problem(at, "refIds not unique")
        for t in targets:
            if t.get("datasource", {}).get("uid") != DATASOURCE_UID:
                problem(at, f"target {t.get('refId')} datasource is not ${{datasource}}")
            if not t.get("expr"):
                problem(at, f"target {t.get('refId')} has no expr")
                continue
            for selector in re.findall(r"\b(?:hotdeal|process)_[a-z0-9_]+(?:\{[^}]*\})?", t["expr"]):
                if "$instance" not in selector:
                    problem(at, f"{selector} does not filter on $instance")
            exprs.append((at, t["expr"]))


def check_parse(exprs, promtool):
    rules = {"groups": [{"name": "check", "rules": [
        {"record": f"check:expr_{i}", "expr": grafana_expr(expr)} for i, (_, expr) in enumerate(exprs)
    ]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as file:
        yaml.safe_dump(rules, file)
        file.flush()
        run = subprocess.run([promtool, "check", "rules", file.name], capture_output=True, text=True)
    if run.returncode != 0:
        problem("promtool", (run.stdout + run.stderr).strip())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("grafana", type=pathlib.Path)
    parser.add_argument("metrics_doc", type=pathlib.Path)
    parser.add_argument("--exposition", action="append", default=[])
    parser.add_argument("--complete", action="store_true")
    parser.add_argument("--promtool", default="promtool")
    args = parser.parse_args()

    check_provisioning(args.grafana)
    uids, titles, exprs = set(), set(), []
    boards = sorted((args.grafana / "dashboards").glob("*.json"))
    if len(boards) < 2:
        problem("dashboards", "expected the overview and the internals board")
    for path in boards:
        check_board(path, uids, titles, exprs)
    for rules_file in sorted((args.grafana / "alerts").glob("*.rules.yml")):
        for group in yaml.safe_load(rules_file.read_text())["groups"]:
            for rule in group["rules"]:
                exprs.append((f"{rules_file.name} {rule.get('alert') or rule.get('record')}", rule["expr"]))
    check_parse(exprs, args.promtool)

    documented = documented_names(args.metrics_doc)
    exposed = exposed_names(args.exposition)
    for at, expr in exprs:
        for name in metric_names(expr) - BUILTIN_SERIES:
            if family(name, documented) is None:
                problem(at, f"{name} is not in {args.metrics_doc.name}")
            if args.complete and family(name, exposed) is None:
                problem(at, f"{name} is not in the exposition")
    for name in sorted(exposed - documented):
        problem("exposition", f"{name} is exported but not in {args.metrics_doc.name}")
    if args.complete:
        for name in sorted(documented - exposed):
            problem(args.metrics_doc.name, f"{name} is documented but not exported")
    for line in problems:
        print(line)
    print(f"{len(boards)} dashboard(s), {len(exprs)} expression(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
