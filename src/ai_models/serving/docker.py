"""Docker target: a multi-stage Dockerfile, docker-compose.yml and .dockerignore."""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import Field

from . import image, vllm
from .base import ServingConfig
from .errors import FieldError, show, warn_secret_dropped
from .escapes import Syntax, dollar_literal, escape_values
from .fields import (
    CleanPath,
    CpuQuantity,
    EnvName,
    EnvValue,
    GpuCount,
    Host,
    HubModelId,
    ImageName,
    ImageReference,
    ImageTag,
    MaxModelLen,
    MemoryQuantity,
    ModelType,
    PipRequirement,
    Port,
    ServerType,
    Text,
    cpu_cores,
    is_secret_name,
    memory_bytes,
)
from .output import OutputFile, to_yaml
from .registry import DeploymentTarget, register
from .server import (
    CACHE_DIR,
    HEALTH_PATH,
    TMP_DIR,
    health_command,
    mount_conflicts,
    server_env,
)

_BIND_SOURCE = re.compile(r"(\.{1,2})?(/[A-Za-z0-9._@+-]+)+|\.{1,2}")
_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}")
_RELATIVE_PATH = re.compile(r"\.{1,2}(/\.{1,2})*|(\.{1,2}/)*[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_MIN_MEMORY = 6 * 2**20  # Docker refuses limits below 6 MiB
# Fields that describe the image we build; server_type "vllm" runs vllm_image as published.
_IMAGE_BUILD_FIELDS = (
    "image_name",
    "image_tag",
    "base_image",
    "additional_packages",
    "build_context",
)


class DockerVolume(ServingConfig):
    """A compose volume: `bind` (host path), `volume` (named volume) or `tmpfs`."""

    type: Literal["bind", "volume", "tmpfs"]
    source: Text | None = None
    target: CleanPath
    read_only: bool = False

    def cross_field_errors(self) -> list[FieldError]:
        if self.type == "tmpfs":
            return [("source", "a tmpfs volume takes no source")] if self.source else []
        if self.source is None:
            return [("source", f"a {self.type} volume needs a source")]
        pattern = _BIND_SOURCE if self.type == "bind" else _VOLUME_NAME
        if not pattern.fullmatch(self.source):
            rule = (
                "a host path like /srv/models or ./models"
                if self.type == "bind"
                else "a volume name of letters, digits, '_', '.', '-'"
            )
            return [("source", f"{show(self.source)} is not {rule}")]
        return []


class DockerConfig(ServingConfig):
    """How to package and run the model server with Docker and Docker Compose."""

    image_name: ImageName = "paissive-income-model-server"
    base_image: ImageReference | None = None
    server_type: ServerType = "rest"
    port: Port = 8000
    model_path: CleanPath | None = None
    model_type: ModelType = "text-generation"
    gpu_count: GpuCount = 0
    image_tag: ImageTag = "latest"
    host: Host = "0.0.0.0"
    model_id: HubModelId | None = None
    cpu_limit: CpuQuantity | None = None
    memory_limit: MemoryQuantity | None = None
    env_vars: dict[EnvName, EnvValue] = Field(default_factory=dict)
    volumes: list[DockerVolume] = Field(default_factory=list)
    additional_packages: list[PipRequirement] = Field(default_factory=list)
    restart_policy: Literal["no", "always", "on-failure", "unless-stopped"] = "unless-stopped"
    build_context: str = ".."
    max_model_len: MaxModelLen | None = None
    vllm_image: ImageReference = vllm.VLLM_IMAGE

    def cross_field_errors(self) -> list[FieldError]:
        errors = super().cross_field_errors()
        errors += image.config_errors(self.base_image, bool(self.model_path or self.model_id))
        errors += vllm.config_errors(
            server_type=self.server_type,
            gpu_count=self.gpu_count,
            model_type=self.model_type,
            env_names=list(self.env_vars),
            rest_only=self.given(*_IMAGE_BUILD_FIELDS),
            vllm_only=self.given("max_model_len", "vllm_image"),
        )
        if self.memory_limit is not None and memory_bytes(self.memory_limit) < _MIN_MEMORY:
            errors.append(("memory_limit", "Docker needs at least 6Mi"))
        errors += mount_conflicts([volume.target for volume in self.volumes])
        if not _RELATIVE_PATH.fullmatch(self.build_context):
            errors.append(("build_context", "must be a relative path such as '..'"))
        return errors

    @property
    def service_name(self) -> str:
        """The compose service and project name: the last part of the image name."""
        return re.sub(r"[^a-z0-9_-]", "-", self.image_name.rsplit("/", 1)[-1])


@register
class DockerTarget(DeploymentTarget[DockerConfig]):
    """Write Dockerfile, docker-compose.yml and the ignore files for the build context."""

    name = "docker"
    command = "docker"
    config_class = DockerConfig

    def render(self, config: DockerConfig, output_dir: str) -> list[OutputFile]:
        compose = OutputFile(
            "docker-compose.yml",
            to_yaml(escape_values(compose_file(config, output_dir), dollar_literal)),
        )
        if config.server_type == "vllm":
            return [compose]  # the official vLLM image runs as published: nothing to build
        # .dockerignore serves builders that read only the context root's ignore file.
        ignore = OutputFile(".dockerignore", image.DOCKERIGNORE)
        return [
            *image.image_files(
                image.ImageSpec.from_config(
                    config, title=config.image_name, packages=config.additional_packages
                )
            ),
            compose,
            ignore,
        ]


def compose_file(config: DockerConfig, output_dir: str) -> dict:
    """Build docker-compose.yml as data: values as written, interpolations marked `Syntax`.

    Compose interpolates `$` in every value; render() escapes all but `Syntax` on the way out.
    """
    vllm_server = config.server_type == "vllm"
    service = _vllm_service(config) if vllm_server else _rest_service(config, output_dir)
    service["ports"] = [{"target": config.port, "published": str(config.port), "protocol": "tcp"}]
    service["environment"] = _compose_env(config)
    service["volumes"] = [
        {"type": "volume", "source": "model-cache", "target": CACHE_DIR},
        *(_compose_volume(volume) for volume in config.volumes),
    ]
    service["tmpfs"] = [TMP_DIR]
    if vllm_server:
        service["shm_size"] = vllm.SHM_SIZE.replace("Gi", "gb")
    service.update(
        {
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "restart": config.restart_policy,
            "stop_grace_period": "30s",
            "healthcheck": {
                "test": ["CMD", *_health(config)],
                "interval": "30s",
                "timeout": "5s",
                "retries": 3,
                "start_period": "600s",
            },
        }
    )
    resources = _compose_resources(config)
    if resources:
        service["deploy"] = {"resources": resources}
    model_mount = _model_mount(config)
    if model_mount:
        service["volumes"].append(model_mount)
    named = ["model-cache"] + [v.source for v in config.volumes if v.type == "volume"]
    return {
        "name": config.service_name,
        "services": {config.service_name: service},
        "volumes": {name: {} for name in dict.fromkeys(named)},
    }


def _rest_service(config: DockerConfig, output_dir: str) -> dict:
    """Our model server: the image the generated Dockerfile builds."""
    context = os.path.normpath(os.path.join(os.path.abspath(output_dir), config.build_context))
    dockerfile = os.path.relpath(os.path.join(os.path.abspath(output_dir), "Dockerfile"), context)
    return {
        "image": f"{config.image_name}:{config.image_tag}",
        "build": {"context": config.build_context, "dockerfile": dockerfile.replace(os.sep, "/")},
    }


def _vllm_service(config: DockerConfig) -> dict:
    """vLLM's OpenAI server from the official image, as a non-root user."""
    args = vllm.vllm_args(
        model_path=config.model_path,
        model_id=config.model_id,
        host=config.host,
        port=config.port,
        gpu_count=config.gpu_count,
        max_model_len=config.max_model_len,
    )
    return {
        "image": config.vllm_image,
        "entrypoint": list(vllm.COMMAND),
        "command": args,
        "user": vllm.runtime_user(),
        "labels": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(config.port),
            "prometheus.io/path": vllm.METRICS_PATH,
        },
    }


