"""bench/compare's report: the table on stdout, the chart (PNG), and with --results the run
appended under "## Comparison (bench/compare)" in bench/RESULTS.md.

Run by bench/compare with Debian's interpreter (/usr/bin/python3, python3-matplotlib); it reads
the rows bench/compare measured and never runs a benchmark itself.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

SECTION = "## Comparison (bench/compare)"
SECTION_INTRO = """\
`bench/compare` measures, in one run on one machine, hotdeal's claims per second next to nginx
answering the same POSTs with a fixed JSON body (the HTTP ceiling of the box) and next to the
usual Redis design (one Lua script: `SISMEMBER`, decrement if stock > 0, `SADD`, run with
`EVALSHA` by `redis-benchmark`). Every server is pinned to core 0 (`taskset -c 0`), every load
generator to core 1, and every row has the same connections and duration. Ratios are requests/s
over nginx's and over Redis's (no persistence). The Redis rows speak RESP over one TCP
connection per client, not HTTP: the HTTP parsing and JSON that hotdeal and nginx pay is not in
them, so "x Redis" compares a whole HTTP claim service to a bare data-structure server.
"x log none" is a hotdeal row over `hotdeal --log none` at the same connections: what the
durable log costs. The Kafka rows run `serve --persister off` with the persister in its own
`hotdeal persist` process (unpinned), after an unrecorded warm-up of durable load, so the
broker's JVM is past its JIT warm-up; the durable rows run at 64 and at 1024 connections
(`--ack durable` answers only once Kafka has the event, acks=all, so throughput is bound by how
many claims wait on one broker round trip at once). "server CPU us/req" is utime + stime of the
server's processes (`/proc/<pid>/stat`, nginx's workers included) over the row, over the
requests answered: the cost of a request on the serving core, whatever the load generator
could send; the persister's share is in the notes.
Each run below is appended by the script; the chart (`bench/chart/compare.png`) shows the last.
"""


def read_rows(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            parts += [""] * (9 - len(parts))
            key, label, status, rps, p50, p99, load, note, cpu = parts[:9]
            rows.append({
                "key": key, "label": label, "status": status,
                "rps": float(rps) if rps else None,
                "p50": float(p50) if p50 else None,
                "p99": float(p99) if p99 else None,
                "load": load, "note": note,
                "cpu_us": float(cpu) if cpu else None,
            })
    return rows


def read_engine(path):
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    out = []
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" or b.get("error_occurred"):
            continue
        unit = scale.get(b.get("time_unit", "ns"), 1.0)
        real = b["real_time"] * unit
        cpu = b["cpu_time"] * unit
        rate = b.get("items_per_second") or (1e9 / cpu if cpu else 0.0)
        out.append({"name": b["name"], "real_ns": real, "cpu_ns": cpu, "rate": rate})
    return out


def tool_version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (p.stdout + p.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "nginx": tool_version(["nginx", "-v"]).replace("nginx version: ", ""),
        "redis": tool_version(["redis-server", "--version"]).split(" sha=")[0],
        "wrk": tool_version(["wrk", "--version"]).split(" [")[0],
    }


def fmt_rate(v):
    return "-" if v is None else f"{v:,.0f}".replace(",", " ")


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def fmt_ratio(v, ref):
    if v is None or not ref:
        return "-"
    return f"{v / ref:.2f}"


def log_none_reference(key, ref):
    """The --log none row a hotdeal row compares with: the same connections (key suffix
    _c<N>, a none_c<N> row) or the default ones; None for rows that are not hotdeal's."""
    if not (key.startswith("kafka_") or key.startswith("none") or key == "soldout"):
        return None
    match = re.search(r"_c(\d+)$", key)
    if match and f"none_c{match.group(1)}" in ref:
        return ref[f"none_c{match.group(1)}"]
    return ref.get("none")


def fmt_cpu(v):
    return "-" if v is None else f"{v:.1f}"


