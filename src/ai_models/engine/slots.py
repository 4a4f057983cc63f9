"""A batch whose KV cache has a slot per sequence: newcomers join without re-stacking the batch.

Every layer's keys and values live in one preallocated tensor
``[layers, 2, slots, kv_heads, capacity, head_dim]``; row ``i`` of the running batch owns slot
``i``, and its token at position ``p`` sits in column ``p`` of that slot. Each forward pass writes
its new keys and values straight into their columns (``SlotCache.update``, called by the model's
attention layers) and attends through a mask built from each row's own length, so:

* a newcomer's prompt is prefilled into a free slot; the running rows are not touched;
* a leaving row frees its slot by moving the last row's filled columns into it (one copy);
* both dimensions grow by doubling when a step needs more room.

A joining prompt may start from cached prefix blocks (``PrefixCache``): they are copied into its
slot and only the rest of the prompt is computed. Prompts that join together are left-padded to
the longest remainder; a pad token is written just after its row's real tokens (a column the
row overwrites on its next step) and is never attended to by a real token.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ai_models.engine.prefix_cache import PrefixCache
    from ai_models.engine.sequence import Sequence

# Model types whose decoder layers take the cache through ``cache.update`` and a 4-D mask as is.
_SUPPORTED = {"llama", "qwen2", "qwen3", "mistral", "phi3", "granite", "olmo2", "smollm3"}
_MIN_CAPACITY = 64


def supports_slots(model: Any) -> bool:
    """Tell whether ``model`` can run on a slotted cache (full attention, sdpa or eager)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in _SUPPORTED:
        return False
    if getattr(config, "_attn_implementation", None) not in ("sdpa", "eager"):
        return False
    layer_types = getattr(config, "layer_types", None) or ["full_attention"]
    if any(kind != "full_attention" for kind in layer_types):
        return False
    return not getattr(config, "use_sliding_window", False)


def _takes_mask_mapping(model: Any) -> bool:
    """Tell whether the model's decoder accepts its masks as a ready mapping by layer type."""
    decoder = getattr(model, "model", None)
    try:
        source = inspect.getsource(type(decoder).forward)
    except (OSError, TypeError):
        return False
    return "isinstance(causal_mask_mapping := attention_mask, dict)" in source


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


class SlotCache:
    """The KV tensor of a slotted batch; the model calls ``update`` once per layer per step."""

    def __init__(self, model: Any, *, dtype: torch.dtype, device: torch.device) -> None:
        config = model.config
        heads = config.num_attention_heads
        self.layers = config.num_hidden_layers
        self.kv_heads = getattr(config, "num_key_value_heads", None) or heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        self.dtype, self.device = dtype, device
        self.data = torch.zeros(
            (self.layers, 2, 0, self.kv_heads, 0, self.head_dim), dtype=dtype, device=device
        )
        # Set for each forward pass: the slots it runs, the column of each of its tokens, and
        # how many columns attention reads.
        self._first = 0
        self._rows = torch.zeros((0, 1), dtype=torch.long)
        self._cols = torch.zeros((0, 1), dtype=torch.long)
        self._width = 0

    @property
    def slots(self) -> int:
        """Return how many rows the tensor holds."""
        return self.data.shape[2]

    @property
    def capacity(self) -> int:
        """Return how many positions each slot holds."""
        return self.data.shape[4]

    def reserve(self, slots: int, capacity: int, *, max_slots: int) -> None:
        """Grow (by doubling) until ``slots`` rows of ``capacity`` positions fit."""
        if slots <= self.slots and capacity <= self.capacity:
            return
        new_slots = max(self.slots, min(max_slots, _pow2_at_least(slots)), slots)
        new_capacity = self.capacity
        if capacity > new_capacity:
            new_capacity = max(_MIN_CAPACITY, 2 * new_capacity, _pow2_at_least(capacity))
        data = self.data.new_zeros(
            (self.layers, 2, new_slots, self.kv_heads, new_capacity, self.head_dim)
        )
        data[:, :, : self.slots, :, : self.capacity] = self.data
        self.data = data

    def bytes(self) -> int:
        """Return the size of the KV tensor in bytes."""
        return self.data.numel() * self.data.element_size()

    def prepare(self, first: int, cols: torch.Tensor) -> None:
        """Make the next forward pass write rows ``first…`` at columns ``cols`` [rows, tokens]."""
        count = cols.shape[0]
        self._first = first
        self._rows = torch.arange(first, first + count, device=self.device).unsqueeze(-1)
        self._cols = cols
        self._width = int(cols.max()) + 1

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write this step's keys and values into their columns; return the rows' full cache."""
        keys, values = self.data[layer_idx, 0], self.data[layer_idx, 1]
        keys[self._rows, :, self._cols] = key_states.transpose(1, 2).to(self.dtype)
        values[self._rows, :, self._cols] = value_states.transpose(1, 2).to(self.dtype)
        stop = self._first + self._cols.shape[0]
        return (
            keys[self._first : stop, :, : self._width],
            values[self._first : stop, :, : self._width],
        )

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Return the widest row's length (only used by models when positions are not given)."""
        return self._width

    def copy_row(self, dst: int, src: int, length: int) -> None:
        """Copy the first ``length`` columns of slot ``src`` into slot ``dst``."""
        self.data[:, :, dst, :, :length] = self.data[:, :, src, :, :length]

    def read(self, slot: int, start: int, stop: int) -> torch.Tensor:
        """Return a copy of columns ``start:stop`` of ``slot``: [layers, 2, heads, n, dim]."""
        return self.data[:, :, slot, :, start:stop].clone()

    def write(self, slot: int, start: int, block: torch.Tensor) -> None:
        """Put ``block`` ([layers, 2, heads, n, dim]) at columns ``start…`` of ``slot``."""
        self.data[:, :, slot, :, start : start + block.shape[3]] = block


