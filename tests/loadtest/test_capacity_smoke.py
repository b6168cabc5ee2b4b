"""`einvoice loadtest capacity` against a real service and a real worker, in two tiny steps: it
shows progress, sends the mix without errors, every batch line is authenticated, and it writes its
report with the processes it found. Thresholds are set out of reach: this checks the machinery,
not the machine (no assertion on timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from einvoice.config import PROJECT_ROOT
from loadtest.steps import Mix
from tests.support import ServerProcess


def test_a_capacity_run_steps_up_and_reports(
    service_url: str, session_env: dict[str, str], demo_registry_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    with ServerProcess(["worker"], session_env, tmp_path / "worker.log"):
        result = subprocess.run(
            [sys.executable, "-m", "einvoice.cli", "loadtest", "capacity", "--host", service_url,
             "--registry", str(demo_registry_file), "--report", str(report),
             "--start-rate", "8", "--step-factor", "2", "--step-seconds", "3", "--max-steps", "2",
             "--warm-up", "5", "--progress-s", "1", "--drain-s", "90",
             "--max-p99-ms", "600000", "--min-achieved", "0", "--max-queue-age-s", "100000"],
            env=session_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=PROJECT_ROOT,
        )  # fmt: skip

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "step 1 at 8/s" in result.stderr  # a progress line while it ran
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[1] for row in rows[1:]] == ["8", "16"]
    assert all(" | 0 (0.00%) | " in row for row in rows[1:]), rows  # no errors
    assert all(row.endswith(" | held |") for row in rows[1:]), rows
    batch_lines = sum(sum(Mix().plan(rate, 3).batch_sizes) for rate in (8, 16))
    assert f"batch lines after the run: {batch_lines} authenticated, 0 rejected" in result.stdout
    figures = orjson.loads((report / "figures.json").read_bytes())
    assert figures["api_processes"] >= 1  # found by the port it listens on
    assert figures["workers"] == 1  # found by the session's keyspace
    for name in ("summary.md", "steps.csv", "timeline.csv", "rate.png", "latency.png",
                 "errors.png", "queue-age.png"):  # fmt: skip
        assert (report / name).stat().st_size > 0
