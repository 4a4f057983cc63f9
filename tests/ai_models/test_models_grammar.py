"""The llguidance grammar engine: plain-vocabulary grammars, one-row masks, the batched fill, the
ranked closing walk and the always-valid ending, with hostile schemas and a hostile "model"
that picks uniformly random allowed tokens."""

from __future__ import annotations

import json
import random

import jsonschema
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from ai_models.engine.grammar import CLOSING_ALLOWANCE, JsonGrammar, strict_schema
from ai_models.engine.masks import apply_grammar
from ai_models.engine.schema_limits import PARAM
from ai_models.engine.sequence import SamplingParams, Sequence
from ai_models.errors import InvalidRequestError

EXTRA = [b'{"', b'"}', b'", "', b'": ', b"true", b"null", b"123", b" ", b' "', b"abc", b'"]']
EXTRA += ["中".encode(), "中".encode()[:1], "中".encode()[1:], b"\xed\xa0", b"\xc0\x80", b"\n"]
TOKENS = [bytes([b]) for b in range(256)] + EXTRA + [b"<|im_start|>", b"<|im_end|>"]
START, EOS = len(TOKENS) - 2, len(TOKENS) - 1
VOCAB = len(TOKENS) + 6  # the model's vocabulary is padded past the tokenizer's

HOSTILE = {
    "exclusive bounds, negative": {
        "type": "number",
        "exclusiveMinimum": -2.5,
        "exclusiveMaximum": -1,
    },
    "importance 1-10": {
        "type": "object",
        "properties": {"importance": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["importance"],
    },
    "pattern with alternation and unicode": {
        "type": "string",
        "pattern": "^(中|[A-Z]{2})-[0-9]{2,3}$",
    },
    "exact length": {"type": "string", "minLength": 3, "maxLength": 3},
    "empty string only": {"type": "string", "maxLength": 0},
    "enum with quotes and unicode": {"enum": ['say "hi"', "中文", "a\\b", 7, None]},
    "const object": {"const": {"k": [1, "two"]}},
    "three required objects": {
        "type": "array",
        "minItems": 3,
        "maxItems": 3,
        "items": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "ok": {"type": "boolean"}},
            "required": ["id", "ok"],
        },
    },
    "recursive $ref": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"v": {"type": "integer"}, "kids": {"$ref": "#/$defs/list"}},
                "required": ["v", "kids"],
            },
            "list": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2},
        },
        "$ref": "#/$defs/node",
    },
    "nullable anyOf": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]},
    "open map of integers": {"type": "object", "additionalProperties": {"type": "integer"}},
}


def fmt(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


@pytest.fixture(scope="module")
def grammar():
    grammar = JsonGrammar.from_vocab(
        TOKENS, eos_token_ids=[EOS], special_token_ids=[START], vocab_size=VOCAB
    )
    yield grammar
    grammar.close()


def text_of(tokens: list[int]) -> str:
    return b"".join(TOKENS[t] for t in tokens if t != EOS).decode("utf-8")


def run(grammar, state, max_tokens: int, seed: int, pieces=None) -> list[int]:
    """Decode as the scheduler does, with random allowed tokens standing in for a model."""
    rng = random.Random(seed)
    tokens: list[int] = []
    while len(tokens) < max_tokens + CLOSING_ALLOWANCE:
        remaining = max_tokens - len(tokens)
        state.update_closing(remaining)
        allowed = np.flatnonzero(state.allowed())
        assert allowed.size, "a live state always allows some token"
        token = state.guard(int(rng.choice(allowed)), remaining)
        assert state.accept(token), "the guard only hands out allowed tokens"
        tokens.append(token)
        if token in grammar.stop_token_ids:
            break
    return tokens


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("max_tokens", [1, 6, 60])
def test_random_tokens_always_end_in_a_valid_document(grammar, name, max_tokens):
    schema = HOSTILE[name]
    compiled = grammar.compile(fmt(schema))
    for seed in range(4):
        state = grammar.state(compiled)
        needed = state.closing_length()
        tokens = run(grammar, state, max_tokens, seed)
        assert tokens[-1] == EOS, "it ends with the end token, not cut off"
        jsonschema.validate(json.loads(text_of(tokens)), schema)
        assert len(tokens) <= max_tokens + CLOSING_ALLOWANCE
        if needed is not None and needed + 16 <= max_tokens:
            assert len(tokens) <= max_tokens, "with room to close, max_tokens holds"


def test_the_mask_never_allows_control_special_or_broken_utf8(grammar):
    for name in (
        "exact length",
        "pattern with alternation and unicode",
        "enum with quotes and unicode",
    ):
        compiled = grammar.compile(fmt(HOSTILE[name]))
        for seed in range(10):
            state = grammar.state(compiled)
            rng = random.Random(seed)
            while not state.finished:
                allowed = np.flatnonzero(state.allowed())
                assert START not in allowed and not (allowed >= len(TOKENS)).any()
                assert not any(TOKENS[t] in (b"\xed\xa0", b"\xc0\x80", b"\n") for t in allowed)
                assert not any(t < 0x20 for t in allowed), "raw control characters"
                assert state.accept(int(rng.choice(allowed)))


def test_end_of_sequence_only_once_the_document_is_complete(grammar):
    state = grammar.state(grammar.compile(fmt(HOSTILE["importance 1-10"])))
    assert not state.allowed()[EOS]
    for token in [TOKENS.index(b'{"'), *b"importance", TOKENS.index(b'": '), ord("1")]:
        assert state.accept(token)
    assert not state.allowed()[EOS] and not state.accept(ord("1")), "11 is past the maximum"
    state = grammar.state(grammar.compile(fmt(HOSTILE["importance 1-10"])))
    for token in [TOKENS.index(b'{"'), *b"importance", TOKENS.index(b'": '), ord("7"), ord("}")]:
        assert state.accept(token)
    assert state.finished
    assert np.flatnonzero(state.allowed()).tolist() == [EOS]


def test_mask_logits_works_on_one_numpy_row_of_any_length(grammar):
    state = grammar.state(grammar.compile(fmt({"type": "integer", "minimum": 5, "maximum": 9})))
    logits = np.zeros(VOCAB + 10, dtype=np.float32)
    state.mask_logits(logits)
    allowed = np.flatnonzero(np.isfinite(logits))
    assert sorted(TOKENS[t] for t in allowed) == [b"5", b"6", b"7", b"8", b"9"]
    assert np.isneginf(logits[VOCAB:]).all()
    short = np.zeros(VOCAB - 6, dtype=np.float64)  # llama.cpp's n_vocab, without the padding
    state.mask_logits(short)
    assert np.flatnonzero(np.isfinite(short)).tolist() == allowed.tolist()


def test_the_closing_pick_is_the_best_ranked_allowed_token(grammar):
    rng = np.random.default_rng(0)
    position = np.full(VOCAB, len(grammar.order))
    position[grammar.order] = np.arange(len(grammar.order))
    for density in (0.001, 0.01, 0.5):
        for _ in range(50):
            bits = (rng.random(grammar.words * 32) < density).astype(np.uint8)
            bits[VOCAB:] = 0
            words = np.packbits(bits, bitorder="little").view(np.int32)
            ranked = [t for t in np.flatnonzero(bits) if position[t] < len(grammar.order)]
            expected = min(ranked, key=lambda t: position[t]) if ranked else EOS
            assert grammar.first_allowed(words) == expected
    assert grammar.order[0] == EOS and TOKENS[grammar.order[1]] == b'"'
    assert START not in grammar.order, "special tokens are never candidates"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])  # numpy's path, torch's
