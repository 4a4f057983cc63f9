"""Grammar-constrained JSON decoding with llguidance, with a guaranteed ending.

``JsonGrammar`` compiles OpenAI ``response_format`` values (``json_object``, ``json_schema``) for
one vocabulary (a Hugging Face tokenizer, or ``from_vocab``'s plain token bytes); each constrained
sequence gets a ``GrammarState`` whose token bitmask limits the logits to tokens that keep the
output valid. Masking alone cannot stop a model (a tiny random one, say) from rambling until
``max_tokens`` cuts the JSON short, so the state measures the shortest way it knows to close the
document — a greedy walk over the allowed tokens that prefers closing quotes and brackets,
simulated on a copied matcher — at the first step and again each time half the spare budget is
used. Once the spare budget is small, every sampled token is checked the same way before it is
taken: if the document could no longer close in time after it, the walk out starts instead. The
output therefore always parses and validates: within ``max_tokens`` whenever the way out from the
start fits in it, else past it by at most ``CLOSING_ALLOWANCE`` tokens whenever the way out fits
in that. The walk tests tokens in a precomputed rank order against the packed mask words, never
expanding the mask to the whole vocabulary.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import llguidance as llg
import numpy as np

from ai_models.engine.schema_limits import PARAM, check_schema
from ai_models.errors import InvalidRequestError, QueueFullError

FIRST_CHECK = 1 << 62  # measure the way out at the first step (see update_closing)
CLOSING_ALLOWANCE = 256  # most tokens a completion may run past max_tokens to close the JSON
GUARD_MARGIN = 16  # within this many spare tokens, check each sampled token still lets it close
SEPARATORS = (", ", ": ")  # OpenAI's own spacing; the closing walk handles the spaces
JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
# Compiled grammars are cached (a repeated schema costs nothing), least recently used first out.
GRAMMAR_CACHE_SIZE = 64
# A compile that passes the schema limits but still runs longer than this is refused; it finishes
# in the background (llguidance's own parser limits bound it), one compile thread per model.
COMPILE_TIMEOUT_S = 10.0
# llguidance's resource limits, with errors that do not echo the grammar back to the client.
PARSER_LIMITS = llg.LLParserLimits(verbose_errors=False)
_CHUNKS = (64, 512, 4096)  # the closing walk tests this many ranked tokens first, then more
# Schema keywords whose values are schemas, maps of schemas, or lists of schemas.
_SUBSCHEMA = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


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
    if piece.isdigit():  # zeros last: "-1.000…" never gets below an exclusive maximum of -1
        return 350.0 - len(piece) - (0.5 if not piece.strip(b"0") else 0.0)
    if piece in (b"null", b"true", b"false"):
        return 340.0
    if piece.isalnum() and piece.isascii():
        return 300.0 - len(piece)
    if not stripped:
        return 0.0
    if not _whole_utf8(piece):
        return -100.0  # part of a character: taken only when nothing else is allowed
    return 100.0 - len(piece)


def _whole_utf8(piece: bytes) -> bool:
    """Tell whether a token's bytes are whole UTF-8 characters."""
    try:
        piece.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Copy ``schema`` with ``additionalProperties: false`` on objects that leave it unset.

    OpenAI's structured outputs (and our former engine's strict mode) allow no keys beyond the
    listed ones; JSON Schema's default would let a small model ramble on in extra keys. Only
    keywords that hold schemas are walked — ``enum`` and ``const`` values are data.
    """
    root = copy.deepcopy(schema)  # check_schema bounds the depth first
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        open_keys = ("additionalProperties", "patternProperties", "unevaluatedProperties")
        if (node.get("type") == "object" or "properties" in node) and not any(
            key in node for key in open_keys
        ):
            node["additionalProperties"] = False
        stack.extend(node.get(key) for key in _SUBSCHEMA)
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack.extend(node[key].values())
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack.extend(node[key])
    return root


class _PlainVocab:
    """The tokenizer shape llguidance's ``TokenizerWrapper`` takes, from token bytes alone."""

    def __init__(self, tokens: list[bytes], eos: int, special: list[int]) -> None:
        self.tokens = tokens
        self.eos_token_id = eos
        self.bos_token_id = None
        self.special_token_ids = special
        self._ids = {piece: i for i, piece in enumerate(tokens) if piece and i not in special}
        self._longest = max((len(piece) for piece in self._ids), default=1)

    def __call__(self, text: bytes) -> list[int]:
        """Tokenize greedily, longest known piece first (llguidance only uses it for prompts)."""
        ids, i = [], 0
        while i < len(text):
            for size in range(min(self._longest, len(text) - i), 0, -1):
                token = self._ids.get(text[i : i + size])
                if token is not None:
                    ids.append(token)
                    i += size
                    break
            else:
                i += 1  # a byte no token spells: skipped
        return ids


