"""GCP target: a Cloud Run service (v2 API JSON) plus a build-push-deploy script."""

from __future__ import annotations

import re

from .cloud import CloudConfig, CloudTarget, gib, kebab, number
from .errors import FieldError, show
from .output import OutputFile, to_json
from .registry import register
from .server import STARTUP_SECONDS
from .shell import Script

_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_REGION = re.compile(r"[a-z]+-[a-z]+[0-9]+")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,255}(:([0-9]+|latest))?")
RESERVED_ENV = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
CPUS = (1, 2, 4, 6, 8)
# CPUs -> (min GiB, max GiB), from Cloud Run's CPU and memory limits pages.
MEMORY_RANGE = {1: (0.5, 4), 2: (0.5, 8), 4: (2, 16), 6: (4, 24), 8: (4, 32)}
GPU_TYPES = ("nvidia-l4",)
GPU_MIN_CPU, GPU_MIN_MEMORY = 4, 16


@register
class GcpTarget(CloudTarget):
    """Cloud Run service with probes, Secret Manager references and IAM-only access by default."""

    name = "gcp"
    fields = ("gpu_type",)

    def validate(self, config: CloudConfig) -> list[FieldError]:
        errors: list[FieldError] = []
        if len(config.name) > 49 or not _NAME.fullmatch(config.name):
            errors.append(
                (
                    "name",
                    f"{show(config.name)}: lowercase letters, digits and '-', "
                    "starting with a letter, at most 49 (Cloud Run rule)",
                )
            )
        if not _REGION.fullmatch(config.region):
            errors.append(
                ("region", f"{show(config.region)} is not a GCP region such as us-central1")
            )
        for field, names in (("env_vars", config.env_vars), ("secrets", config.secrets)):
            errors += [
                (f'{field}["{name}"]', "is reserved by Cloud Run")
                for name in names
                if name in RESERVED_ENV or name.startswith("CLOUD_RUN_")
            ]
        for name, ref in config.secrets.items():
            if not _SECRET.fullmatch(ref):
                errors.append(
                    (f'secrets["{name}"]', f"{show(ref)} is not a Secret Manager id[:version]")
                )
        if config.max_instances > 1000:
            errors.append(("max_instances", "Cloud Run allows at most 1000"))
        return errors + _size_errors(config)

    def default_secret(self, config: CloudConfig, env_name: str) -> str:
        return f"{config.name}-{kebab(env_name)}"

    def render(self, config: CloudConfig, output_dir: str) -> list[OutputFile]:
        service = OutputFile("service.json", to_json(cloud_run_service(config)))
        script = OutputFile("deploy.sh", deploy_script(config), executable=True)
        return [service, script, *self.image(config)]


def _size_errors(config: CloudConfig) -> list[FieldError]:
    cpus, memory = config.cpu_count, config.memory_gb
    if cpus not in CPUS:
        return [
            (
                "cpu_count",
                f"Cloud Run takes 1, 2, 4, 6 or 8 CPUs for a model server, not {number(cpus)}",
            )
        ]
    errors: list[FieldError] = []
    low, high = MEMORY_RANGE[int(cpus)]
    if not low <= memory <= high:
        errors.append(("memory_gb", f"{number(cpus)} CPU needs {number(low)}-{number(high)} GiB"))
    if round(memory * 1024) != memory * 1024:
        errors.append(("memory_gb", "must be a whole number of MiB"))
    if config.gpu_count:
        if config.gpu_count > 1:
            errors.append(("gpu_count", "Cloud Run attaches at most 1 GPU per instance"))
        if config.gpu_type not in (None, *GPU_TYPES):
            errors.append(
                ("gpu_type", f"{show(config.gpu_type)}: Cloud Run offers {', '.join(GPU_TYPES)}")
            )
        if cpus < GPU_MIN_CPU or memory < GPU_MIN_MEMORY:
            errors.append(("cpu_count", "a GPU instance needs at least 4 CPU and 16 GiB"))
    elif config.gpu_type is not None:
        errors.append(("gpu_type", "needs gpu_count 1"))
    return errors


