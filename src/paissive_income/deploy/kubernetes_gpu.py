"""The gpu overlay: prod with ai-models on vLLM, as `ai_models.serving` writes it for vllm.

The container, its args, env, probes, /dev/shm and the HPA's metric are the model-server
generator's own output (``server_type="vllm"``); this module only fits them into the stack:
the Service `ai-models` on port 8000 stays, so AI_MODELS_URL is unchanged; vLLM answers to
AI_CHAT_MODEL's name (as the Compose gpu profile's does), so the agents' env is unchanged too;
the API key comes from the stack's Secret key `ai_model_api_key`; the model cache is the
stack's volume.
"""

from __future__ import annotations

from ai_models.serving import kubernetes_manifests, kubernetes_vllm
from ai_models.serving.kubernetes import KubernetesConfig
from ai_models.serving.output import OutputFile
from paissive_income.deploy import stack
from paissive_income.deploy.compose_gpu import chat_spec
from paissive_income.deploy.kubernetes_apps import MODEL_CLAIM, MODEL_STARTUP_SECONDS, MODELS_CONFIG
from paissive_income.deploy.kubernetes_objects import (
    NAMESPACE,
    checksum,
    labels,
    pod_security,
    writable_name,
)
from paissive_income.deploy.kubernetes_overlays import overlay

# One replica per GPU; the generator scales on vLLM's queue (prometheus-adapter's metric).
GPU_SCALING = (1, 2)
API_KEY_SECRET = "ai_model_api_key"  # the stack's Secret key (the generator's is upper case)


def vllm_config() -> KubernetesConfig:
    """The model-server generator's config for ai-models on vLLM."""
    low, high = GPU_SCALING
    resources, spec = stack.GPU_RESOURCES, chat_spec()
    return KubernetesConfig(
        name=stack.AI_MODELS.name,
        namespace=NAMESPACE,
        server_type="vllm",
        vllm_image=stack.VLLM_IMAGE,
        model_id=spec.source,
        max_model_len=spec.options.context_length,
        gpu_count=stack.GPU_COUNT,
        port=stack.AI_MODELS.port,
        cpu_request=resources.cpu_request,
        cpu_limit=resources.cpu_limit,
        memory_request=resources.memory_request,
        memory_limit=resources.memory_limit,
        secret_name=stack.SECRET_OBJECT,
        enable_hpa=True,
        min_replicas=low,
        max_replicas=high,
        startup_timeout_seconds=MODEL_STARTUP_SECONDS,
    )


def pod_template(config: KubernetesConfig) -> dict:
    """The generator's vLLM pod, with the stack's labels, model name, Secret key and volume."""
    spec = kubernetes_manifests.pod_spec(config)
    spec["securityContext"] = pod_security(stack.RUNTIME_UID)  # fsGroup: the volume is writable
    for container in spec["containers"]:
        args = container["args"]
        args[args.index("--served-model-name") + 1] = stack.CHAT_MODEL  # AI_CHAT_MODEL
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] == stack.SECRET_OBJECT:
                ref["key"] = API_KEY_SECRET
    cache = writable_name(stack.MODEL_CACHE)
    spec["volumes"] = [
        {"name": cache, "persistentVolumeClaim": {"claimName": MODEL_CLAIM}}
        if volume["name"] == cache
        else volume
        for volume in spec["volumes"]
    ]
    annotations = {
        **kubernetes_vllm.scrape_annotations(config),
        "checksum/config": checksum(kubernetes_manifests.configmap(config)["data"]),
    }
    metadata = {"labels": labels(stack.AI_MODELS.name), "annotations": annotations}
    return {"metadata": metadata, "spec": spec}


def _target(kind: str, name: str) -> dict:
    return {"kind": kind, "name": name}


def _replace(path: str, value: object) -> dict:
    return {"op": "replace", "path": path, "value": value}


def gpu_files() -> list[OutputFile]:
    """overlays/gpu: on top of prod, JSON patches replace ai-models' pod, env and HPA."""
    config = vllm_config()
    autoscaler = kubernetes_manifests.autoscaler(config)["spec"]
    json_patches = {
        "ai-models-deployment.yaml": (
            _target("Deployment", stack.AI_MODELS.name),
            [_replace("/spec/template", pod_template(config))],
        ),
        "ai-models-config.yaml": (
            _target("ConfigMap", MODELS_CONFIG),
            [_replace("/data", kubernetes_manifests.configmap(config)["data"])],
        ),
        "ai-models-autoscaler.yaml": (
            _target("HorizontalPodAutoscaler", stack.AI_MODELS.name),
            [_replace(f"/spec/{key}", autoscaler[key]) for key in ("minReplicas", "maxReplicas")]
            + [_replace("/spec/metrics", autoscaler["metrics"])],
        ),
        # prod keeps one model pod up during drains; with one GPU pod that would block them.
        "ai-models-budget.yaml": (
            _target("PodDisruptionBudget", stack.AI_MODELS.name),
            [{"op": "remove", "path": "/spec/minAvailable"}, _add_max_unavailable()],
        ),
    }
    return overlay("gpu", ["../prod"], {}, json_patches)


def _add_max_unavailable() -> dict:
    return {"op": "add", "path": "/spec/maxUnavailable", "value": 1}
