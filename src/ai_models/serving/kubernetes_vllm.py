"""What changes in the Kubernetes manifests when server_type is "vllm" (see vllm.py)."""

from __future__ import annotations

from . import vllm
from .kubernetes import KubernetesConfig

SHM_VOLUME = "dshm"


def server(config: KubernetesConfig) -> dict:
    """Command and args of the vLLM container (args escaped by the caller)."""
    args = vllm.vllm_args(
        model_path=config.model_path,
        model_id=config.model_id,
        host=config.host,
        port=config.port,
        gpu_count=config.gpu_count,
        max_model_len=config.max_model_len,
    )
    return {"command": list(vllm.COMMAND), "args": args}


def api_key_env(config: KubernetesConfig) -> dict:
    """VLLM_API_KEY from the Secret key the agents also read (AI_MODEL_API_KEY)."""
    ref = {"name": config.effective_secret_name, "key": vllm.API_KEY_SECRET}
    return {"name": vllm.API_KEY_ENV, "valueFrom": {"secretKeyRef": ref}}


def shm_mount() -> dict:
    """Shared memory for tensor-parallel workers (the container default is 64 MiB)."""
    return {"name": SHM_VOLUME, "mountPath": vllm.SHM_DIR}


def shm_volume() -> dict:
    """A memory-backed emptyDir for /dev/shm."""
    return {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": vllm.SHM_SIZE}}


def scrape_annotations(config: KubernetesConfig) -> dict[str, str]:
    """The prometheus.io annotations that annotation-based scrape configs follow."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(config.port),
        "prometheus.io/path": vllm.METRICS_PATH,
    }


def queue_metric(config: KubernetesConfig) -> dict:
    """An HPA Pods metric on vLLM's queue length, served by prometheus-adapter."""
    target = {"type": "AverageValue", "averageValue": str(config.target_waiting_requests)}
    return {"type": "Pods", "pods": {"metric": {"name": vllm.HPA_METRIC}, "target": target}}