def _probe(path: str, port: int, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def cloud_run_service(config: CloudConfig) -> dict:
    """Build the run.googleapis.com/v2 Service body (deploy.sh fills in image and identity)."""
    env = [
        {"name": name, "value": value}
        for name, value in {**config.server_env(None), **config.plain_env()}.items()
    ]
    for name, ref in config.secret_references().items():
        secret, _, version = ref.partition(":")
        env.append(
            {
                "name": name,
                "valueSource": {"secretKeyRef": {"secret": secret, "version": version or "latest"}},
            }
        )
    ready, alive = config.probe_paths
    limits = {"cpu": number(config.cpu_count), "memory": gib(config.memory_gb)}
    if config.gpu_count:
        limits["nvidia.com/gpu"] = str(config.gpu_count)
    container = {
        "name": "model-server",
        "image": f"{config.region}-docker.pkg.dev/PROJECT_ID/{config.name}/{config.name}:latest",
        "args": config.server_args(config.port),
        "ports": [{"name": "http1", "containerPort": config.port}],
        "env": env,
        # GPUs need instance-based billing (CPU always allocated).
        "resources": {"limits": limits, "cpuIdle": not config.gpu_count, "startupCpuBoost": True},
        "startupProbe": _probe(ready, config.port, 10, -(-STARTUP_SECONDS // 10)),
        "livenessProbe": _probe(alive, config.port, 20, 3),
    }
    template: dict = {
        "labels": {"app": config.name, "part-of": "paissive-income"},
        "scaling": {
            "minInstanceCount": config.min_instances,
            "maxInstanceCount": config.max_instances,
        },
        "maxInstanceRequestConcurrency": config.concurrency,
        "timeout": "300s",
        "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
        "containers": [container],
    }
    if config.gpu_count:
        template["nodeSelector"] = {"accelerator": config.gpu_type or GPU_TYPES[0]}
    return {
        "labels": {"app": config.name, "part-of": "paissive-income"},
        "ingress": "INGRESS_TRAFFIC_ALL",
        "invokerIamDisabled": False,
        "template": template,
    }


def service_account_id(config: CloudConfig) -> str:
    """A runtime service account id within IAM's 6-30 character rule."""
    return config.name[:21].rstrip("-") + "-model-sa"


def deploy_script(config: CloudConfig) -> str:
    """Build, push to Artifact Registry, create or update the service through the v2 API."""
    script = Script(
        f"Deploy the pAIssive Income model server {config.name} to Cloud Run (v2 API).",
        "Generated by ai_models.serving. Run from the project root: bash path/to/deploy.sh",
        "Needs gcloud (signed in), Docker, curl, python3. GCP_PROJECT overrides the project.",
    )
    script.assign("region", config.region).assign("service", config.name)
    script.assign("repository", config.name).assign(
        "service_account_id", service_account_id(config)
    )
    secrets = sorted({ref.partition(":")[0] for ref in config.secret_references().values()})
    script.array("secrets", secrets).assign("public", "true" if config.public else "false")
    return script.block(_GCP_STEPS).text()


_GCP_STEPS = """
project="${GCP_PROJECT:-$(gcloud config get-value project 2>/dev/null)}"
if [[ -z "$project" ]]; then
  echo "set GCP_PROJECT or run: gcloud config set project PROJECT_ID" >&2
  exit 1
fi
image="${region}-docker.pkg.dev/${project}/${repository}/${service}:${image_tag}"
runtime_account="${service_account_id}@${project}.iam.gserviceaccount.com"

gcloud services enable run.googleapis.com artifactregistry.googleapis.com \\
  secretmanager.googleapis.com --project "$project"
if ! gcloud artifacts repositories describe "$repository" --location "$region" \\
    --project "$project" >/dev/null 2>&1; then
  gcloud artifacts repositories create "$repository" --repository-format docker \\
    --location "$region" --project "$project"
fi
gcloud auth configure-docker "${region}-docker.pkg.dev" --quiet
docker build --platform linux/amd64 -f "$script_dir/Dockerfile" -t "$image" "$project_root"
docker push "$image"

# The service runs as its own account, allowed to read only its own secrets.
if ! gcloud iam service-accounts describe "$runtime_account" --project "$project" \\
    >/dev/null 2>&1; then
  gcloud iam service-accounts create "$service_account_id" --project "$project" \\
    --display-name "pAIssive Income model server $service"
fi
for secret in ${secrets[@]+"${secrets[@]}"}; do
  gcloud secrets add-iam-policy-binding "$secret" --project "$project" \\
    --member "serviceAccount:$runtime_account" --role roles/secretmanager.secretAccessor >/dev/null
done

body="$(mktemp)"
trap 'rm -f "$body"' EXIT
python3 - "$script_dir/service.json" "$image" "$runtime_account" >"$body" <<'PY'
import json
import sys

service = json.load(open(sys.argv[1]))
service["template"]["containers"][0]["image"] = sys.argv[2]
service["template"]["serviceAccount"] = sys.argv[3]
json.dump(service, sys.stdout)
PY

api="https://run.googleapis.com/v2/projects/${project}/locations/${region}/services/${service}"
token="$(gcloud auth print-access-token)"
operation="$(curl -fsS -X PATCH -H "Authorization: Bearer ${token}" \\
  -H 'Content-Type: application/json' --data-binary "@${body}" "${api}?allowMissing=true" \\
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])')"
operation_state='
import json, sys
op = json.load(sys.stdin)
print("failed" if "error" in op else ("ready" if op.get("done") else "pending"))'
echo "waiting for ${operation}"
for _ in $(seq 1 180); do
  state="$(curl -fsS -H "Authorization: Bearer ${token}" \\
    "https://run.googleapis.com/v2/${operation}" | python3 -c "$operation_state")"
  if [[ "$state" == ready ]]; then
    break
  elif [[ "$state" == failed ]]; then
    echo "Cloud Run rejected the service: gcloud run services describe $service" >&2
    exit 1
  fi
  sleep 5
done
if [[ "$state" != ready ]]; then
  echo "timed out waiting for ${operation}" >&2
  exit 1
fi

if [[ "$public" == true ]]; then
  gcloud run services add-iam-policy-binding "$service" --region "$region" --project "$project" \\
    --member allUsers --role roles/run.invoker
fi
gcloud run services describe "$service" --region "$region" --project "$project" \\
  --format 'value(status.url)'
"""
