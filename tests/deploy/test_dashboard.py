"""deploy/grafana/einvoice.json against a real Prometheus scraping a real service and worker.

Every query of every panel runs on a Prometheus started for the test (devstack/prometheus.py, in
a temporary folder on a free port, scraping every second, with the shipped alerts), and a query
error fails the test. Every metric name a panel or an alert reads must be one the service or the
worker exports (or `up`, Prometheus's own): a renamed metric fails here, not on an operator's
empty graph. Grafana's variables ($__rate_interval) are replaced by fixed windows.

What a process exports is read from its real scrape, plus the families its code declares that have
no series yet: a labelled counter gets its first series at its first increment (no backend error
in a healthy test session), and the API's multiprocess collector lists a family only once some
process has written a sample of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from devstack.process import wait_until
from devstack.prometheus import PrometheusServer, ScrapeTargets
from devstack.settings import StackSettings
from einvoice.config import PROJECT_ROOT, Settings
from tests.deploy.promql import (
    PROMETHEUS_OWN,
    exported_names,
    metric_names,
    panels,
    queries,
    with_fixed_variables,
)
from tests.support import ServerProcess, free_port, wait_for_http

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "einvoice.json"
ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
UNITS = {"reqps", "s", "percentunit", "short", "d"}


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _alert_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


# -- the file alone ----------------------------------------------------------------------------


def test_every_panel_has_a_title_a_description_a_unit_and_the_datasource_variable() -> None:
    dashboard = _dashboard()
    (variable,) = dashboard["templating"]["list"]
    source = {"type": "prometheus", "uid": "${datasource}"}

    assert dashboard["schemaVersion"] >= 39
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for panel in panels(dashboard):
        assert panel["title"], panel["id"]
        assert panel["description"], panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"] in UNITS, panel["title"]
        assert panel["datasource"] == source, panel["title"]
        assert panel["targets"], panel["title"]
        assert all(target["datasource"] == source for target in panel["targets"]), panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_dashboard_shows_what_operators_asked_for() -> None:
    """Submissions by outcome, latency by route, the batch queue, the ingest rate, the cache hit
    ratio, backend errors (issue #19), and the workers and keys the alerts watch."""
    read = {name for _, expr in queries(_dashboard()) for name in metric_names(expr)}

    assert read >= {
        "einvoice_submissions_total",
        "einvoice_http_requests_total",
        "einvoice_http_request_duration_seconds_bucket",
        "einvoice_batch_queue_depth",
        "einvoice_batch_consumer_lag",
        "einvoice_batch_oldest_age_seconds",
        "einvoice_batch_lines_total",
        "einvoice_cache_reads_total",
        "einvoice_backend_errors_total",
        "einvoice_batch_backend_unavailable_total",
        "einvoice_worker_heartbeat_timestamp_seconds",
        "einvoice_authority_key_not_after_timestamp_seconds",
        "up",
    }


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'histogram_quantile(0.99, sum by (le, route) (rate(x_seconds_bucket{route="/v1/a"}[5m])))',
            {"x_seconds_bucket"},
        ),
        ("max(a_depth) > scalar(count(up{job='w'} == 1))", {"a_depth", "up"}),
        (
            "sum(rate(b_total[1m] offset 15m)) by (step) / on() group_left c_total",
            {"b_total", "c_total"},
        ),
        ("(min by (kid) (k_seconds) - time()) / 86400 < 30 * 86400 and k_seconds", {"k_seconds"}),
        ('absent(up{job="einvoice-worker"} == 1) or vector(1e3)', {"up"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


# -- against the real service, worker and Prometheus -------------------------------------------


@pytest.fixture(scope="module")
def worker_metrics_url(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real `einvoice worker` of this session, its metrics on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("dashboard-worker") / "worker.log"
    env = dict(session_env, EINVOICE_METRICS_PORT=str(port))
    with ServerProcess(["worker"], env, log) as worker:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for_http(url, worker.process, log, timeout_s=60)
        yield url


@pytest.fixture(scope="module")
def prometheus_url(
    settings: Settings,
    service_metrics_url: str,
    worker_metrics_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A real Prometheus scraping the session's service and the worker every second, with the
    shipped alerts; its base URL once it has scraped both."""
    targets = ScrapeTargets(
        api=(urlsplit(service_metrics_url).netloc,),
        workers=(urlsplit(worker_metrics_url).netloc,),
        interval="1s",
    )
    stack = StackSettings(
        stack_dir=tmp_path_factory.mktemp("prometheus"), prometheus_port=free_port()
    )
    server = PrometheusServer(settings, stack, targets)
    server.up()
    try:
        wait_until(lambda: _up_targets(server.url) == 2, timeout_s=60)
        assert _up_targets(server.url) == 2, _get(server.url, "/api/v1/targets")
        yield server.url
    finally:
        server.down()


def _get(base_url: str, path: str, **params: str) -> Any:
    return httpx.get(f"{base_url}{path}", params=params, timeout=30).json()


def _up_targets(base_url: str) -> int:
    result = _get(base_url, "/api/v1/query", query="sum(up)")["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _exported(*metrics_urls: str) -> set[str]:
    return set().union(*(exported_names(httpx.get(url, timeout=10).text) for url in metrics_urls))


# The modules `einvoice serve` and `einvoice worker` run, imported into one fresh interpreter
# without multiprocess mode, whose registry then lists every family they declare.
_DECLARE = (
    "import api.app, ingest.worker, prometheus_client;"
    "print(prometheus_client.generate_latest().decode())"
)


def _declared(env: dict[str, str]) -> set[str]:
    env = {name: value for name, value in env.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run(
        [sys.executable, "-c", _DECLARE],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {name for name in exported_names(result.stdout) if name.startswith("einvoice_")}


def test_every_panel_query_runs_on_prometheus(
    prometheus_url: str, service_url: str, service_metrics_url: str
) -> None:
    # A few requests, so that the HTTP series exist when the queries run.
    for path in ("/healthz", "/readyz", "/no-such-page"):
        httpx.get(f"{service_url}{path}", timeout=30)
    wait_until(
        lambda: bool(
            _get(prometheus_url, "/api/v1/query", query="einvoice_http_requests_total")["data"][
                "result"
            ]
        ),
        timeout_s=30,
    )

    failed = {}
    for where, expr in queries(_dashboard()):
        answer = _get(prometheus_url, "/api/v1/query", query=with_fixed_variables(expr))
        if answer["status"] != "success":
            failed[where] = f"{answer['errorType']}: {answer['error']}"
    assert failed == {}


def test_the_alerts_evaluate_without_error_on_prometheus(prometheus_url: str) -> None:
    def rules() -> list[dict[str, Any]]:
        groups = _get(prometheus_url, "/api/v1/rules")["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    # Evaluated every second; "unknown" until the first evaluation.
    wait_until(lambda: all(rule["health"] != "unknown" for rule in rules()), timeout_s=30)
    assert [(rule["name"], rule.get("lastError", "")) for rule in rules()] == [
        (name, "") for name, _ in _alert_expressions()
    ]


def test_every_metric_the_dashboard_and_the_alerts_read_is_exported(
    service_metrics_url: str, worker_metrics_url: str, session_env: dict[str, str]
) -> None:
    exported = (
        _exported(service_metrics_url, worker_metrics_url) | _declared(session_env) | PROMETHEUS_OWN
    )
    read = [*queries(_dashboard()), *_alert_expressions()]

    missing = {
        where: sorted(metric_names(expr) - exported)
        for where, expr in read
        if metric_names(expr) - exported
    }
    assert missing == {}


def test_the_exported_names_are_read_from_a_real_scrape(
    service_metrics_url: str, worker_metrics_url: str
) -> None:
    """The check above is not vacuous: a histogram's series and a counter's name are there."""
    exported = _exported(service_metrics_url, worker_metrics_url)

    assert {
        "einvoice_http_request_duration_seconds_bucket",
        "einvoice_http_requests_total",
        "einvoice_batch_lines_total",
    } <= exported
    assert Path(DASHBOARD).exists()
