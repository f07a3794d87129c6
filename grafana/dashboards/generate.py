#!/usr/bin/env python3
"""Writes the Grafana dashboards of this folder from the panel lists below.

Grafana as code: edit this file, run it (`grafana/dashboards/generate.py`), commit both. The
ctest `dashboards_check` fails when a JSON file differs from what this prints, and checks what
Grafana would (tests/ops/check_dashboards.py).

Every board has the same three variables: `datasource` (any Prometheus), `instance` (every
scraped hotdeal process: `serve` and a standalone `persist`) and `campaign`. Every selector
filters on them, so one board serves one box or a fleet.
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Label matchers every selector carries: I for any series, IC for per-campaign ones.
I = 'instance=~"$instance"'
IC = 'instance=~"$instance",campaign=~"$campaign"'
R = "$__rate_interval"


def query_variable(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,  # on time range change: a campaign created mid-sale appears
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


TEMPLATING = {
    "list": [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
        query_variable("instance", "Instance", 'label_values(up{job=~"hotdeal.*"}, instance)'),
        query_variable("campaign", "Campaign", f"label_values(hotdeal_campaign_stock{{{I}}}, campaign)"),
    ]
}


def panel(title, targets, unit="short", kind="timeseries", description="", width=12, height=8):
    """targets: (expr, legend) pairs."""
    return {
        "title": title,
        "type": kind,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if kind == "timeseries" else {},
        "targets": [
            {"datasource": DATASOURCE, "refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
        "_size": (width, height),
    }


def quantiles(route_filter, qs=(0.5, 0.99)):
    return [
        (
            f"histogram_quantile({q}, sum by (route, le) (rate(hotdeal_http_request_duration_seconds_bucket{{{I},{route_filter}}}[{R}])))",
            f"p{int(q * 100)} {{{{route}}}}",
        )
        for q in qs
    ]


ENGINE_SOLD = f'sum by (campaign) (hotdeal_campaign_units{{{IC},state=~"claimed|held|confirmed"}})'
MYSQL_SOLD = f"sum by (campaign) (hotdeal_persister_units{{{IC}}})"
KAFKA_SOLD = f"sum by (campaign) (hotdeal_persister_log_units{{{IC}}})"

OVERVIEW = [
    panel("Claims and orders per second", [
        (f'sum by (route) (rate(hotdeal_http_requests_total{{{I},route=~"create_claim|create_order|confirm_order|cancel_order",status=~"2.."}}[{R}]))', "{{route}} 2xx"),
        (f'sum(rate(hotdeal_http_requests_total{{{I},route=~"create_claim|create_order"}}[{R}]))', "claims + orders tried"),
    ], unit="reqps", description="Answers with 2xx per data-plane route, against everything tried."),
    panel("Sell-out progress per campaign", [
        (f"1 - max by (campaign) (hotdeal_campaign_remaining{{{IC}}}) / max by (campaign) (hotdeal_campaign_stock{{{IC}}} > 0)", "{{campaign}}"),
    ], unit="percentunit", description="Share of stock claimed or held: 100 % is sold out."),
    panel("Latency p50 / p99 by route", quantiles('route=~"create_claim|create_order|confirm_order|cancel_order|get_claim|get_campaign"'),
          unit="s", description="Server side, request parsed to reply ready; with durable acks it includes Kafka's acknowledgement. Objective: claim p99 <= 5 ms."),
    panel("Errors by status", [
        (f'sum by (status) (rate(hotdeal_http_requests_total{{{I},status=~"4..|5.."}}[{R}]))', "{{status}}"),
        (f"sum by (outcome) (rate(hotdeal_engine_outcomes_total{{{I},outcome!~\"ok|created|replayed\"}}[{R}]))", "engine {{outcome}}"),
    ], unit="reqps", description="409 sold_out / already_claimed is the sale working; 503 is the log refusing or pending (clients retry after Retry-After); 429 is the rate limit."),
    panel("Durable log", [
        (f"min(hotdeal_log_healthy{{{I}}})", "healthy (1)"),
        (f"sum(hotdeal_log_in_flight{{{I}}})", "in flight"),
        (f"histogram_quantile(0.99, sum by (le) (rate(hotdeal_log_ack_duration_seconds_bucket{{{I}}}[{R}]))) * 1000", "ack p99 (ms)"),
        (f"sum(rate(hotdeal_log_refused_total{{{I}}}[{R}]))", "refused/s"),
    ], description="HotdealDurableLogUnhealthy pages after 10 s at 0."),
    panel("Persister lag and commits", [
        (f"sum(hotdeal_persister_lag_events{{{I}}})", "lag (events)"),
        (f"min(hotdeal_persister_connected{{{I}}})", "connected (1)"),
        (f"histogram_quantile(0.99, sum by (le) (rate(hotdeal_persister_commit_duration_seconds_bucket{{{I}}}[{R}]))) * 1000", "commit p99 (ms)"),
    ], description="Events in Kafka not yet in MySQL; HotdealPersisterLagGrowing after 2 min of growth."),
    panel("Books: engine vs Kafka vs MySQL (must be 0 once lag is 0)", [
        (f"{ENGINE_SOLD} - on (campaign) {MYSQL_SOLD}", "{{campaign}} engine - MySQL"),
        (f"{ENGINE_SOLD} - on (campaign) {KAFKA_SOLD}", "{{campaign}} engine - Kafka"),
        (f"{KAFKA_SOLD} - on (campaign) {MYSQL_SOLD}", "{{campaign}} Kafka - MySQL"),
        (f"sum by (campaign) (hotdeal_campaign_units{{{IC},state=\"in_doubt\"}})", "{{campaign}} in doubt"),
    ], description="Invariant 6 across processes, each pair of sources (alert HotdealBooksDoNotClose): the one that differs from both others is the broken one."),
    panel("Units sold per campaign: engine, Kafka, MySQL", [
        (ENGINE_SOLD, "{{campaign}} engine"),
        (KAFKA_SOLD, "{{campaign}} Kafka"),
        (MYSQL_SOLD, "{{campaign}} MySQL"),
    ]),
    panel("Firing alerts", [('ALERTS{alertstate="firing",alertname=~"Hotdeal.*"}', "{{alertname}} {{instance}} {{campaign}}")],
          kind="table", width=24, height=6, description="From grafana/alerts/; empty on a good day."),
]

INTERNALS = [
    panel("Requests per second by route and status", [
        (f"sum by (route, status) (rate(hotdeal_http_requests_total{{{I}}}[{R}]))", "{{route}} {{status}}"),
    ], unit="reqps"),
    panel("Latency p50 / p99 / p999, every route", quantiles('route!="unmatched"', (0.5, 0.99, 0.999)), unit="s"),
    panel("Units left per campaign", [
        (f"hotdeal_campaign_remaining{{{IC}}}", "{{campaign}} remaining"),
        (f"hotdeal_campaign_stock{{{IC}}}", "{{campaign}} stock"),
    ]),
    panel("Units taken by state", [(f"sum by (campaign, state) (hotdeal_campaign_units{{{IC}}})", "{{campaign}} {{state}}")]),
    panel("Engine books close (must be 0)", [
        (f"hotdeal_campaign_stock{{{IC}}} - hotdeal_campaign_remaining{{{IC}}} - on (instance, campaign) group_left sum by (instance, campaign) (hotdeal_campaign_units{{{IC}}})", "{{campaign}}"),
    ], description="Invariant 6 inside the engine (alert HotdealEngineBooksDoNotClose)."),
    panel("Engine decisions per second by operation and outcome", [
        (f"sum by (operation, outcome) (rate(hotdeal_engine_outcomes_total{{{I}}}[{R}]))", "{{operation}} {{outcome}}"),
    ], unit="ops"),
    panel("Campaign status", [(f"hotdeal_campaign_status{{{IC}}} == 1", "{{campaign}} {{status}}")], kind="table"),
    panel("Paused campaigns", [
        (f'count(hotdeal_campaign_status{{{I},status="paused"}} == 1) or vector(0)', "paused"),
        (f'sum(rate(hotdeal_engine_outcomes_total{{{I},outcome="paused"}}[{R}])) or vector(0)', "refused as paused/s"),
    ], description="Campaigns an admin paused (POST /v1/campaigns/{id}/pause), and the claims and orders they refuse with 403 paused. A pause left on after a sale's incident shows here."),
    panel("Campaigns by status", [
        (f"sum by (status) (hotdeal_campaigns{{{I}}})", "{{status}}"),
        (f"sum(hotdeal_campaigns_archived{{{I}}})", "archived"),
        (f"sum(hotdeal_campaigns_retiring{{{I}}})", "archived, memory not freed yet"),
    ], description="Campaigns in memory by status, and those archived (DELETE /v1/campaigns/{id}): out of memory and of --campaigns-max, rows kept in MySQL. Ended campaigns piling up fill --campaigns-max: archive them. An archive's memory is freed within a tick or two; retiring that stays above 0 is a stuck worker."),
    panel("Coupon redeems and restores", [
        (f'sum by (operation, outcome) (rate(hotdeal_engine_outcomes_total{{{I},operation=~"redeem_coupon|restore_coupon"}}[{R}]))', "{{operation}} {{outcome}}"),
        (f"sum(hotdeal_campaign_coupons_redeemed{{{I}}})", "redeemed now"),
    ], description="Checkouts using coupons (POST /v1/coupons/{code}/redeem, /restore; the shop's service). already_redeemed is a second order trying one code; expired a coupon past its expires_at; conflict a restore by an order the coupon was not redeemed on."),
    panel("Connections", [
        (f"sum(hotdeal_http_connections_open{{{I}}})", "open"),
        (f"max(hotdeal_http_connections_max{{{I}}})", "cap"),
        (f"sum(rate(hotdeal_http_connections_rejected_total{{{I}}}[{R}]))", "rejected/s"),
        (f"sum(rate(hotdeal_http_parse_errors_total{{{I}}}[{R}]))", "parse errors/s"),
        (f"sum(rate(hotdeal_http_timeouts_total{{{I}}}[{R}]))", "timeouts/s"),
    ]),
    panel("Event streams", [
        (f"sum(hotdeal_http_streams_open{{{I}}})", "open"),
        (f"sum(rate(hotdeal_http_stream_events_total{{{I}}}[{R}]))", "events/s"),
        (f"sum(rate(hotdeal_http_streams_dropped_total{{{I}}}[{R}]))", "slow readers dropped/s"),
    ], description="GET /v1/campaigns/{id}/stream: each open stream is also an open connection."),
    panel("Durable log: settlements", [
        (f"sum(rate(hotdeal_log_appended_total{{{I}}}[{R}]))", "appended/s"),
        (f"sum(rate(hotdeal_log_persisted_total{{{I}}}[{R}]))", "persisted/s"),
        (f"sum(rate(hotdeal_log_possibly_persisted_total{{{I}}}[{R}]))", "possibly persisted/s"),
        (f"sum(rate(hotdeal_log_not_persisted_total{{{I}}}[{R}]))", "not persisted/s"),
        (f"sum(increase(hotdeal_log_fatal_errors_total{{{I}}}[{R}]))", "fatal errors"),
        (f"sum(increase(hotdeal_log_producer_recreations_total{{{I}}}[{R}]))", "producers recreated"),
    ]),
    panel("Kafka acknowledgement latency", [
        (f"histogram_quantile({q}, sum by (le) (rate(hotdeal_log_ack_duration_seconds_bucket{{{I}}}[{R}])))", f"p{label}")
        for q, label in ((0.5, "50"), (0.99, "99"), (0.999, "99.9"))
    ], unit="s"),
    panel("Answers waiting for the durable log (503 pending)", [
        (f"sum by (operation) (rate(hotdeal_engine_outcomes_total{{{I},outcome=\"pending\"}}[{R}]))", "{{operation}}"),
        (f"sum(rate(hotdeal_http_pending_waits_total{{{I},result=\"timed_out\"}}[{R}]))", "repeat waits past --pending-wait-ms"),
        (f"sum(rate(hotdeal_http_ack_waits_timed_out_total{{{I}}}[{R}]))", "own replies past --ack-wait-ms"),
    ], unit="ops"),
    panel("In doubt: settling", [
        (f"max(hotdeal_in_doubt_waiting{{{I}}})", "waiting"),
        (f"sum(increase(hotdeal_in_doubt_settled_persisted_total{{{I}}}[{R}]))", "stood"),
        (f"sum(increase(hotdeal_in_doubt_settled_voided_total{{{I}}}[{R}]))", "voided"),
        (f"sum(increase(hotdeal_in_doubt_retries_total{{{I}}}[{R}]))", "retries"),
        (f"max(hotdeal_in_doubt_overflow_total{{{I}}})", "overflow (alarm)"),
    ]),
    panel("MySQL write-behind", [
        (f"sum(rate(hotdeal_persister_events_total{{{I}}}[{R}]))", "events/s"),
        (f"sum(rate(hotdeal_persister_batches_total{{{I}}}[{R}]))", "batches/s"),
        (f"sum(rate(hotdeal_persister_replayed_total{{{I}}}[{R}]))", "replayed/s"),
        (f"sum(increase(hotdeal_persister_conflicts_total{{{I}}}[{R}]))", "conflicts (alarm)"),
        (f"sum(increase(hotdeal_persister_errors_total{{{I}}}[{R}]))", "session errors"),
    ]),
    panel("MySQL commit latency and batch size", [
        (f"histogram_quantile(0.99, sum by (le) (rate(hotdeal_persister_commit_duration_seconds_bucket{{{I}}}[{R}])))", "commit p99 (s)"),
        (f"sum(rate(hotdeal_persister_events_total{{{I}}}[{R}])) / sum(rate(hotdeal_persister_batches_total{{{I}}}[{R}]))", "events per batch"),
        (f"histogram_quantile(0.99, sum by (le) (rate(hotdeal_persister_batch_events_bucket{{{I}}}[{R}])))", "batch p99 (events)"),
    ]),
    panel("One owner (invariant 7)", [
        (f"max(hotdeal_owner_epoch{{{I}}})", "epoch"),
        (f"max(hotdeal_owner_fenced{{{I}}})", "fenced"),
        (f"sum(increase(hotdeal_persister_stale_epoch_events_total{{{I}}}[{R}]))", "stale-owner events (alarm)"),
        (f"sum(increase(hotdeal_owner_check_errors_total{{{I}}}[{R}]))", "failed owner checks"),
    ]),
    panel("Rate limits and user tokens", [
        (f"sum by (limit) (rate(hotdeal_http_rate_limited_total{{{I}}}[{R}]))", "429 {{limit}}"),
        (f"sum by (limit) (rate(hotdeal_http_rate_limit_table_full_total{{{I}}}[{R}]))", "failed open {{limit}}"),
        (f"sum by (limit) (rate(hotdeal_http_rate_limit_evictions_total{{{I}}}[{R}]))", "evictions {{limit}}"),
        (f"sum by (reason) (rate(hotdeal_http_user_tokens_refused_total{{{I}}}[{R}]))", "401 {{reason}}"),
    ]),
    panel("Process: CPU and memory", [
        (f"rate(process_cpu_seconds_total{{{I}}}[{R}])", "{{instance}} CPU (cores)"),
        (f"process_resident_memory_bytes{{{I}}} / 2^20", "{{instance}} RSS (MiB)"),
        (f"process_open_fds{{{I}}}", "{{instance}} open fds"),
        (f"process_threads{{{I}}}", "{{instance}} threads"),
    ]),
    panel("Build and recovery", [
        (f"hotdeal_build_info{{{I}}}", "{{instance}} {{role}} {{version}} {{build_type}}"),
        (f"hotdeal_recovery_duration_seconds{{{I}}}", "{{instance}} recovery (s)"),
        (f"hotdeal_recovery_events_replayed{{{I}}}", "{{instance}} events replayed"),
    ], kind="table"),
]


def dashboard(uid, title, panels, links):
    x = y = row_height = 0
    laid_out = []
    for number, p in enumerate(panels, start=1):
        width, height = p.pop("_size")
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        laid_out.append({"id": number, "gridPos": {"x": x, "y": y, "w": width, "h": height}, **p})
        x += width
        row_height = max(row_height, height)
    return {
        "uid": uid,
        "title": title,
        "tags": ["hotdeal"],
        "timezone": "utc",
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "schemaVersion": 38,
        "version": 1,
        "editable": True,
        "links": [{"title": t, "type": "link", "url": f"/d/{u}?${{__url_time_range}}&${{__all_variables}}"} for t, u in links],
        "templating": TEMPLATING,
        "panels": laid_out,
    }


BOARDS = {
    "hotdeal-overview.json": dashboard("hotdeal-overview", "hotdeal: sale day", OVERVIEW,
                                       [("Internals", "hotdeal-internals")]),
    "hotdeal-internals.json": dashboard("hotdeal-internals", "hotdeal: internals", INTERNALS,
                                        [("Sale day", "hotdeal-overview")]),
}


def render(board):
    return json.dumps(board, indent=2) + "\n"


if __name__ == "__main__":
    # --check: exit 1 if a file differs from what would be written (the ctest).
    check = sys.argv[1:] == ["--check"]
    stale = []
    for name, board in BOARDS.items():
        path = HERE / name
        text = render(board)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run grafana/dashboards/generate.py):", ", ".join(stale))
        sys.exit(1)