def test_the_batch_is_filled_at_once_and_only_constrained_rows_change(grammar, dtype):
    compiled = grammar.compile(fmt({"type": "integer", "minimum": 5, "maximum": 9}))
    free = Sequence([1], SamplingParams(max_tokens=4), context_length=64)
    no_eos = Sequence([1], SamplingParams(max_tokens=4, ignore_eos=True), context_length=64)
    rows = [
        free,
        Sequence(
            [1], SamplingParams(max_tokens=4), grammar=grammar.state(compiled), context_length=64
        ),
        no_eos,
        Sequence(
            [1], SamplingParams(max_tokens=4), grammar=grammar.state(compiled), context_length=64
        ),
    ]
    rows[3].grammar.accept(ord("7"))  # a row further on: only the end is left
    logits = torch.randn(4, VOCAB).to(dtype)
    before = logits.clone()
    apply_grammar(logits, rows, torch.tensor([EOS]))
    assert torch.equal(logits[0], before[0])
    assert torch.isneginf(logits[2, EOS]) and torch.isfinite(logits[2, :EOS]).all()
    assert sorted(TOKENS[t] for t in torch.isfinite(logits[1]).nonzero().flatten()) == [
        b"5",
        b"6",
        b"7",
        b"8",
        b"9",
    ]
    assert torch.isfinite(logits[3]).nonzero().flatten().tolist() == [EOS]


def test_strict_mode_closes_objects_but_leaves_data_and_explicit_choices_alone():
    schema = {
        "type": "object",
        "properties": {"inner": {"type": "object", "properties": {"a": {"type": "integer"}}}},
        "$defs": {"open": {"type": "object", "additionalProperties": {"type": "string"}}},
        "anyOf": [{"properties": {"b": {"type": "string"}}}],
        "enum": [{"properties": {}}],
        "const": {"type": "object"},
    }
    strict = strict_schema(schema)
    assert strict["additionalProperties"] is False
    assert strict["properties"]["inner"]["additionalProperties"] is False
    assert strict["anyOf"][0]["additionalProperties"] is False
    assert strict["$defs"]["open"]["additionalProperties"] == {"type": "string"}
    assert strict["enum"] == [{"properties": {}}] and strict["const"] == {"type": "object"}
    assert "additionalProperties" not in schema, "the request's schema is not changed"


