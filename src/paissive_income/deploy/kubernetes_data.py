"""The stateful side: Namespace, PostgreSQL StatefulSet, Redis, and the Secret template."""

from __future__ import annotations

from ai_models.serving.kubernetes_manifests import container_security
from ai_models.serving.output import to_yaml
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_objects import (
    NAMESPACE,
    SHM_DIR,
    env_list,
    exec_probe,
    labels,
    manifest,
    pod_security,
    resources,
    secret_mount,
    secret_volume,
    selector,
    stack_labels,
    writable_mounts,
    writable_volumes,
)

SECRET_TEMPLATE = "secret.template.yaml"
POSTGRES_SHM = "256Mi"
POSTGRES_WRITABLE = ("/tmp", "/var/run/postgresql")  # socket and lock file; data on the claim
# Redis holds the job queue and the cache only: a run lives in PostgreSQL and the worker's
# sweeper requeues a queued run whose job was lost, so Redis keeps nothing on disk.
REDIS_ARGS = ["redis-server", "--save", "", "--appendonly", "no"]


def namespace() -> dict:
    """The Namespace, enforcing the restricted Pod Security Standard every pod meets."""
    levels = ("enforce", "audit", "warn")
    pss = {f"pod-security.kubernetes.io/{level}": "restricted" for level in levels}
    metadata = {
        "name": NAMESPACE,
        "labels": {**stack_labels(), **pss},
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def _infra_container(service: stack.InfraService, probes: dict, extra_mounts: list) -> dict:
    port = {"name": service.name, "containerPort": service.port, "protocol": "TCP"}
    env = {**service.env, **stack.secret_files(service, stack.K8S_SECRETS_DIR)}
    body: dict = {
        "name": service.name,
        "image": service.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [port],
    }
    if env:
        body["env"] = env_list(env)
    body["resources"] = resources(service.resources)
    body["securityContext"] = container_security(service.run_as)
    body.update(probes)
    mounts = [{"name": "data", "mountPath": service.data_path}, *extra_mounts]
    body["volumeMounts"] = [*mounts, secret_mount()] if service.secrets else mounts
    return body


def _infra_pod(service: stack.InfraService, container: dict, volumes: list) -> dict:
    return {
        "metadata": {"labels": labels(service.name)},
        "spec": {
            "serviceAccountName": service.name,
            "automountServiceAccountToken": False,
            "securityContext": pod_security(service.run_as, service.run_as),
            "terminationGracePeriodSeconds": service.grace_seconds,  # clean: no recovery at start
            "containers": [container],
            "volumes": volumes,
        },
    }


def postgres_statefulset() -> dict:
    """PostgreSQL: one pod, its data on a claim from volumeClaimTemplates, probed by pg_isready."""
    pg = stack.POSTGRES
    ready = ["pg_isready", "-h", "127.0.0.1", "-p", str(pg.port)]
    ready += ["-U", pg.env["POSTGRES_USER"], "-d", pg.env["POSTGRES_DB"]]
    probes = {
        "startupProbe": exec_probe(ready, 30),  # initdb on the first start
        "readinessProbe": exec_probe(ready, 3),
        "livenessProbe": exec_probe(ready, 6, period=20),
    }
    extra = writable_mounts(POSTGRES_WRITABLE)
    extra.append({"name": "dshm", "mountPath": SHM_DIR})
    volumes = writable_volumes(POSTGRES_WRITABLE)
    volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": POSTGRES_SHM}})
    volumes.append(secret_volume(sorted(set(pg.secrets.values()))))
    claim = {
        "metadata": {"name": "data", "labels": labels(pg.name)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": pg.storage}},
        },
    }
    body = manifest("apps/v1", "StatefulSet", pg.name, pg.name)
    body["spec"] = {
        "serviceName": pg.name,
        "replicas": 1,
        "selector": {"matchLabels": selector(pg.name)},
        "template": _infra_pod(pg, _infra_container(pg, probes, extra), volumes),
        "volumeClaimTemplates": [claim],
    }
    return body


def postgres_service() -> dict:
    """The headless Service: `postgres` resolves to the StatefulSet's pod."""
    pg = stack.POSTGRES
    body = manifest("v1", "Service", pg.name, pg.name)
    port = {"name": pg.name, "port": pg.port, "targetPort": pg.name, "protocol": "TCP"}
    spec = {"clusterIP": "None", "selector": selector(pg.name), "ports": [port]}
    body["spec"] = spec
    return body


def redis_deployment() -> dict:
    """Redis as a Deployment: nothing to keep on disk (see REDIS_ARGS), so no claim to follow."""
    redis = stack.REDIS
    alive = ["redis-cli", "-h", "127.0.0.1", "-p", str(redis.port), "ping"]
    # `redis-cli ping` exits 0 on an error reply (LOADING); ready means PONG.
    ready = ["sh", "-c", f"{' '.join(alive)} | grep -q PONG"]
    probes = {
        "readinessProbe": exec_probe(ready, 3),
        "livenessProbe": exec_probe(alive, 6, period=20),
    }
    container = _infra_container(redis, probes, [{"name": "tmp", "mountPath": "/tmp"}])
    container["args"] = REDIS_ARGS
    volumes = [
        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
        *writable_volumes(("/tmp",)),
    ]
    body = manifest("apps/v1", "Deployment", redis.name, redis.name)
    body["spec"] = {
        "replicas": 1,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(redis.name)},
        "strategy": {"type": "Recreate"},  # one Redis at a time: workers never split queues
        "template": _infra_pod(redis, container, volumes),
    }
    return body


def redis_service() -> dict:
    """The ClusterIP Service behind REDIS_URL."""
    redis = stack.REDIS
    body = manifest("v1", "Service", redis.name, redis.name)
    port = {"name": redis.name, "port": redis.port, "targetPort": redis.name, "protocol": "TCP"}
    body["spec"] = {"type": "ClusterIP", "selector": selector(redis.name), "ports": [port]}
    return body


def secret_template() -> str:
    """The Secret's shape without values; not listed in kustomization.yaml, so never applied."""
    files = " ".join(f"--from-file={name}=secrets/{name}" for name in stack.SECRETS)
    lines = [
        "# The Secret the stack reads as files, without values: kustomization.yaml does not",
        "# list this file, so `kubectl apply -k` never overwrites real secrets with blanks.",
        "# Create it in each namespace (paissive-income, paissive-income-dev) from files:",
        f"#   kubectl --namespace {NAMESPACE} create secret generic {stack.SECRET_OBJECT} {files}",
        "# Keys:",
        *(f"#   {name}: {meaning}" for name, meaning in stack.SECRETS.items()),
    ]
    body = manifest("v1", "Secret", stack.SECRET_OBJECT, stack.WEB.name)
    body["metadata"]["labels"] = stack_labels()
    body["type"] = "Opaque"
    body["stringData"] = {name: "" for name in stack.SECRETS}
    return "\n".join(lines) + "\n" + to_yaml(body)
