"""The seed document's Python snippets run verbatim, from any working folder, and write
deployable files (every validator passes over what they wrote)."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
import serving_validators

# Copied verbatim from the seed, deployment-architecture.md, "Deployment Options".
SEED_SNIPPETS = {
    "docker": """
from ai_models.serving import DockerConfig, generate_docker_config

# Create a Docker configuration
docker_config = DockerConfig(
    image_name="paissive-income-model-server",
    base_image="python:3.9-slim",
    server_type="rest",
    port=8000,
    model_path="/models/my-model",
    model_type="text-generation",
    gpu_count=0  # Set to number of GPUs if available
)

# Generate Docker configuration files
generate_docker_config(docker_config, "docker")
""",
    "kubernetes": """
from ai_models.serving import KubernetesConfig, generate_kubernetes_config

# Create a Kubernetes configuration
k8s_config = KubernetesConfig(
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
    env_vars={
        "LOG_LEVEL": "INFO",
        "MAX_BATCH_SIZE": "4"
    },
    volumes=[
        {
            "type": "persistentVolumeClaim",
            "source": "models-pvc",
            "target": "/app/models"
        }
    ],
    enable_hpa=True,
    min_replicas=1,
    max_replicas=5,
    target_cpu_utilization=80
)

# Generate Kubernetes configuration files
generate_kubernetes_config(k8s_config, "kubernetes")
""",
    "aws": """
from ai_models.serving import CloudConfig, CloudProvider, generate_cloud_config

# Create an AWS cloud configuration
aws_config = CloudConfig(
    provider=CloudProvider.AWS,
    name="paissive-income",
    region="us-west-2",
    server_type="rest",
    port=8000,
    model_path="/models/my-model",
    model_type="text-generation",
    instance_type="ml.m5.large",
    cpu_count=2,
    memory_gb=8,
    min_instances=1,
    max_instances=5,
    env_vars={
        "LOG_LEVEL": "INFO",
        "MAX_BATCH_SIZE": "4"
    }
)

# Generate AWS configuration files
generate_cloud_config(aws_config, "aws")
""",
    "gcp": """
from ai_models.serving import CloudConfig, CloudProvider, generate_cloud_config

# Create a GCP cloud configuration
gcp_config = CloudConfig(
    provider=CloudProvider.GCP,
    name="paissive-income",
    region="us-central1",
    server_type="rest",
    port=8000,
    model_path="/models/my-model",
    model_type="text-generation",
    cpu_count=2,
    memory_gb=8,
    min_instances=1,
    max_instances=5,
    env_vars={
        "LOG_LEVEL": "INFO",
        "MAX_BATCH_SIZE": "4"
    }
)

# Generate GCP configuration files
generate_cloud_config(gcp_config, "gcp")
""",
    "azure": """
from ai_models.serving import CloudConfig, CloudProvider, generate_cloud_config

# Create an Azure cloud configuration
azure_config = CloudConfig(
    provider=CloudProvider.AZURE,
    name="paissive-income",
    region="eastus",
    server_type="rest",
    port=8000,
    model_path="/models/my-model",
    model_type="text-generation",
    cpu_count=2,
    memory_gb=8,
    min_instances=1,
    max_instances=5,
    env_vars={
        "LOG_LEVEL": "INFO",
        "MAX_BATCH_SIZE": "4"
    }
)

# Generate Azure configuration files
generate_cloud_config(azure_config, "azure")
""",
}

EXPECTED_FILES = {
    "docker": {"Dockerfile", "Dockerfile.dockerignore", "docker-compose.yml", ".dockerignore"},
    "kubernetes": {
        "namespace.yaml",
        "serviceaccount.yaml",
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "kustomization.yaml",
    },
    "aws": {"cloudformation.yaml", "deploy.sh", "Dockerfile", "Dockerfile.dockerignore"},
    "gcp": {"service.json", "deploy.sh", "Dockerfile", "Dockerfile.dockerignore"},
    "azure": {"azuredeploy.json", "deploy.sh", "Dockerfile", "Dockerfile.dockerignore"},
}


@pytest.fixture(scope="module")
def seed_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run all five snippets, each in a fresh namespace, from a temporary working folder."""
    root = tmp_path_factory.mktemp("seed")
    cwd = Path.cwd()
    try:
        import os

        os.chdir(root)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for snippet in SEED_SNIPPETS.values():
                exec(compile(textwrap.dedent(snippet), "<seed>", "exec"), {})  # noqa: S102
    finally:
        os.chdir(cwd)
    return root


@pytest.mark.parametrize("folder", sorted(SEED_SNIPPETS))
def test_seed_snippet_writes_its_folder(seed_output: Path, folder: str) -> None:
    written = {p.name for p in (seed_output / folder).iterdir()}
    assert written == EXPECTED_FILES[folder]


@pytest.mark.slow
def test_seed_output_passes_every_validator(seed_output: Path) -> None:
    problems = serving_validators.validate_all(seed_output)
    assert problems == {}, problems


def test_seed_python_39_base_is_raised_with_a_warning(in_tmp: Path) -> None:
    with pytest.warns(UserWarning, match=r"base_image 'python:3\.9-slim' is below Python 3\.10"):
        exec(compile(SEED_SNIPPETS["docker"], "<seed>", "exec"), {})  # noqa: S102
    dockerfile = (in_tmp / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.10-slim AS builder" in dockerfile
    assert "3.9" not in dockerfile


def test_seed_snippets_return_the_paths_they_wrote(in_tmp: Path) -> None:
    from ai_models.serving import DockerConfig, generate_docker_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = generate_docker_config(DockerConfig(model_path="/models/m"), "docker")
    assert sorted(Path(p).name for p in paths) == sorted(EXPECTED_FILES["docker"])
    assert all(Path(p).is_file() for p in paths)
