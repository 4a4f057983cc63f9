"""Kubernetes target config: what the manifests in kubernetes_manifests.py are built from."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AliasChoices, Field

from . import vllm
from .base import ServingConfig
from .errors import FieldError, show
from .fields import (
    CleanPath,
    Count,
    CpuQuantity,
    Dns1035Label,
    DnsLabel,
    DnsSubdomain,
    EnvName,
    EnvValue,
    GpuCount,
    Host,
    HubModelId,
    ImageReference,
    LabelKey,
    LabelValue,
    MaxModelLen,
    MemoryQuantity,
    ModelType,
    Port,
    ServerType,
    Text,
    cpu_cores,
    is_floating,
    memory_bytes,
)
from .server import STARTUP_SECONDS, mount_conflicts

_WILDCARD_HOST = re.compile(
    r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+"
)
_INGRESS_PATH = re.compile(r"/|(/[A-Za-z0-9._~-]+)+/?")


class KubernetesVolume(ServingConfig):
    """A pod volume mounted into the model server (hostPath is refused by restricted pods)."""

    type: Literal["persistentVolumeClaim", "configMap", "secret", "emptyDir"]
    source: DnsSubdomain | None = None
    target: CleanPath
    read_only: bool = False
    size_limit: MemoryQuantity | None = None

    def cross_field_errors(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if self.type == "emptyDir":
            if self.source is not None:
                errors.append(("source", "an emptyDir volume takes no source"))
        elif self.source is None:
            errors.append(("source", f"a {self.type} volume needs a source (its object's name)"))
        if self.size_limit is not None and self.type != "emptyDir":
            errors.append(("size_limit", "only applies to emptyDir volumes"))
        return errors


class Toleration(ServingConfig):
    """A pod toleration, with Kubernetes' own field names also accepted."""

    key: LabelKey | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("toleration_seconds", "tolerationSeconds")
    )

    def cross_field_errors(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if self.operator == "Exists" and self.value is not None:
            errors.append(("value", "must be empty when operator is Exists"))
        if self.key is None and self.operator != "Exists":
            errors.append(("operator", "must be Exists when no key is given"))
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            errors.append(("toleration_seconds", "only applies to the NoExecute effect"))
        return errors

    def manifest(self) -> dict:
        """The toleration as the pod spec spells it."""
        body = {
            "key": self.key,
            "operator": self.operator,
            "value": self.value,
            "effect": self.effect,
        }
        body["tolerationSeconds"] = self.toleration_seconds
        return {name: value for name, value in body.items() if value is not None}


class KubernetesConfig(ServingConfig):
    """How to run the model server on Kubernetes."""

    name: Dns1035Label
    namespace: DnsLabel = "default"
    image: ImageReference | None = None  # required for "rest"; "vllm" runs vllm_image
    replicas: Count = 1
    server_type: ServerType = "rest"
    port: Port = 8000
    cpu_request: CpuQuantity = "500m"
    cpu_limit: CpuQuantity = "1"
    memory_request: MemoryQuantity = "1Gi"
    memory_limit: MemoryQuantity = "4Gi"
    env_vars: dict[EnvName, EnvValue] = Field(default_factory=dict)
    volumes: list[KubernetesVolume] = Field(default_factory=list)
    enable_hpa: bool = False
    min_replicas: Count = 1
    max_replicas: Count = 5
    target_cpu_utilization: int = Field(default=80, ge=1, le=100)
    target_memory_utilization: int | None = Field(default=None, ge=1, le=100)
    model_path: CleanPath | None = None
    model_type: ModelType | None = None
    model_id: HubModelId | None = None
    host: Host = "0.0.0.0"
    gpu_count: GpuCount = 0
    strategy: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    node_port: int | None = Field(default=None, ge=30000, le=32767)
    enable_ingress: bool = False
    ingress_host: str | None = None
    ingress_path: str = "/"
    ingress_tls_secret: DnsSubdomain | None = None
    ingress_class_name: DnsSubdomain | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    create_namespace: bool = True
    secret_name: DnsSubdomain | None = None
    startup_timeout_seconds: int = Field(default=STARTUP_SECONDS, ge=10, le=86400)
    annotations: dict[LabelKey, Text] = Field(default_factory=dict)
    max_model_len: MaxModelLen | None = None
    vllm_image: ImageReference = vllm.VLLM_IMAGE
    # vllm + enable_hpa: scale out when more than this many requests wait per pod on average.
    target_waiting_requests: int = Field(default=5, ge=1, le=100_000)

    def cross_field_errors(self) -> list[FieldError]:
        errors = super().cross_field_errors()
        if self.server_type == "rest" and self.image is None:
            errors.append(("image", "is required (the image that runs the model server)"))
        errors += vllm.config_errors(
            server_type=self.server_type,
            gpu_count=self.gpu_count,
            model_type=self.model_type,
            env_names=list(self.env_vars),
            rest_only=self.given("image", "target_cpu_utilization"),
            vllm_only=self.given("max_model_len", "vllm_image", "target_waiting_requests"),
        )
        if self.server_type == "vllm" and not (self.model_path or self.model_id):
            errors.append(("model_path", "set model_path or model_id so vLLM knows what to load"))
        if cpu_cores(self.cpu_request) > cpu_cores(self.cpu_limit):
            errors.append(
                ("cpu_request", f"{self.cpu_request} is above cpu_limit {self.cpu_limit}")
            )
        if memory_bytes(self.memory_request) > memory_bytes(self.memory_limit):
            errors.append(
                (
                    "memory_request",
                    f"{self.memory_request} is above memory_limit {self.memory_limit}",
                )
            )
        if self.replicas < 1 and not self.enable_hpa:
            errors.append(("replicas", "must be at least 1"))
        if self.enable_hpa:
            if self.min_replicas < 1:
                errors.append(("min_replicas", "must be at least 1"))
            if self.min_replicas > self.max_replicas:
                errors.append(("min_replicas", f"{self.min_replicas} is above max_replicas"))
        if self.host not in ("0.0.0.0", "::"):
            errors.append(("host", "must be 0.0.0.0 or :: so probes and the Service reach the pod"))
        if self.node_port is not None and self.service_type == "ClusterIP":
            errors.append(("node_port", "needs service_type NodePort or LoadBalancer"))
        errors += self._ingress_errors()
        errors += mount_conflicts([volume.target for volume in self.volumes])
        return errors

    def _ingress_errors(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if self.ingress_host is not None and not _WILDCARD_HOST.fullmatch(self.ingress_host):
            errors.append(("ingress_host", f"{show(self.ingress_host)} is not a DNS name"))
        if not _INGRESS_PATH.fullmatch(self.ingress_path):
            errors.append(("ingress_path", f"{show(self.ingress_path)} is not a path like /v1"))
        if self.ingress_tls_secret is not None and self.ingress_host is None:
            errors.append(("ingress_tls_secret", "needs ingress_host (the certificate's name)"))
        return errors

    @property
    def effective_secret_name(self) -> str:
        """The Secret holding secret-looking env values (created by the operator)."""
        return self.secret_name or f"{self.name}-secrets"

    @property
    def container_image(self) -> str:
        """The image the model server container runs."""
        if self.server_type == "vllm":
            return self.vllm_image
        assert self.image is not None  # cross_field_errors() requires it
        return self.image

    @property
    def effective_pull_policy(self) -> str:
        """Kubernetes' own default: Always for :latest or untagged images, else IfNotPresent."""
        if self.image_pull_policy:
            return self.image_pull_policy
        return "Always" if is_floating(self.container_image) else "IfNotPresent"
