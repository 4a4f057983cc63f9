"""The contract with the AI Models Service: how every target starts and probes the model server."""

from __future__ import annotations

from .fields import probe_host

ENTRYPOINT = ["paissive-income", "models", "serve"]
HEALTH_PATH = "/healthz"  # alive
READY_PATH = "/readyz"  # 200 only once the model is loaded

# SageMaker runs `docker run IMAGE serve`; with ENTRYPOINT above the server sees the trailing
# `serve` and switches to SageMaker mode: port 8080, GET /ping, POST /invocations.
SAGEMAKER_ARGS = ["serve"]
SAGEMAKER_PORT = 8080

# Writable places inside an otherwise read-only container.
CACHE_DIR = "/var/cache/paissive-income"
HF_HOME = f"{CACHE_DIR}/huggingface"
TMP_DIR = "/tmp"
RUNTIME_UID = 10001  # numeric, high, group 0: works under runAsNonRoot and OpenShift

# Default probe budget: a large model may need minutes to load before /readyz turns 200.
STARTUP_SECONDS = 600


def server_args(
    *, model_path: str | None, model_type: str | None, host: str | None, port: int
) -> list[str]:
    """Build the `models serve` flags for the configured values (None leaves a flag out)."""
    args: list[str] = []
    if model_path is not None:
        args += ["--model-path", model_path]
    if model_type is not None:
        args += ["--model-type", model_type]
    if host is not None:
        args += ["--host", host]
    return [*args, "--port", str(port)]


def server_env(
    *,
    model_path: str | None,
    model_type: str | None,
    model_id: str | None,
    host: str | None,
    port: int | None,
) -> dict[str, str]:
    """Return the env vars the server falls back to, so `serve` without flags still works."""
    values = {
        "MODEL_PATH": model_path,
        "MODEL_TYPE": model_type,
        "MODEL_ID": model_id,
        "HOST": host,
        "PORT": None if port is None else str(port),
    }
    return {name: value for name, value in values.items() if value is not None}


def runtime_env() -> dict[str, str]:
    """Env every image sets so Python and Hugging Face write only to writable places."""
    return {
        "HOME": TMP_DIR,
        "HF_HOME": HF_HOME,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def health_command(host: str, port: int, path: str = HEALTH_PATH) -> list[str]:
    """Exec-form health check with the standard library only (slim images have no curl)."""
    url = f"http://{probe_host(host)}:{port}{path}"
    code = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=4)"
    return ["python3", "-c", code]


def mount_conflicts(targets: list[str]) -> list[tuple[str, str]]:
    """Report volume targets that repeat or cover the writable mounts every target adds."""
    errors: list[tuple[str, str]] = []
    for index, target in enumerate(targets):
        if target in (TMP_DIR, CACHE_DIR):
            errors.append((f"volumes[{index}].target", f"{target} is already a writable mount"))
        elif target in targets[:index]:
            errors.append((f"volumes[{index}].target", f"{target} is mounted twice"))
    return errors
