"""The contract with vLLM's OpenAI server (server_type="vllm"): image, flags, env, probes, metrics.

vLLM serves the same `/v1` routes as our model server, so the agents and the web reach it through
`AI_MODELS_URL` unchanged. Its `--api-key` guards `/v1` only: `/health` and `/metrics` stay open
for probes and Prometheus. The server listens only once the model is loaded, so start-up probes
on `/health` mean "model loaded".
"""

from __future__ import annotations

from .errors import FieldError, warn
from .server import CACHE_DIR, HF_HOME, RUNTIME_UID, TMP_DIR

VLLM_VERSION = "0.32.0"  # the release benchmarks/peers.py measures against
VLLM_IMAGE = f"vllm/vllm-openai:v{VLLM_VERSION}"  # official image; CUDA only
COMMAND = ["vllm", "serve"]
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
SHM_DIR = "/dev/shm"  # tensor-parallel workers exchange tensors through shared memory
SHM_SIZE = "2Gi"

# vLLM reads its key from VLLM_API_KEY (same as --api-key), so no key is ever an argument. The
# value comes from the secret the agents already use for AI_MODELS_URL: one key for both sides.
API_KEY_ENV = "VLLM_API_KEY"
API_KEY_SECRET = "AI_MODEL_API_KEY"

# The queue length: requests admitted but not yet scheduled, per server. prometheus-adapter
# exposes it to the HPA as HPA_METRIC (custom-metrics names cannot hold ':').
QUEUE_METRIC = "vllm:num_requests_waiting"
HPA_METRIC = "vllm_num_requests_waiting"

MODEL_TYPES = ("text-generation", "chat", None)  # vLLM's generate runner; embeddings stay on rest
GPU_ERROR = (
    "server_type vllm runs the CUDA image vllm/vllm-openai and needs at least 1 GPU; "
    "on CPU use server_type 'rest' (faster and lighter there, see docs/model-server-deployment.md)"
)


def served_name(model_path: str | None, model_id: str | None) -> str:
    """The model name clients send (AI_CHAT_MODEL): model_id, else the model folder's name."""
    if model_id:
        return model_id
    assert model_path  # config_errors() refuses a config with neither
    return model_path.rsplit("/", 1)[-1]


def vllm_args(
    *,
    model_path: str | None,
    model_id: str | None,
    host: str,
    port: int,
    gpu_count: int,
    max_model_len: int | None,
) -> list[str]:
    """The `vllm serve` arguments: model first (positional), then flags; tensor parallel = GPUs."""
    if model_path is None and model_id and "/" not in model_id:
        warn(
            f"model_id {model_id!r} has no organisation: vLLM loads it from the Hugging Face Hub "
            "as written (registry names of our server, such as 'qwen2.5-0.5b-instruct', are "
            "not Hub ids)"
        )
    args = [model_path or model_id or "", "--served-model-name", served_name(model_path, model_id)]
    args += ["--host", host, "--port", str(port), "--tensor-parallel-size", str(gpu_count)]
    if max_model_len is not None:
        args += ["--max-model-len", str(max_model_len)]
    return args


def vllm_env() -> dict[str, str]:
    """Env that lets vLLM run as a non-root user on a read-only root, and keeps it offline."""
    return {
        "HOME": TMP_DIR,
        "HF_HOME": HF_HOME,
        "XDG_CACHE_HOME": f"{CACHE_DIR}/cache",
        # torch and triton name their caches after getpass.getuser(), which reads USER before
        # the password database; our numeric user has no entry in the vLLM image.
        "USER": "vllm",
        "LOGNAME": "vllm",
        "VLLM_NO_USAGE_STATS": "1",  # nothing leaves the machine unless configured
        "DO_NOT_TRACK": "1",
    }


def reserved_env() -> tuple[str, ...]:
    """Env names the vLLM targets set themselves; env_vars may not override them."""
    return (*vllm_env(), API_KEY_ENV)


def config_errors(
    *,
    server_type: str,
    gpu_count: int,
    model_type: str | None,
    env_names: list[str],
    rest_only: dict[str, object],
    vllm_only: dict[str, object],
) -> list[FieldError]:
    """Cross-field rules of server_type: what vllm needs, and fields only one server reads.

    `rest_only` and `vllm_only` map field names to their value when the user set them.
    """
    if server_type != "vllm":
        return [
            (name, "applies to server_type 'vllm' only")
            for name, value in vllm_only.items()
            if value is not None
        ]
    errors: list[FieldError] = []
    if gpu_count < 1:
        errors.append(("gpu_count", GPU_ERROR))
    if model_type not in MODEL_TYPES:
        errors.append(
            (
                "model_type",
                f"server_type vllm serves text-generation/chat; use 'rest' for {model_type}",
            )
        )
    errors += [
        (name, "is not used with server_type vllm; leave it out")
        for name, value in rest_only.items()
        if value
    ]
    errors += [
        (f'env_vars["{name}"]', "is set by the config itself for server_type vllm")
        for name in env_names
        if name in reserved_env()
    ]
    return errors


def runtime_user() -> str:
    """The numeric user:group every vLLM container runs as (restricted pods, OpenShift)."""
    return f"{RUNTIME_UID}:0"
