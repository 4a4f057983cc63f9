"""A spread of configs covering every target, CPU and GPU, HPA on/off, each volume type and
provider. Tests generate them all into one folder and run each validator once over it."""

from __future__ import annotations

from pathlib import Path

from ai_models.serving import (
    CloudConfig,
    CloudProvider,
    DockerConfig,
    KubernetesConfig,
    generate_cloud_config,
    generate_docker_config,
    generate_kubernetes_config,
)

SEED_ENV = {"LOG_LEVEL": "INFO", "MAX_BATCH_SIZE": "4"}
SECRET_ENV = {**SEED_ENV, "AI_MODEL_API_KEY": "sk-not-a-real-key", "HF_TOKEN": "hf_x"}


def seed_docker(**changes) -> DockerConfig:
    """The seed's DockerConfig, optionally changed."""
    fields = dict(
        image_name="paissive-income-model-server",
        base_image="python:3.9-slim",
        server_type="rest",
        port=8000,
        model_path="/models/my-model",
        model_type="text-generation",
        gpu_count=0,
    )
    return DockerConfig(**{**fields, **changes})


def vllm_docker(**changes) -> DockerConfig:
    """The seed's DockerConfig without the fields of the image it builds, changed."""
    fields = dict(port=8000, model_path="/models/my-model", model_type="text-generation")
    return DockerConfig(**{**fields, **changes})


def seed_kubernetes(**changes) -> KubernetesConfig:
    """The seed's KubernetesConfig, optionally changed."""
    fields = dict(
        name="paissive-income",
        namespace="ai-services",
        image="paissive-income:latest",
        replicas=2,
        server_type="rest",
        port=8000,
        cpu_request="500m",
        cpu_limit="1",
        memory_request="1Gi",
        memory_limit="4Gi",
        env_vars=dict(SEED_ENV),
        volumes=[
            {"type": "persistentVolumeClaim", "source": "models-pvc", "target": "/app/models"}
        ],
        enable_hpa=True,
        min_replicas=1,
        max_replicas=5,
        target_cpu_utilization=80,
    )
    if changes.get("server_type") == "vllm":  # vLLM runs its own image and scales on its queue
        del fields["image"], fields["target_cpu_utilization"]
    return KubernetesConfig(**{**fields, **changes})


SEED_REGIONS = {
    CloudProvider.AWS: "us-west-2",
    CloudProvider.GCP: "us-central1",
    CloudProvider.AZURE: "eastus",
}


def seed_cloud(provider: CloudProvider, **changes) -> CloudConfig:
    """The seed's CloudConfig for one provider, optionally changed."""
    fields = dict(
        provider=provider,
        name="paissive-income",
        region=SEED_REGIONS[provider],
        server_type="rest",
        port=8000,
        model_path="/models/my-model",
        model_type="text-generation",
        cpu_count=2,
        memory_gb=8,
        min_instances=1,
        max_instances=5,
        env_vars=dict(SEED_ENV),
    )
    if provider is CloudProvider.AWS:
        fields["instance_type"] = "ml.m5.large"
    return CloudConfig(**{**fields, **changes})


AWS, GCP, AZURE = CloudProvider.AWS, CloudProvider.GCP, CloudProvider.AZURE
VLLM = dict(
    server_type="vllm", model_path=None, model_id="Qwen/Qwen2.5-7B-Instruct", max_model_len=8192
)

