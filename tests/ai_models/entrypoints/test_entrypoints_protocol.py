"""The protocol module: hostile request bodies are refused with a 400 naming the field, and good
ones become the token ids and sampling parameters the model is asked for."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ai_models.api import validation_error
from ai_models.backends.base import ServedModel
from ai_models.entrypoints import protocol
from ai_models.errors import ContextLengthError, InvalidRequestError
from ai_models.registry import ModelSpec
from ai_models.tiny_models import build_tiny_tokenizer


class TokenizerModel(ServedModel):
    """A text generation model that only tokenizes (with a real tokenizer): what protocol uses."""

    def __init__(self, tokenizer, *, context_length: int = 64, max_tokens: int = 32) -> None:
        super().__init__(ModelSpec(name="tiny", task="chat", backend="transformers", source="x"))
        self.tokenizer = tokenizer
        self.context_length, self.max_tokens = context_length, max_tokens
        self.vocab_size = len(tokenizer)

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text)["input_ids"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> TokenizerModel:
    return TokenizerModel(build_tiny_tokenizer(tmp_path_factory.mktemp("tok")))


def chat(**fields) -> protocol.ChatCompletionRequest:
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], **fields}
    return protocol.ChatCompletionRequest.model_validate(body)


def completion(**fields) -> protocol.CompletionRequest:
    return protocol.CompletionRequest.model_validate({"model": "tiny", "prompt": "hi", **fields})


def refused_field(schema, body) -> str | None:
    with pytest.raises(ValidationError) as caught:
        schema.model_validate(body)
    error = validation_error(caught.value.errors())
    assert error.status_code == 400 and error.param and error.param in error.message
    return error.param.split(".")[0]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "root", "content": "x"}]}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"n": 0}, "n"),
        ({"n": 10**12}, "n"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "lots"}, "max_tokens"),
        ({"seed": 2**64}, "seed"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"logit_bias": {"-1": 5}}, "logit_bias"),
        ({"logit_bias": {"1e9": 5}}, "logit_bias"),
        ({"logit_bias": {"5": 101}}, "logit_bias"),
        ({"logit_bias": {str(i): 1 for i in range(1025)}}, "logit_bias"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"tools": [{"type": "function"}]}, "tools"),
        ({"logprobs": True}, "logprobs"),
        ({"stream_options": {"include_usage": "maybe"}}, "stream_options"),
        ({"model": ""}, "model"),
    ],
)
def test_hostile_chat_bodies_name_their_field(fields, param):
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], **fields}
    assert refused_field(protocol.ChatCompletionRequest, body) == param


@pytest.mark.parametrize(
    ("prompt", "param"),
    [([], "prompt"), ([[1, "a"]], "prompt"), ({"text": "x"}, "prompt"), (None, "prompt")],
)
def test_hostile_prompts_name_the_prompt(prompt, param):
    assert refused_field(protocol.CompletionRequest, {"model": "m", "prompt": prompt}) == param


def test_hostile_embedding_and_classification_inputs_are_refused():
    assert refused_field(protocol.EmbeddingRequest, {"model": "m", "input": []}) == "input"
    many = {"model": "m", "input": ["x"] * 2049}
    assert refused_field(protocol.EmbeddingRequest, many) == "input"
    assert refused_field(protocol.ClassificationRequest, many) == "input"
    bad = {"model": "m", "input": "x", "encoding_format": "int8"}
    assert refused_field(protocol.EmbeddingRequest, bad) == "encoding_format"


@pytest.mark.parametrize(
    ("prompt", "held"),
    [([[5, -1]], "token id -1"), ([[10**9]], "token id 1000000000"), ([[1], []], "no tokens")],
)
def test_token_ids_outside_the_vocabulary_name_the_prompt(model, prompt, held):
    with pytest.raises(InvalidRequestError) as caught:
        protocol.completion_prompts(completion(prompt=prompt), model)
    assert caught.value.param == "prompt" and held in caught.value.message


def test_limits_name_the_field_that_broke_them(model):
    with pytest.raises(InvalidRequestError) as caught:
        protocol.sampling_params(chat(max_completion_tokens=33), model, 3, "messages")
    assert caught.value.param == "max_completion_tokens" and "MAX_TOKENS=32" in caught.value.message
    with pytest.raises(InvalidRequestError) as caught:
        protocol.sampling_params(completion(max_tokens=33), model, 3, "prompt")
    assert caught.value.param == "max_tokens"
    with pytest.raises(ContextLengthError) as caught:
        protocol.sampling_params(chat(max_tokens=30), model, 40, "messages")
    assert caught.value.param == "messages" and "70 tokens (40 in the messages" in str(caught.value)
    with pytest.raises(ContextLengthError):  # a prompt that fills the context leaves no room
        protocol.sampling_params(chat(), model, 64, "messages")
    vocab = model.vocab_size
    with pytest.raises(InvalidRequestError) as caught:
        protocol.sampling_params(chat(logit_bias={str(vocab): 1}), model, 3, "messages")
    assert caught.value.param == "logit_bias" and str(vocab) in caught.value.message


def test_a_good_request_becomes_its_sampling_parameters(model):
    request = completion(
        prompt=["a b", "c"],
        max_tokens=5,
        n=2,
        temperature=0,
        stop="x",
        seed=-3,
        logit_bias={"7": -100},
        response_format={"type": "json_object"},
    )
    prompts = protocol.completion_prompts(request, model)
    assert prompts == [model.tokenize("a b"), model.tokenize("c")]
    assert protocol.completion_prompts(completion(prompt=[3, 4]), model) == [[3, 4]]
    generate = protocol.generate_request(request, model, prompts, "prompt")
    assert generate.n == 2 and generate.response_format == {"type": "json_object"}
    params = generate.params[0]
    assert (params.max_tokens, params.temperature, params.stop, params.seed) == (5, 0, ("x",), -3)
    assert params.logit_bias == {7: -100.0} and len(generate.params) == 2
    # No limit asked: the rest of the context, at most MAX_TOKENS.
    assert protocol.sampling_params(chat(), model, 60, "messages").max_tokens == 4
    assert protocol.sampling_params(chat(), model, 3, "messages").max_tokens == 32


def test_developer_messages_reach_the_template_as_system_messages():
    request = chat(
        messages=[
            {
                "role": "developer",
                "content": [{"type": "text", "text": "be "}, {"type": "text", "text": "brief"}],
            },
            {"role": "user", "content": None},
        ]
    )
    assert protocol.chat_messages(request) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": ""},
    ]
