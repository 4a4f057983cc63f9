"""Incremental detokenizing with real tokenizers: ``DecodeStream`` for fast ones, the classic
window method for a tokenizer without a fast version; characters of several UTF-8 bytes are never
split, SentencePiece-style leading spaces survive, and the text equals a whole decode."""

from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, ByT5Tokenizer, PreTrainedTokenizerFast

from ai_models.engine.detokenize import IncrementalDetokenizer
from ai_models.registry import PACKAGED_EMBEDDINGS, resolve_source
from ai_models.tiny_models import build_tiny_tokenizer

TEXT = "Grüße, señor — 日本語 and emoji 🤖👍🏽 ok. Ünïcödé  two  spaces\nnew line"
PROMPT = "Write something:"


def sentencepiece_style(path) -> PreTrainedTokenizerFast:
    """A Llama-style tokenizer: Metaspace words, BPE with byte fallback for unseen characters."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    tokenizer.train_from_iterator(["hello world, the quick brown fox"] * 20, trainer=trainer)
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    for byte in range(256):
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    data["model"]["byte_fallback"] = True
    data["decoder"] = json.loads(
        decoders.Sequence(
            [
                decoders.Replace("▁", " "),
                decoders.ByteFallback(),
                decoders.Fuse(),
                decoders.Strip(" ", 1, 0),
            ]
        ).__getstate__()
    )
    backend = Tokenizer.from_str(json.dumps(data))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory) -> dict:
    return {
        "byte-level BPE": build_tiny_tokenizer(tmp_path_factory.mktemp("bpe")),
        "sentencepiece-style": sentencepiece_style(tmp_path_factory.mktemp("sp")),
        "WordPiece": AutoTokenizer.from_pretrained(resolve_source(PACKAGED_EMBEDDINGS)),
        "ByT5 (no fast version)": ByT5Tokenizer(),
    }


def run(tokenizer, prompt: list[int], generated: list[int], *, classic: bool = False):
    detokenizer = IncrementalDetokenizer(tokenizer, prompt)
    if classic:
        detokenizer.stream = None
    deltas = [detokenizer.step(token) for token in generated]
    return detokenizer, deltas, deltas + [detokenizer.flush()]


@pytest.mark.parametrize(
    "name", ["byte-level BPE", "sentencepiece-style", "WordPiece", "ByT5 (no fast version)"]
)
def test_streamed_text_equals_the_whole_decode(tokenizers, name):
    tokenizer = tokenizers[name]
    prompt = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    generated = tokenizer(" " + TEXT, add_special_tokens=False)["input_ids"]
    detokenizer, deltas, parts = run(tokenizer, prompt, generated)
    assert (detokenizer.stream is None) == (name == "ByT5 (no fast version)")
    whole = tokenizer.decode(prompt + generated, skip_special_tokens=True)
    assert "".join(parts) == whole[len(tokenizer.decode(prompt, skip_special_tokens=True)) :]
    assert not any("\ufffd" in delta for delta in deltas)  # no character cut in two
    if name == "sentencepiece-style":
        assert "".join(parts).startswith(" Gr")  # the first word keeps its space
    if name in ("byte-level BPE", "ByT5 (no fast version)"):  # bytes: some tokens wait
        assert "" in deltas


@pytest.mark.parametrize("name", ["byte-level BPE", "sentencepiece-style", "WordPiece"])
def test_decode_stream_and_the_classic_method_agree_delta_by_delta(tokenizers, name):
    tokenizer = tokenizers[name]
    prompt = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    generated = tokenizer(" " + TEXT, add_special_tokens=False)["input_ids"]
    assert "".join(run(tokenizer, prompt, generated)[2]) == "".join(
        run(tokenizer, prompt, generated, classic=True)[2]
    )


def test_a_character_cut_by_the_end_is_flushed(tokenizers):
    tokenizer = tokenizers["byte-level BPE"]
    generated = tokenizer("ab🤖", add_special_tokens=False)["input_ids"]
    cut = generated[:-1]  # the emoji's last byte never comes
    _, deltas, parts = run(tokenizer, [], cut)
    assert "".join(deltas) == "ab" and parts[-1].startswith("\ufffd")
    assert parts[-1] == run(tokenizer, [], cut, classic=True)[2][-1]