def _health(config: DockerConfig) -> list[str]:
    path = vllm.HEALTH_PATH if config.server_type == "vllm" else HEALTH_PATH
    return health_command(config.host, config.port, path)


def _model_mount(config: DockerConfig) -> dict | None:
    """Mount the host's model folder at model_path unless a volume already provides it."""
    path = config.model_path
    if path is None or (config.model_id is not None and config.server_type == "rest"):
        return None
    if any(path == v.target or path.startswith(v.target + "/") for v in config.volumes):
        return None
    source = Syntax("${MODEL_DIR:?set MODEL_DIR to the host folder holding the model}")
    return {"type": "bind", "source": source, "target": path, "read_only": True}


def _compose_env(config: DockerConfig) -> dict[str, str]:
    if config.server_type == "vllm":
        env: dict[str, str] = vllm.vllm_env()
        key = vllm.API_KEY_SECRET
        env[vllm.API_KEY_ENV] = Syntax(f"${{{key}:?set {key} in the environment or an .env file}}")
    else:
        env = server_env(
            model_path=config.model_path,
            model_type=config.model_type,
            model_id=config.model_id,
            host=config.host,
            port=config.port,
        )
    for name in sorted(config.env_vars):
        value = config.env_vars[name]
        if is_secret_name(name):
            # The value comes from the shell or an .env file at `compose up`, never this file.
            env[name] = Syntax(f"${{{name}:?set {name} in the environment or an .env file}}")
            warn_secret_dropped(name, value)
        else:
            env[name] = value
    return env


def _compose_volume(volume: DockerVolume) -> dict:
    entry: dict = {"type": volume.type}
    if volume.source is not None:
        entry["source"] = volume.source
    entry["target"] = volume.target
    if volume.read_only:
        entry["read_only"] = True
    return entry


def _compose_resources(config: DockerConfig) -> dict:
    resources: dict = {}
    limits: dict = {}
    if config.cpu_limit is not None:
        limits["cpus"] = format(cpu_cores(config.cpu_limit).normalize(), "f")
    if config.memory_limit is not None:
        limits["memory"] = docker_bytes(int(memory_bytes(config.memory_limit)))
    if limits:
        resources["limits"] = limits
    if config.gpu_count:
        device = {"driver": "nvidia", "count": config.gpu_count, "capabilities": ["gpu"]}
        resources["reservations"] = {"devices": [device]}
    return resources


def docker_bytes(amount: int) -> str:
    """Format bytes in Docker's binary units ('4g', '512m'), exact to the byte."""
    for suffix, scale in (("g", 2**30), ("m", 2**20), ("k", 2**10)):
        if amount % scale == 0:
            return f"{amount // scale}{suffix}"
    return f"{amount}b"
