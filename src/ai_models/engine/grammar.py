"""Grammar-constrained JSON decoding with xgrammar, with a guaranteed ending.

``JsonGrammar`` compiles OpenAI ``response_format`` values (``json_object``, ``json_schema``) for
one tokenizer; each constrained sequence gets a ``GrammarState`` whose token bitmask limits the
logits to tokens that keep the output valid. Masking alone cannot stop a model (a tiny random one,
say) from rambling until ``max_tokens`` cuts the JSON short, so the state measures the shortest
way it knows to close the document — a greedy walk over the allowed tokens that prefers closing
quotes and brackets, simulated on a forked matcher — at the first step and again each time half
the spare budget is used. Once the spare budget is small, every sampled token is checked the same
way before it is taken: if the document could no longer close in time after it, the walk out
starts instead. The output therefore always parses and validates: within ``max_tokens`` whenever
the way out from the start fits in it, else past it by at most ``CLOSING_ALLOWANCE`` tokens
whenever the way out fits in that.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
import xgrammar as xgr

from ai_models.engine.schema_limits import PARAM, check_schema
from ai_models.errors import InvalidRequestError, QueueFullError

FIRST_CHECK = 1 << 62  # measure the way out at the first step (see update_closing)
CLOSING_ALLOWANCE = 256  # most tokens a completion may run past max_tokens to close the JSON
GUARD_MARGIN = 16  # within this many spare tokens, check each sampled token still lets it close
SEPARATORS = (", ", ": ")  # OpenAI's own spacing; the closing walk handles the spaces
_BIT_SHIFTS = torch.arange(32, dtype=torch.int32)
# Compiled grammars are cached (a repeated schema costs nothing), least recently used first out
# once the cache holds this many bytes: 64 distinct schemas once grew it by 83 MB.
GRAMMAR_CACHE_BYTES = 64 * 1024 * 1024
# A compile that passes the schema limits but still runs longer than this is refused. xgrammar
# cannot be interrupted, so it finishes in the background (and lands in the cache); one compile
# thread per model bounds what such schemas can take from the machine to one core.
COMPILE_TIMEOUT_S = 10.0


def _closing_rank(piece: bytes) -> float:
    """Rank a token's bytes by how fast it tends to finish a JSON document."""
    stripped = piece.strip()
    if stripped != piece and stripped:
        return _closing_rank(stripped) - 1.0  # same token with a leading space: slightly worse
    if piece == b'"':
        return 900.0
    if piece in (b"}", b"]"):
        return 890.0
    if piece and all(c in b'"}]' for c in piece):
        return 880.0 + len(piece)
    if piece == b":":
        return 700.0
    if piece == b",":
        return 400.0
    if piece.isdigit():
        return 350.0 - len(piece)
    if piece in (b"null", b"true", b"false"):
        return 340.0
    if piece.isalnum() and piece.isascii():
        return 300.0 - len(piece)
    if not stripped:
        return 0.0
    return 100.0 - len(piece)


def _json_safe(piece: bytes) -> bool:
    """Tell whether a token's bytes are whole UTF-8 characters without control characters."""
    try:
        piece.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return not any(byte < 0x20 for byte in piece)


class JsonGrammar:
    """Compile JSON grammars for one tokenizer and hand out per-sequence matcher states."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        vocab_size: int,
        stop_token_ids: list[int],
        cache_bytes: int = GRAMMAR_CACHE_BYTES,
        compile_timeout_s: float = COMPILE_TIMEOUT_S,
    ) -> None:
        self.vocab_size = vocab_size
        self.compile_timeout_s = compile_timeout_s
        self.info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids
        )
        self.compiler = xgr.GrammarCompiler(
            self.info, max_threads=2, cache_enabled=True, cache_limit_bytes=cache_bytes
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grammar-compile")
        # Special tokens decode to nothing; raw control characters are not allowed in JSON
        # strings (RFC 8259) though xgrammar's string rule lets them through; and a token that is
        # not valid UTF-8 on its own can combine into bytes (surrogates, overlong forms) that
        # decode to U+FFFD, breaking length limits. Forbid all three; \uXXXX escapes remain.
        special = set(getattr(tokenizer, "all_special_ids", [])) | set(
            getattr(tokenizer, "added_tokens_decoder", {})
        )
        control = {
            i
            for i, piece in enumerate(self.info.decoded_vocab[:vocab_size])
            if not _json_safe(piece)
        }
        self.forbidden = torch.tensor(
            sorted(i for i in (special | control) - set(stop_token_ids) if i < vocab_size),
            dtype=torch.long,
        )
        ranks = [_closing_rank(piece) for piece in self.info.decoded_vocab[:vocab_size]]
        ranks += [float("-inf")] * (vocab_size - len(ranks))
        self.rank = torch.tensor(ranks, dtype=torch.float32)
        self.rank[self.forbidden] = float("-inf")
        self.rank[torch.tensor(stop_token_ids, dtype=torch.long)] = 1000.0

    async def compile_within_deadline(
        self, response_format: dict[str, Any]
    ) -> xgr.CompiledGrammar | None:
        """Check the limits, then compile on the compile thread within ``compile_timeout_s``."""
        self.check(response_format)
        future = self._pool.submit(self.compile, response_format)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.compile_timeout_s)
        except TimeoutError:
            if future.cancel():  # never started: other schemas held the compile thread
                raise QueueFullError(
                    "the server is busy compiling other JSON schemas; retry later"
                ) from None
            raise InvalidRequestError(
                f"the JSON schema is too complex for this server: compiling it took longer than "
                f"{self.compile_timeout_s:g} s",
                param=PARAM,
            ) from None

    def check(self, response_format: dict[str, Any]) -> None:
        """Refuse an unknown format type, or a schema past the limits of ``schema_limits``."""
        kind = response_format.get("type", "text")
        if kind not in ("text", "json_object", "json_schema"):
            raise InvalidRequestError(
                f"response_format type {kind!r} is not supported (use text, json_object or "
                "json_schema)",
                param="response_format.type",
            )
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema", spec.get("schema_"))
            if not isinstance(schema, dict):
                raise InvalidRequestError(
                    "response_format.json_schema.schema must be a JSON schema object", param=PARAM
                )
            check_schema(schema)

    def compile(self, response_format: dict[str, Any]) -> xgr.CompiledGrammar | None:
        """Compile an OpenAI ``response_format`` (checked by ``check``); None for plain text."""
        kind = response_format.get("type", "text")
        if kind == "text":
            return None
        if kind == "json_object":
            return self.compiler.compile_json_schema(
                '{"type": "object"}', any_whitespace=False, strict_mode=False, separators=SEPARATORS
            )
        spec = response_format["json_schema"]
        schema = spec.get("schema", spec.get("schema_"))
        try:
            return self.compiler.compile_json_schema(
                json.dumps(schema), any_whitespace=False, strict_mode=True, separators=SEPARATORS
            )
        except (RuntimeError, ValueError, TypeError) as exc:
            reason = str(exc).strip().splitlines()[-1].split(": ", 1)[-1]
            raise InvalidRequestError(
                f"cannot use this JSON schema for constrained decoding: {reason}", param=PARAM
            ) from None

    def close(self) -> None:
        """Stop the compile thread (a compile under way finishes first)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def state(self, compiled: xgr.CompiledGrammar) -> GrammarState:
        """Return a fresh matcher state for one sequence."""
        return GrammarState(self, xgr.GrammarMatcher(compiled))


