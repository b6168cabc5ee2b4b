"""A capacity run's per-process figures, the estimate that takes them, its summary and files
(pure: made-up steps, no servers)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from loadtest.capacity import CLUSTER_2026_12_01, Measured, RunFigures, estimate
from loadtest.capacity import main as capacity_main
from loadtest.capacity_report import RunInfo, figures_of, summary_lines, write_files
from loadtest.capacity_run import _Live, progress_line
from loadtest.steps import (
    BATCH,
    SUBMIT,
    Mix,
    Outcome,
    Summary,
    Thresholds,
    step_result,
    summarise,
    timeline,
)

INFO = RunInfo(
    date="2026-12-01 10:00",
    cores=2,
    url="http://127.0.0.1:8100",
    api_processes=2,
    workers=2,
    processes_found=True,
    batch_lines=Counter(authenticated=1800),
    unfinished_batches=0,
    skipped=Counter(),
)


def _run() -> tuple[Summary, list[Outcome]]:
    outcomes = []
    results = []
    for number, (rate, latency) in enumerate([(100, 0.02), (150, 0.03), (225, 0.9)], start=1):
        plan = Mix().plan(rate, 4)
        start, step = 10.0 * number, plan.seconds / plan.real_time
        mine = [
            Outcome(SUBMIT, number, start + t * step, start + t * step,
                    start + t * step + latency, 1, None)
            for t in range(plan.real_time)
        ] + [
            Outcome(BATCH, number, start + 1, start + 1, start + 1.1, size, None)
            for size in plan.batch_sizes
        ]  # fmt: skip
        outcomes += mine
        # CPU: 0.9 s of the API's and 0.18 s of the workers' for step 2's 600 invoices.
        cpu = {"api": 1.5e-3 * plan.invoices, "workers": 0.333e-3 * plan.invoices}
        results.append(step_result(number, plan, start, mine, [1.0], cpu))
    return summarise(results, Thresholds()), outcomes


def test_the_figures_are_cpu_per_invoice_at_the_highest_step_held() -> None:
    summary, _ = _run()

    figures = figures_of(summary, INFO, 0.10, 0.5)

    assert figures.held_rate == pytest.approx(150)
    assert figures.api_cpu_ms == pytest.approx(1.5)  # 0.9 s over 600 invoices
    assert figures.worker_cpu_ms == pytest.approx(0.37, abs=0.001)  # 0.2 s over 540 in batches
    assert figures.mix_per_api_process == pytest.approx(1000 / 1.5)
    assert figures.invoices_per_worker == pytest.approx(1000 / 0.37, rel=1e-3)


def test_without_cpu_the_figures_are_the_rate_held_per_process() -> None:
    figures = RunFigures("2026-12-01", 400, 2, 4, None, None, 0.10, 0.5)

    assert figures.mix_per_api_process == 200
    assert figures.invoices_per_worker == 90  # 360 batch invoices/s over 4 workers


def test_the_estimate_takes_a_runs_figures_instead_of_the_constants() -> None:
    cluster = CLUSTER_2026_12_01.measured(node_cores=8)
    figures = RunFigures("2026-12-01", 400, 2, 2, 2.0, 0.5, 0.10, 0.5)

    measured = figures.measured(cluster)
    needed = estimate(measured, national_peak=2000)

    assert measured.mix_per_api_process == 500
    assert measured.invoices_per_worker == 2000
    assert measured.bytes_per_invoice == cluster.bytes_per_invoice  # not measured by a run
    assert needed.api_processes == 7  # 2,000/s at 60 % of 500/s: 6.7
    assert needed.workers == 2  # 1,800/s at 60 % of 2,000/s: 1.5
    assert estimate(Measured(80, 1050, 100, 240, 1600), national_peak=2000).api_processes == 6


def test_python_m_loadtest_capacity_takes_a_runs_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "figures.json"
    path.write_bytes(RunFigures("2026-12-01 10:00", 400, 2, 2, 2.0, 0.5, 0.10, 0.5).to_json())

    assert capacity_main(["--run", str(path)]) == 0

    printed = capsys.readouterr().out
    assert "500 invoices/s of the national mix (capacity run of 2026-12-01 10:00" in printed
    assert "API processes: 9; ingest workers: 2" in printed  # 2,535/s at 60 % of 500/s: 8.5
    assert RunFigures.from_json(path.read_bytes()).api_cpu_ms == 2.0


def test_the_summary_and_the_files_report_the_steps(tmp_path: Path) -> None:
    summary, outcomes = _run()
    thresholds = Thresholds()
    figures = figures_of(summary, INFO, 0.10, 0.5)
    windows = timeline(outcomes, [(10.0, 14.0, 100.0)], [(12.0, 1.0)], window_s=2)

    lines = summary_lines(summary, thresholds, INFO, figures)
    write_files(tmp_path, summary, thresholds, windows, figures, lines)

    text = "\n".join(lines)
    assert "| 2 | 150 | 150 | 30 | 30 | 0 (0.00%) | 1 | held |" in text
    assert "highest rate held: 150 invoices/s (step 2, target 150/s)" in text
    assert "0.59 x the national average (254/s), 0.06 of the peak (2,535/s)" in text
    assert "stopped at step 3 (225/s, tried once): real-time p99 900 ms > 500 ms" in text
    assert "1,800 authenticated" in text
    for chart in ("rate.png", "latency.png", "errors.png", "queue-age.png"):
        assert (tmp_path / chart).stat().st_size > 1000
    assert RunFigures.from_json((tmp_path / "figures.json").read_bytes()) == figures
    assert (tmp_path / "steps.csv").read_text().count("\n") == 4
    assert "![rate](rate.png)" in (tmp_path / "summary.md").read_text()


def test_a_progress_line_says_the_step_rate_errors_and_p99() -> None:
    live = _Live(step=3, rate=56.25, queue=[(1.0, 2.4)])
    answered = [
        Outcome(SUBMIT, 3, 0, 0, 0.12, 1, None),
        Outcome(SUBMIT, 3, 0, 0, 0.3, 0, "503 BACKEND_UNAVAILABLE"),
        Outcome(BATCH, 3, 0, 0, 0.2, 249, None),
    ]

    line = progress_line(45.2, live, answered, window_s=5)

    assert line == (
        "    45 s  step 3 at 56/s: achieved 50/s, 1 errors (33.3%), real-time p99 120 ms, "
        "oldest batch 2 s"
    )
