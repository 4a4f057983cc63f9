"""Turn a growing list of token ids into text deltas without splitting characters.

The classic prefix/read-offset method (as in TGI and vLLM): decode a short window of tokens with
and without the newest ones and emit the difference, holding back while the tail is an
incomplete UTF-8 sequence. The window starts with the last prompt tokens so tokenizers that
strip a leading space (SentencePiece) produce the right first delta.
"""

from __future__ import annotations

from typing import Any

_PROMPT_CONTEXT = 5


class IncrementalDetokenizer:
    """Decode one sequence's tokens step by step."""

    def __init__(self, tokenizer: Any, prompt_ids: list[int]) -> None:
        self.tokenizer = tokenizer
        self.ids = list(prompt_ids[-_PROMPT_CONTEXT:])
        self.prefix_offset = 0
        self.read_offset = len(self.ids)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def step(self, token: int) -> str:
        """Add ``token``; return the text it completes (maybe empty)."""
        self.ids.append(token)
        prefix = self._decode(self.ids[self.prefix_offset : self.read_offset])
        text = self._decode(self.ids[self.prefix_offset :])
        if len(text) > len(prefix) and not text.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return text[len(prefix) :]
        return ""

    def flush(self) -> str:
        """Return whatever text is still held back (at the end of the sequence)."""
        prefix = self._decode(self.ids[self.prefix_offset : self.read_offset])
        text = self._decode(self.ids[self.prefix_offset :])
        self.prefix_offset = self.read_offset = len(self.ids)
        return text[len(prefix) :] if len(text) > len(prefix) else ""
