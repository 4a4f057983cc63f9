"""The services run from the project's image: migrate Job, web, worker and ai-models."""

from __future__ import annotations

from ai_models.serving.escapes import dollar_literal, escape_values
from ai_models.serving.kubernetes_manifests import container_security, utilization
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes_objects import (
    checksum,
    env_list,
    http_probe,
    labels,
    manifest,
    pod_security,
    resources,
    secret_mount,
    secret_volume,
    selector,
    writable_mounts,
    writable_volumes,
)

APP_CONFIG = "paissive-income-config"  # app_env(): what web, worker and migrate share
MODELS_CONFIG = "ai-models-config"  # the model server's plain env
MODEL_CLAIM = "ai-models-cache"  # the model volume (Hugging Face downloads)
PORT_NAMES = {"web": "http", "worker": "health", "ai-models": "http"}
# web and worker start only once `db upgrade` has brought the schema to head.
DB_WAIT = ("paissive-income", "db", "wait", "--timeout", "600")
MIGRATE_BACKOFF = 6  # about 10 minutes of retries (10 s doubling): PostgreSQL's first start
MIGRATE_DEADLINE = 1800
# The first start downloads the model (about 1 GB for the default) onto the volume; later
# starts load it from there in seconds. 20 minutes covers 1 MB/s.
MODEL_STARTUP_SECONDS = 1200
APP_STARTUP_SECONDS = 120
INGRESS_HOST = "paissive-income.base.invalid"  # every overlay replaces it
INGRESS_TLS_SECRET = "paissive-income-tls"
INGRESS_CLASS = "nginx"


def config_of(service: stack.AppService) -> tuple[str, dict[str, str]]:
    """The ConfigMap a service reads through envFrom, and its data."""
    if service is stack.AI_MODELS:
        return MODELS_CONFIG, dict(stack.AI_MODELS.env)
    return APP_CONFIG, stack.app_env()


def configmaps() -> list[dict]:
    """The plain env: one ConfigMap for the app services, one for the model server."""
    bodies = []
    for name, service, data in (
        (APP_CONFIG, stack.WEB, stack.app_env()),
        (MODELS_CONFIG, stack.AI_MODELS, dict(stack.AI_MODELS.env)),
    ):
        body = manifest("v1", "ConfigMap", name, service.name)
        body["data"] = data
        bodies.append(body)
    return bodies


def app_env(service: stack.AppService) -> list[dict]:
    """The container's own env: what its ConfigMap lacks, and the ``*_FILE`` secret paths."""
    _, shared = config_of(service)
    own = {name: value for name, value in service.env.items() if shared.get(name) != value}
    return env_list({**own, **stack.secret_files(service, stack.K8S_SECRETS_DIR)})


def _probes(service: stack.AppService) -> dict:
    if service.port is None or not (service.health_path and service.ready_path):
        return {}
    port = PORT_NAMES[service.name]
    startup = MODEL_STARTUP_SECONDS if service is stack.AI_MODELS else APP_STARTUP_SECONDS
    return {
        "startupProbe": http_probe(service.ready_path, port, startup // 10),
        "readinessProbe": http_probe(service.ready_path, port, 3),
        "livenessProbe": http_probe(service.health_path, port, 3, period=20),
    }


def container(service: stack.AppService, image: str) -> dict:
    """A container of the project's image: restricted, read-only root, env from the stack."""
    config_name, _ = config_of(service)
    body: dict = {
        "name": service.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # Kubernetes expands $(VAR) in command and env values; `$$` keeps a dollar literal.
        "command": escape_values(list(service.command), dollar_literal),
    }
    if service.port is not None:
        port = {"name": PORT_NAMES[service.name], "containerPort": service.port}
        body["ports"] = [{**port, "protocol": "TCP"}]
    body["envFrom"] = [{"configMapRef": {"name": config_name}}]
    body["env"] = escape_values(app_env(service), dollar_literal)
    body["resources"] = resources(service.resources)
    body["securityContext"] = container_security(stack.RUNTIME_UID)
    body.update(_probes(service))
    mounts = writable_mounts(service.writable)
    body["volumeMounts"] = [*mounts, secret_mount()] if service.secrets else mounts
    return body


def db_wait(service: stack.AppService, image: str) -> dict:
    """The init container: exits 0 once the schema is at head, so no pod serves an old one."""
    body = container(service, image)
    for key in ("ports", "startupProbe", "readinessProbe", "livenessProbe"):
        body.pop(key, None)
    body["name"] = "db-wait"
    body["command"] = list(DB_WAIT)
    body["resources"] = resources(stack.MIGRATE.resources)  # the same kind of work as migrate
    return body


def pod_spec(service: stack.AppService, image: str) -> dict:
    """The pod of an app service; web and worker first wait for the migrated schema."""
    spec: dict = {
        "serviceAccountName": service.name,
        "automountServiceAccountToken": False,
        "securityContext": pod_security(stack.RUNTIME_UID),
        "terminationGracePeriodSeconds": service.grace_seconds,
    }
    if service.scaling is None:
        spec["restartPolicy"] = "Never"  # the Job retries with a fresh pod (logs kept)
    if "postgres" in service.reaches and service.scaling is not None:
        spec["initContainers"] = [db_wait(service, image)]
    spec["containers"] = [container(service, image)]
    if service.scaling is not None and service.scaling.max_replicas > 1:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(service.name)},
            }
        ]
    claims = {stack.MODEL_CACHE: MODEL_CLAIM} if service is stack.AI_MODELS else None
    volumes = writable_volumes(service.writable, claims)
    if service.secrets:
        volumes.append(secret_volume(sorted(set(service.secrets.values()))))
    spec["volumes"] = volumes
    return spec


