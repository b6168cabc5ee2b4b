"""compose.yaml's Prometheus and Grafana, read without Docker (CI has no engine): every file they
mount exists, Prometheus scrapes the services that serve metrics on the port they serve them on,
and Grafana's data source and dashboard provider point where compose puts things."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from einvoice.config import PROJECT_ROOT

JOBS = {"einvoice-api": "api", "einvoice-worker": "worker"}


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
    return compose


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> the checkout's file or folder, of the service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = PROJECT_ROOT / source
    return mounts


def _in_container(mounts: dict[str, Path], path: str) -> Path:
    """The checkout's file behind a path inside the container."""
    for target, source in mounts.items():
        if path == target or path.startswith(target + "/"):
            return source / path.removeprefix(target).lstrip("/")
    raise AssertionError(f"{path} is not mounted from the checkout")


def test_every_bind_mount_exists() -> None:
    missing = [
        f"{name}: {source}"
        for name, service in _compose()["services"].items()
        for source in _mounts(service).values()
        if not source.exists()
    ]
    assert missing == []


def test_every_named_volume_is_declared() -> None:
    compose = _compose()
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith(("./", "/"))
    }
    assert used <= set(compose["volumes"])


def test_prometheus_scrapes_each_service_where_it_serves_its_metrics() -> None:
    services = _compose()["services"]
    prometheus = services["prometheus"]
    mounts = _mounts(prometheus)
    (flag,) = [arg for arg in prometheus["command"] if arg.startswith("--config.file=")]
    config_file = _in_container(mounts, flag.removeprefix("--config.file="))
    config = yaml.safe_load(config_file.read_text())

    for rule_file in config["rule_files"]:
        assert (config_file.parent / rule_file).exists()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(JOBS)
    for job_name, service_name in JOBS.items():
        environment = services[service_name]["environment"]
        (discovery,) = jobs[job_name]["dns_sd_configs"]
        assert discovery["names"] == [service_name]
        assert discovery["port"] == int(environment["EINVOICE_METRICS_PORT"])
        # Reachable from the prometheus container, not only on the service's own loopback.
        assert environment["EINVOICE_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
        # Published to nobody: the host reaches the metrics through Prometheus only.
        published = [str(port) for port in services[service_name].get("ports", [])]
        assert [port for port in published if environment["EINVOICE_METRICS_PORT"] in port] == []


def test_grafana_is_provisioned_with_the_prometheus_service_and_the_dashboard() -> None:
    services = _compose()["services"]
    mounts = _mounts(services["grafana"])
    provisioning = _in_container(mounts, "/etc/grafana/provisioning")

    (source_file,) = (provisioning / "datasources").glob("*.yml")
    (source,) = yaml.safe_load(source_file.read_text())["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services

    (provider_file,) = (provisioning / "dashboards").glob("*.yml")
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    folder = Path(provider["options"]["path"])
    dashboards = {
        Path(target).name: source
        for target, source in mounts.items()
        if Path(target).parent == folder
    }
    assert dashboards == {"einvoice.json": PROJECT_ROOT / "deploy" / "grafana" / "einvoice.json"}
