"""What the deploy tests need to know about PromQL and the exposition format (no fixtures here):
the metric names a query reads, and the metric names a process exports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Words of PromQL that are not metric names where they appear outside brackets and strings:
# operators, modifiers and the literals Inf and NaN. Function and aggregation names are told apart
# by the parenthesis after them.
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "atan2", "inf", "nan"}
)
# Series every Prometheus makes for each target itself.
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
# What a histogram (or summary) family `x` is queried as.
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' r"|'(?:[^'\\]|\\.)*'|`[^`]*`")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(\s*\()?")

# Grafana's variables in the dashboard's queries, as a fixed query would read them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "$__range": "1h",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers outside strings, label matchers,
    range brackets and label lists, that are neither keywords nor called as functions."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    return {
        found[1]
        for found in _IDENTIFIER.finditer(text)
        if found[2] is None and found[1].lower() not in KEYWORDS
    }


def exported_names(exposition: str) -> set[str]:
    """Every name a scrape of this /metrics text lets a query select: each family from its
    `# TYPE` line (so a labelled counter not yet incremented counts), a histogram's or summary's
    with its _bucket, _sum and _count series, and any sample's own name."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind in ("histogram", "summary"):
                names.update(name + suffix for suffix in _FAMILY_SUFFIXES)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def with_fixed_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of the dashboard that is not a row, rows' collapsed panels included."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panels({"panels": panel.get("panels", [])})
        else:
            yield panel


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title and target refId, expression) of every target of every panel."""
    return [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in panels(dashboard)
        for target in panel["targets"]
    ]
