"""Prometheus for the local stack (`scripts/stack up prometheus`): Debian's `prometheus` on
127.0.0.1:<EINVOICE_PROMETHEUS_PORT>, scraping the processes `scripts/start` runs and evaluating
the alerts the deployment ships. Optional: a bare `scripts/stack up` never starts it.

Its configuration is written from deploy/prometheus/prometheus.yml at every start, so the local
server and a deployment cannot drift apart: the same global settings, the same rule files (by
absolute path, deploy/prometheus/alerts.yml) and the same job names, with each job's service
discovery replaced by loopback addresses: the API at EINVOICE_METRICS_HOST:EINVOICE_METRICS_PORT,
batch worker n at that port + n for each of the EINVOICE_START_WORKERS workers. The alerts and the
dashboard's queries thus run locally on the series and `job` labels they see in compose.

A Prometheus of someone else's already answering at the address is used as it is, and its
configuration is its own.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml

from devstack.process import StackError
from devstack.server import LocalServer
from devstack.settings import CHECKOUT_ROOT, StackSettings
from devstack.system import ensure_program, say
from einvoice.config import Settings

SHIPPED_CONFIG = CHECKOUT_ROOT / "deploy" / "prometheus" / "prometheus.yml"
API_JOB = "einvoice-api"
WORKER_JOB = "einvoice-worker"
# What a local Prometheus keeps: enough for a day's debugging, little disk.
RETENTION = "7d"


@dataclasses.dataclass(frozen=True)
class ScrapeTargets:
    """Addresses (host:port) of each job's metrics endpoints, and optionally a scrape and rule
    evaluation interval other than the shipped configuration's (the tests scrape every second)."""

    api: tuple[str, ...]
    workers: tuple[str, ...]
    interval: str | None = None


def local_targets(settings: Settings, stack: StackSettings) -> ScrapeTargets:
    """Where `scripts/start`'s processes serve their metrics (einvoice/metrics_server.py)."""
    if settings.metrics_port == 0:
        raise StackError(
            "prometheus: the service's metrics are off (EINVOICE_METRICS_PORT=0): nothing to scrape"
        )
    host = settings.metrics_host
    if host in ("0.0.0.0", ""):  # noqa: S104 (bound on every address: reach it on loopback)
        host = "127.0.0.1"
    elif host == "::" or ":" in host:
        host = "[::1]" if host == "::" else f"[{host}]"
    port = settings.metrics_port
    return ScrapeTargets(
        api=(f"{host}:{port}",),
        workers=tuple(f"{host}:{port + n}" for n in range(1, stack.start_workers + 1)),
    )


def local_config(targets: ScrapeTargets, shipped: Path = SHIPPED_CONFIG) -> dict[str, Any]:
    """The shipped configuration with `targets` in place of its service discovery."""
    config: dict[str, Any] = yaml.safe_load(shipped.read_text())
    by_job = {API_JOB: targets.api, WORKER_JOB: targets.workers}
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    if sorted(jobs) != sorted(by_job):
        raise StackError(f"prometheus: {shipped} has the jobs {jobs}; the stack knows {[*by_job]}")
    scrape_configs = []
    for job in config["scrape_configs"]:
        kept = {key: value for key, value in job.items() if not key.endswith("_sd_configs")}
        kept["static_configs"] = [{"targets": list(by_job[job["job_name"]])}]
        if targets.interval is not None:
            kept.pop("scrape_interval", None)
        scrape_configs.append(kept)
    config["scrape_configs"] = scrape_configs
    config["rule_files"] = [str(shipped.parent / name) for name in config.get("rule_files", [])]
    if targets.interval is not None:
        config["global"] = {
            **config.get("global", {}),
            "scrape_interval": targets.interval,
            "evaluation_interval": targets.interval,
        }
    return config


class PrometheusServer(LocalServer):
    name = "prometheus"

    def __init__(
        self, settings: Settings, stack: StackSettings, targets: ScrapeTargets | None = None
    ) -> None:
        super().__init__(settings, stack, "127.0.0.1", stack.prometheus_port)
        self.home = stack.stack_dir / "prometheus"
        self.config_file = self.home / "prometheus.yml"
        self._targets = targets

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> None:
        installing = shutil.which("prometheus") is None
        binary = ensure_program("prometheus", package="prometheus", why="The local Prometheus")
        if installing and shutil.which("systemctl") is not None:
            # Where systemd runs, Debian's package starts its own service on port 9090 at install
            # time; the stack runs its own server, with its own configuration, there instead.
            subprocess.run(
                ["systemctl", "disable", "--now", "prometheus.service"],
                capture_output=True,
                check=False,
            )
        self._write_config()
        say(f"prometheus: starting; log {self.process.log_file}")
        self.process.start(
            [
                str(binary),
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.home / 'data'}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address={self.address}",
            ]
        )

    def begin(self) -> Literal["started", "running", "external"]:
        outcome = super().begin()
        pid = self.process.running_pid()
        if outcome == "running" and pid is not None:
            # Ours already runs: `up` rewrites its configuration (the rules, or the number of
            # workers, may have changed since) and has it reload (SIGHUP), keeping its data.
            self._write_config()
            os.kill(pid, signal.SIGHUP)
        return outcome

    def _write_config(self) -> None:
        targets = self._targets or local_targets(self.settings, self.stack)
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            f"# Written by scripts/stack (devstack/prometheus.py) at every start from "
            f"{SHIPPED_CONFIG.relative_to(CHECKOUT_ROOT)}: edit that file instead.\n"
            + yaml.safe_dump(local_config(targets), sort_keys=False)
        )

    def serves(self) -> bool:
        """Ready, not only listening: Prometheus answers 503 on /-/ready while it replays its
        write-ahead log."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def check_existing(self) -> None:
        try:
            answer = httpx.get(f"{self.url}/api/v1/status/buildinfo", timeout=3)
            answer.json()["data"]["version"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise StackError(
                f"prometheus: port {self.port} on {self.host} does not answer as Prometheus "
                f"({error!r}). Stop the program there (see `ss -ltnp 'sport = :{self.port}'`) or "
                "set EINVOICE_PROMETHEUS_PORT to a free port."
            ) from error

    def describe(self) -> str:
        described = super().describe()
        if described.startswith("stopped"):
            return f"stopped (optional: `scripts/stack up prometheus`), at {self.address}"
        return described
