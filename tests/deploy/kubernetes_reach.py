"""Evaluate NetworkPolicies as Kubernetes does: which pods may open a connection to which port.

A pod is isolated for ingress once any policy of its namespace selects it with policyTypes
Ingress; it then accepts a connection when some selecting policy has a rule whose `from` peers
match the client (podSelector in the policy's namespace, namespaceSelector, or both) and whose
`ports` include the port. Unisolated pods accept everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubernetes_checks import containers, template, workloads


@dataclass(frozen=True)
class Pod:
    """A pod as the policy engine sees it: namespace, its labels and its namespace's labels."""

    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # named container ports


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator}")
    return True


def _peer_matches(peer: dict, policy_namespace: str, client: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # no pod of ours is addressed by CIDR; treat as not matching
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is None:
        in_namespace = client.namespace == policy_namespace
    else:
        in_namespace = matches(namespaces, client.namespace_labels)
    return in_namespace and (pods is None or matches(pods, client.labels))


def _port_matches(rule_ports: list[dict] | None, server: Pod, port: int) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        number = server.ports.get(wanted) if isinstance(wanted, str) else wanted
        end = entry.get("endPort", number)
        if number is not None and number <= port <= end:
            return True
    return False


def allowed(policies: list[dict], client: Pod, server: Pod, port: int) -> bool:
    """Whether the policies let client open a TCP connection to server:port."""
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == server.namespace
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and matches(p["spec"]["podSelector"], server.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            peer_ok = not peers or any(
                _peer_matches(peer, policy["metadata"]["namespace"], client) for peer in peers
            )
            if peer_ok and _port_matches(rule.get("ports"), server, port):
                return True
    return False


def stack_pods(docs: list[dict]) -> list[Pod]:
    """One Pod per workload of a build, with its template's labels and named ports."""
    pods = []
    for name, workload in workloads(docs).items():
        namespace = workload["metadata"]["namespace"]
        ports = {
            port["name"]: port["containerPort"]
            for _, container in containers(workload)
            for port in container.get("ports", [])
            if "name" in port
        }
        labels = template(workload)["metadata"]["labels"]
        namespace_labels = {"kubernetes.io/metadata.name": namespace}
        pods.append(Pod(name, namespace, labels, namespace_labels, ports))
    return pods


def outsiders(namespace: str) -> list[Pod]:
    """Clients that are not the stack: an ingress controller, Prometheus, a stray pod of the
    stack's namespace, and a pod elsewhere wearing the web's labels."""

    def elsewhere(name: str, ns: str, labels: dict[str, str]) -> Pod:
        return Pod(name, ns, labels, {"kubernetes.io/metadata.name": ns})

    return [
        elsewhere(
            "ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}
        ),
        elsewhere("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
        elsewhere("debug", namespace, {"run": "debug"}),
        elsewhere(
            "impostor",
            "other",
            {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "paissive-income"},
        ),
    ]


def reachers(docs: list[dict], target: str, port: int) -> set[str]:
    """Names of every client (stack pods and outsiders) that may reach target:port."""
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    pods = stack_pods(docs)
    server = next(p for p in pods if p.name == target)
    clients = [*pods, *outsiders(server.namespace)]
    return {c.name for c in clients if c.name != target and allowed(policies, c, server, port)}
