"""Kubernetes target: one manifest per file, built as data, listed in kustomization.yaml."""

from __future__ import annotations

import hashlib
import json

from . import kubernetes_vllm, vllm
from .errors import warn, warn_secret_dropped
from .escapes import dollar_literal, escape_values
from .fields import is_floating, is_secret_name
from .kubernetes import KubernetesConfig, KubernetesVolume
from .output import OutputFile, to_yaml
from .registry import DeploymentTarget, register
from .server import (
    CACHE_DIR,
    HEALTH_PATH,
    READY_PATH,
    RUNTIME_UID,
    TMP_DIR,
    server_args,
    server_env,
)

CONTAINER = "model-server"
PROBE_PERIOD = 10


@register
class KubernetesTarget(DeploymentTarget[KubernetesConfig]):
    """Write the manifests and a kustomization.yaml listing them."""

    name = "kubernetes"
    command = "kubernetes"
    config_class = KubernetesConfig

    def render(self, config: KubernetesConfig, output_dir: str) -> list[OutputFile]:
        if is_floating(config.container_image):
            image = config.container_image
            warn(f"image {image!r} is not pinned; prefer a version tag or digest")
        manifests: dict[str, dict] = {}
        if config.create_namespace and config.namespace != "default":
            manifests["namespace.yaml"] = namespace(config)
        config_map = configmap(config)
        manifests["serviceaccount.yaml"] = _object(config, "v1", "ServiceAccount")
        manifests["serviceaccount.yaml"]["automountServiceAccountToken"] = False
        manifests["configmap.yaml"] = config_map
        manifests["deployment.yaml"] = deployment(config, _checksum(config_map["data"]))
        manifests["service.yaml"] = service(config)
        if config.enable_hpa:
            manifests["hpa.yaml"] = autoscaler(config)
        if (config.max_replicas if config.enable_hpa else config.replicas) > 1:
            manifests["pdb.yaml"] = disruption_budget(config)
        if config.enable_ingress:
            manifests["ingress.yaml"] = ingress(config)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": list(manifests),
        }
        files = [OutputFile(path, to_yaml(body)) for path, body in manifests.items()]
        return [*files, OutputFile("kustomization.yaml", to_yaml(kustomization))]


def labels(config: KubernetesConfig) -> dict[str, str]:
    """The recommended app.kubernetes.io labels."""
    return {
        **selector(config),
        "app.kubernetes.io/component": CONTAINER,
        "app.kubernetes.io/part-of": "paissive-income",
        "app.kubernetes.io/managed-by": "paissive-income-deploy",
    }


def selector(config: KubernetesConfig) -> dict[str, str]:
    """The immutable subset of labels that selects the pods."""
    return {"app.kubernetes.io/name": config.name, "app.kubernetes.io/instance": config.name}


def _object(config: KubernetesConfig, api_version: str, kind: str, name: str | None = None) -> dict:
    metadata = {
        "name": name or config.name,
        "namespace": config.namespace,
        "labels": labels(config),
    }
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def namespace(config: KubernetesConfig) -> dict:
    """A Namespace that enforces the restricted Pod Security Standard our pods meet."""
    levels = ("enforce", "audit", "warn")
    pss = {f"pod-security.kubernetes.io/{level}": "restricted" for level in levels}
    metadata = {"name": config.namespace, "labels": {**labels(config), **pss}}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def configmap(config: KubernetesConfig) -> dict:
    """Plain env for the server; secret-looking names are left to the Secret."""
    if config.server_type == "vllm":
        data = vllm.vllm_env()
    else:
        data = server_env(
            model_path=config.model_path,
            model_type=config.model_type,
            model_id=config.model_id,
            host=config.host,
            port=config.port,
        )
    for name in sorted(config.env_vars):
        if not is_secret_name(name):
            data[name] = config.env_vars[name]
    body = _object(config, "v1", "ConfigMap", f"{config.name}-config")
    body["data"] = data
    return body


