"""A capacity run's report: the summary printed at the end, and the files written to its folder.

- `summary.md`: the summary and the table of steps (what docs/loadtest.md records);
- `steps.csv`: a row a step; `timeline.csv`: a row a window of the run;
- `figures.json`: the per-process figures (`RunFigures`), for `python -m loadtest.capacity --run`;
- charts, each its own quantity on its own axes with its unit: `rate.png` (achieved against
  target invoices/s), `latency.png` (real-time p50 and p99, ms), `errors.png` (failed requests,
  % of those answered), `queue-age.png` (the oldest batch's age, s).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.capacity import CLUSTER_2026_12_01, EXPIRED_ON_DISK_DAYS, RunFigures, estimate
from loadtest.steps import (
    NATIONAL_AVERAGE,
    NATIONAL_PEAK,
    StepResult,
    Summary,
    Thresholds,
    Window,
    verdict,
)


@dataclass(frozen=True)
class RunInfo:
    """What the run was, for the report's heading."""

    date: str
    cores: int
    url: str
    api_processes: int
    workers: int
    processes_found: bool  # API and worker processes found on this machine (CPU measured)
    batch_lines: Counter[str]  # lines of the batches sent, by result, after the run
    unfinished_batches: int
    skipped: Counter[str]  # lookups and checks before any invoice could be named
    queue_samples_missed: int = 0  # Redis did not answer (restarting, say)


