"""Every service of the framework's own stack, described once for Compose and Kubernetes.

The Compose file, the Kubernetes manifests, the CI/CD pipelines and the process test all read
these values, so a port, a command or a secret name changes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROJECT = "paissive-income"
IMAGE_NAME = "paissive-income"  # the image built from the root Dockerfile (kustomize image name)
IMAGE_VERSION = "0.1.0"  # pyproject's version: the committed files pin it, CI overrides it
DEFAULT_IMAGE = f"{IMAGE_NAME}:{IMAGE_VERSION}"

RUNTIME_UID = 10001  # the image's user; group 0 so arbitrary-UID platforms (OpenShift) can write
INSTANCE_PATH = "/var/lib/paissive-income"
MODEL_CACHE = "/var/cache/paissive-income"  # HF_HOME lives below it: the model volume
HF_HOME = f"{MODEL_CACHE}/huggingface"
METRICS_DIR = "/tmp/metrics"  # prometheus multi-process samples of gunicorn's workers

CHAT_MODEL = "qwen2.5-0.5b-instruct"  # a registry built-in: Apache-2.0, 0.5B, fast on a CPU
DATABASE_NAME = "paissive"
DATABASE_USER = "paissive"
POSTGRES_IMAGE = "postgres:17.2"
REDIS_IMAGE = "redis:7.4.1"
VLLM_IMAGE = "vllm/vllm-openai:v0.32.0"

# Secret name -> what it holds. Compose mounts each at /run/secrets/<name>; Kubernetes mounts
# the Secret SECRET_OBJECT (one key per name) at K8S_SECRETS_DIR.
SECRETS = {
    "secret_key": "Flask session signing key (48+ random characters)",
    "database_url": "postgresql+psycopg://paissive:<postgres_password>@postgres:5432/paissive",
    "ai_model_api_key": "key the agents send to the AI Models Service, which accepts only it",
    "postgres_password": "password of the PostgreSQL user paissive",
}
COMPOSE_SECRETS_DIR = "/run/secrets"
K8S_SECRETS_DIR = "/run/secrets/paissive-income"
SECRET_OBJECT = "paissive-income-secrets"


@dataclass(frozen=True)
class Resources:
    """CPU and memory a container asks for and may not exceed (Kubernetes quantities)."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str


@dataclass(frozen=True)
class Scaling:
    """Replicas at rest and the autoscaler's range and targets (the seed's 70% CPU, 80% memory)."""

    replicas: int
    min_replicas: int
    max_replicas: int
    cpu_percent: int = 70
    memory_percent: int = 80


@dataclass(frozen=True)
class AppService:
    """A service run from the project's image: its command, port, probes, env and secrets."""

    name: str
    command: tuple[str, ...]
    description: str
    resources: Resources
    port: int | None = None
    health_path: str | None = None  # liveness: the process answers
    ready_path: str | None = None  # readiness: dependencies reachable (model loaded)
    env: dict[str, str] = field(default_factory=dict)
    # Variable read from a file -> secret name: the service gets ``<VAR>_FILE=<dir>/<name>``.
    secrets: dict[str, str] = field(default_factory=dict)
    scaling: Scaling | None = None  # None: a one-shot job
    writable: tuple[str, ...] = ("/tmp",)  # the root file system is read-only
    reaches: tuple[str, ...] = ()  # services it calls (NetworkPolicy, depends_on)
    grace_seconds: int = 30  # SIGTERM to SIGKILL: time to finish what it is doing


@dataclass(frozen=True)
class InfraService:
    """A service from a public image: PostgreSQL or Redis."""

    name: str
    image: str
    port: int
    resources: Resources
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    data_path: str | None = None
    storage: str | None = None  # size of its volume claim
    run_as: int = 999  # the image's own non-root user
    grace_seconds: int = 30  # SIGTERM to SIGKILL: time to finish what it is doing


def app_env() -> dict[str, str]:
    """Return the plain settings every app service shares."""
    return {
        "PAISSIVE_ENV": "production",
        "LOG_LEVEL": "INFO",
        "INSTANCE_PATH": INSTANCE_PATH,
        "REDIS_URL": "redis://redis:6379/0",
        "AI_MODELS_URL": "http://ai-models:8000/v1",
        "AI_CHAT_MODEL": CHAT_MODEL,
        "HOME": "/tmp",
    }


APP_SECRETS = {"SECRET_KEY": "secret_key", "DATABASE_URL": "database_url"}
AGENT_SECRETS = {**APP_SECRETS, "AI_MODEL_API_KEY": "ai_model_api_key"}

