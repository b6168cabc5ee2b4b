"""deploy/prometheus: the configuration and the alerts are valid for Prometheus's own checker, every
alert fires and stays quiet where its tests say (`promtool test rules`), and every alert says how
severe it is, what happened and where its runbook is.

promtool comes with Debian's `prometheus` package, which scripts/bootstrap installs: a missing
promtool fails these tests rather than skipping them, so CI cannot pass without running them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.prometheus import ScrapeTargets, local_config
from einvoice.config import PROJECT_ROOT

PROMETHEUS_DIR = PROJECT_ROOT / "deploy" / "prometheus"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"
SEVERITIES = {"critical", "warning"}


def promtool(*arguments: str, cwd: Path) -> str:
    """promtool's output; the test fails with it when promtool does."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is missing: run scripts/bootstrap, which installs Debian's prometheus "
            "package (or: sudo apt-get install prometheus)"
        )
    result = subprocess.run(
        [binary, *arguments], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_alerting_rules_are_valid() -> None:
    output = promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS_DIR)

    assert f"SUCCESS: {len(alerting_rules())} rules found" in output


def test_the_shipped_configuration_is_valid_and_finds_its_rules(tmp_path: Path) -> None:
    """Run from elsewhere: the rule file is found beside the configuration, as in compose."""
    output = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"), cwd=tmp_path)

    assert "SUCCESS: 1 rule files found" in output


def test_the_local_stacks_configuration_is_valid(tmp_path: Path) -> None:
    """What `scripts/stack up prometheus` writes (devstack/prometheus.py): the shipped global
    settings, rules by absolute path and job names, loopback targets in place of discovery."""
    targets = ScrapeTargets(api=("127.0.0.1:9100",), workers=("127.0.0.1:9101", "127.0.0.1:9102"))
    config = local_config(targets)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    output = promtool("check", "config", "prometheus.yml", cwd=tmp_path)

    assert "SUCCESS: 1 rule files found" in output
    assert config["rule_files"] == [str(PROMETHEUS_DIR / "alerts.yml")]
    assert {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]} == {
        "einvoice-api": [{"targets": ["127.0.0.1:9100"]}],
        "einvoice-worker": [{"targets": ["127.0.0.1:9101", "127.0.0.1:9102"]}],
    }


def test_every_alert_fires_and_stays_quiet_as_its_tests_say() -> None:
    output = promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS_DIR)

    assert "SUCCESS" in output


def test_every_alert_is_tested_both_firing_and_quiet() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    checks = [check for test in tests for check in test.get("alert_rule_test", [])]
    fired = {check["alertname"] for check in checks if check.get("exp_alerts")}
    quiet = {check["alertname"] for check in checks if not check.get("exp_alerts")}
    names = {rule["alert"] for rule in alerting_rules()}

    assert {"untested firing": names - fired, "untested quiet": names - quiet} == {
        "untested firing": set(),
        "untested quiet": set(),
    }


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the document's headings: lower case, punctuation dropped, spaces to
    hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: str(rule["alert"]))
def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook(
    rule: dict[str, Any],
) -> None:
    annotations = rule["annotations"]

    assert rule["labels"]["severity"] in SEVERITIES
    assert annotations["summary"]
    assert annotations["description"]
    page, _, anchor = annotations["runbook"].partition("#")
    assert page == "docs/operations.md"
    assert anchor == rule["alert"].lower()
    assert anchor in _anchors(OPERATIONS.read_text()), f"no section {rule['alert']} in {page}"
