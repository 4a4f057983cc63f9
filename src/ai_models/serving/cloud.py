"""Cloud config shared by the AWS, GCP and Azure targets, and the provider target base."""

from __future__ import annotations

import re
from abc import abstractmethod
from enum import Enum
from typing import Any

from pydantic import Field, field_validator

from . import vllm
from .base import ServingConfig
from .dockerfile import pinned_image_errors
from .errors import FieldError, show, warn, warn_secret_dropped
from .fields import (
    CleanPath,
    Count,
    EnvName,
    EnvValue,
    GpuCount,
    Host,
    HubModelId,
    ImageReference,
    MaxModelLen,
    ModelType,
    Port,
    ServerType,
    Text,
    is_secret_name,
)
from .image import ImageSpec, config_errors, image_files
from .image_vllm import vllm_image_files
from .output import OutputFile
from .registry import DeploymentTarget, get_target, target_names
from .server import HEALTH_PATH, READY_PATH, server_args, server_env


class CloudProvider(str, Enum):
    """The built-in cloud providers; any registered `cloud` target name is also accepted."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


# Fields only some providers use; each provider lists the ones it reads.
PROVIDER_FIELDS = ("instance_type", "gpu_type", "model_data_url", "registry_name")


class CloudConfig(ServingConfig):
    """How to run the model server on a managed cloud service."""

    provider: CloudProvider | str
    name: Text
    region: Text
    server_type: ServerType = "rest"
    port: Port = 8000
    model_path: CleanPath | None = None
    model_type: ModelType = "text-generation"
    instance_type: Text | None = None
    cpu_count: float = Field(default=1, gt=0, le=192)
    memory_gb: float = Field(default=2, gt=0, le=1024)
    min_instances: Count = 1
    max_instances: Count = 1
    env_vars: dict[EnvName, EnvValue] = Field(default_factory=dict)
    model_id: HubModelId | None = None
    host: Host = "0.0.0.0"
    gpu_type: Text | None = None
    gpu_count: GpuCount = 0
    concurrency: int = Field(default=16, ge=1, le=1000)
    secrets: dict[EnvName, Text] = Field(default_factory=dict)
    public: bool = False
    base_image: ImageReference | None = None
    model_data_url: Text | None = None
    registry_name: Text | None = None
    max_model_len: MaxModelLen | None = None
    vllm_image: ImageReference = vllm.VLLM_IMAGE

    @field_validator("provider", mode="before")
    @classmethod
    def _known_provider(cls, value: Any) -> CloudProvider | str:
        text = value.value if isinstance(value, CloudProvider) else value
        if not isinstance(text, str) or text.lower() not in target_names("cloud"):
            choices = ", ".join(target_names("cloud"))
            raise ValueError(f"{show(text)} is not a provider; choose one of {choices}")
        text = text.lower()
        return CloudProvider(text) if text in CloudProvider._value2member_map_ else text

    @property
    def provider_name(self) -> str:
        """The provider as registry key text."""
        return self.provider.value if isinstance(self.provider, CloudProvider) else self.provider

    @property
    def target(self) -> CloudTarget:
        """The provider's registered target."""
        return get_target(self.provider_name)  # type: ignore[return-value]

    def cross_field_errors(self) -> list[FieldError]:
        errors = super().cross_field_errors()
        has_model = bool(self.model_path or self.model_id or self.model_data_url)
        errors += config_errors(self.base_image, has_model)
        if self.min_instances > self.max_instances:
            errors.append(("min_instances", f"{self.min_instances} is above max_instances"))
        if self.max_instances < 1:
            errors.append(("max_instances", "must be at least 1"))
        if self.host not in ("0.0.0.0", "::"):
            errors.append(
                ("host", "must be 0.0.0.0 or :: so the platform's proxy reaches the server")
            )
        errors += vllm.config_errors(
            server_type=self.server_type,
            gpu_count=self.gpu_count,
            model_type=self.model_type,
            env_names=list(self.env_vars),
            rest_only={"base_image": self.base_image},
            vllm_only=self.given("max_model_len", "vllm_image"),
        )
        if self.server_type == "vllm":
            # The cloud targets build FROM vllm_image: pinned, like any base image.
            errors += [("vllm_image", why) for why in pinned_image_errors(self.vllm_image)]
        for name in self.secrets:
            if name in self.env_vars:
                errors.append((f'secrets["{name}"]', "is also in env_vars; keep it in one place"))
        target = self.target
        for field in PROVIDER_FIELDS:
            if getattr(self, field) is not None and field not in target.fields:
                errors.append((field, f"is not used by provider {self.provider_name}"))
        return errors + target.validate(self)

    def secret_references(self) -> dict[str, str]:
        """Map env names to secret-store references: `secrets` plus secret-looking env_vars."""
        refs = {}
        for name in sorted(self.env_vars):
            if is_secret_name(name):
                warn_secret_dropped(name, self.env_vars[name])
                refs[name] = self.target.default_secret(self, name)
        refs.update(sorted(self.secrets.items()))
        if self.server_type == "vllm" and vllm.API_KEY_ENV not in refs:
            # vLLM's key, from the secret the agents send as AI_MODEL_API_KEY.
            refs[vllm.API_KEY_ENV] = self.target.default_secret(self, vllm.API_KEY_SECRET)
        return refs

    def server_args(self, port: int, model_path: str | None = None) -> list[str]:
        """The server's arguments (ours or `vllm serve`'s), listening on port."""
        path = model_path or self.model_path
        if self.server_type == "vllm":
            return vllm.vllm_args(
                model_path=path,
                model_id=self.model_id,
                host=self.host,
                port=port,
                gpu_count=self.gpu_count,
                max_model_len=self.max_model_len,
            )
        return server_args(model_path=path, model_type=self.model_type, host=self.host, port=port)

    def server_env(self, port: int | None, model_path: str | None = None) -> dict[str, str]:
        """The env the server needs besides env_vars (PORT left out when port is None)."""
        if self.server_type == "vllm":
            return vllm.vllm_env()
        return server_env(
            model_path=model_path or self.model_path,
            model_type=self.model_type,
            model_id=self.model_id,
            host=self.host,
            port=port,
        )

    @property
    def probe_paths(self) -> tuple[str, str]:
        """(ready, alive) health paths: vLLM listens only once loaded, so /health is both."""
        if self.server_type == "vllm":
            return vllm.HEALTH_PATH, vllm.HEALTH_PATH
        return READY_PATH, HEALTH_PATH

    def plain_env(self) -> dict[str, str]:
        """The env vars whose values may be written into a template."""
        return {k: v for k, v in sorted(self.env_vars.items()) if not is_secret_name(k)}