MIGRATE = AppService(
    name="migrate",
    command=("paissive-income", "db", "upgrade"),
    description="upgrades the database schema once, before the web service starts",
    resources=Resources("100m", "256Mi", "1", "512Mi"),
    env=app_env(),
    secrets=APP_SECRETS,
    writable=("/tmp", INSTANCE_PATH),
    reaches=("postgres",),
)
WEB = AppService(
    name="web",
    command=("paissive-income", "web", "--no-migrate"),
    description="the web interface and JSON API under gunicorn",
    resources=Resources("250m", "512Mi", "1", "1Gi"),
    port=5000,
    health_path="/healthz",
    ready_path="/readyz",
    env={**app_env(), "PORT": "5000", "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR},
    secrets=AGENT_SECRETS,
    scaling=Scaling(replicas=2, min_replicas=2, max_replicas=6),
    writable=("/tmp", INSTANCE_PATH),
    reaches=("postgres", "redis", "ai-models"),
)
WORKER = AppService(
    name="worker",
    command=("paissive-income", "worker"),
    description="the agent team: works queued analysis runs",
    resources=Resources("250m", "512Mi", "1", "1Gi"),
    port=8001,
    health_path="/healthz",
    ready_path="/readyz",
    env={**app_env(), "WORKER_HEALTH_PORT": "8001"},
    secrets=AGENT_SECRETS,
    scaling=Scaling(replicas=2, min_replicas=2, max_replicas=8),
    writable=("/tmp", INSTANCE_PATH),
    reaches=("postgres", "redis", "ai-models"),
    grace_seconds=60,  # a worker finishes its running jobs' current work before it exits
)
AI_MODELS = AppService(
    name="ai-models",
    command=("paissive-income", "models", "serve"),
    description="the AI Models Service: an OpenAI-compatible server on the CPU",
    resources=Resources("2", "3Gi", "4", "6Gi"),
    port=8000,
    health_path="/healthz",
    ready_path="/readyz",
    env={
        "MODEL_ID": CHAT_MODEL,
        "HOST": "0.0.0.0",
        "PORT": "8000",
        "HF_HOME": HF_HOME,
        "LOG_LEVEL": "INFO",
        "HOME": "/tmp",
    },
    secrets={"MODEL_SERVER_API_KEYS": "ai_model_api_key"},
    scaling=Scaling(replicas=1, min_replicas=1, max_replicas=4),
    writable=("/tmp", MODEL_CACHE),
)
APP_SERVICES = (MIGRATE, WEB, WORKER, AI_MODELS)

POSTGRES = InfraService(
    name="postgres",
    image=POSTGRES_IMAGE,
    port=5432,
    resources=Resources("250m", "256Mi", "1", "1Gi"),
    env={
        "POSTGRES_DB": DATABASE_NAME,
        "POSTGRES_USER": DATABASE_USER,
        "PGDATA": "/var/lib/postgresql/data/pgdata",  # below the mount: not its lost+found
    },
    secrets={"POSTGRES_PASSWORD": "postgres_password"},
    data_path="/var/lib/postgresql/data",
    storage="10Gi",
    grace_seconds=60,  # a clean shutdown checkpoints; a killed one replays its WAL
)
REDIS = InfraService(
    name="redis",
    image=REDIS_IMAGE,
    port=6379,
    resources=Resources("100m", "64Mi", "500m", "256Mi"),
    data_path="/data",
)
INFRA_SERVICES = (POSTGRES, REDIS)
MODEL_STORAGE = "20Gi"  # the model volume: Hugging Face downloads of the served model

# The GPU option (Compose profile and Kustomize overlay `gpu`): the model service as vLLM.
GPU_COUNT = 1  # a 0.5B model fits one GPU; tensor parallelism spans exactly the reserved GPUs
# Host side of vLLM (loading, tokenising, CUDA graphs): more than our CPU server's limits.
GPU_RESOURCES = Resources("2", "8Gi", "8", "16Gi")


def secret_files(service: AppService | InfraService, directory: str) -> dict[str, str]:
    """Return the ``<VAR>_FILE`` variables pointing a service at its secret files."""
    return {f"{var}_FILE": f"{directory}/{name}" for var, name in service.secrets.items()}


def service(name: str) -> AppService | InfraService:
    """Return the service called ``name``."""
    for candidate in (*APP_SERVICES, *INFRA_SERVICES):
        if candidate.name == name:
            return candidate
    raise KeyError(name)
