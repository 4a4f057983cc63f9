"""Which models a server serves: from ``MODEL_PATH``/``MODEL_ID``/``MODEL_TYPE`` for
``models serve``, or every registry entry (plus the configured defaults) in-process."""

from __future__ import annotations

import json
from pathlib import Path

from ai_models.config import ModelServiceSettings, SettingsError
from ai_models.registry import (
    ModelOptions,
    ModelRegistry,
    ModelSpec,
    Task,
    default_backend,
    is_local_source,
    is_remote_source,
    resolve_source,
)

_TASK_BY_SUFFIX = (
    ("ForSequenceClassification", Task.TEXT_CLASSIFICATION),
    ("ForCausalLM", Task.TEXT_GENERATION),
    ("LMHeadModel", Task.TEXT_GENERATION),
    ("ForConditionalGeneration", Task.TEXT_GENERATION),
)


def infer_task(source: str) -> Task | None:
    """Guess a local model's task from its files (modules.json, config.json architectures)."""
    if not is_local_source(source):
        return None
    folder = Path(resolve_source(source))
    if (folder / "modules.json").exists():
        return Task.EMBEDDINGS
    try:
        architectures = json.loads((folder / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        return None
    for arch in architectures:
        for suffix, task in _TASK_BY_SUFFIX:
            if arch.endswith(suffix):
                return task
    return None


def _name_for(source: str) -> str:
    if is_local_source(source):
        return Path(resolve_source(source)).name or "model"
    return source.rstrip("/").rsplit("/", 1)[-1] if is_remote_source(source) else source


def spec_from_source(
    source: str, *, task: Task | None, name: str | None = None, settings: ModelServiceSettings
) -> ModelSpec:
    """Build an unregistered spec for a folder, Hub id or URL."""
    task = task or infer_task(source) or Task.TEXT_GENERATION
    return ModelSpec(
        name=name or _name_for(source),
        task=task,
        backend=default_backend(task, source),
        source=source,
        options=ModelOptions(context_length=settings.max_model_len),
    )


def resolve_model(
    name_or_source: str,
    *,
    registry: ModelRegistry,
    task: Task | None,
    settings: ModelServiceSettings,
) -> ModelSpec:
    """Return the registry entry called ``name_or_source``, or a spec loading it as a source."""
    spec = registry.find(name_or_source)
    if spec is None:
        return spec_from_source(name_or_source, task=task, settings=settings)
    if task is not None and spec.task is not task:
        raise SettingsError(
            f"MODEL_TYPE={task.value}: registry model {spec.name!r} is a {spec.task.value} model"
        )
    return spec


def spec_for_serving(settings: ModelServiceSettings) -> ModelSpec:
    """Return the one model ``models serve`` serves, following the container env contract."""
    registry = ModelRegistry(settings.models_home)
    task = settings.model_type
    if settings.model_path:
        return spec_from_source(
            settings.model_path, task=task, name=settings.model_id, settings=settings
        )
    if settings.model_id:
        return resolve_model(settings.model_id, registry=registry, task=task, settings=settings)
    if task is Task.TEXT_CLASSIFICATION:
        raise SettingsError("MODEL_PATH: required for text-classification (no default model)")
    default = settings.embedding_model if task is Task.EMBEDDINGS else settings.chat_model
    return resolve_model(default, registry=registry, task=task, settings=settings)


def in_process_specs(settings: ModelServiceSettings) -> list[ModelSpec]:
    """Return every registry model plus the configured chat and embeddings defaults."""
    registry = ModelRegistry(settings.models_home)
    specs = registry.list()
    names = {spec.name for spec in specs} | {spec.source for spec in specs}
    for default, task in (
        (settings.chat_model, Task.TEXT_GENERATION),
        (settings.embedding_model, Task.EMBEDDINGS),
    ):
        if default not in names:
            spec = spec_from_source(default, task=task, settings=settings)
            if spec.name in {s.name for s in specs}:
                spec = spec.model_copy(update={"name": f"{spec.name}-{task.value}"})
            specs.append(spec)
    return specs
