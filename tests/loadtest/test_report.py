"""The load-test report from locust's CSV output: pages, charts, and the release verdict."""

from __future__ import annotations

from pathlib import Path

from loadtest.capacity import Measured
from loadtest.report import Thresholds, progress_line, write_report

STATS = """Type,Name,Request Count,Failure Count,Requests/s,50%,95%,99%
POST,POST /v1/invoices,1000,5,50.0,20,80,150
GET,GET /v1/invoices/{code},3000,0,150.0,5,20,40
,Aggregated,4000,5,200.0,8,60,120
"""
HISTORY = """Timestamp,User Count,Type,Name,Requests/s
1000,2,,Aggregated,10
1005,4,,Aggregated,30
1010,3,,Aggregated,25
"""
FAILURES = """Method,Name,Error,Occurrences
POST,POST /v1/invoices,503: BACKEND_UNAVAILABLE,5
"""
QUEUE = """seconds,depth,oldest_age_s
0,0,0
5,2,3.5
"""
MEASURED = Measured(80, 1050, 100, 240, 1600)


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "locust_stats.csv").write_text(STATS)
    (tmp_path / "locust_stats_history.csv").write_text(HISTORY)
    (tmp_path / "locust_failures.csv").write_text(FAILURES)
    (tmp_path / "queue.csv").write_text(QUEUE)
    return tmp_path


def test_a_run_within_the_thresholds_passes_and_is_reported(tmp_path: Path) -> None:
    folder = _folder(tmp_path)

    verdict = write_report(
        folder, Thresholds(0.01, 200), replay_seconds=60, capacity=10, measured=MEASURED
    )

    page = (folder / "index.html").read_text()
    assert verdict.passed
    assert "error rate 0.12%" in verdict.summary
    for chart in ("rate.png", "latency.png", "queue.png"):
        assert (folder / chart).stat().st_size > 1000
    assert "503: BACKEND_UNAVAILABLE" in page
    assert "Cassandra nodes" in page


def test_too_many_errors_or_a_slow_p99_fails_the_release(tmp_path: Path) -> None:
    folder = _folder(tmp_path)

    errors = write_report(
        folder, Thresholds(0.001, 200), replay_seconds=60, capacity=10, measured=MEASURED
    )
    slow = write_report(
        folder, Thresholds(0.01, 100), replay_seconds=60, capacity=10, measured=MEASURED
    )

    assert not errors.passed
    assert not slow.passed
    assert slow.summary.startswith("FAIL")


def test_the_replay_shows_progress_from_locusts_history(tmp_path: Path) -> None:
    history = tmp_path / "locust_stats_history.csv"
    assert progress_line(3, history, 0, 0) is None  # no history yet
    history.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,99%,Total Request Count,"
        "Total Failure Count\n"
        "1000,4,,Aggregated,12.5,0,800,100,0\n"
        "1002,6,POST,POST /v1/invoices,9.0,0,700,80,0\n"
        "1002,6,,Aggregated,20.25,0.5,1200,400,2\n"
    )

    line = progress_line(32.4, history, 3, 7.6)

    assert line == (
        "    32 s  6 users  20.2 requests/s  2 errors (0.5%)  p99 1,200 ms  "
        "queue 3 batches, oldest 8 s"
    )
