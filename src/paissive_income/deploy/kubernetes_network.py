"""NetworkPolicies: nothing comes in unless allowed; callers come from the stack's `reaches`."""

from __future__ import annotations

from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_backup import BACKUP
from paissive_income.deploy.kubernetes_objects import NAMESPACE, manifest, selector, stack_labels

# Prometheus scrapes /metrics of the worker and the model server from this namespace (the
# web's port is open to every client anyway). Its pods are matched by namespace only, since
# each Prometheus install labels its pods its own way.
MONITORING_NAMESPACE = "monitoring"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace


def callers(target: str) -> list[str]:
    """The app services (and the backup CronJob) that call ``target`` (their ``reaches``)."""
    return sorted(
        service.name for service in (*stack.APP_SERVICES, BACKUP) if target in service.reaches
    )


def _pods(names: list[str]) -> dict:
    """A peer: pods of these services of this stack, in the policy's own namespace."""
    expression = {"key": "app.kubernetes.io/name", "operator": "In", "values": names}
    instance = {"app.kubernetes.io/instance": stack.PROJECT}
    return {"podSelector": {"matchLabels": instance, "matchExpressions": [expression]}}


def _port(number: int) -> list[dict]:
    return [{"protocol": "TCP", "port": number}]


def default_deny() -> dict:
    """Every pod of the namespace refuses connections no other policy allows."""
    body = manifest("networking.k8s.io/v1", "NetworkPolicy", "default-deny-ingress", "web")
    body["metadata"]["labels"] = stack_labels()
    body["spec"] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    return body


def allow(service: stack.AppService | stack.InfraService) -> dict:
    """Who may open connections to one service, on its port only."""
    assert service.port is not None
    rules: list[dict] = []
    if service is stack.WEB:
        rules.append({"ports": _port(service.port)})  # the ingress controller, wherever it runs
    else:
        names = callers(service.name)
        if names:
            rules.append({"from": [_pods(names)], "ports": _port(service.port)})
        if isinstance(service, stack.AppService):
            monitoring = {"matchLabels": {NAMESPACE_LABEL: MONITORING_NAMESPACE}}
            rules.append(
                {"from": [{"namespaceSelector": monitoring}], "ports": _port(service.port)}
            )
    body = manifest(
        "networking.k8s.io/v1", "NetworkPolicy", f"{service.name}-ingress", service.name
    )
    body["spec"] = {
        "podSelector": {"matchLabels": selector(service.name)},
        "policyTypes": ["Ingress"],
        "ingress": rules,
    }
    return body


def policies() -> list[dict]:
    """The default deny, then one policy per listening service."""
    listening = [s for s in (*stack.APP_SERVICES, *stack.INFRA_SERVICES) if s.port is not None]
    return [default_deny(), *(allow(service) for service in listening)]


__all__ = ["NAMESPACE", "callers", "policies"]
