"""The capacity run's charts (PNG, no display): one quantity a chart, on its own axes with its
unit, over the run's time; thresholds dotted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from loadtest.steps import Thresholds, Window


def _chart(
    folder: Path, name: str, title: str, unit: str, draw: Callable[[Any], None], *, legend: bool
) -> None:
    figure, axis = plt.subplots(figsize=(9, 3.2))
    draw(axis)
    axis.set_title(title)
    axis.set_xlabel("seconds since the run started")
    axis.set_ylabel(unit)
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    if legend:
        axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(folder / name)
    plt.close(figure)


def capacity_charts(folder: Path, windows: Sequence[Window], thresholds: Thresholds) -> None:
    # A window's value is drawn at its middle; windows without answers are gaps (None).
    width = windows[1].start - windows[0].start if len(windows) > 1 else 1.0
    moments = [w.start + width / 2 for w in windows]

    def values(pick: Callable[[Window], float | None]) -> list[float]:
        return [float("nan") if (v := pick(w)) is None else v for w in windows]

    def rate(axis: Any) -> None:
        axis.step(moments, values(lambda w: w.target), where="mid", label="target", linestyle="--")
        axis.plot(moments, values(lambda w: w.achieved), label="achieved (acknowledged)")

    def latency(axis: Any) -> None:
        axis.plot(moments, values(lambda w: w.submit_p50_ms), label="p50")
        axis.plot(moments, values(lambda w: w.submit_p99_ms), label="p99")
        axis.axhline(thresholds.max_p99_ms, color="grey", linestyle=":", label="p99 threshold")

    def errors(axis: Any) -> None:
        axis.plot(moments, values(lambda w: 100 * w.error_rate if w.requests else None))
        axis.axhline(100 * thresholds.max_error_rate, color="grey", linestyle=":")

    def queue(axis: Any) -> None:
        axis.plot(moments, values(lambda w: w.queue_age_s), marker=".")
        axis.axhline(thresholds.max_queue_age_s, color="grey", linestyle=":")

    _chart(folder, "rate.png", "Invoices a second, target and achieved", "invoices/s", rate,
           legend=True)  # fmt: skip
    _chart(folder, "latency.png", "Real-time submissions, latency from the scheduled moment",
           "ms", latency, legend=True)  # fmt: skip
    _chart(folder, "errors.png", "Failed requests (dotted: the threshold)",
           "% of requests answered", errors, legend=False)  # fmt: skip
    _chart(folder, "queue-age.png", "Oldest batch in the queue (dotted: the threshold)",
           "seconds", queue, legend=False)  # fmt: skip