def figures_of(
    summary: Summary, info: RunInfo, real_time_share: float, lookups: float
) -> RunFigures:
    """The per-process figures at the highest step held: CPU per invoice when measured."""
    held = summary.held
    api_ms = worker_ms = None
    if held is not None and info.processes_found and held.acknowledged:
        api_s, worker_s = held.cpu_s.get("api", 0.0), held.cpu_s.get("workers", 0.0)
        batch_invoices = sum(held.plan.batch_sizes)
        api_ms = 1000 * api_s / held.acknowledged if api_s else None
        worker_ms = 1000 * worker_s / batch_invoices if worker_s and batch_invoices else None
    return RunFigures(
        date=info.date,
        held_rate=round(summary.held_rate, 1),
        api_processes=info.api_processes,
        workers=info.workers,
        api_cpu_ms=None if api_ms is None else round(api_ms, 3),
        worker_cpu_ms=None if worker_ms is None else round(worker_ms, 3),
        real_time_share=real_time_share,
        lookups_per_invoice=lookups,
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def step_rows(summary: Summary, thresholds: Thresholds) -> list[list[str]]:
    rows = []
    for step in summary.steps:
        reasons = verdict(step, thresholds)
        rows.append(
            [
                str(step.number),
                f"{step.plan.rate:,.0f}",
                f"{step.achieved:,.0f}",
                _ms(step.submit_p50_ms),
                _ms(step.submit_p99_ms),
                f"{step.errors.total():,} ({step.error_rate:.2%})",
                "-" if step.queue_age_s is None else f"{step.queue_age_s:,.0f}",
                "held" if not reasons else "; ".join(reasons),
            ]
        )
    return rows


HEADER = [
    "step",
    "target invoices/s",
    "achieved invoices/s",
    "real-time p50 ms",
    "real-time p99 ms",
    "errors",
    "oldest batch s",
    "verdict",
]


def summary_lines(
    summary: Summary, thresholds: Thresholds, info: RunInfo, figures: RunFigures
) -> list[str]:
    found = "found by port and keyspace" if info.processes_found else "as told (not found here)"
    lines = [
        f"capacity run {info.date}, {info.cores} cores, {info.url}: {info.api_processes} API "
        f"processes, {info.workers} workers ({found})",
        f"a step holds with real-time p99 <= {thresholds.max_p99_ms:,.0f} ms, errors <= "
        f"{thresholds.max_error_rate:.1%}, achieved >= {thresholds.min_achieved:.0%} of the "
        f"target, oldest batch <= {thresholds.max_queue_age_s:,.0f} s",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|---|" + "---:|" * (len(HEADER) - 2) + "---|",
        *("| " + " | ".join(row) + " |" for row in step_rows(summary, thresholds)),
        "",
    ]
    held = summary.held
    if held is None:
        lines.append("no step held: " + "; ".join(summary.stopped_by))
    else:
        lines.append(
            f"highest rate held: {summary.held_rate:,.0f} invoices/s (step {held.number}, target "
            f"{held.plan.rate:,.0f}/s) = {summary.of_average:.2f} x the national average "
            f"({NATIONAL_AVERAGE:,.0f}/s), {summary.of_peak:.2f} of the peak "
            f"({NATIONAL_PEAK:,.0f}/s)"
        )
        if summary.stopped_by:
            last = summary.steps[-1]
            tries = sum(1 for step in summary.steps if step.plan.rate == last.plan.rate)
            lines.append(
                f"stopped at step {last.number} ({last.plan.rate:,.0f}/s, "
                f"{'tried once' if tries == 1 else f'tried {tries} times'}): "
                + "; ".join(summary.stopped_by)
            )
        else:
            lines.append("every step held: raise --max-rate or --max-steps to find the limit")
    lines += _figure_lines(figures, info)
    lines.append(_batch_line(info))
    if summary.steps:
        lag = max(step.lag_p99_ms for step in summary.steps)
        generator = max(step.cpu_s.get("generator", 0.0) / step.duration for step in summary.steps)
        lines.append(
            f"load generator: send lag p99 at most {lag:,.0f} ms, at most {generator:.2f} of a "
            "core (it shares the machine)"
        )
    if info.queue_samples_missed:
        lines.append(
            f"batch queue samples missed (Redis did not answer): {info.queue_samples_missed}"
        )
    if info.skipped:
        skipped = ", ".join(f"{count} {kind}" for kind, count in sorted(info.skipped.items()))
        lines.append(f"not sent (no invoice to name yet): {skipped}")
    return lines


def _figure_lines(figures: RunFigures, info: RunInfo) -> list[str]:
    if not figures.held_rate:
        return []
    source = "CPU measured" if figures.api_cpu_ms else "rate held / processes, a floor"
    api = f"{figures.api_cpu_ms} CPU-ms an invoice, " if figures.api_cpu_ms else ""
    worker = f"{figures.worker_cpu_ms} CPU-ms a batch invoice, " if figures.worker_cpu_ms else ""
    measured = figures.measured(CLUSTER_2026_12_01.measured(node_cores=8))
    # As `python -m loadtest.capacity` sizes it: ten years and the expired rows still on disk.
    needed = estimate(
        measured, national_peak=NATIONAL_PEAK, years=10 + EXPIRED_ON_DISK_DAYS / 365.25
    )
    return [
        f"per process ({source}): API {api}{figures.mix_per_api_process:,.0f} invoices/s of the "
        f"mix; worker {worker}{figures.invoices_per_worker:,.0f} invoices/s",
        f"estimate for the national peak ({NATIONAL_PEAK:,.0f}/s, processes at 60 %): "
        f"{needed.api_processes} API processes, {needed.workers} workers (Cassandra: "
        f"{needed.cassandra_nodes} nodes from the cluster's figures, docs/capacity.md)",
    ]


def _batch_line(info: RunInfo) -> str:
    lines = info.batch_lines
    text = (
        f"batch lines after the run: {lines['authenticated']:,} authenticated, "
        f"{lines['rejected']:,} rejected, {lines['duplicates']:,} duplicates"
    )
    if lines["failed batches"]:
        text += f", {lines['failed batches']} batches failed"
    if info.unfinished_batches:
        text += f"; {info.unfinished_batches} batches unfinished when the wait ended"
    return text


def write_files(
    folder: Path,
    summary: Summary,
    thresholds: Thresholds,
    windows: Sequence[Window],
    figures: RunFigures,
    lines: list[str],
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figures.json").write_bytes(figures.to_json() + b"\n")
    charts = "\n".join(
        f"![{name}]({name}.png)" for name in ("rate", "latency", "errors", "queue-age")
    )
    (folder / "summary.md").write_text("\n".join(lines) + "\n\n" + charts + "\n")
    with (folder / "steps.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*HEADER, "requests", "errors by kind", "cpu s"])
        for step, row in zip(summary.steps, step_rows(summary, thresholds), strict=True):
            writer.writerow([*row, dict(step.requests), dict(step.errors), _cpu(step)])
    with (folder / "timeline.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["seconds", "target/s", "achieved/s", "p50 ms", "p99 ms", "requests", "error %",
             "oldest batch s"]
        )  # fmt: skip
        for w in windows:
            writer.writerow(
                [w.start, round(w.target, 1), round(w.achieved, 1), _round(w.submit_p50_ms),
                 _round(w.submit_p99_ms), w.requests, round(100 * w.error_rate, 2),
                 _round(w.queue_age_s)]
            )  # fmt: skip
    from loadtest.charts import capacity_charts  # matplotlib only when files are written

    capacity_charts(folder, windows, thresholds)


def _round(value: float | None) -> Any:
    return "" if value is None else round(value, 1)


def _cpu(step: StepResult) -> dict[str, float]:
    return {name: round(seconds, 2) for name, seconds in step.cpu_s.items()}