def kebab(name: str) -> str:
    """AI_MODEL_API_KEY -> ai-model-api-key."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def gib(value: float) -> str:
    """Format GiB as a Kubernetes-style quantity ('8Gi', '512Mi')."""
    mebibytes = round(value * 1024)
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


def number(value: float) -> str:
    """Format 2.0 as '2' and 0.5 as '0.5'."""
    return f"{value:g}"


class CloudTarget(DeploymentTarget[CloudConfig]):
    """A cloud provider: validates provider rules and writes template, script and Dockerfile."""

    command = "cloud"
    config_class = CloudConfig
    fields: tuple[str, ...] = ()  # which PROVIDER_FIELDS this provider reads

    @abstractmethod
    def validate(self, config: CloudConfig) -> list[FieldError]:
        """Return the provider's own rule violations (names, sizes, combinations)."""

    @abstractmethod
    def default_secret(self, config: CloudConfig, env_name: str) -> str:
        """Name the secret-store entry a secret-looking env var is read from."""

    def warn_model_source(self, config: CloudConfig) -> None:
        """Warn when nothing on the platform provides model_path."""
        if config.model_path and not (config.model_id or config.model_data_url):
            warn(
                f"model_path {config.model_path!r} is not provided by {self.name}: bake the model "
                "into the image, or set model_id to download it from the Hugging Face Hub"
            )

    def image(self, config: CloudConfig) -> list[OutputFile]:
        """The Dockerfile the deploy script builds."""
        self.warn_model_source(config)
        if config.server_type == "vllm":
            return vllm_image_files(
                title=config.name,
                base=config.vllm_image,
                host=config.host,
                port=config.port,
                entrypoint=list(vllm.COMMAND),
            )
        spec = ImageSpec.from_config(config, title=config.name)
        return image_files(spec)
