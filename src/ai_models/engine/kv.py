"""A batch of sequences decoding together: left-padded inputs, attention mask and KV cache.

The scheduler uses it for models the slotted cache (``slots.SlotBatch``) does not support.

Rows can leave (``drop``) and batches can be stacked (``merge``) between steps. Both cut or pad
the KV cache along its batch and sequence axes, which is safe for transformers' plain
``DynamicLayer`` caches; for other cache layouts (sliding windows, quantised caches) merging is
switched off and finished rows leave through the cache's own ``batch_select_indices``.

Invariant, after every method: each per-row tensor (inputs, mask, positions, every cache layer)
has exactly ``size`` rows, in the order of ``sequences``, and the mask is as wide as the cache.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ai_models.engine.sequence import Sequence


def _forward_kwargs(model: Any) -> tuple[str, str | None]:
    """Return the names the model's forward uses for the cache and for logits trimming."""
    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache_kw, keep_kw


def _new_cache(model: Any) -> Any:
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)
    except TypeError:  # older transformers
        return DynamicCache()


def _plain_layers(cache: Any) -> list[Any] | None:
    """Return the cache's layers when all are plain dynamic layers we may cut and pad."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return None
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return None
    return layers


def _filled(layer: Any) -> bool:
    """Tell whether a cache layer holds its [rows, heads, length, dim] keys and values yet."""
    return layer.is_initialized and layer.keys is not None and layer.keys.dim() == 4


class Batch:
    """Sequences decoding in lock-step, with their padded state on the model's device."""

    def __init__(self, model: Any, sequences: list[Sequence], *, device: torch.device) -> None:
        self.model = model
        self.sequences = sequences
        self.device = device
        self.cache = _new_cache(model)
        self.cache_kw, self.keep_kw = _forward_kwargs(model)
        self.mask = torch.zeros((0, 0), dtype=torch.long, device=device)
        self.inputs = self.mask
        self.positions = self.mask
        self._prompt_mask = self.mask

    @classmethod
    def from_prompts(
        cls, model: Any, sequences: list[Sequence], *, pad_id: int, device: torch.device
    ) -> Batch:
        """Left-pad the prompts of ``sequences`` into a batch ready for prefill."""
        batch = cls(model, sequences, device=device)
        width = max(len(seq.prompt_ids) for seq in sequences)
        inputs = torch.full((len(sequences), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            inputs[row, width - len(seq.prompt_ids) :] = torch.tensor(seq.prompt_ids)
            mask[row, width - len(seq.prompt_ids) :] = 1
        batch.inputs = inputs.to(device)
        batch.mask = torch.zeros((len(sequences), 0), dtype=torch.long, device=device)
        batch.positions = (mask.cumsum(-1) - 1).clamp(min=0).to(device)
        batch._prompt_mask = mask.to(device)
        return batch

    @property
    def size(self) -> int:
        """Return the number of rows."""
        return len(self.sequences)

    @property
    def can_merge(self) -> bool:
        """Tell whether other batches can be stacked onto this one."""
        return _plain_layers(self.cache) is not None

    def _call(self, inputs: torch.Tensor, new_mask: torch.Tensor) -> torch.Tensor:
        mask = torch.cat([self.mask, new_mask], dim=1)
        kwargs = {self.cache_kw: self.cache}
        if self.keep_kw:
            kwargs[self.keep_kw] = 1
        out = self.model(
            input_ids=inputs,
            attention_mask=mask,
            position_ids=self.positions,
            use_cache=True,
            **kwargs,
        )
        self.mask = mask
        return out.logits[:, -1, :]

    def prefill(self) -> torch.Tensor:
        """Run the prompts; return the next-token logits of each row."""
        return self._call(self.inputs, self._prompt_mask)

    def forward(self) -> torch.Tensor:
        """Feed each row its last token; return the next-token logits."""
        ones = torch.ones((self.size, 1), dtype=torch.long, device=self.device)
        return self._call(self.inputs, ones)

    def set_next_tokens(self, tokens: list[int]) -> None:
        """Make ``tokens`` the input of the next step."""
        self.inputs = torch.tensor(tokens, dtype=torch.long, device=self.device).unsqueeze(-1)
        self.positions = self.positions[:, -1:] + 1

    def drop(self, rows: list[int]) -> None:
        """Remove ``rows`` (finished or cancelled sequences) from the batch."""
        if not rows:
            return
        gone = set(rows)
        keep = [i for i in range(self.size) if i not in gone]
        self.sequences = [self.sequences[i] for i in keep]
        # Cut every per-row tensor even when no row is left: a batch emptied in name only kept
        # its old rows, and the next merge stacked them back under live ones (issue 7).
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        self.inputs, self.mask = self.inputs[index], self.mask[index]
        self.positions = self.positions[index]
        layers = _plain_layers(self.cache)
        if layers is None:
            self.cache.batch_select_indices(index)
            return
        for layer in layers:
            if _filled(layer):
                layer.keys, layer.values = layer.keys[index], layer.values[index]
        self._trim(layers)

    def _trim(self, layers: list[Any]) -> None:
        """Cut leading columns that are padding in every row (all of them when no row is left)."""
        used = self.mask.any(dim=0).nonzero()
        start = int(used[0]) if used.numel() else self.mask.shape[1]
        if start:
            self.mask = self.mask[:, start:]
            for layer in layers:
                if _filled(layer):
                    layer.keys = layer.keys[:, :, start:, :]
                    layer.values = layer.values[:, :, start:, :]

    def merge(self, other: Batch) -> None:
        """Stack ``other``'s rows under ours, left-padding the shorter cache."""
        if not other.size:
            return
        mine, theirs = _plain_layers(self.cache), _plain_layers(other.cache)
        if mine is None or theirs is None:
            raise ValueError("only batches with plain dynamic caches can be merged")
        width = max(self.mask.shape[1], other.mask.shape[1])
        for a, b in zip(mine, theirs, strict=True):
            a.keys = torch.cat([_pad_left(a.keys, width, b.keys), _pad_left(b.keys, width)])
            a.values = torch.cat([_pad_left(a.values, width, b.values), _pad_left(b.values, width)])
        self.mask = torch.cat([_pad_left(self.mask, width), _pad_left(other.mask, width)], dim=0)
        self.inputs = torch.cat([self.inputs, other.inputs], dim=0)
        self.positions = torch.cat([self.positions, other.positions], dim=0)
        self.sequences = self.sequences + other.sequences


def _pad_left(
    tensor: torch.Tensor | None, width: int, like: torch.Tensor | None = None
) -> torch.Tensor:
    """Zero-pad the sequence axis (dim 2 of a 4-D cache tensor, dim 1 of a mask) to ``width``.

    An emptied cache layer (no rows, or never filled) takes its other dimensions from ``like``.
    """
    if like is not None and (tensor is None or tensor.dim() != like.dim()):
        shape = list(like.shape)
        shape[0], shape[2] = 0, width
        return like.new_zeros(shape)
    axis = 2 if tensor.dim() == 4 else 1
    missing = width - tensor.shape[axis]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)