class GrammarState:
    """One sequence's position in its grammar, and whether it is closing the document."""

    def __init__(self, grammar: JsonGrammar, matcher: xgr.GrammarMatcher) -> None:
        self.grammar = grammar
        self.matcher = matcher
        self.closing = False
        self._next_check = FIRST_CHECK
        self._needed: int | None = None
        self._row_mask = xgr.allocate_token_bitmask(1, grammar.vocab_size)

    def fill(self, bitmask: torch.Tensor, row: int) -> None:
        """Write the allowed-token bitmask of this state into ``bitmask[row]``."""
        self.matcher.fill_next_token_bitmask(bitmask, row)

    def accept(self, token: int) -> bool:
        """Advance by ``token``; False if the grammar rejects it."""
        return self.matcher.accept_token(token)

    def _closing_token(self, matcher: xgr.GrammarMatcher) -> int:
        matcher.fill_next_token_bitmask(self._row_mask, 0)
        words = self._row_mask[0]
        allowed = ((words.unsqueeze(-1) >> _BIT_SHIFTS) & 1).flatten()[: self.grammar.vocab_size]
        rank = torch.where(allowed.bool(), self.grammar.rank, float("-inf"))
        return int(rank.argmax())

    def _walk_out(self, matcher: xgr.GrammarMatcher, limit: int) -> int | None:
        """Follow the greedy way out on ``matcher``; count its tokens (None past ``limit``)."""
        for steps in range(1, limit + 1):
            if not matcher.accept_token(self._closing_token(matcher)):
                return None
            if matcher.is_terminated():
                return steps
        return None

    def closing_length(self, limit: int = CLOSING_ALLOWANCE) -> int | None:
        """Count the tokens of the greedy way out from here (None if longer than ``limit``)."""
        return self._walk_out(self.matcher.fork(), limit)

    def update_closing(self, remaining: int) -> None:
        """Measure the way out once the budget is within reach of it; close when it barely fits.

        The first look is at the first step: a schema with many required fields can need
        hundreds of tokens to close, and a way out found too long only once it no longer fits
        cannot be taken. Later looks come each time half the spare tokens are used. So the
        document closes within ``max_tokens`` + ``CLOSING_ALLOWANCE`` whenever its shortest
        way out from the start does; a way out longer than that closes at once.
        """
        if self.closing or remaining > self._next_check:
            return
        self._needed = self.closing_length(max(remaining, 0) + CLOSING_ALLOWANCE)
        if self._needed is None or self._needed >= remaining - 1:
            self.closing = True
        else:  # measuring is not free: look again when half of the spare tokens are used
            self._next_check = remaining - max(1, (remaining - self._needed) // 2)

    def guard(self, token: int, remaining: int) -> int:
        """Return ``token``, or the next closing token if after ``token`` the way out would no
        longer fit in the ``remaining`` budget (checked only when the budget is tight)."""
        if self.closing:
            return self._closing_token(self.matcher)
        if self._needed is None or remaining > self._needed + GUARD_MARGIN:
            return token
        fork = self.matcher.fork()
        if fork.accept_token(token) and (
            fork.is_terminated() or self._walk_out(fork, remaining - 1) is not None
        ):
            return token
        self.closing = True
        return self._closing_token(self.matcher)
