"""deploy/monitoring: alert rules and scrape configs pass promtool, the rules' unit tests pass,
and every metric a rule or a dashboard panel queries is exported by the real services."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import docs_pages
import kubernetes_checks
import pytest
import yaml
from monitoring_support import (
    ALERTS,
    MONITORING,
    alert_expressions,
    dashboard_expressions,
    exported_names,
    grafana_to_promql,
    load_dashboard,
    metric_names,
    unexported,
)

from paissive_income.deploy import stack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ai_models" / "serving"))
import serving_validators  # noqa: E402  (the serving tests' validator helpers)

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = REPO / "deploy" / "kubernetes" / "overlays"
JOBS = {"web", "worker", "ai-models"}


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    """Run Debian's promtool (package `prometheus`); missing, the test fails with the hint."""
    binary = serving_validators.tool("promtool")
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_alert_rules_pass_promtool_and_their_unit_tests():
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_and_has_for_severity_and_a_runbook():
    rules = yaml.safe_load(ALERTS.read_text())
    tested = {
        check["alertname"]
        for case in yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
        for check in case.get("alert_rule_test", [])
        if check["exp_alerts"]
    }
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule["alert"]
            assert re.fullmatch(r"\d+m", rule["for"]), name
            assert rule["labels"]["severity"] in {"critical", "warning"}, name
            annotations = rule["annotations"]
            assert annotations["summary"] and annotations["description"], name
            assert annotations["runbook_url"] == f"docs/operations.md#{name.lower()}", name
            assert name in tested, f"{name}: no case of alerts_test.yml makes it fire"


def test_every_runbook_is_a_section_of_the_operations_guide():
    sections = docs_pages.anchors((REPO / "docs" / "operations.md").read_text())
    for name, rule in _rules().items():
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (page, anchor in sections) == ("docs/operations.md", True), name


def _rules() -> dict[str, dict]:
    rules = yaml.safe_load(ALERTS.read_text())
    return {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}


def test_the_compose_scrape_config_passes_promtool_and_finds_each_service_on_its_port():
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    ports = {
        job["job_name"]: (sd["names"], sd["port"])
        for job in config["scrape_configs"]
        for sd in job["dns_sd_configs"]
    }
    assert ports == {name: ([name], stack.service(name).port) for name in JOBS}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert compose["worker"]["environment"]["WORKER_HEALTH_PORT"] == str(ports["worker"][1])
    for name in JOBS:  # Prometheus joins the internal network these services are on
        assert "backend" in compose[name]["networks"], name