def table(rows):
    ref = {r["key"]: r["rps"] for r in rows if r["status"] == "ok"}
    nginx, redis = ref.get("nginx"), ref.get("redis")
    head = ["row", "requests/s", "p50 ms", "p99 ms", "x nginx", "x Redis", "x log none",
            "server CPU us/req", "load avg", "notes"]
    body = []
    for r in rows:
        if r["status"] == "ok":
            cells = [r["label"], fmt_rate(r["rps"]), fmt_ms(r["p50"]), fmt_ms(r["p99"]),
                     fmt_ratio(r["rps"], nginx), fmt_ratio(r["rps"], redis),
                     fmt_ratio(r["rps"], log_none_reference(r["key"], ref)), fmt_cpu(r["cpu_us"])]
        elif r["status"] == "na":
            cells = [r["label"], "not available"] + ["-"] * 6
        else:
            cells = [r["label"], "FAILED"] + ["-"] * 6
        body.append(cells + [r["load"], r["note"]])
    return head, body


def engine_table(engine):
    head = ["benchmark", "wall / op", "CPU / op", "rate"]
    body = [[e["name"], f"{e['real_ns']:.1f} ns", f"{e['cpu_ns']:.1f} ns",
             f"{e['rate'] / 1e6:.2f} M/s"] for e in engine]
    return head, body


def print_plain(head, body):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    # The notes column can be long; keep it last and unpadded.
    for line in [head] + body:
        cells = [str(c).ljust(w) if i < len(line) - 1 else str(c)
                 for i, (c, w) in enumerate(zip(line, widths))]
        print("  ".join(cells).rstrip())