class SlotBatch:
    """Sequences decoding in lock-step on a ``SlotCache``; row ``i`` owns slot ``i``."""

    can_merge = True

    def __init__(
        self,
        model: Any,
        *,
        pad_id: int,
        max_slots: int,
        device: torch.device,
        prefix_cache: PrefixCache | None = None,
    ) -> None:
        self.model = model
        self.pad_id = pad_id
        self.max_slots = max_slots
        self.device = device
        self.prefix_cache = prefix_cache
        dtype = next(model.parameters()).dtype
        self.cache = SlotCache(model, dtype=dtype, device=device)
        self.eager = model.config._attn_implementation == "eager"
        self.mask_dtype = dtype
        self.mask_mapping = _takes_mask_mapping(model)
        self.sequences: list[Sequence] = []
        self.lengths: list[int] = []  # positions cached per row
        self.next_tokens: list[int] = []  # each row's input at the next decode step

    @property
    def size(self) -> int:
        """Return the number of rows."""
        return len(self.sequences)

    def _run(
        self, first: int, inputs: torch.Tensor, cols: torch.Tensor, *, full: bool = False
    ) -> torch.Tensor:
        """Run ``inputs`` [rows, tokens] as slots ``first…`` writing ``cols``; last-token logits.

        ``full``: each row has one token and attends to every column, so where the model takes
        its masks as a mapping it runs without one (attention's unmasked, faster kernels).
        """
        self.cache.prepare(first, cols)
        if full and self.mask_mapping:
            mask: Any = {"full_attention": None}
        else:
            columns = torch.arange(self.cache._width, device=self.device)
            mask = (columns <= cols.unsqueeze(-1)).unsqueeze(1)  # [rows, 1, tokens, width]
            if self.eager:
                zero = torch.zeros((), dtype=self.mask_dtype, device=self.device)
                mask = torch.where(mask, zero, torch.finfo(self.mask_dtype).min)
        out = self.model(
            input_ids=inputs,
            attention_mask=mask,
            position_ids=cols,
            cache=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :]

    def forward(self) -> torch.Tensor:
        """Feed each row its last token; return the next-token logits."""
        count = self.size
        cols = torch.tensor(self.lengths, dtype=torch.long).unsqueeze(-1)
        self.cache.reserve(count, max(self.lengths) + 1, max_slots=self.max_slots)
        inputs = torch.tensor(self.next_tokens, dtype=torch.long).unsqueeze(-1)
        full = min(self.lengths) == max(self.lengths)  # e.g. a single row
        logits = self._run(0, inputs.to(self.device), cols.to(self.device), full=full)
        self.lengths = [length + 1 for length in self.lengths]
        return logits

    def add(self, joining: list[Sequence]) -> torch.Tensor:
        """Prefill ``joining`` into new slots after the running rows; return their logits."""
        first, count = self.size, len(joining)
        prefixes = [self._cached_prefix(seq) for seq in joining]
        size = self.prefix_cache.block_size if self.prefix_cache is not None else 0
        reused = [len(blocks) * size for blocks in prefixes]
        rest = [len(seq.prompt_ids) - done for seq, done in zip(joining, reused, strict=True)]
        width = max(rest)
        inputs = torch.full((count, width), self.pad_id, dtype=torch.long)
        cols = torch.empty((count, width), dtype=torch.long)
        for row, (seq, done, todo) in enumerate(zip(joining, reused, rest, strict=True)):
            inputs[row, width - todo :] = torch.tensor(seq.prompt_ids[done:])
            cols[row, width - todo :] = torch.arange(done, done + todo)
            # pads go just after the row's real tokens: columns its next step overwrites
            cols[row, : width - todo] = torch.arange(done + todo, done + width)
        self.cache.reserve(first + count, int(cols.max()) + 1, max_slots=self.max_slots)
        for row, blocks in enumerate(prefixes):
            for index, block in enumerate(blocks):
                self.cache.write(first + row, index * size, block)
        logits = self._run(first, inputs.to(self.device), cols.to(self.device))
        self.sequences += joining
        self.lengths += [len(seq.prompt_ids) for seq in joining]
        self.next_tokens += [self.pad_id] * count
        if self.prefix_cache is not None:
            for row, seq in enumerate(joining):
                read = functools.partial(self.cache.read, first + row)
                self.prefix_cache.store(seq.prompt_ids, read)
        return logits

    def _cached_prefix(self, seq: Sequence) -> list[torch.Tensor]:
        """Return the cached blocks that start the prompt (one token is always left to run)."""
        if self.prefix_cache is None:
            return []
        return self.prefix_cache.lookup(seq.prompt_ids)

    def set_next_tokens(self, tokens: list[int], first: int = 0) -> None:
        """Make ``tokens`` the input of rows ``first…`` at the next step."""
        self.next_tokens[first:] = tokens

    def drop(self, rows: list[int]) -> None:
        """Remove ``rows``: the last rows move into the freed slots, so rows stay contiguous."""
        if not rows:
            return
        gone = set(rows)
        keep = [i for i in range(self.size) if i not in gone]
        holes = [i for i in range(len(keep)) if i in gone]
        movers = [i for i in keep if i >= len(keep)]
        order = list(range(len(keep)))
        for hole, mover in zip(holes, movers, strict=True):
            self.cache.copy_row(hole, mover, self.lengths[mover])
            order[hole] = mover
        self.sequences = [self.sequences[i] for i in order]
        self.lengths = [self.lengths[i] for i in order]
        self.next_tokens = [self.next_tokens[i] for i in order]
