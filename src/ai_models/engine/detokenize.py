"""Turn a growing list of token ids into text deltas without splitting characters.

With a fast tokenizer this is ``tokenizers``' ``DecodeStream`` (Rust, one call per token), primed
with the last prompt tokens so tokenizers that strip a leading space (SentencePiece) produce the
right first delta; it holds back while the tail is an incomplete UTF-8 sequence. Tokenizers
without a fast version, or whose decoding cleans up spaces (which ``DecodeStream`` does not), use
the classic prefix/read-offset method (as in TGI and vLLM): decode a short window of tokens with
and without the newest ones and emit the difference.
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
        self.stream = _decode_stream(tokenizer, self.ids)
        if self.stream is not None:
            self.backend = tokenizer.backend_tokenizer

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def step(self, token: int) -> str:
        """Add ``token``; return the text it completes (maybe empty)."""
        self.ids.append(token)
        if self.stream is not None:
            text = self.stream.step(self.backend, token)
            if text:
                self.read_offset = len(self.ids)
            return text or ""
        prefix = self._decode(self.ids[self.prefix_offset : self.read_offset])
        text = self._decode(self.ids[self.prefix_offset :])
        if len(text) > len(prefix) and not text.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return text[len(prefix) :]
        return ""

    def flush(self) -> str:
        """Return whatever text is still held back (at the end of the sequence)."""
        if self.stream is not None:
            self.prefix_offset = max(0, self.read_offset - _PROMPT_CONTEXT)
        prefix = self._decode(self.ids[self.prefix_offset : self.read_offset])
        text = self._decode(self.ids[self.prefix_offset :])
        self.prefix_offset = self.read_offset = len(self.ids)
        return text[len(prefix) :] if len(text) > len(prefix) else ""


def _decode_stream(tokenizer: Any, prompt_ids: list[int]) -> Any:
    """Return a ``DecodeStream`` primed with ``prompt_ids``, or None where it would differ."""
    if not getattr(tokenizer, "is_fast", False) or getattr(
        tokenizer, "clean_up_tokenization_spaces", False
    ):
        return None
    from tokenizers.decoders import DecodeStream

    return DecodeStream(ids=prompt_ids, skip_special_tokens=True)