def markdown(head, body, right_from=1, right_to=None):
    right_to = len(head) if right_to is None else right_to
    align = ["---:" if right_from <= i < right_to else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for row in body:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def chart(rows, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["label"] for r in rows]
    ys = list(range(len(rows)))[::-1]
    colours = []
    for r in rows:
        if r["key"].startswith("nginx"):
            colours.append("#7f7f7f")
        elif r["key"].startswith("redis"):
            colours.append("#d62728")
        else:
            colours.append("#1f77b4")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.55 * len(rows) + 1.8),
                                   gridspec_kw={"width_ratios": [3, 2]}, sharey=True)
    top = max([r["rps"] or 0 for r in rows] + [1])
    for y, r, c in zip(ys, rows, colours):
        if r["status"] == "ok":
            ax1.barh(y, r["rps"], color=c)
            ax1.text(r["rps"] + top * 0.01, y, fmt_rate(r["rps"]), va="center", fontsize=8)
        else:
            word = "not available" if r["status"] == "na" else "FAILED"
            ax1.text(top * 0.01, y, word, va="center", fontsize=8, style="italic", color="#555")
    ax1.set_yticks(ys)
    ax1.set_yticklabels(labels, fontsize=9)
    ax1.set_xlim(0, top * 1.18)
    ax1.set_xlabel("requests per second (higher is better)")
    ax1.grid(axis="x", alpha=0.3)
    for y, r in zip(ys, rows):
        if r["status"] == "ok" and r["p50"] and r["p99"]:
            ax2.plot([r["p50"], r["p99"]], [y, y], color="#999", linewidth=1, zorder=1)
            ax2.scatter([r["p50"]], [y], color="#2ca02c", zorder=2, s=18,
                        label="p50" if "p50" not in ax2.get_legend_handles_labels()[1] else None)
            ax2.scatter([r["p99"]], [y], color="#ff7f0e", zorder=2, s=18, marker="D",
                        label="p99" if "p99" not in ax2.get_legend_handles_labels()[1] else None)
    ax2.set_xscale("log")
    ax2.set_xlabel("latency, ms (log scale; lower is better)")
    ax2.grid(axis="x", alpha=0.3, which="both")
    if ax2.get_legend_handles_labels()[1]:
        ax2.legend(loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def append_results(path, text):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if SECTION not in lines:
        while lines and lines[-1] == "":
            lines.pop()
        lines += ["", SECTION, "", *SECTION_INTRO.rstrip("\n").split("\n")]
        insert_at = len(lines)
    else:
        start = lines.index(SECTION)
        insert_at = len(lines)
        for i in range(start + 1, len(lines)):
            if lines[i].startswith("## "):
                insert_at = i
                break
        while insert_at > start + 1 and lines[insert_at - 1] == "":
            insert_at -= 1
    block = ["", *text.rstrip("\n").split("\n")]
    if insert_at < len(lines):
        block.append("")
    lines[insert_at:insert_at] = block
    out = "\n".join(lines)
    if not out.endswith("\n"):
        out += "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", required=True)
    ap.add_argument("--commands", required=True)
    ap.add_argument("--engine")
    ap.add_argument("--engine-load", default="?")
    ap.add_argument("--duration", required=True)
    ap.add_argument("--connections", required=True)
    ap.add_argument("--load-start", default="?")
    ap.add_argument("--load-end", default="?")
    ap.add_argument("--run-id", default="")
    ap.add_argument("--revision", default="unknown")
    ap.add_argument("--results")
    ap.add_argument("--chart")
    args = ap.parse_args()

    rows = read_rows(args.rows)
    engine = read_engine(args.engine)
    m = machine()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    head, body = table(rows)
    print()
    print(f"bench/compare {now}: {args.connections} connections, {args.duration} s per row; "
          f"load average {args.load_start} at start, {args.load_end} at end")
    print_plain(head, body)
    ehead, ebody = engine_table(engine)
    if ebody:
        print()
        print(f"engine alone (Google Benchmark, taskset -c 0, load {args.engine_load}):")
        print_plain(ehead, ebody)

    if args.chart:
        title = (f"bench/compare {now}: claims/s, {args.connections} connections, "
                 f"{args.duration} s per row, server on core 0, load generator on core 1\n"
                 f"{m['nproc']} vCPU shared with other work (load avg "
                 f"{args.load_start.split()[0]} to {args.load_end.split()[0]}); "
                 f"Redis rows speak RESP, the others HTTP/1.1")
        chart(rows, args.chart, title)
        print(f"\nchart: {args.chart}")

    if args.results:
        with open(args.commands, encoding="utf-8") as f:
            commands = [c for c in f.read().split("\n") if c]
        text = [
            f"### Run {now}",
            "",
            f"Machine: {m['nproc']} vCPU {m['cpu']}, kernel {m['kernel']}; {m['nginx']}, "
            f"{m['redis']}, {m['wrk']}. **Shared with other engineers during the run**: load "
            f"average {args.load_start} at the start, {args.load_end} at the end (1, 5, 15 "
            f"min; each row's 1/5/15 at its start is in the table). {args.connections} "
            f"connections and {args.duration} s per row. Built (Release) from {args.revision}.",
            "",
            markdown(head, body, 1, 8),
            "",
            "How to read it: \"x log none\" is the row over `hotdeal --log none` at the same "
            "connections, what the durable log costs; the Kafka rows ran after an unrecorded "
            "warm-up of durable load, with `serve --persister off` and the persister in its own "
            "`hotdeal persist` process (its CPU per request in the notes); \"server CPU us/req\" "
            "is utime + stime of the server's processes over the row, over the requests answered "
            "(bench/compare's header says more).",
            "",
        ]
        if ebody:
            text += [f"The engine alone, same build (Google Benchmark, `taskset -c 0`, so the "
                     f"threads:2 row shares one core; load {args.engine_load}):", "",
                     markdown(ehead, ebody), ""]
        text += ["Commands (`bench/compare`, run id " + args.run_id + "):", "", "```",
                 *commands, "```"]
        append_results(args.results, "\n".join(text))
        print(f"appended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
