"""The locust users run headless for a few seconds against a real service and the real stack,
over a demo registry seeded in this session's database, without failures."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from einvoice.config import PROJECT_ROOT


def test_the_load_test_users_run_cleanly(
    service_url: str, session_env: dict[str, str], demo_registry_file: Path, tmp_path: Path
) -> None:
    env = dict(session_env, EINVOICE_LOADTEST_REGISTRY=str(demo_registry_file))
    locust = Path(sys.executable).parent / "locust"
    result = subprocess.run(
        [str(locust), "-f", str(PROJECT_ROOT / "loadtest" / "locustfile.py"), "--headless",
         "--host", service_url, "--users", "6", "--spawn-rate", "6", "--run-time", "8s",
         "--csv", str(tmp_path / "run"), "--only-summary"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_ROOT,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert int(rows["POST /v1/invoices"]["Request Count"]) > 0
    assert int(rows["GET /v1/invoices/{code}"]["Request Count"]) > 0  # invoices were issued
    assert int(rows["Aggregated"]["Failure Count"]) == 0, rows["Aggregated"]
