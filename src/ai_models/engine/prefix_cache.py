"""Keys and values of prompt prefixes seen before, kept so a shared prefix is computed once.

A prompt is cut into blocks of ``block_size`` tokens. A block's entry is found by its parent
block's entry and its own tokens (compared exactly, so two prompts share a block only when every
token before and in it is the same), and holds that block's keys and values for every layer
(``[layers, 2, kv_heads, block_size, head_dim]``). Positions are absolute, so a block is only
ever reused at the place it was computed. Entries are evicted least recently used first, leaves
before their prefixes, once the cache holds more than ``max_bytes``.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

_Key = tuple[int, tuple[int, ...]]


class PrefixCache:
    """An LRU map from token-block chains to their keys and values, bounded in bytes."""

    def __init__(self, max_bytes: int, *, block_size: int = 16) -> None:
        self.max_bytes = max_bytes
        self.block_size = block_size
        self.bytes = 0
        self._entries: collections.OrderedDict[_Key, tuple[int, torch.Tensor]] = (
            collections.OrderedDict()
        )
        self._next_id = 1
        self.hit_tokens = 0  # prompt tokens served from the cache
        self.seen_tokens = 0  # prompt tokens looked up

    def __len__(self) -> int:
        return len(self._entries)

    def _chain(self, prompt: list[int], blocks: int):
        """Yield each of the first ``blocks`` blocks' key (stopping at the first one not held)."""
        parent, size = 0, self.block_size
        for index in range(blocks):
            key = (parent, tuple(prompt[index * size : (index + 1) * size]))
            entry = self._entries.get(key)
            if entry is None:
                return
            yield key, entry
            parent = entry[0]

    def lookup(self, prompt: list[int]) -> list[torch.Tensor]:
        """Return the held blocks that start ``prompt``; at least one token is left to compute."""
        self.seen_tokens += len(prompt)
        usable = (len(prompt) - 1) // self.block_size
        found = list(self._chain(prompt, usable))
        for key, _ in reversed(found):  # a prefix stays fresher than the blocks after it
            self._entries.move_to_end(key)
        self.hit_tokens += len(found) * self.block_size
        return [block for _, (_, block) in found]

    def store(self, prompt: list[int], read: Callable[[int, int], torch.Tensor]) -> None:
        """Keep the full blocks of ``prompt``; ``read(start, stop)`` copies their cache."""
        if self.max_bytes <= 0:
            return
        parent, size = 0, self.block_size
        keys = []
        for index in range(len(prompt) // size):
            key = (parent, tuple(prompt[index * size : (index + 1) * size]))
            entry = self._entries.get(key)
            if entry is None:
                block = read(index * size, (index + 1) * size)
                entry = (self._next_id, block)
                self._next_id += 1
                self._entries[key] = entry
                self.bytes += block.numel() * block.element_size()
            keys.append(key)
            parent = entry[0]
        for key in reversed(keys):
            self._entries.move_to_end(key)
        self._evict()

    def _evict(self) -> None:
        while self.bytes > self.max_bytes and self._entries:
            _, (_, block) = self._entries.popitem(last=False)
            self.bytes -= block.numel() * block.element_size()

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.bytes = 0