class JsonGrammar:
    """Compile JSON grammars for one vocabulary and hand out per-sequence matcher states."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        vocab_size: int,
        stop_token_ids: list[int],
        cache_size: int = GRAMMAR_CACHE_SIZE,
        compile_timeout_s: float = COMPILE_TIMEOUT_S,
    ) -> None:
        from llguidance.hf import from_tokenizer  # imports transformers: only for HF tokenizers

        lltok = from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=list(stop_token_ids))
        pieces = [
            b"" if lltok.is_special_token(i) else lltok.decode_bytes([i])
            for i in range(lltok.vocab_size)
        ]
        self._setup(lltok, pieces, vocab_size, stop_token_ids, cache_size, compile_timeout_s)

    @classmethod
    def from_vocab(
        cls,
        tokens: Sequence[bytes],
        *,
        eos_token_ids: Sequence[int],
        special_token_ids: Sequence[int] = (),
        vocab_size: int | None = None,
        cache_size: int = GRAMMAR_CACHE_SIZE,
        compile_timeout_s: float = COMPILE_TIMEOUT_S,
    ) -> JsonGrammar:
        """Build from a plain vocabulary: each token's bytes (as the model's detokenizer writes
        them), the end-of-sequence ids, and the special tokens that never appear in JSON."""
        size = max(vocab_size or 0, len(tokens))
        stops = [int(i) for i in eos_token_ids]
        if not stops or any(not 0 <= i < size for i in stops):
            raise ValueError(f"eos_token_ids must be ids below {size}, got {stops}")
        special = sorted({int(i) for i in special_token_ids} | set(stops))
        pieces = [bytes(piece) for piece in tokens] + [b""] * (size - len(tokens))
        pieces = [b"" if i in set(special) else piece for i, piece in enumerate(pieces)]
        wrapper = llg.TokenizerWrapper(_PlainVocab(pieces, stops[0], special))
        lltok = llg.LLTokenizer(wrapper, n_vocab=size, eos_token=stops)
        grammar = cls.__new__(cls)
        grammar._setup(lltok, pieces, size, stops, cache_size, compile_timeout_s)
        return grammar

    def _setup(
        self,
        lltok: llg.LLTokenizer,
        pieces: list[bytes],
        vocab_size: int,
        stop_token_ids: list[int],
        cache_size: int,
        compile_timeout_s: float,
    ) -> None:
        self.tokenizer = lltok
        self.vocab_size = vocab_size
        self.words = (vocab_size + 31) // 32
        self.stop_token_ids = list(stop_token_ids)
        self.compile_timeout_s = compile_timeout_s
        self.cache_size = cache_size
        self._cache: OrderedDict[str, llg.LLMatcher] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grammar-compile")
        self.executor = llg.LLExecutor(num_threads=2)
        # The closing walk's candidates, best first: stop tokens, then by _closing_rank. Special
        # and empty tokens never close anything (the mask forbids them anyway) and are left out.
        rank = np.full(vocab_size, -np.inf)
        for i, piece in enumerate(pieces[:vocab_size]):
            if piece:
                rank[i] = _closing_rank(piece)
        rank[[i for i in self.stop_token_ids if i < vocab_size]] = 1000.0
        candidates = np.flatnonzero(rank > -np.inf)
        order = candidates[np.argsort(-rank[candidates], kind="stable")]
        self.order = order
        # Tokens that end an array or object, for the case where the best pick opens a string.
        self._closers = np.array([i for i in order if pieces[i] in (b"]", b"}")], dtype=np.int64)
        self._quotes = {int(i) for i in order if pieces[i] == b'"'}
        self._order_word = (order >> 5).astype(np.intp)
        self._order_bit = (np.uint32(1) << (order & 31).astype(np.uint32)).astype(np.uint32)

    async def compile_within_deadline(
        self, response_format: dict[str, Any]
    ) -> llg.LLMatcher | None:
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
            check_schema(self._schema(response_format))

    @staticmethod
    def _schema(response_format: dict[str, Any]) -> dict[str, Any]:
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema", spec.get("schema_")) if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise InvalidRequestError(
                "response_format.json_schema.schema must be a JSON schema object", param=PARAM
            )
        return schema

    def compile(self, response_format: dict[str, Any]) -> llg.LLMatcher | None:
        """Compile an OpenAI ``response_format`` (checked by ``check``); None for plain text."""
        kind = response_format.get("type", "text")
        if kind == "text":
            return None
        if kind == "json_object":
            schema: dict[str, Any] = {"type": "object"}
        else:
            schema = strict_schema(self._schema(response_format))
        key = json.dumps(schema, sort_keys=True)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            grammar = llg.LLMatcher.grammar_from_json_schema(schema, defaults=JSON_OPTIONS)
            matcher = llg.LLMatcher(self.tokenizer, grammar, log_level=0, limits=PARSER_LIMITS)
            error = matcher.get_error() if matcher.is_error() else ""
        except (RuntimeError, ValueError, TypeError) as exc:
            error = str(exc)
        if error:
            reason = error.strip().splitlines()[0][:300]
            raise InvalidRequestError(
                f"cannot use this JSON schema for constrained decoding: {reason}", param=PARAM
            )
        with self._lock:
            self._cache[key] = matcher
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return matcher

    @property
    def cached(self) -> int:
        """Count the compiled grammars held in the cache."""
        return len(self._cache)

    def close(self) -> None:
        """Stop the compile thread (a compile under way finishes first)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def state(self, compiled: llg.LLMatcher) -> GrammarState:
        """Return a fresh matcher state for one sequence (the compiled one stays untouched)."""
        return GrammarState(self, compiled.deep_copy())

    def fill_batch(
        self, states: list[tuple[GrammarState, int]], rows: int, *, parallel: bool = False
    ) -> np.ndarray:
        """Return a ``(rows, words)`` int32 bitmask with each state's mask in its row (rows
        without a state allow everything), in one buffer. Filled on this thread by default: on a
        2-core machine that also runs the model, handing 16 rows to llguidance's thread pool
        (``parallel``) measured 15-25 ms a step against 0.2-0.3 ms (benchmarks/grammar.py)."""
        bitmask = np.full((rows, self.words), -1, dtype=np.int32)
        if parallel:
            pairs = [(state.matcher, row) for state, row in states]
            self.executor.unsafe_compute_mask_ptr(pairs, bitmask.ctypes.data, self.words * 4, rows)
            return bitmask
        stride, base = self.words * 4, bitmask.ctypes.data
        for state, row in states:
            state.matcher.unsafe_compute_mask_ptr(base + row * stride, stride)
        return bitmask

    def first_allowed(self, words: np.ndarray) -> int:
        """Return the best-ranked token whose bit is set in the packed mask ``words``."""
        words = words.view(np.uint32)
        start = 0
        for end in (*_CHUNKS, len(self.order)):
            bits = words[self._order_word[start:end]] & self._order_bit[start:end]
            hits = np.flatnonzero(bits)
            if hits.size:
                return int(self.order[start + hits[0]])
            start = end
        return self.stop_token_ids[0]  # nothing allowed: the matcher is in error; end it

    def closer_allowed(self, words: np.ndarray) -> int | None:
        """Return a ``]`` or ``}`` token whose bit is set in ``words``, if any."""
        words = words.view(np.uint32)
        for token in self._closers:
            if words[token >> 5] & (np.uint32(1) << np.uint32(token & 31)):
                return int(token)
        return None


