"""Deployment generators for the AI Models Service: Docker, Kubernetes, AWS, GCP and Azure.

Each target lives in one module that registers itself; `generate_*` look targets up by name.
This package imports nothing else of the project, so it can be used as a plain library.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from .cloud import CloudConfig, CloudProvider
from .docker import DockerConfig
from .errors import DeploymentConfigError, DeploymentWarning
from .kubernetes import KubernetesConfig
from .registry import DeploymentTarget, get_target, register, target_names

PathLike = str | os.PathLike[str]

# Every module of this package may register targets: importing them all makes a new target
# one new file. The CLI is left out (it imports this package).
for _module in pkgutil.iter_modules(__path__):
    if _module.name != "cli":
        importlib.import_module(f"{__name__}.{_module.name}")


def generate_docker_config(config: DockerConfig, output_dir: PathLike) -> list[str]:
    """Write Dockerfile, docker-compose.yml and .dockerignore into output_dir."""
    return get_target("docker").generate(config, output_dir)


def generate_kubernetes_config(config: KubernetesConfig, output_dir: PathLike) -> list[str]:
    """Write the Kubernetes manifests and their kustomization.yaml into output_dir."""
    return get_target("kubernetes").generate(config, output_dir)


def generate_cloud_config(config: CloudConfig, output_dir: PathLike) -> list[str]:
    """Write the provider's template, deploy script and Dockerfile into output_dir."""
    if not isinstance(config, CloudConfig):
        raise TypeError(f"generate_cloud_config needs a CloudConfig, not {type(config).__name__}")
    return config.target.generate(config, output_dir)


__all__ = [
    "CloudConfig",
    "CloudProvider",
    "DeploymentConfigError",
    "DeploymentTarget",
    "DeploymentWarning",
    "DockerConfig",
    "KubernetesConfig",
    "generate_cloud_config",
    "generate_docker_config",
    "generate_kubernetes_config",
    "get_target",
    "register",
    "target_names",
]
