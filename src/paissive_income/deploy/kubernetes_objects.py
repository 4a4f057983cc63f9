"""Shapes every manifest of the stack shares: labels, metadata, security, probes, volumes."""

from __future__ import annotations

import hashlib
import json
import re

from ai_models.serving.output import to_yaml
from paissive_income.deploy import stack

NAMESPACE = stack.PROJECT
MANAGED_BY = "paissive-income-deploy"
# app.kubernetes.io/component of each service (the name label is the service's own name).
COMPONENTS = {
    "migrate": "migration",
    "web": "web",
    "worker": "agent-team",
    "ai-models": "model-server",
    "postgres": "database",
    "redis": "queue",
    "backup": "backup",
}
PROBE_PERIOD = 10
# Memory-backed /dev/shm for PostgreSQL's parallel queries (the container default is 64 MiB).
SHM_DIR = "/dev/shm"
WRITABLE_NAMES = {"/tmp": "tmp", stack.INSTANCE_PATH: "instance", stack.MODEL_CACHE: "model-cache"}
WRITABLE_LIMIT = "1Gi"  # an emptyDir may not fill the node's disk


def selector(name: str) -> dict[str, str]:
    """The immutable labels that select a service's pods."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": stack.PROJECT}


def stack_labels() -> dict[str, str]:
    """The labels of objects that belong to the whole stack rather than one service."""
    return {"app.kubernetes.io/part-of": stack.PROJECT, "app.kubernetes.io/managed-by": MANAGED_BY}


def labels(name: str) -> dict[str, str]:
    """The recommended app.kubernetes.io labels of a service's objects."""
    return {
        **selector(name),
        "app.kubernetes.io/component": COMPONENTS[name],
        **stack_labels(),
    }


def manifest(api_version: str, kind: str, name: str, service: str) -> dict:
    """An object's envelope: apiVersion, kind and metadata in the stack's namespace."""
    metadata = {"name": name, "namespace": NAMESPACE, "labels": labels(service)}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def service_account(name: str) -> dict:
    """A ServiceAccount per service, without an API token: no pod talks to the API server."""
    body = manifest("v1", "ServiceAccount", name, name)
    body["automountServiceAccountToken"] = False
    return body


def pod_security(uid: int, group: int | None = None) -> dict:
    """The pod's context: non-root, RuntimeDefault seccomp, volumes and secrets group ``uid``.

    ``group`` None keeps the image's own group (0 for the project's image, for OpenShift).
    """
    body: dict = {"runAsNonRoot": True, "runAsUser": uid}
    if group is not None:
        body["runAsGroup"] = group
    body["fsGroup"] = uid
    body["fsGroupChangePolicy"] = "OnRootMismatch"  # large model volumes: no chown walk per start
    body["seccompProfile"] = {"type": "RuntimeDefault"}
    return body


def resources(values: stack.Resources) -> dict:
    """A container's requests and limits."""
    return {
        "requests": {"cpu": values.cpu_request, "memory": values.memory_request},
        "limits": {"cpu": values.cpu_limit, "memory": values.memory_limit},
    }


def http_probe(path: str, port: str, failures: int, period: int = PROBE_PERIOD) -> dict:
    """An HTTP GET probe on a named container port."""
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def exec_probe(command: list[str], failures: int, period: int = PROBE_PERIOD) -> dict:
    """A probe running a command in the container (no shell expansion by Kubernetes)."""
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def checksum(*data: dict[str, str]) -> str:
    """The hash of configuration a pod reads: changing it changes the pod template, so pods roll."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def writable_name(path: str) -> str:
    """The volume name of a writable path (an emptyDir or the model volume)."""
    return WRITABLE_NAMES.get(path) or re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def writable_mounts(paths: tuple[str, ...]) -> list[dict]:
    """Mounts for the paths a read-only container writes to."""
    return [{"name": writable_name(path), "mountPath": path} for path in paths]


def writable_volumes(paths: tuple[str, ...], claims: dict[str, str] | None = None) -> list[dict]:
    """An emptyDir for each writable path, or the named claim where ``claims`` gives one."""
    volumes = []
    for path in paths:
        name = writable_name(path)
        if claims and path in claims:
            volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claims[path]}})
        else:
            volumes.append({"name": name, "emptyDir": {"sizeLimit": WRITABLE_LIMIT}})
    return volumes


def secret_volume(names: list[str]) -> dict:
    """The stack's Secret as files, only the keys a service reads, readable by its group."""
    items = [{"key": name, "path": name} for name in names]
    source = {"secretName": stack.SECRET_OBJECT, "items": items, "defaultMode": 0o440}
    return {"name": "secrets", "secret": source}


def secret_mount() -> dict:
    """Where the Secret's files appear (the ``*_FILE`` variables point here)."""
    return {"name": "secrets", "mountPath": stack.K8S_SECRETS_DIR, "readOnly": True}


def env_list(values: dict[str, str]) -> list[dict]:
    """Env entries in a stable order."""
    return [{"name": name, "value": value} for name, value in values.items()]


def kustomization(resources: list[str], **fields: object) -> dict:
    """A kustomization.yaml listing resources, then any other fields in order."""
    body = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    return {**body, "resources": resources, **fields}


def documents(*bodies: dict) -> str:
    """Several objects as one multi-document YAML file."""
    return "---\n".join(to_yaml(body) for body in bodies)
