"""The optional local Prometheus (`scripts/stack up prometheus`, devstack/prometheus.py): left out
of a bare `up`, shown by `status`, stopped by `down`; the real server runs the shipped alerts
against loopback targets. Each test runs its own in a temporary stack folder on a free port, so
the shared stack is never touched."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

import devstack
from devstack.process import StackError, free_port, wait_until
from devstack.prometheus import PrometheusServer, local_targets
from devstack.settings import StackSettings
from einvoice.config import PROJECT_ROOT, Settings

ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"


def test_a_bare_up_leaves_it_out_while_status_and_down_include_it(
    base_settings: Settings, tmp_path: Path
) -> None:
    stack = StackSettings(stack_dir=tmp_path, prometheus_port=free_port())

    assert "prometheus" not in [s.name for s in devstack.servers(base_settings, None, stack)]
    recorded = devstack.servers(base_settings, None, stack, recorded=True)
    assert [s.name for s in recorded][-1] == "prometheus"
    assert devstack.status(base_settings, stack)["prometheus"] == (
        f"stopped (optional: `scripts/stack up prometheus`), at 127.0.0.1:{stack.prometheus_port}"
    )


def test_it_scrapes_the_api_and_each_worker_scripts_start_runs(base_settings: Settings) -> None:
    every_address = "0.0.0.0"  # noqa: S104 (reached on loopback)
    settings = base_settings.model_copy(
        update={"metrics_host": every_address, "metrics_port": 9100}
    )

    targets = local_targets(settings, StackSettings(start_workers=3))

    assert targets.api == ("127.0.0.1:9100",)
    assert targets.workers == ("127.0.0.1:9101", "127.0.0.1:9102", "127.0.0.1:9103")
    with pytest.raises(StackError, match="EINVOICE_METRICS_PORT=0"):
        local_targets(settings.model_copy(update={"metrics_port": 0}), StackSettings())


def test_up_runs_prometheus_with_the_shipped_alerts_and_down_stops_it(
    base_settings: Settings, tmp_path: Path
) -> None:
    settings = base_settings.model_copy(update={"metrics_port": free_port()})
    stack = StackSettings(stack_dir=tmp_path, prometheus_port=free_port(), start_workers=2)
    server = PrometheusServer(settings, stack)
    try:
        assert devstack.up(settings, ["prometheus"], stack) == ["prometheus"]

        rules = httpx.get(f"{server.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        shipped = yaml.safe_load(ALERTS.read_text())["groups"]
        assert [rule["name"] for group in rules for rule in group["rules"]] == [
            rule["alert"] for group in shipped for rule in group["rules"]
        ]
        port = settings.metrics_port
        expected = [
            ("einvoice-api", f"127.0.0.1:{port}"),
            ("einvoice-worker", f"127.0.0.1:{port + 1}"),
            ("einvoice-worker", f"127.0.0.1:{port + 2}"),
        ]

        def targets() -> list[tuple[str, str]]:
            active = httpx.get(f"{server.url}/api/v1/targets", timeout=10).json()["data"]
            return sorted(
                (target["labels"]["job"], target["labels"]["instance"])
                for target in active["activeTargets"]
            )

        # Discovered targets reach the scrape manager a few seconds after start-up.
        wait_until(lambda: targets() == expected, timeout_s=30)
        assert targets() == expected
        assert server.describe().startswith("ready, ours")
        # Again: nothing new starts; the configuration is rewritten and reloaded.
        assert devstack.up(settings, ["prometheus"], stack) == []
    finally:
        stopped = devstack.down(settings, ["prometheus"], stack)
    assert stopped == ["prometheus"]
    assert server.process.running_pid() is None
    assert (tmp_path / "logs" / "prometheus.log").exists()
    assert (tmp_path / "prometheus" / "data").is_dir()