class GrammarState:
    """One sequence's position in its grammar, and whether it is closing the document."""

    def __init__(self, grammar: JsonGrammar, matcher: llg.LLMatcher) -> None:
        self.grammar = grammar
        self.matcher = matcher
        self.closing = False
        self._next_check = FIRST_CHECK
        self._needed: int | None = None
        self._row = np.empty(grammar.words, dtype=np.int32)

    def fill(self, bitmask: np.ndarray, row: int) -> None:
        """Write the allowed-token bitmask of this state into ``bitmask[row]`` (int32 words)."""
        self._fill(self.matcher, self._row)
        bitmask[row] = self._row

    def allowed(self) -> np.ndarray:
        """Return which tokens the grammar allows next, as a boolean vector over the vocabulary."""
        self._fill(self.matcher, self._row)
        bits = np.unpackbits(self._row.view(np.uint8), bitorder="little")
        return bits[: self.grammar.vocab_size].astype(bool)

    def mask_logits(self, logits: np.ndarray) -> None:
        """Set the logits of the tokens the grammar forbids next to ``-inf``, in place (one row,
        any float dtype; entries past the vocabulary are forbidden, and a shorter vector, such as
        llama.cpp's unpadded one, is masked as far as it goes)."""
        allowed = self.allowed()[: logits.shape[-1]]
        logits[: allowed.size][~allowed] = -np.inf
        logits[allowed.size :] = -np.inf

    def accept(self, token: int) -> bool:
        """Advance by ``token``; False if the grammar rejects it."""
        return self.matcher.consume_token(token)

    @property
    def finished(self) -> bool:
        """Tell whether the document is complete (nothing but the end may follow)."""
        return self.matcher.is_stopped()

    def _fill(self, matcher: llg.LLMatcher, row: np.ndarray) -> None:
        matcher.unsafe_compute_mask_ptr(row.ctypes.data, row.nbytes)

    def _closing_token(self, matcher: llg.LLMatcher) -> int:
        self._fill(matcher, self._row)
        token = self.grammar.first_allowed(self._row)
        if token in self.grammar._quotes:
            # A quote ranks first because it ends a string, but right after "[" it would open
            # one (``[""]``); when the quote could be followed by another, it opens a string,
            # so an allowed "]" or "}" is the shorter way out.
            closer = self.grammar.closer_allowed(self._row)
            if closer is not None:
                fork = matcher.deep_copy()
                if fork.consume_token(token) and fork.validate_tokens([token]) == 1:
                    return closer
        return token

    def _walk_out(self, matcher: llg.LLMatcher, limit: int) -> int | None:
        """Follow the greedy way out on ``matcher``; count its tokens, the end token included
        (None past ``limit``)."""
        stops = self.grammar.stop_token_ids
        for steps in range(1, limit + 1):
            token = self._closing_token(matcher)
            if not matcher.consume_token(token) or matcher.is_error():
                return None
            if matcher.is_stopped():  # complete; the end token still has to be generated
                total = steps if token in stops else steps + 1
                return total if total <= limit else None
        return None

    def closing_length(self, limit: int = CLOSING_ALLOWANCE) -> int | None:
        """Count the tokens of the greedy way out from here (None if longer than ``limit``)."""
        if self.matcher.is_stopped():
            return 1
        return self._walk_out(self.matcher.deep_copy(), limit)

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
        fork = self.matcher.deep_copy()
        if fork.consume_token(token) and not fork.is_error():
            if token in self.grammar.stop_token_ids:
                return token
            if self._walk_out(fork, remaining - 1) is not None:  # the end token counted too
                return token
        self.closing = True
        return self._closing_token(self.matcher)