def scrape_annotations(service: stack.AppService) -> dict[str, str]:
    """prometheus.io annotations: web, worker and ai-models all serve /metrics on their port."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(service.port),
        "prometheus.io/path": "/metrics",
    }


def pod_template(service: stack.AppService, image: str) -> dict:
    """The pod template: labels, the config checksum that rolls pods, and the pod spec."""
    annotations = scrape_annotations(service) if service.port else {}
    annotations["checksum/config"] = checksum(config_of(service)[1])
    metadata = {"labels": labels(service.name), "annotations": annotations}
    return {"metadata": metadata, "spec": pod_spec(service, image)}


def deployment(service: stack.AppService, image: str) -> dict:
    """A Deployment without `replicas`: its HPA owns the count, so an apply never resets it."""
    body = manifest("apps/v1", "Deployment", service.name, service.name)
    body["spec"] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(service.name)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": pod_template(service, image),
    }
    return body


def migrate_job(image: str) -> dict:
    """The one-shot `db upgrade`: kept after it ends, so `kubectl wait` and logs find it."""
    body = manifest("batch/v1", "Job", stack.MIGRATE.name, stack.MIGRATE.name)
    template = pod_template(stack.MIGRATE, image)
    template["metadata"].pop("annotations")  # a Job's template is immutable: no rolling
    body["spec"] = {
        "backoffLimit": MIGRATE_BACKOFF,
        "activeDeadlineSeconds": MIGRATE_DEADLINE,
        "template": template,
    }
    return body


def service_object(service: stack.AppService) -> dict:
    """The ClusterIP Service the other services and the Ingress call."""
    port = {"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}
    body = manifest("v1", "Service", service.name, service.name)
    body["spec"] = {"type": "ClusterIP", "selector": selector(service.name), "ports": [port]}
    return body


def autoscaler(service: stack.AppService) -> dict:
    """An autoscaling/v2 HPA on the seed's rules: CPU and memory utilization."""
    scaling = service.scaling
    assert scaling is not None
    metrics = [
        utilization("cpu", scaling.cpu_percent),
        utilization("memory", scaling.memory_percent),
    ]
    body = manifest("autoscaling/v2", "HorizontalPodAutoscaler", service.name, service.name)
    body["spec"] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "metrics": metrics,
    }
    return body


def disruption_budget(service: stack.AppService) -> dict:
    """Let a node drain take one pod of the service at a time."""
    body = manifest("policy/v1", "PodDisruptionBudget", service.name, service.name)
    body["spec"] = {"maxUnavailable": 1, "selector": {"matchLabels": selector(service.name)}}
    return body


def ingress() -> dict:
    """The only way in from outside: TLS to the web Service."""
    backend = {"service": {"name": stack.WEB.name, "port": {"name": "http"}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    body = manifest("networking.k8s.io/v1", "Ingress", stack.WEB.name, stack.WEB.name)
    body["spec"] = {
        "ingressClassName": INGRESS_CLASS,
        "tls": [{"hosts": [INGRESS_HOST], "secretName": INGRESS_TLS_SECRET}],
        "rules": [{"host": INGRESS_HOST, "http": {"paths": [path]}}],
    }
    return body


def model_claim() -> dict:
    """The model volume, shared by every ai-models replica (ReadWriteMany)."""
    body = manifest("v1", "PersistentVolumeClaim", MODEL_CLAIM, stack.AI_MODELS.name)
    body["spec"] = {
        "accessModes": ["ReadWriteMany"],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": stack.MODEL_STORAGE}},
    }
    return body
