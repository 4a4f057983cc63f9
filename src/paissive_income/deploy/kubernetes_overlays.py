"""The dev and prod Kustomize overlays (gpu lives in kubernetes_gpu.py): patches built as data."""

from __future__ import annotations

from ai_models.serving.output import OutputFile, to_yaml
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_apps import INGRESS_TLS_SECRET, MODEL_CLAIM, ingress
from paissive_income.deploy.kubernetes_objects import NAMESPACE, documents, kustomization, resources

DEV_NAMESPACE = "paissive-income-dev"
PROD_NAMESPACE = "paissive-income"
# Operators replace these with their own names (docs/deployment.md).
DEV_HOST = "dev.paissive-income.example.com"
PROD_HOST = "paissive-income.example.com"
# dev: one replica each, requests small enough for a laptop cluster (kind, minikube).
DEV_SCALING = {"web": (1, 2), "worker": (1, 2), "ai-models": (1, 1)}
DEV_RESOURCES = {
    "web": stack.Resources("100m", "256Mi", "1", "768Mi"),
    "worker": stack.Resources("100m", "256Mi", "1", "768Mi"),
    "ai-models": stack.Resources("500m", "2Gi", "2", "4Gi"),
    "postgres": stack.Resources("100m", "128Mi", "500m", "512Mi"),
    "redis": stack.Resources("50m", "32Mi", "250m", "128Mi"),
}
# prod: at least the base's replicas, more for web and worker; drains keep a quorum up.
PROD_SCALING = {"web": (3, 10), "worker": (3, 12), "ai-models": (2, 4)}
PROD_MIN_AVAILABLE = {"web": 2, "worker": 2, "ai-models": 1}
WORKLOAD_KINDS = {"postgres": "StatefulSet"}


def _partial(api_version: str, kind: str, name: str, **fields: object) -> dict:
    """A strategic-merge patch: the object's identity and the fields to change."""
    metadata = {"name": name, "namespace": NAMESPACE}  # the base's: what the patch must match
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def scaling_patches(scaling: dict[str, tuple[int, int]]) -> list[dict]:
    """HPA ranges per service."""
    return [
        _partial(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            name,
            spec={"minReplicas": low, "maxReplicas": high},
        )
        for name, (low, high) in scaling.items()
    ]


def resource_patches(values: dict[str, stack.Resources]) -> list[dict]:
    """Requests and limits per service's main container."""
    patches = []
    for name, amounts in values.items():
        container = {"name": name, "resources": resources(amounts)}
        kind = WORKLOAD_KINDS.get(name, "Deployment")
        spec = {"template": {"spec": {"containers": [container]}}}
        patches.append(_partial("apps/v1", kind, name, spec=spec))
    return patches


def ingress_patch(host: str) -> dict:
    """The Ingress's host and certificate name for one environment."""
    spec = ingress()["spec"]
    spec["tls"] = [{"hosts": [host], "secretName": INGRESS_TLS_SECRET}]
    spec["rules"][0]["host"] = host
    return _partial("networking.k8s.io/v1", "Ingress", stack.WEB.name, spec=spec)


def dev_patches() -> dict[str, list[dict]]:
    """dev: one replica, small requests, a ReadWriteOnce model volume any cluster offers."""
    single_node = {"maxSurge": 0, "maxUnavailable": 1}  # a RWO volume follows one pod at a time
    models = _partial(
        "apps/v1",
        "Deployment",
        stack.AI_MODELS.name,
        spec={"strategy": {"type": "RollingUpdate", "rollingUpdate": single_node}},
    )
    claim = _partial(
        "v1", "PersistentVolumeClaim", MODEL_CLAIM, spec={"accessModes": ["ReadWriteOnce"]}
    )
    return {
        "autoscalers.yaml": scaling_patches(DEV_SCALING),
        "resources.yaml": resource_patches(DEV_RESOURCES),
        "model-volume.yaml": [claim, models],
        "ingress.yaml": [ingress_patch(DEV_HOST)],
    }


def prod_patches() -> dict[str, list[dict]]:
    """prod: more replicas and budgets that keep a quorum during drains."""
    budgets = [
        _partial(
            "policy/v1",
            "PodDisruptionBudget",
            name,
            spec={"maxUnavailable": None, "minAvailable": count},
        )
        for name, count in PROD_MIN_AVAILABLE.items()
    ]
    return {
        "autoscalers.yaml": scaling_patches(PROD_SCALING),
        "disruption-budgets.yaml": budgets,
        "ingress.yaml": [ingress_patch(PROD_HOST)],
    }


def overlay(
    name: str,
    bases: list[str],
    patches: dict[str, list[dict]],
    json_patches: dict[str, tuple[dict, list[dict]]] | None = None,
    **fields: object,
) -> list[OutputFile]:
    """An overlay folder: strategic-merge patch files, JSON patch files (a target and its
    operations), and the kustomization.yaml that applies them."""
    folder = f"overlays/{name}"
    entries: list[dict] = [{"path": path} for path in patches]
    files = [OutputFile(f"{folder}/{path}", documents(*bodies)) for path, bodies in patches.items()]
    for path, (target, operations) in (json_patches or {}).items():
        entries.append({"path": path, "target": target})
        files.append(OutputFile(f"{folder}/{path}", to_yaml(operations)))
    body = kustomization(bases, **fields, patches=entries)
    return [*files, OutputFile(f"{folder}/kustomization.yaml", to_yaml(body))]
