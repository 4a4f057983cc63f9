"""SageMaker hosting instance sizes: pick one that fits a CloudConfig, or check the one given."""

from __future__ import annotations

import re

from .cloud import CloudConfig
from .errors import FieldError, show

_INSTANCE = re.compile(r"ml\.[a-z0-9]+\.([0-9]*xlarge|large|medium)")

# vCPUs, memory GiB, GPUs, GPU model: the SageMaker hosting types most used for model serving.
INSTANCES: dict[str, tuple[int, int, int, str | None]] = {
    "ml.t2.medium": (2, 4, 0, None),
    "ml.t2.large": (2, 8, 0, None),
    "ml.c5.large": (2, 4, 0, None),
    "ml.c5.xlarge": (4, 8, 0, None),
    "ml.c5.2xlarge": (8, 16, 0, None),
    "ml.c5.4xlarge": (16, 32, 0, None),
    "ml.c5.9xlarge": (36, 72, 0, None),
    "ml.c5.18xlarge": (72, 144, 0, None),
    "ml.m5.large": (2, 8, 0, None),
    "ml.m5.xlarge": (4, 16, 0, None),
    "ml.m5.2xlarge": (8, 32, 0, None),
    "ml.m5.4xlarge": (16, 64, 0, None),
    "ml.m5.12xlarge": (48, 192, 0, None),
    "ml.m5.24xlarge": (96, 384, 0, None),
    "ml.r5.large": (2, 16, 0, None),
    "ml.r5.xlarge": (4, 32, 0, None),
    "ml.r5.2xlarge": (8, 64, 0, None),
    "ml.r5.4xlarge": (16, 128, 0, None),
    "ml.g4dn.xlarge": (4, 16, 1, "nvidia-t4"),
    "ml.g4dn.2xlarge": (8, 32, 1, "nvidia-t4"),
    "ml.g4dn.4xlarge": (16, 64, 1, "nvidia-t4"),
    "ml.g4dn.12xlarge": (48, 192, 4, "nvidia-t4"),
    "ml.g5.xlarge": (4, 16, 1, "nvidia-a10g"),
    "ml.g5.2xlarge": (8, 32, 1, "nvidia-a10g"),
    "ml.g5.4xlarge": (16, 64, 1, "nvidia-a10g"),
    "ml.g5.12xlarge": (48, 192, 4, "nvidia-a10g"),
    "ml.g5.48xlarge": (192, 768, 8, "nvidia-a10g"),
    "ml.g6.xlarge": (4, 16, 1, "nvidia-l4"),
    "ml.g6.2xlarge": (8, 32, 1, "nvidia-l4"),
    "ml.g6.4xlarge": (16, 64, 1, "nvidia-l4"),
    "ml.g6.12xlarge": (48, 192, 4, "nvidia-l4"),
    "ml.g6.48xlarge": (192, 768, 8, "nvidia-l4"),
    "ml.p3.2xlarge": (8, 61, 1, "nvidia-v100"),
    "ml.p3.8xlarge": (32, 244, 4, "nvidia-v100"),
}
GPU_TYPES = sorted({gpu for *_, gpu in INSTANCES.values() if gpu})


def choose_instance(config: CloudConfig) -> str | None:
    """Return the configured instance type, or the smallest known one that fits."""
    if config.instance_type:
        return config.instance_type
    fitting = [
        (cpus, memory, name)
        for name, (cpus, memory, gpus, gpu) in INSTANCES.items()
        if cpus >= config.cpu_count
        and memory >= config.memory_gb
        and gpus >= config.gpu_count
        and (gpus == 0) == (config.gpu_count == 0)
        and config.gpu_type in (None, gpu)
    ]
    return min(fitting)[2] if fitting else None


def instance_errors(config: CloudConfig) -> list[FieldError]:
    """Check instance_type against the size table and the requested CPU, memory and GPUs."""
    if config.instance_type is None:
        if choose_instance(config) is None:
            return [
                ("instance_type", "no known instance fits cpu_count/memory_gb/gpu_count; set one")
            ]
        return []
    if not _INSTANCE.fullmatch(config.instance_type):
        return [
            ("instance_type", f"{show(config.instance_type)} is not a type such as ml.m5.large")
        ]
    known = INSTANCES.get(config.instance_type)
    if known is None:
        return []  # a valid-looking type we have no size table for: SageMaker will judge it
    cpus, memory, gpus, gpu = known
    errors: list[FieldError] = []
    if config.cpu_count > cpus:
        errors.append(("cpu_count", f"{config.instance_type} has {cpus} vCPUs"))
    if config.memory_gb > memory:
        errors.append(("memory_gb", f"{config.instance_type} has {memory} GiB"))
    if config.gpu_count > gpus:
        errors.append(("gpu_count", f"{config.instance_type} has {gpus} GPUs"))
    if config.gpu_type is not None and config.gpu_type != gpu:
        errors.append(("gpu_type", f"{config.instance_type} has {gpu or 'no GPU'}"))
    return errors