SPREAD = {
    "docker/seed": lambda: seed_docker(),
    "docker/gpu": lambda: seed_docker(gpu_count=2, cpu_limit="4", memory_limit="16Gi"),
    "docker/volumes": lambda: seed_docker(
        base_image="python:3.12-slim-bookworm",
        volumes=[
            {"type": "bind", "source": "./models", "target": "/models", "read_only": True},
            {"type": "volume", "source": "hf-data", "target": "/data"},
            {"type": "tmpfs", "target": "/scratch"},
        ],
        env_vars=SECRET_ENV,
        additional_packages=["tiktoken==0.7.0", "accelerate>=0.30,<2"],
        cpu_limit=1.5,
        memory_limit="6Gi",
        restart_policy="on-failure",
    ),
    "docker/cuda-hub": lambda: seed_docker(
        base_image="nvidia/cuda:12.6.3-runtime-ubuntu24.04",
        gpu_count=1,
        model_path=None,
        model_id="sentence-transformers/all-MiniLM-L6-v2",
        model_type="embeddings",
        host="::",
        port=9000,
    ),
    "kubernetes/seed": lambda: seed_kubernetes(),
    "kubernetes/single": lambda: seed_kubernetes(
        enable_hpa=False,
        replicas=1,
        volumes=[],
        namespace="default",
        image="registry.example.com/ml/server:1.2.3",
    ),
    "kubernetes/gpu": lambda: seed_kubernetes(
        enable_hpa=False,
        replicas=3,
        gpu_count=1,
        cpu_limit="4",
        memory_limit="16Gi",
        node_selector={"cloud.google.com/gke-accelerator": "nvidia-l4"},
        tolerations=[
            {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
        ],
        strategy="Recreate",
        env_vars=SECRET_ENV,
        model_path="/app/models/llm",
        model_type="text-generation",
    ),
    "kubernetes/volumes": lambda: seed_kubernetes(
        volumes=[
            {
                "type": "persistentVolumeClaim",
                "source": "models-pvc",
                "target": "/app/models",
                "read_only": True,
            },
            {"type": "configMap", "source": "prompts", "target": "/etc/prompts"},
            {"type": "secret", "source": "tls-certs", "target": "/etc/certs", "read_only": True},
            {"type": "emptyDir", "target": "/scratch", "size_limit": "2Gi"},
        ],
        target_memory_utilization=75,
        service_type="NodePort",
        node_port=30080,
        enable_ingress=True,
        ingress_host="models.example.com",
        ingress_path="/v1",
        ingress_tls_secret="models-tls",
        ingress_class_name="nginx",
        image="registry.example.com/ml/server@sha256:" + "a" * 64,
    ),
    "kubernetes/loadbalancer": lambda: seed_kubernetes(
        service_type="LoadBalancer",
        enable_ingress=True,
        create_namespace=False,
        image_pull_policy="IfNotPresent",
    ),
    "aws/seed": lambda: seed_cloud(AWS),
    "aws/gpu": lambda: seed_cloud(AWS, instance_type=None, gpu_count=1, cpu_count=4, memory_gb=16),
    "aws/s3-secrets": lambda: seed_cloud(
        AWS,
        model_path=None,
        model_data_url="s3://paissive-models/llm/model.tar.gz",
        env_vars=SECRET_ENV,
        secrets={"DATABASE_URL": "paissive-income/database-url"},
        min_instances=2,
        max_instances=2,
    ),
    "aws/hub": lambda: seed_cloud(
        AWS, model_path=None, model_id="org/model", instance_type="ml.g5.2xlarge", gpu_count=1
    ),
    "gcp/seed": lambda: seed_cloud(GCP),
    "gcp/gpu": lambda: seed_cloud(
        GCP, gpu_count=1, gpu_type="nvidia-l4", cpu_count=4, memory_gb=16, min_instances=0
    ),
    "gcp/public-secrets": lambda: seed_cloud(
        GCP,
        public=True,
        env_vars=SECRET_ENV,
        secrets={"DATABASE_URL": "db-url:3"},
        cpu_count=1,
        memory_gb=0.5,
    ),
    "azure/seed": lambda: seed_cloud(AZURE),
    "azure/consumption-public": lambda: seed_cloud(
        AZURE, cpu_count=1, memory_gb=2, public=True, min_instances=0
    ),
    "azure/gpu-t4": lambda: seed_cloud(
        AZURE, gpu_count=1, cpu_count=8, memory_gb=56, gpu_type="nvidia-t4"
    ),
    "azure/a100-secrets": lambda: seed_cloud(
        AZURE,
        gpu_count=1,
        gpu_type="nvidia-a100",
        cpu_count=24,
        memory_gb=220,
        env_vars=SECRET_ENV,
        registry_name="mycompanyregistry",
    ),
    "azure/memory-optimised": lambda: seed_cloud(AZURE, cpu_count=3.5, memory_gb=30),
    # server_type="vllm": the official vLLM image on GPUs, every target.
    "docker/vllm-gpu": lambda: vllm_docker(**VLLM, gpu_count=2, env_vars=SECRET_ENV),
    "docker/vllm-local-model": lambda: vllm_docker(
        server_type="vllm", gpu_count=1, memory_limit="32Gi", restart_policy="always"
    ),
    "kubernetes/vllm-gpu": lambda: seed_kubernetes(
        **VLLM,
        gpu_count=2,
        cpu_limit="8",
        memory_request="16Gi",
        memory_limit="64Gi",
        env_vars=SECRET_ENV,
        target_waiting_requests=8,
        volumes=[],
    ),
    "kubernetes/vllm-pvc": lambda: seed_kubernetes(
        server_type="vllm",
        enable_hpa=False,
        replicas=1,
        gpu_count=1,
        model_path="/app/models/llm",
        cpu_limit="4",
        memory_limit="32Gi",
        vllm_image="registry.example.com/mirror/vllm-openai:v0.32.0",
    ),
    "aws/vllm-gpu": lambda: seed_cloud(
        AWS, **VLLM, instance_type="ml.g5.2xlarge", gpu_count=1, env_vars=SECRET_ENV
    ),
    "aws/vllm-s3": lambda: seed_cloud(
        AWS,
        server_type="vllm",
        instance_type="ml.g6.12xlarge",
        gpu_count=4,
        model_path=None,
        model_data_url="s3://paissive-models/llm/model.tar.gz",
    ),
    "gcp/vllm-gpu": lambda: seed_cloud(
        GCP, **VLLM, gpu_count=1, gpu_type="nvidia-l4", cpu_count=8, memory_gb=32, min_instances=0
    ),
    "azure/vllm-gpu": lambda: seed_cloud(
        AZURE,
        **VLLM,
        gpu_count=1,
        gpu_type="nvidia-a100",
        cpu_count=24,
        memory_gb=220,
        env_vars=SECRET_ENV,
    ),
}

GENERATORS = {
    DockerConfig: generate_docker_config,
    KubernetesConfig: generate_kubernetes_config,
    CloudConfig: generate_cloud_config,
}


def generate(config, output_dir: Path) -> list[str]:
    """Generate any config with its target's generate_* function."""
    return GENERATORS[type(config)](config, output_dir)


def generate_spread(root: Path) -> dict[str, list[str]]:
    """Write every spread config into root/<name>; return the paths written per name."""
    return {name: generate(make(), root / name) for name, make in SPREAD.items()}
