"""The Compose profile `gpu`: the AI Models Service as vLLM, built from ai_models.serving's parts.

The command, flags, env, user, probe and labels are those the model server's own Docker
generator writes for ``server_type="vllm"`` (ai_models.serving.docker / vllm); two things
differ because this stack keeps secrets in files and names the model as the agents know it.
"""

from __future__ import annotations

import shlex

from ai_models.registry import ModelSpec, builtin_specs
from ai_models.serving import vllm
from ai_models.serving.server import STARTUP_SECONDS, TMP_DIR, health_command
from paissive_income.deploy.stack import (
    AI_MODELS,
    CHAT_MODEL,
    COMPOSE_SECRETS_DIR,
    GPU_COUNT,
    VLLM_IMAGE,
)

NAME = f"{AI_MODELS.name}-gpu"
INIT_NAME = "model-cache-init"
PROFILE = "gpu"
KEY_FILE_ENV = f"{vllm.API_KEY_ENV}_FILE"
WRAPPER_NAME = "vllm-serve"  # $0 of the wrapper script, shown by ps


def chat_spec(name: str = CHAT_MODEL) -> ModelSpec:
    """The registry's built-in spec of the chat model: its Hub id and context length."""
    for spec in builtin_specs():
        if spec.name == name:
            return spec
    raise KeyError(name)


def vllm_args() -> list[str]:
    """`vllm serve` arguments: the Hub id of CHAT_MODEL, served under CHAT_MODEL itself.

    The agents ask for AI_CHAT_MODEL (a registry name, not a Hub id), so vLLM must answer to it.
    """
    spec = chat_spec()
    args = vllm.vllm_args(
        model_path=None,
        model_id=spec.source,
        host=AI_MODELS.env["HOST"],
        port=AI_MODELS.port,
        gpu_count=GPU_COUNT,
        max_model_len=spec.options.context_length,  # what our server allows, no more KV cache
    )
    args[args.index("--served-model-name") + 1] = CHAT_MODEL
    return args


def entrypoint() -> list[str]:
    """Run `vllm serve` with VLLM_API_KEY read from the secret file (vLLM reads no *_FILE).

    The key never becomes an argument; the arguments after the script reach vLLM as "$@".
    """
    script = (
        f'{vllm.API_KEY_ENV}="$(cat "${KEY_FILE_ENV}")" && export {vllm.API_KEY_ENV} '
        f'&& exec {shlex.join(vllm.COMMAND)} "$@"'
    )
    return ["/bin/sh", "-c", script, WRAPPER_NAME]


def vllm_service(*, networks: dict, volume: dict, deploy: dict) -> dict:
    """The `gpu` profile's model service: the official vLLM image as user 10001, group 0."""
    key_secret = AI_MODELS.secrets["MODEL_SERVER_API_KEYS"]
    device = {"driver": "nvidia", "count": GPU_COUNT, "capabilities": ["gpu"]}
    resources = deploy["resources"]
    return {
        "image": VLLM_IMAGE,
        "profiles": [PROFILE],
        "entrypoint": entrypoint(),
        "command": vllm_args(),
        "user": vllm.runtime_user(),
        "environment": {**vllm.vllm_env(), KEY_FILE_ENV: f"{COMPOSE_SECRETS_DIR}/{key_secret}"},
        "secrets": [key_secret],
        "labels": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(AI_MODELS.port),
            "prometheus.io/path": vllm.METRICS_PATH,
        },
        "networks": networks,
        "read_only": True,
        "tmpfs": [TMP_DIR],
        "shm_size": vllm.SHM_SIZE.replace("Gi", "gb"),
        "volumes": [volume],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "restart": "unless-stopped",
        "stop_grace_period": "30s",
        "healthcheck": {
            "test": [
                "CMD",
                *health_command(AI_MODELS.env["HOST"], AI_MODELS.port, vllm.HEALTH_PATH),
            ],
            "interval": "30s",
            "timeout": "5s",
            "retries": 3,
            "start_period": f"{STARTUP_SECONDS}s",
        },
        "depends_on": {INIT_NAME: {"condition": "service_completed_successfully"}},
        "deploy": {
            "resources": {
                "limits": resources["limits"],
                "reservations": {**resources["reservations"], "devices": [device]},
            }
        },
    }


def cache_init_service(image: str, build: dict, volume: dict) -> dict:
    """A one-shot run of the project's image that creates the model-cache volume.

    Docker fills a new named volume from the image's folder, owner included: ours belongs to
    10001:0. The vLLM image has no such folder, so a volume it created first would be root's
    and vLLM, running as 10001, could not download the model into it.
    """
    return {
        "image": image,
        "build": build,
        "profiles": [PROFILE],
        "command": ["python", "-c", "pass"],
        "network_mode": "none",
        "read_only": True,
        "volumes": [volume],
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "restart": "no",
        "healthcheck": {"disable": True},
    }
