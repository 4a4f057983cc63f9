"""What deploy/monitoring queries, and what the services export: metric names on both sides.

``metric_names`` reads the metric names out of a PromQL expression: identifiers that are not
functions or aggregations (followed by ``(``), keywords, label names (inside ``{}``, ``by ()``,
``on ()``…), string contents or durations. ``exported_names`` turns a /metrics exposition into the
sample names a query can use (a counter ``x`` is queried as ``x_total``, a histogram as
``x_bucket``, ``x_sum`` and ``x_count``), read with prometheus_client's parser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "deploy" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"

# Series Prometheus makes itself for every target (never in an exposition).
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)"
STRING = r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`"
TOKEN = re.compile(
    r"(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<other>\S)"
)
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gauge": ("",),
    "unknown": ("",),
}


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's interval variables by a duration; refuse any other variable."""
    expr = re.sub(r"\$\{?__(?:rate_)?interval\}?", "5m", expr)
    if "$" in expr:
        raise ValueError(f"a dashboard variable Prometheus cannot evaluate: {expr}")
    return expr


def metric_names(expr: str) -> set[str]:
    """Return the metric names ``expr`` selects."""
    if "__name__" in expr:
        raise ValueError(f"select metrics by name, not by __name__: {expr}")
    text = re.sub(STRING, '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(GROUPING, " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    text = re.sub(r"@\s*(?:start\(\)|end\(\)|[0-9.]+)", " ", text)
    names = set()
    for match in TOKEN.finditer(text):
        name = match.group("name")
        if not name or name.lower() in KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(name)
    return names


def alert_expressions(path: Path = ALERTS) -> dict[str, str]:
    """Return {alert or record name: expression} of a rules file."""
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        rule.get("alert") or rule["record"]: rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
    }


def dashboard_expressions(dashboard: dict) -> dict[str, str]:
    """Return {"panel title / refId": PromQL} of every panel target of a dashboard."""
    found = {}
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop(0)
        panels += panel.get("panels", [])  # rows may hold panels
        for target in panel.get("targets", []):
            found[f"{panel['title']} / {target['refId']}"] = grafana_to_promql(target["expr"])
    return found


def load_dashboard(path: Path = DASHBOARD) -> dict:
    """Return the committed dashboard."""
    return json.loads(path.read_text(encoding="utf-8"))


def exported_names(exposition: str) -> set[str]:
    """Return every sample name a query can select from a /metrics exposition."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def unexported(expressions: dict[str, str], exported: set[str]) -> list[str]:
    """Return "where: name" for every metric an expression queries that nothing exports."""
    return [
        f"{where}: {name}"
        for where, expr in expressions.items()
        for name in sorted(metric_names(expr))
        if name not in exported | SYNTHETIC
    ]