def test_the_kubernetes_scrape_config_keeps_the_annotated_pods_as_their_jobs(tmp_path):
    config = yaml.safe_load((MONITORING / "prometheus-kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    (discovery,) = job.pop("kubernetes_sd_configs")
    assert discovery["role"] == "pod"
    assert discovery["namespaces"]["names"] == ["paissive-income", "paissive-income-dev"]
    # Debian's promtool is built without Kubernetes discovery: it checks everything else.
    job["static_configs"] = [{"targets": ["placeholder:80"]}]
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text())
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    for overlay in kubernetes_checks.OVERLAYS:
        found = {}
        docs = kubernetes_checks.build(OVERLAYS / overlay)
        for workload in kubernetes_checks.workloads(docs).values():
            namespace = workload["metadata"]["namespace"]
            assert namespace in discovery["namespaces"]["names"], overlay
            labels = _relabel(job["relabel_configs"], _discovered(workload, namespace))
            if labels is not None:
                found[labels["job"]] = (labels["__address__"], labels["__metrics_path__"])
        expected = {name: (f"10.0.0.1:{stack.service(name).port}", "/metrics") for name in JOBS}
        assert found == expected, f"{overlay}: the annotated web, worker and ai-models pods only"


def _discovered(workload: dict, namespace: str) -> dict[str, str]:
    """The labels Prometheus's pod discovery gives a target of a workload's pod."""
    spec = workload["spec"]
    meta = (spec["jobTemplate"]["spec"] if "jobTemplate" in spec else spec)["template"]["metadata"]
    labels = {"__address__": "10.0.0.1:9999", "__metrics_path__": "/metrics", "job": "x"}
    labels["__meta_kubernetes_namespace"] = namespace
    labels["__meta_kubernetes_pod_name"] = "pod-1"
    for key, value in meta.get("labels", {}).items():
        labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    for key, value in meta.get("annotations", {}).items():
        labels["__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return labels


def _relabel(configs: list[dict], labels: dict[str, str]) -> dict[str, str] | None:
    """Apply keep/replace relabelling as Prometheus does (anchored RE2 regex; None: dropped)."""
    labels = dict(labels)
    for config in configs:
        value = config.get("separator", ";").join(
            labels.get(name, "") for name in config["source_labels"]
        )
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        action = config.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                replacement = config.get("replacement", "$1")
                template = re.sub(r"\$(\d+)", r"\\g<\1>", replacement)  # $1 -> \g<1>
                labels[config["target_label"]] = match.expand(template)
        else:
            raise AssertionError(f"relabel action {action} not simulated")
    return labels


def test_metric_names_are_read_from_promql_not_labels_functions_or_keywords():
    expr = (
        'histogram_quantile(0.95, sum by (le, job) (rate(a:b_bucket{job=~"x|y",le!="1e3"}[5m])))'
        " > on (job) group_left (instance) max without (pod) (c_total offset 1h)"
        " and absent(d{e='f(g)'}) or time() - min(h) > bool 1e6 unless topk(5, i)"
        " * on() sum(rate(j [$__rate_interval] @ end()))"
    )
    assert metric_names(grafana_to_promql(expr)) == {"a:b_bucket", "c_total", "d", "h", "i", "j"}
    with pytest.raises(ValueError, match="__name__"):
        metric_names('{__name__="up"}')


def test_the_dashboard_is_well_formed_and_each_query_parses():
    dashboard = load_dashboard()
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard.get("id") is None  # an import creates it; a fixed id would clash
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["title"]
    (variable,) = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    ids, cells = set(), set()
    for panel in dashboard["panels"]:
        assert panel["id"] not in ids, panel["title"]
        ids.add(panel["id"])
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and 1 <= grid["w"] and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] >= 1 and grid["y"] >= 0, panel["title"]
        columns = range(grid["x"], grid["x"] + grid["w"])
        area = {(x, y) for x in columns for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        assert panel["type"] in {"row", "timeseries", "stat", "table"}, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
    # promtool parses each query: as a recording rule of a throwaway rules file.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query:{n}", "expr": expr}
                    for n, expr in enumerate(dashboard_expressions(dashboard).values())
                ],
            }
        ]
    }
    checked = _check_rules_text(yaml.safe_dump(rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _check_rules_text(text: str) -> subprocess.CompletedProcess[str]:
    binary = serving_validators.tool("promtool")
    return subprocess.run(
        [binary, "check", "rules", "/dev/stdin"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_misspelt_query_fails_promtool_or_the_export_check(exported):
    broken = ALERTS.read_text().replace(
        "paissive_agent_runs_finished_total", "paissive_agent_run_finished_total"
    )
    assert _check_rules_text(broken).returncode == 0  # still valid PromQL: promtool cannot tell
    found = unexported(_expressions_of(broken), exported["all"])
    assert found == ["PaissiveAgentRunsFailing: paissive_agent_run_finished_total"]
    dashboard = load_dashboard()
    dashboard["panels"][-1]["targets"][0]["expr"] = "rate(vllm:time_to_first_token_bucket[5m])"
    found = unexported(dashboard_expressions(dashboard), exported["all"])
    assert found == ["Batch size (p50) / A: vllm:time_to_first_token_bucket"]


def _expressions_of(text: str) -> dict[str, str]:
    rules = yaml.safe_load(text)
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, set[str]]:
    """Sample names of the real /metrics of web, worker and model server (after a run)."""
    from exported_metrics import scrape_services

    pages = scrape_services(tmp_path_factory.mktemp("scrape"))
    names = {job: exported_names(text) for job, text in pages.items()}
    names["all"] = set().union(*names.values())
    names["pages"] = pages
    return names


def test_every_metric_the_rules_and_the_dashboard_query_is_exported(exported):
    expressions = {**alert_expressions(), **dashboard_expressions(load_dashboard())}
    assert unexported(expressions, exported["all"]) == []
    # What runs did (counters, histograms) must come from the worker: with Redis the web runs no
    # embedded worker. The runs' and the queue's state is read from the database and the queue by
    # the web, which every stack runs.
    queried = set().union(*(metric_names(expr) for expr in expressions.values()))
    events = {name for name in queried if re.match(r"paissive_agent_.*_(total|bucket)$", name)}
    events.add("paissive_agent_worker_threads_alive")  # the worker process's own
    assert events <= exported["worker"], events - exported["worker"]
    state = {name for name in queried if name.startswith("paissive_agent_")} - events
    assert state and state <= exported["web"], state - exported["web"]
    assert {"paissive_readiness_check_ok"} <= exported["web"] & exported["worker"]
    model = {name for name in queried if name.startswith(("vllm:", "paissive:"))}
    assert model and model <= exported["ai-models"], model - exported["ai-models"]


def test_the_services_expositions_pass_promtools_lint(exported):
    for job, text in exported["pages"].items():
        linted = subprocess.run(
            [serving_validators.tool("promtool"), "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        problems = (linted.stdout + linted.stderr).splitlines()
        if job == "ai-models":  # vLLM's names, kept for its dashboards and autoscalers
            problems = [
                line
                for line in problems
                if not line.endswith("metric names should not contain ':'")
                and not line.startswith("vllm:iteration_tokens_total non-counter")
            ]
        assert problems == [], f"{job}: {problems}"
