"""NetworkPolicies, evaluated: exactly the intended clients reach each service's port."""

from __future__ import annotations

import copy

import pytest
from kubernetes_checks import OVERLAYS, build, find, render
from kubernetes_reach import Pod, allowed, matches, reachers

from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_backup import BACKUP

EVERYONE = {"migrate", "worker", "ai-models", "postgres", "redis", "backup"} | {
    "ingress-controller",
    "prometheus",
    "debug",
    "impostor",
}
# service, port -> the clients that may connect (stack pods by name, outsiders by role)
INTENDED = {
    ("web", 5000): EVERYONE,  # through the ingress controller, wherever it runs
    ("worker", 8001): {"prometheus"},
    ("ai-models", 8000): {"web", "worker", "prometheus"},
    ("postgres", 5432): {"web", "worker", "migrate", "backup"},  # backup: the CronJob's pods
    ("redis", 6379): {"web", "worker"},
}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    root = render(tmp_path_factory.mktemp("k8s"))
    folders = {"base": root / "base", **{o: root / "overlays" / o for o in OVERLAYS}}
    return {name: build(folder) for name, folder in folders.items()}


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
@pytest.mark.parametrize(("target", "port"), list(INTENDED))
def test_exactly_the_intended_clients_reach_each_service(
    builds: dict[str, list[dict]], name: str, target: str, port: int
) -> None:
    assert reachers(builds[name], target, port) == INTENDED[(target, port)]


def test_ports_no_service_listens_on_stay_closed(builds: dict[str, list[dict]]) -> None:
    docs = builds["prod"]
    assert reachers(docs, "postgres", 5433) == set()
    assert reachers(docs, "ai-models", 8001) == set()
    assert reachers(docs, "web", 8000) == set()


def test_intended_callers_are_stack_pys_reaches() -> None:
    for target in ("postgres", "redis", "ai-models"):
        callers = {s.name for s in (*stack.APP_SERVICES, BACKUP) if target in s.reaches}
        port = stack.service(target).port
        assert callers == INTENDED[(target, port)] - {"prometheus"}


def test_the_evaluator_follows_kubernetes_semantics() -> None:
    web = {"app.kubernetes.io/name": "web"}
    assert matches({}, {"a": "b"}) and not matches(None, {})
    assert matches({"matchExpressions": [{"key": "k", "operator": "NotIn", "values": ["x"]}]}, {})
    assert not matches({"matchExpressions": [{"key": "k", "operator": "Exists"}]}, {})
    policy = {
        "metadata": {"namespace": "ns"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": web}}], "ports": [{"port": 1}]}],
        },
    }
    server = Pod("db", "ns", {"app": "db"})
    assert allowed([policy], Pod("web", "ns", web), server, 1)
    assert not allowed([policy], Pod("web", "other", web), server, 1)  # podSelector: own ns only
    assert not allowed([policy], Pod("web", "ns", web), server, 2)
    assert allowed([], Pod("x", "other"), server, 2)  # no policy: not isolated
    egress_only = copy.deepcopy(policy)
    egress_only["spec"]["policyTypes"] = ["Egress"]
    assert allowed([egress_only], Pod("x", "other"), server, 2)


def test_a_planted_hole_is_found(builds: dict[str, list[dict]]) -> None:
    docs = copy.deepcopy(builds["base"])
    policy = find(docs, "NetworkPolicy", "postgres-ingress")
    peer = policy["spec"]["ingress"][0]["from"][0]
    peer["namespaceSelector"] = {}  # any namespace: the impostor gets in
    assert "impostor" in reachers(docs, "postgres", 5432)
    deny = find(docs, "NetworkPolicy", "default-deny-ingress")
    docs.remove(deny)
    find(docs, "NetworkPolicy", "redis-ingress")["spec"]["podSelector"] = {
        "matchLabels": {"app.kubernetes.io/name": "nothing"}
    }
    assert "debug" in reachers(docs, "redis", 6379)  # no policy selects redis any more


def test_policies_live_in_the_stacks_namespace(builds: dict[str, list[dict]]) -> None:
    for name, namespace in (("dev", "paissive-income-dev"), ("prod", "paissive-income")):
        policies = [d for d in builds[name] if d["kind"] == "NetworkPolicy"]
        assert {p["metadata"]["namespace"] for p in policies} == {namespace}
        assert len(policies) == 6
