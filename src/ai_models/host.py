"""The models a server hosts: loading (eagerly at start, or lazily on first use), warm-up,
readiness, lookup by name."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ai_models.backends import ServedModel, get_backend
from ai_models.config import ModelServiceSettings
from ai_models.errors import ModelLoadError, ModelNotFoundError, ModelUnavailableError
from ai_models.metrics import ModelMetrics, ServerMetrics
from ai_models.registry import ModelSpec, resolve_source

logger = logging.getLogger(__name__)


class ModelEntry:
    """One hosted model and its loading state: pending, loading, ready or failed."""

    def __init__(self, spec: ModelSpec, metrics: ModelMetrics) -> None:
        self.spec = spec
        self.metrics = metrics
        self.state = "pending"
        self.model: ServedModel | None = None
        self.error: ModelLoadError | None = None
        self.lock = threading.Lock()
        self.created = int(time.time())


class ModelHost:
    """Own the served models; with ``lazy`` each loads on its first request."""

    def __init__(
        self,
        specs: list[ModelSpec],
        settings: ModelServiceSettings,
        metrics: ServerMetrics,
        *,
        lazy: bool = False,
        on_failure: Callable[[ModelLoadError], None] | None = None,
    ) -> None:
        self.settings = settings
        self.lazy = lazy
        self.on_failure = on_failure
        self.entries = {spec.name: ModelEntry(spec, metrics.for_model(spec.name)) for spec in specs}
        self.aliases: dict[str, str] = {}
        for spec in specs:
            self.aliases.setdefault(spec.source, spec.name)
            try:
                self.aliases.setdefault(resolve_source(spec.source), spec.name)
            except ImportError:
                pass
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Begin loading every model in the background (unless lazy)."""
        if not self.lazy:
            self._thread = threading.Thread(target=self._load_all, name="model-loader", daemon=True)
            self._thread.start()

    def _load_all(self) -> None:
        for entry in self.entries.values():
            try:
                self.load(entry)
            except ModelLoadError as exc:
                if self.on_failure:
                    self.on_failure(exc)
                return

    def load(self, entry: ModelEntry) -> ServedModel:
        """Load and warm up ``entry`` (blocking); raise ``ModelLoadError`` on failure."""
        with entry.lock:
            if entry.model is not None:
                return entry.model
            entry.state = "loading"
            spec = entry.spec
            started = time.monotonic()
            logger.info("loading model %s (%s, %s)", spec.name, spec.task.value, spec.backend)
            try:
                backend = get_backend(spec.backend)
                model = backend.load(spec, self.settings, entry.metrics)
                model.warm_up()
            except ModelLoadError as exc:
                entry.state, entry.error = "failed", exc
                logger.error("%s", exc)
                raise
            except Exception as exc:  # a backend bug or a warm-up failure: still one line
                entry.state = "failed"
                entry.error = ModelLoadError(spec.name, spec.source, f"{type(exc).__name__}: {exc}")
                logger.exception("loading model %s failed", spec.name)
                raise entry.error from None
            entry.model, entry.state, entry.error = model, "ready", None
            logger.info("model %s ready in %.1fs", spec.name, time.monotonic() - started)
            return model

    def entry(self, name: str) -> ModelEntry:
        """Return the entry served as ``name`` (or by its source); 404 if none."""
        entry = self.entries.get(name) or self.entries.get(self.aliases.get(name, ""))
        if entry is None:
            served = ", ".join(self.entries)
            raise ModelNotFoundError(
                f"the model {name!r} does not exist on this server (served: {served})",
                param="model",
            )
        return entry

    async def get(self, name: str) -> ServedModel:
        """Return the ready model ``name``, loading it first when lazy."""
        entry = self.entry(name)
        if entry.model is not None:
            return entry.model
        if self.lazy:
            return await asyncio.to_thread(self.load, entry)
        if entry.error is not None:
            raise entry.error
        raise ModelUnavailableError(
            f"model {entry.spec.name!r} is still loading; retry shortly",
            headers={"Retry-After": "5"},
        )

    @property
    def ready(self) -> bool:
        """Tell whether every model is loaded and warmed up (always true when lazy)."""
        return self.lazy or all(entry.state == "ready" for entry in self.entries.values())

    def states(self) -> dict[str, str]:
        """Return each model's loading state."""
        return {name: entry.state for name, entry in self.entries.items()}

    def describe(self) -> list[dict[str, Any]]:
        """Return the ``/v1/models`` entries."""
        models = []
        for name, entry in self.entries.items():
            item = {
                "id": name,
                "object": "model",
                "created": entry.created,
                "owned_by": "paissive-income",
                "task": entry.spec.task.value,
                "ready": entry.state == "ready",
            }
            if entry.model is not None:
                item.update(entry.model.describe())
            models.append(item)
        return models

    def close(self) -> None:
        """Release every loaded model."""
        for entry in self.entries.values():
            if entry.model is not None:
                entry.model.close()
