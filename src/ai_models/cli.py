"""``paissive-income models``: manage the model registry and run the model server.

    paissive-income models list | add NAME --source … --task … | remove NAME | info NAME
    paissive-income models pull NAME            # download a Hub model into the HF cache now
    paissive-income models serve --model-path /models/m --model-type text-generation --port 8000
    paissive-income models serve serve          # SageMaker: config from env, port 8080

Every ``serve`` option falls back to its environment variable (MODEL_PATH, MODEL_TYPE,
MODEL_ID, HOST, PORT, MAX_BATCH_SIZE, …). Bad values end with one line and exit status 1.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click
import yaml

from ai_models.backends import backend_names, backend_tasks
from ai_models.config import ModelServiceSettings, SettingsError, load_settings
from ai_models.registry import (
    ModelOptions,
    ModelRegistry,
    ModelSpec,
    RegistryError,
    default_backend,
    is_local_source,
    is_remote_source,
    parse_task,
    resolve_source,
)
from ai_models.serve_command import serve

TASK_CHOICES = ["text-generation", "chat", "embeddings", "text-classification"]


def _settings(**overrides: Any) -> ModelServiceSettings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _registry() -> ModelRegistry:
    return ModelRegistry(_settings().models_home)


@click.group()
def models() -> None:
    """Manage and serve AI models."""


models.add_command(serve)


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_models(as_json: bool) -> None:
    """List the models the service knows."""
    try:
        specs = _registry().list()
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        rows = [
            {**s.model_dump(mode="json", exclude_none=True), "builtin": s.builtin} for s in specs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    widths = [max(len(s.name) for s in specs) + 2, 21, 23]
    click.echo(f"{'NAME':<{widths[0]}}{'TASK':<{widths[1]}}{'BACKEND':<{widths[2]}}SOURCE")
    for s in specs:
        mark = "  (built-in)" if s.builtin else ""
        click.echo(
            f"{s.name:<{widths[0]}}{s.task.value:<{widths[1]}}{s.backend:<{widths[2]}}{s.source}{mark}"
        )


@models.command()
@click.argument("name")
@click.option("--source", required=True, help="Local folder, Hugging Face Hub id, or base URL.")
@click.option("--task", required=True, type=click.Choice(TASK_CHOICES))
@click.option("--backend", type=click.Choice(backend_names()), help="Default: from task/source.")
@click.option("--device", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", help="auto, float32, float16 or bfloat16.")
@click.option("--context-length", type=int, help="Cap on prompt + completion tokens.")
@click.option("--remote-model", help="Model name at the remote engine (openai-compatible).")
@click.option("--revision", help="Hub revision (branch, tag or commit).")
@click.option("--gguf-file", help="GGUF file name or glob in a hub repository or folder.")
@click.option("--replace", is_flag=True, help="Overwrite an existing entry of that name.")
def add(
    name: str, source: str, task: str, backend: str | None, replace: bool, **options: Any
) -> None:
    """Register a model."""
    try:
        chosen = parse_task(task)
        backend = backend or default_backend(chosen, source)
        if chosen not in backend_tasks(backend):
            raise RegistryError(f"the {backend} backend cannot serve {chosen.value} models")
        if is_remote_source(source) != (backend == "openai-compatible"):
            raise RegistryError("a URL source needs the openai-compatible backend, and only it")
        _check_local_source(source, backend)
        spec = ModelSpec(
            name=name,
            task=chosen,
            backend=backend,
            source=source,
            options=ModelOptions(**{k: v for k, v in options.items() if v is not None}),
        )
        _registry().add(spec, replace=replace)
    except (RegistryError, ValueError) as exc:
        raise click.ClickException(_one_line(exc)) from None
    click.echo(f"added {name} ({chosen.value}, {backend}, {source})")


def _check_local_source(source: str, backend: str) -> None:
    """Refuse a local source that is missing (a llama-cpp model may be one ``.gguf`` file)."""
    if not is_local_source(source):
        return
    path = resolve_source(source)
    if os.path.isdir(path):
        return
    if backend == "llama-cpp":
        if os.path.isfile(path) and path.lower().endswith(".gguf"):
            return
        raise RegistryError(f"--source {source}: no such .gguf file or folder")
    raise RegistryError(f"--source {source}: no such folder")


@models.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove a registered model (its files stay where they are)."""
    try:
        _registry().remove(name)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed {name}")


@models.command()
@click.argument("name")
def info(name: str) -> None:
    """Show a model's entry and where its files are."""
    try:
        spec = _registry().get(name)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    details = {**spec.model_dump(mode="json", exclude_none=True), "builtin": spec.builtin}
    details["files"] = _where(spec)
    click.echo(yaml.safe_dump(details, sort_keys=False).rstrip())


def _where(spec: ModelSpec) -> str:
    if is_remote_source(spec.source):
        return f"remote engine at {spec.source}"
    if is_local_source(spec.source):
        path = resolve_source(spec.source)
        return path if os.path.exists(path) else f"{path} (missing)"
    if spec.backend == "llama-cpp":
        return _where_gguf(spec)
    from huggingface_hub import constants, try_to_load_from_cache

    cached = try_to_load_from_cache(spec.source, "config.json", revision=spec.options.revision)
    state = "cached" if isinstance(cached, str) else "not downloaded yet"
    return f"Hugging Face Hub {spec.source}, {state} (cache {constants.HF_HUB_CACHE})"


def _where_gguf(spec: ModelSpec) -> str:
    """Say whether the GGUF file of a hub repository is in the local cache (no download)."""
    from huggingface_hub import constants

    from ai_models.backends.gguf_files import GgufSourceError, gguf_path

    try:
        path = gguf_path(spec, local_only=True)
    except GgufSourceError:
        return (
            f"Hugging Face Hub {spec.source} ({spec.options.gguf_file}), not downloaded yet "
            f"(cache {constants.HF_HUB_CACHE})"
        )
    return f"Hugging Face Hub {spec.source}, cached at {path}"


@models.command()
@click.argument("name")
def pull(name: str) -> None:
    """Download a model's files now (Hub models land in the Hugging Face cache)."""
    from ai_models.backends.gguf_files import GgufSourceError, gguf_path
    from ai_models.backends.loading import model_files
    from ai_models.errors import ModelLoadError

    try:
        spec = _registry().get(name)
        if is_remote_source(spec.source):
            raise RegistryError(f"{name} runs at a remote engine; there is nothing to download")
        path = gguf_path(spec) if spec.backend == "llama-cpp" else model_files(spec)
    except (RegistryError, ModelLoadError, GgufSourceError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{name}: {path}")


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    if hasattr(exc, "errors"):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        text = f"{loc}: {first['msg'].removeprefix('Value error, ')}"
    return text.splitlines()[0]
