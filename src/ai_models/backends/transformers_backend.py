"""The ``transformers`` backend: causal LMs (chat, completions) and sequence classifiers, on CPU
or GPU, from a local folder or a Hugging Face Hub id."""

from __future__ import annotations

import copy
import logging
from typing import Any

from ai_models.backends import register
from ai_models.backends.base import (
    Backend,
    RequestContext,
    ServedModel,
    check_lengths,
    run_batched,
)
from ai_models.backends.loading import (
    check_architecture,
    configure_cpu_threads,
    dtype_kwargs,
    load_errors,
    model_files,
    pick_device,
    pick_dtype,
    pretrained_source,
)
from ai_models.backends.local_generator import LocalGenerator
from ai_models.config import ModelServiceSettings
from ai_models.engine.batcher import DynamicBatcher
from ai_models.errors import InvalidRequestError
from ai_models.metrics import ModelMetrics
from ai_models.registry import ModelSpec, Task

logger = logging.getLogger(__name__)
_FALLBACK_CONTEXT = 2048


def context_length(config: Any, tokenizer: Any, *limits: int | None) -> int:
    """Return the usable context: the model's own, cut by any configured limit."""
    own = getattr(config, "max_position_embeddings", None)
    tokenizer_max = getattr(tokenizer, "model_max_length", None)
    if not own and tokenizer_max and tokenizer_max < 1_000_000:
        own = tokenizer_max
    return min([own or _FALLBACK_CONTEXT, *[limit for limit in limits if limit]])


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Return every token id that ends a generation (generation config and tokenizer EOS)."""
    ids: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(value)
    return sorted(ids)


@register
class TransformersBackend(Backend):
    """Load causal LMs and classifiers with Hugging Face transformers."""

    name = "transformers"
    tasks = (Task.TEXT_GENERATION, Task.TEXT_CLASSIFICATION)

    def load(
        self, spec: ModelSpec, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> ServedModel:
        """Load ``spec`` as a generator or a classifier."""
        if spec.task not in self.tasks:
            raise InvalidRequestError(f"the transformers backend does not serve {spec.task.value}")
        path = model_files(spec)
        device = pick_device(spec.options.device or settings.device)
        configure_cpu_threads(device, settings.cpu_threads)
        with load_errors(spec, path, device):
            config = check_architecture(spec, path)
            from transformers import AutoTokenizer

            folder, options = pretrained_source(path)
            tokenizer = AutoTokenizer.from_pretrained(folder, **options)
            dtype = pick_dtype(spec.options.dtype or settings.dtype, device)
            if spec.task is Task.TEXT_GENERATION:
                return self._generator(
                    spec, settings, metrics, path, config, tokenizer, device, dtype
                )
            return self._classifier(spec, settings, metrics, path, config, tokenizer, device, dtype)

    @staticmethod
    def _generator(spec, settings, metrics, path, config, tokenizer, device, dtype) -> ServedModel:
        from transformers import AutoModelForCausalLM

        from ai_models.engine.generation import GenerationEngine
        from ai_models.engine.grammar import JsonGrammar

        folder, options = pretrained_source(path)
        model = AutoModelForCausalLM.from_pretrained(folder, **options, **dtype_kwargs(dtype))
        model = model.to(device).eval()
        stops = stop_token_ids(model, tokenizer)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        vocab_size = model.get_output_embeddings().weight.shape[0]
        engine = GenerationEngine(
            model,
            tokenizer,
            stop_token_ids=stops,
            max_batch_size=settings.max_batch_size,
            batch_wait_s=settings.batch_wait_s,
            max_queue=settings.max_queue_size,
            metrics=metrics,
            prefix_cache_bytes=settings.prefix_cache_mb * 2**20,
        )
        return LocalGenerator(
            spec,
            tokenizer=tokenizer,
            engine=engine,
            grammar=JsonGrammar(tokenizer, vocab_size=vocab_size, stop_token_ids=stops),
            context_length=context_length(
                config, tokenizer, spec.options.context_length, settings.max_model_len
            ),
            max_tokens=settings.max_tokens,
        )

    @staticmethod
    def _classifier(spec, settings, metrics, path, config, tokenizer, device, dtype) -> ServedModel:
        from transformers import AutoModelForSequenceClassification

        folder, options = pretrained_source(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, **options, **dtype_kwargs(dtype)
        )
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
        limit = context_length(
            config, tokenizer, spec.options.context_length, settings.max_model_len
        )
        return LocalClassifier(spec, model.to(device).eval(), tokenizer, limit, settings, metrics)


class LocalClassifier(ServedModel):
    """A sequence classifier behind a dynamic batcher."""

    def __init__(self, spec, model, tokenizer, limit: int, settings, metrics) -> None:
        super().__init__(spec)
        self.model, self.tokenizer, self.context_length = model, tokenizer, limit
        self.counter = copy.deepcopy(
            tokenizer
        )  # for the event loop: tokenizers are not thread-safe
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        self.batcher = DynamicBatcher(
            self._classify_batch,
            task="classification",
            max_batch_size=settings.max_batch_size,
            batch_wait_s=settings.batch_wait_s,
            max_queue=settings.max_queue_size,
            metrics=metrics,
        )

    def _classify_batch(self, texts: list[str]) -> list[tuple[str, list[float]]]:
        import torch

        with torch.inference_mode():
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt").to(self.model.device)
            probs = self.model(**inputs).logits.float().softmax(dim=-1).cpu()
        return [(self.labels[int(row.argmax())], row.tolist()) for row in probs]

    async def classify(
        self, inputs: list[str], ctx: RequestContext
    ) -> tuple[list[tuple[str, list[float]]], int]:
        """Classify each input text."""
        lengths = [len(ids) for ids in self.counter(inputs)["input_ids"]]
        check_lengths(lengths, self.context_length)
        results = await run_batched(self.batcher, inputs, ctx, sum(lengths))
        return results, sum(lengths)

    def describe(self) -> dict[str, Any]:
        """Return the labels and context length for ``/v1/models``."""
        return {"max_model_len": self.context_length, "labels": self.labels}

    def warm_up(self) -> None:
        """Classify one short text."""
        self._classify_batch(["warm-up"])

    def close(self) -> None:
        """Stop the batcher thread."""
        self.batcher.close()