def _checksum(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _secret_env(config: KubernetesConfig) -> list[dict]:
    env = [kubernetes_vllm.api_key_env(config)] if config.server_type == "vllm" else []
    for name in sorted(config.env_vars):
        if is_secret_name(name):
            warn_secret_dropped(name, config.env_vars[name])
            ref = {"name": config.effective_secret_name, "key": name}
            env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    return env


def _probe(path: str, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def container(config: KubernetesConfig) -> dict:
    """The model server container with a restricted security context."""
    limits = {"cpu": config.cpu_limit, "memory": config.memory_limit}
    if config.gpu_count:
        limits["nvidia.com/gpu"] = str(config.gpu_count)
    vllm_server = config.server_type == "vllm"
    if vllm_server:
        launch = kubernetes_vllm.server(config)
        ready, alive = vllm.HEALTH_PATH, vllm.HEALTH_PATH
    else:
        launch = {
            "args": server_args(
                model_path=config.model_path,
                model_type=config.model_type,
                host=config.host,
                port=config.port,
            )
        }
        ready, alive = READY_PATH, HEALTH_PATH
    body = {
        "name": CONTAINER,
        "image": config.container_image,
        "imagePullPolicy": config.effective_pull_policy,
        # Kubernetes expands $(VAR) in command and args; `$$` keeps every dollar sign literal.
        **escape_values(launch, dollar_literal),
        "ports": [{"name": "http", "containerPort": config.port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": f"{config.name}-config"}}],
        "resources": {
            "requests": {"cpu": config.cpu_request, "memory": config.memory_request},
            "limits": limits,
        },
        "securityContext": container_security(RUNTIME_UID),
        "startupProbe": _probe(
            ready, PROBE_PERIOD, -(-config.startup_timeout_seconds // PROBE_PERIOD)
        ),
        "readinessProbe": _probe(ready, PROBE_PERIOD, 3),
        "livenessProbe": _probe(alive, 20, 3),
        "volumeMounts": [
            {"name": "tmp", "mountPath": TMP_DIR},
            {"name": "model-cache", "mountPath": CACHE_DIR},
            *([kubernetes_vllm.shm_mount()] if vllm_server else []),
            *(
                {
                    "name": f"volume-{index}",
                    "mountPath": volume.target,
                    "readOnly": volume.read_only,
                }
                for index, volume in enumerate(config.volumes)
            ),
        ],
    }
    secret_env = _secret_env(config)
    if secret_env:
        body["env"] = secret_env
    return body


def container_security(uid: int) -> dict:
    """The restricted Pod Security Standard for one container, root file system read-only."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": uid,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_volume(name: str, volume: KubernetesVolume) -> dict:
    if volume.type == "persistentVolumeClaim":
        source = {"claimName": volume.source, "readOnly": volume.read_only}
    elif volume.type == "configMap":
        source = {"name": volume.source}
    elif volume.type == "secret":
        source = {"secretName": volume.source}
    else:
        source = {"sizeLimit": volume.size_limit} if volume.size_limit else {}
    return {"name": name, volume.type: source}


def pod_spec(config: KubernetesConfig) -> dict:
    """The pod: restricted security context, writable emptyDirs, node placement."""
    spec: dict = {
        "serviceAccountName": config.name,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [container(config)],
        "volumes": [
            {"name": "tmp", "emptyDir": {}},
            {"name": "model-cache", "emptyDir": {}},
            *([kubernetes_vllm.shm_volume()] if config.server_type == "vllm" else []),
            *(_pod_volume(f"volume-{i}", volume) for i, volume in enumerate(config.volumes)),
        ],
    }
    if config.node_selector:
        spec["nodeSelector"] = dict(config.node_selector)
    tolerations = [toleration.manifest() for toleration in config.tolerations]
    if config.gpu_count and not any(t.get("key") == "nvidia.com/gpu" for t in tolerations):
        # GPU node pools are commonly tainted so that only GPU workloads land there.
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    if tolerations:
        spec["tolerations"] = tolerations
    return spec


def deployment(config: KubernetesConfig, config_checksum: str) -> dict:
    """The Deployment; `replicas` is left to the HPA when it is enabled."""
    strategy: dict = {"type": config.strategy}
    if config.strategy == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": 1, "maxUnavailable": 0}
    annotations = dict(config.annotations)
    if config.server_type == "vllm":
        annotations.update(kubernetes_vllm.scrape_annotations(config))
    annotations["checksum/config"] = config_checksum
    spec: dict = {} if config.enable_hpa else {"replicas": config.replicas}
    spec["selector"] = {"matchLabels": selector(config)}
    spec["strategy"] = strategy
    spec["template"] = {
        "metadata": {"labels": labels(config), "annotations": annotations},
        "spec": pod_spec(config),
    }
    body = _object(config, "apps/v1", "Deployment")
    body["spec"] = spec
    return body


def service(config: KubernetesConfig) -> dict:
    """The Service in front of the pods' http port."""
    port = {"name": "http", "port": config.port, "targetPort": "http", "protocol": "TCP"}
    if config.node_port is not None:
        port["nodePort"] = config.node_port
    body = _object(config, "v1", "Service")
    body["spec"] = {"type": config.service_type, "selector": selector(config), "ports": [port]}
    return body


def autoscaler(config: KubernetesConfig) -> dict:
    """An autoscaling/v2 HorizontalPodAutoscaler on CPU, or vLLM's queue (and memory when asked)."""
    if config.server_type == "vllm":
        metrics = [kubernetes_vllm.queue_metric(config)]
    else:
        metrics = [utilization("cpu", config.target_cpu_utilization)]
    if config.target_memory_utilization is not None:
        metrics.append(utilization("memory", config.target_memory_utilization))
    body = _object(config, "autoscaling/v2", "HorizontalPodAutoscaler")
    body["spec"] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": config.name},
        "minReplicas": config.min_replicas,
        "maxReplicas": config.max_replicas,
        "metrics": metrics,
    }
    return body


def utilization(resource: str, percent: int) -> dict:
    """An HPA Resource metric: average utilization of ``resource`` at ``percent``."""
    target = {"type": "Utilization", "averageUtilization": percent}
    return {"type": "Resource", "resource": {"name": resource, "target": target}}


def disruption_budget(config: KubernetesConfig) -> dict:
    """Let node drains take one pod at a time."""
    body = _object(config, "policy/v1", "PodDisruptionBudget")
    body["spec"] = {"maxUnavailable": 1, "selector": {"matchLabels": selector(config)}}
    return body


def ingress(config: KubernetesConfig) -> dict:
    """An Ingress routing host/path to the Service."""
    backend = {"service": {"name": config.name, "port": {"name": "http"}}}
    path = {"path": config.ingress_path, "pathType": "Prefix", "backend": backend}
    rule: dict = {"http": {"paths": [path]}}
    if config.ingress_host:
        rule = {"host": config.ingress_host, **rule}
    spec: dict = {}
    if config.ingress_class_name:
        spec["ingressClassName"] = config.ingress_class_name
    if config.ingress_tls_secret:
        spec["tls"] = [{"hosts": [config.ingress_host], "secretName": config.ingress_tls_secret}]
    spec["rules"] = [rule]
    body = _object(config, "networking.k8s.io/v1", "Ingress")
    body["spec"] = spec
    return body
