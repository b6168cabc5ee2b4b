"""`einvoice loadtest run`: a headless replay of the annual profile against a running stack, and
its report (PNG charts and an HTML page), exiting non-zero when errors or p99 exceed thresholds.

The replay is locust (loadtest/locustfile.py) with the AnnualShape; while it runs, the batch
queue's depth and the age of its oldest batch are sampled from Redis every 5 s, and a progress line
(elapsed, users, request rate, errors, p99) goes to stderr from locust's CSV history (not with
`--only-summary`). The report reads locust's CSV output: the request rate and the users over time
(each on its own axes), latency percentiles per endpoint, errors by kind, queue depth and ingest
lag, and a capacity estimate from per-process figures given as options (by default the cluster's,
loadtest/capacity.py). The same `loadtest` command holds `capacity` (capacity_run.py): the
open-loop run that measures the highest rate held and its own per-process figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from einvoice.config import PROJECT_ROOT, Settings
from ingest.queue import BatchQueue
from loadtest.capacity import CLUSTER_2026_12_01, Measured, estimate
from loadtest.capacity_run import register as register_capacity
from loadtest.profile import AnnualProfile, peak_rate
from lookup.redis_client import create_redis


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float
    max_p99_ms: float


def register(commands: Any) -> None:
    loadtest = commands.add_parser("loadtest", help="replay a year against a running stack")
    actions = loadtest.add_subparsers(required=True, metavar="ACTION")
    run = actions.add_parser("run", help="headless replay, report, and a verdict")
    run.add_argument("--host", default="http://127.0.0.1:8000")
    run.add_argument("--replay-seconds", type=float, default=600, help="the year in this long")
    run.add_argument("--capacity", type=int, default=30, help="users at the national peak")
    run.add_argument("--registry", type=Path, default=PROJECT_ROOT / "demo" / "registry.json")
    run.add_argument("--report", type=Path, default=PROJECT_ROOT / "loadtest-report")
    run.add_argument(
        "--lookup-weight", type=int, default=2, help="lookup users per 3 submitting businesses"
    )
    run.add_argument("--max-error-rate", type=float, default=0.01)
    run.add_argument("--max-p99-ms", type=float, default=2000)
    run.add_argument("--only-summary", action="store_true", help="no progress lines (CI)")
    # Per-process throughput for the capacity estimate: by default the figures measured on the
    # local three-node cluster (loadtest/capacity.py, docs/capacity.md), for 8-core Cassandra
    # nodes; pass a real cluster's own.
    cluster = CLUSTER_2026_12_01.measured(node_cores=8)
    run.add_argument(
        "--submissions-per-process", type=float, default=cluster.submissions_per_api_process
    )
    run.add_argument("--lookups-per-process", type=float, default=cluster.lookups_per_api_process)
    run.add_argument("--invoices-per-worker", type=float, default=cluster.invoices_per_worker)
    run.add_argument(
        "--invoices-per-cassandra-node", type=float, default=cluster.invoices_per_cassandra_node
    )
    run.add_argument("--bytes-per-invoice", type=float, default=cluster.bytes_per_invoice)
    run.set_defaults(handler=_run_command)
    register_capacity(actions)


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    args.report.mkdir(parents=True, exist_ok=True)
    prefix = args.report / "locust"
    env = dict(
        os.environ,
        EINVOICE_LOADTEST_REGISTRY=str(args.registry),
        EINVOICE_LOADTEST_REPLAY_S=str(args.replay_seconds),
        EINVOICE_LOADTEST_CAPACITY=str(args.capacity),
        EINVOICE_LOADTEST_LOOKUP_WEIGHT=str(args.lookup_weight),
    )
    locust = Path(sys.executable).parent / "locust"
    # Locust's own periodic tables are not shown (its --only-summary): the progress line is ours.
    quiet = ["--loglevel", "WARNING"] if args.only_summary else []
    process = subprocess.Popen(
        [str(locust), "-f", str(PROJECT_ROOT / "loadtest" / "locustfile.py"), "--headless",
         "--host", args.host, "--csv", str(prefix), "--csv-full-history", "--only-summary",
         *quiet],
        env=env,
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    history = None if args.only_summary else Path(f"{prefix}_stats_history.csv")
    queue_samples = asyncio.run(_sample_queue(settings, process, history))
    with (args.report / "queue.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["seconds", "depth", "oldest_age_s"])
        writer.writerows(queue_samples)
    verdict = write_report(
        args.report,
        Thresholds(args.max_error_rate, args.max_p99_ms),
        replay_seconds=args.replay_seconds,
        capacity=args.capacity,
        measured=Measured(
            submissions_per_api_process=args.submissions_per_process,
            lookups_per_api_process=args.lookups_per_process,
            invoices_per_worker=args.invoices_per_worker,
            invoices_per_cassandra_node=args.invoices_per_cassandra_node,
            bytes_per_invoice=args.bytes_per_invoice,
        ),
    )
    print(f"report: {args.report / 'index.html'}")
    print(verdict.summary)
    return 0 if verdict.passed else 1


async def _sample_queue(
    settings: Settings, process: subprocess.Popen[bytes], history: Path | None
) -> list[tuple[float, int, float]]:
    """Queue samples every 5 s until locust ends; with `history`, a progress line each time."""
    client = create_redis(settings)
    queue = BatchQueue(client, settings.cassandra_keyspace)
    samples: list[tuple[float, int, float]] = []
    started = time.monotonic()
    try:
        while process.poll() is None:
            try:
                depth, _, age = await queue.stats()
            except Exception:
                depth, age = 0, 0.0
            elapsed = time.monotonic() - started
            samples.append((round(elapsed, 1), depth, round(age, 1)))
            if history is not None and (line := progress_line(elapsed, history, depth, age)):
                print(line, file=sys.stderr, flush=True)
            await asyncio.sleep(5)
    finally:
        await client.aclose()
    return samples


def progress_line(elapsed: float, history: Path, depth: int, age: float) -> str | None:
    """The latest aggregated row of locust's CSV history (flushed every 2 s, locustfile.py) as
    `elapsed  users  request rate  errors  p99 (over locust's last 10 s)  queue`; None before its
    first row."""
    rows = [row for row in _read(history) if row.get("Name") == "Aggregated"]
    if not rows:
        return None
    last = rows[-1]
    total, failed = _float(last["Total Request Count"]), _float(last["Total Failure Count"])
    share = failed / total if total else 0.0
    return (
        f"{elapsed:6.0f} s  {_float(last['User Count']):.0f} users  "
        f"{_float(last['Requests/s']):,.1f} requests/s  {failed:,.0f} errors ({share:.1%})  "
        f"p99 {_float(last['99%']):,.0f} ms  queue {depth} batches, oldest {age:,.0f} s"
    )


@dataclass(frozen=True)
class Verdict:
    passed: bool
    summary: str


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open() as file:
        return list(csv.DictReader(file))


def _float(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def write_report(
    folder: Path,
    thresholds: Thresholds,
    *,
    replay_seconds: float,
    capacity: int,
    measured: Measured,
) -> Verdict:
    # Imported here: the `einvoice` command registers this subcommand on every start.
    import matplotlib

    matplotlib.use("Agg")  # files only, no display

    stats = _read(folder / "locust_stats.csv")
    history = _read(folder / "locust_stats_history.csv")
    failures = _read(folder / "locust_failures.csv")
    queue = _read(folder / "queue.csv")
    endpoints = [row for row in stats if row["Name"] != "Aggregated"]
    total = next((row for row in stats if row["Name"] == "Aggregated"), {})
    requests = _float(total.get("Request Count"))
    error_rate = _float(total.get("Failure Count")) / requests if requests else 1.0
    p99 = _float(total.get("99%"))

    aggregated = [row for row in history if row.get("Name") == "Aggregated"]
    start = _float(aggregated[0]["Timestamp"]) if aggregated else 0.0
    seconds = [_float(row["Timestamp"]) - start for row in aggregated]
    achieved = [_float(row["Requests/s"]) for row in aggregated]
    profile = AnnualProfile()
    peak = peak_rate(profile)
    users_target = [profile.replay(t, replay_seconds)[1] * capacity / peak for t in seconds]
    users = [_float(row["User Count"]) for row in aggregated]

    def chart(name: str, height: float, *draws: Any) -> None:
        """One axes a quantity (`draws`, each with its unit), stacked over a shared time axis."""
        figure, axes = plt.subplots(len(draws), 1, figsize=(9, height), sharex=len(draws) > 1)
        for axis, draw in zip([axes] if len(draws) == 1 else axes, draws, strict=True):
            draw(axis)
            if axis.get_legend_handles_labels()[0]:
                axis.legend()
        figure.tight_layout()
        figure.savefig(folder / name)
        plt.close(figure)

    def rate_chart(axis: Any) -> None:
        axis.plot(seconds, achieved, label="achieved")
        axis.set_ylabel("requests/s")

    def users_chart(axis: Any) -> None:
        axis.plot(seconds, users, label="running", linestyle="--")
        axis.plot(seconds, users_target, label="by the profile", linestyle=":")
        axis.set_ylabel("users")
        axis.set_xlabel("seconds of replay (the year compressed)")

    def latency_chart(axis: Any) -> None:
        names = [row["Name"] for row in endpoints]
        for percentile, offset in (("50%", -0.25), ("95%", 0.0), ("99%", 0.25)):
            values = [_float(row[percentile]) for row in endpoints]
            positions = [index + offset for index in range(len(names))]
            axis.bar(positions, values, 0.25, label=f"p{percentile[:-1]}")
        axis.set_xticks(range(len(names)), names, rotation=20, ha="right")
        axis.set_ylabel("ms")

    moments = [_float(row["seconds"]) for row in queue]

    def depth_chart(axis: Any) -> None:
        axis.plot(moments, [_float(row["depth"]) for row in queue])
        axis.set_ylabel("batches queued")

    def age_chart(axis: Any) -> None:
        axis.plot(moments, [_float(row["oldest_age_s"]) for row in queue])
        axis.set_ylabel("oldest batch, s")
        axis.set_xlabel("seconds of replay")

    chart("rate.png", 5, rate_chart, users_chart)
    chart("latency.png", 4, latency_chart)
    chart("queue.png", 4, depth_chart, age_chart)

    needed = estimate(measured, national_peak=peak)
    passed = error_rate <= thresholds.max_error_rate and p99 <= thresholds.max_p99_ms
    summary = (
        f"{'PASS' if passed else 'FAIL'}: {requests:.0f} requests, error rate {error_rate:.2%} "
        f"(max {thresholds.max_error_rate:.2%}), p99 {p99:.0f} ms (max {thresholds.max_p99_ms:.0f})"
    )
    rows = "".join(
        f"<tr><td>{html.escape(r['Name'])}</td><td>{r['Request Count']}</td>"
        f"<td>{r['Failure Count']}</td><td>{r['50%']}</td><td>{r['95%']}</td><td>{r['99%']}</td>"
        f"<td>{_float(r['Requests/s']):.1f}</td></tr>"
        for r in endpoints
    )
    errors = (
        "".join(
            f"<tr><td>{html.escape(f['Name'])}</td><td>{html.escape(f['Error'][:300])}</td>"
            f"<td>{f['Occurrences']}</td></tr>"
            for f in failures
        )
        or "<tr><td colspan=3>none</td></tr>"
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Load-test report</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;
margin:2rem auto}} td,th{{padding:.2rem .6rem;text-align:right}} td:first-child{{text-align:left}}
</style></head><body><h1>Load-test report</h1><p><strong>{html.escape(summary)}</strong></p>
<p>A year replayed in {replay_seconds:.0f} s, the national peak ({peak:.0f} invoices/s) scaled to
{capacity} users.</p>
<h2>Rate and users over time</h2>
<img src="rate.png" alt="requests a second, and users against the profile's target, over time">
<h2>Latency by endpoint</h2><img src="latency.png" alt="latency percentiles by endpoint">
<table><tr><th>endpoint</th><th>requests</th><th>failures</th><th>p50 ms</th><th>p95 ms</th>
<th>p99 ms</th><th>req/s</th></tr>{rows}</table>
<h2>Errors by code</h2><table><tr><th>endpoint</th><th>status and code</th><th>count</th></tr>
{errors}</table>
<h2>Batch queue and ingest lag</h2><img src="queue.png" alt="queue depth and oldest batch age">
<h2>Capacity estimate</h2><p>From measured throughput ({measured.submissions_per_api_process:.0f}
submissions/s and {measured.lookups_per_api_process:.0f} cached lookups/s per API process,
{measured.invoices_per_worker:.0f} invoices/s per worker, {measured.invoices_per_cassandra_node:.0f}
replica-writes/s per Cassandra node; defaults from CPU per invoice measured on the local
three-node cluster, scaled to 8-core nodes: docs/capacity.md) and
{measured.bytes_per_invoice:.0f} bytes per invoice:
for the national peak of {peak:.0f} invoices/s and ten
years at RF=3, <strong>{needed.api_processes} API processes, {needed.workers} ingest workers,
{needed.cassandra_nodes} Cassandra nodes</strong> ({needed.cassandra_nodes_for_load} for the load,
{needed.cassandra_nodes_for_data} for {needed.stored_terabytes} TB of data on 4 TB disks half
full). See loadtest/capacity.py for the arithmetic.</p></body></html>"""
    (folder / "index.html").write_text(page)
    return Verdict(passed, summary)
