"""Azure Container Apps sizes: the workload profile a CloudConfig runs on, and size checks."""

from __future__ import annotations

from decimal import Decimal

from .cloud import CloudConfig
from .errors import FieldError, show

CONSUMPTION_MAX_CPU = Decimal(4)
# Dedicated profiles: type -> (vCPUs, GiB); the replica must fit with room for the node's agents.
DEDICATED = {
    "D4": (4, 16),
    "D8": (8, 32),
    "D16": (16, 64),
    "D32": (32, 128),
    "E4": (4, 32),
    "E8": (8, 64),
    "E16": (16, 128),
    "E32": (32, 256),
}
# Serverless GPU profiles: gpu_type -> (profile type, vCPUs, GiB).
GPU_PROFILES = {
    "nvidia-t4": ("Consumption-GPU-NC8as-T4", 8, 56),
    "nvidia-a100": ("Consumption-GPU-NC24-A100", 24, 220),
}


def workload_profile(config: CloudConfig) -> tuple[str, str] | None:
    """Return (profile name, profile type) the app runs on, or None when nothing fits."""
    cpu, memory = Decimal(str(config.cpu_count)), Decimal(str(config.memory_gb))
    if config.gpu_count:
        profile, cpus, gib_ = GPU_PROFILES.get(config.gpu_type or "nvidia-t4", (None, 0, 0))
        return ("gpu", profile) if profile and cpu <= cpus and memory <= gib_ else None
    if cpu <= CONSUMPTION_MAX_CPU and memory == 2 * cpu:
        return ("Consumption", "Consumption")
    fitting = sorted(
        (cpus, gib_, kind)
        for kind, (cpus, gib_) in DEDICATED.items()
        if cpu < cpus and memory < gib_
    )
    return ("dedicated", fitting[0][2]) if fitting else None


def registry_name(config: CloudConfig) -> str:
    """The Azure Container Registry name: configured, or the app name without dashes."""
    if config.registry_name:
        return config.registry_name
    base = config.name.replace("-", "")
    return base if len(base) >= 5 else f"{base}acr"


def size_errors(config: CloudConfig) -> list[FieldError]:
    """Check CPU, memory and GPU against the Container Apps profiles."""
    cpu, memory = Decimal(str(config.cpu_count)), Decimal(str(config.memory_gb))
    errors: list[FieldError] = []
    if cpu % Decimal("0.25"):
        errors.append(("cpu_count", "Container Apps takes CPU in steps of 0.25"))
    if memory % Decimal("0.5"):
        errors.append(("memory_gb", "Container Apps takes memory in steps of 0.5 GiB"))
    if config.gpu_count:
        if config.gpu_count > 1:
            errors.append(("gpu_count", "serverless GPU profiles attach 1 GPU per replica"))
        if config.gpu_type is not None and config.gpu_type not in GPU_PROFILES:
            errors.append(
                ("gpu_type", f"{show(config.gpu_type)}: choose one of {', '.join(GPU_PROFILES)}")
            )
    elif config.gpu_type is not None:
        errors.append(("gpu_type", "needs gpu_count 1"))
    if not errors and workload_profile(config) is None:
        errors.append(
            (
                "memory_gb",
                "no workload profile fits this CPU/memory; Consumption takes "
                "0.25-4 CPU with 2 GiB per CPU, Dedicated up to 32 CPU / 256 GiB",
            )
        )
    return errors