def test_extra_keys_are_refused_unless_the_schema_opens_them(grammar):
    closed = {"type": "object", "properties": {"a": {"type": "integer"}}}
    state = grammar.state(grammar.compile(fmt(closed)))
    assert state.accept(TOKENS.index(b'{"')) and not state.accept(ord("b"))
    state = grammar.state(grammar.compile(fmt(HOSTILE["open map of integers"])))
    assert state.accept(TOKENS.index(b'{"')) and state.accept(ord("b"))
    json_object = grammar.state(grammar.compile({"type": "json_object"}))
    assert json_object.accept(TOKENS.index(b'{"')) and json_object.accept(ord("z"))


@pytest.mark.parametrize(
    "response_format, param, words",
    [
        (fmt({"type": "bogus"}), PARAM, "cannot use this JSON schema"),
        (fmt({"$ref": "#/$defs/missing"}), PARAM, "cannot use this JSON schema"),
        (fmt({"type": "string", "pattern": "(unclosed"}), PARAM, "cannot use this JSON schema"),
        ({"type": "json_schema", "json_schema": {"schema": "nope"}}, PARAM, "must be a JSON"),
        ({"type": "json_schema", "json_schema": ["x"]}, PARAM, "must be a JSON"),
        ({"type": "grammar"}, "response_format.type", "not supported"),
    ],
)
def test_bad_schemas_are_a_400_naming_the_field(grammar, response_format, param, words):
    with pytest.raises(InvalidRequestError) as refused:
        grammar.check(response_format)
        grammar.compile(response_format)
    assert refused.value.param == param and words in refused.value.message
    assert "Traceback" not in refused.value.message and "<grammar>" not in refused.value.message
    assert len(refused.value.message) < 400


def test_states_of_one_compiled_grammar_are_independent(grammar):
    compiled = grammar.compile(fmt({"type": "integer"}))
    assert grammar.compile(fmt({"type": "integer"})) is compiled, "cached"
    first, second = grammar.state(compiled), grammar.state(compiled)
    assert first.accept(ord("7")) and second.accept(ord("-"))
    assert not second.accept(ord("-")) and first.accept(ord("8"))
    assert grammar.state(compiled).accept(ord("-")), "the compiled grammar itself never moves"


def test_from_vocab_refuses_end_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="eos_token_ids"):
        JsonGrammar.from_vocab(TOKENS, eos_token_ids=[VOCAB])
    with pytest.raises(ValueError, match="eos_token_ids"):
        JsonGrammar.from_vocab(TOKENS, eos_token_ids=[])


def test_a_hugging_face_tokenizer_gets_the_same_guarantee(tiny_lm):
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    grammar = JsonGrammar(
        tokenizer, vocab_size=len(tokenizer) + 8, stop_token_ids=[tokenizer.eos_token_id]
    )
    schema = HOSTILE["three required objects"]
    compiled = grammar.compile(fmt(schema))
    for seed, max_tokens in enumerate([1, 10, 80]):
        tokens = run(grammar, grammar.state(compiled), max_tokens, seed)
        assert tokens[-1] == tokenizer.eos_token_id
        jsonschema.validate(json.loads(tokenizer.decode(tokens[:-1])), schema)
    grammar.close()


@pytest.mark.parametrize(
    "schema, shortest",
    [
        ({"type": "array", "items": {"type": "string"}}, "[]"),
        (
            {"type": "object", "properties": {"tags": {"type": "array"}}, "required": ["tags"]},
            '{"tags": []}',
        ),
        ({"type": "object"}, "{}"),
        ({"type": "array", "items": {"type": "string"}, "minItems": 1}, '[""]'),
        ({"type": "string", "maxLength": 5}, '""'),
    ],
)
def test_the_way_out_takes_the_shorter_of_a_quote_and_a_closer(grammar, schema, shortest):
    state = grammar.state(grammar.compile(fmt(schema)))
    matcher, tokens = state.matcher.deep_copy(), []
    while not matcher.is_stopped():
        tokens.append(state._closing_token(matcher))
        assert matcher.consume_token(tokens[-1])
    assert text_of(tokens) == shortest
    assert state.closing_length() == len(tokens) + (tokens[-1] != EOS)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]},
        {"type": "array", "items": {"type": "integer"}},
        {"type": "string"},
    ],
)
def test_a_model_that_never_wants_to_stop_still_ends_within_max_tokens(grammar, schema):
    compiled = grammar.compile(fmt(schema))
    for max_tokens in range(8, 40):
        state = grammar.state(compiled)
        rng = random.Random(max_tokens)
        tokens: list[int] = []
        while not tokens or tokens[-1] != EOS:
            remaining = max_tokens - len(tokens)
            state.update_closing(remaining)
            allowed = np.flatnonzero(state.allowed())
            # the longest way: never the end, never a closing quote or bracket if avoidable
            keep_going = [t for t in allowed if t != EOS and b'"' not in TOKENS[t]]
            keep_going = [t for t in keep_going if b"]" not in TOKENS[t]] or keep_going
            token = state.guard(int(rng.choice(keep_going or list(allowed))), remaining)
            assert state.accept(token)
            tokens.append(token)
            assert len(tokens) <= max_tokens + CLOSING_ALLOWANCE
        jsonschema.validate(json.loads(text_of(tokens)), schema)
        assert len(tokens) <= max_tokens, (max_tokens, text_of(tokens))
