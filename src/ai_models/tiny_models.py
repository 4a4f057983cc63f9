"""Build tiny random-weight models offline, for tests, benchmarks and demos without internet.

``build_tiny_tokenizer(path)`` trains a byte-level BPE tokenizer with the ``tokenizers`` library and
saves it with a ChatML chat template; ``build_tiny_causal_lm(path)`` and
``build_tiny_classifier(path)`` save random-weight Qwen2 models next to it. Everything they write
loads through the same ``from_pretrained`` path as a model from the Hugging Face Hub.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_CORPUS = [
    "The quick brown fox jumps over the lazy dog. A market segment is a group of customers.",
    '{"name": "Ada", "age": 36, "tags": ["math", "engines"], "ok": true, "score": -1.5e3}',
    "Passive income from software: subscriptions, templates, plugins and courses.",
    "user assistant system: Hello! How can I help you today? Write a product plan in JSON.",
    "0123456789 +-*/=<>()[]{}:;,.!?'\"`~@#$%^&_|\\ abcdefghijklmnopqrstuvwxyz",
]


def build_tiny_tokenizer(path: str | Path, *, vocab_size: int = 512):
    """Train and save a byte-level BPE tokenizer with a ChatML template; return it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        chat_template=CHATML_TEMPLATE,
        model_max_length=4096,
    )
    wrapped.save_pretrained(str(path))
    return wrapped


def _qwen2_config(tokenizer, *, hidden_size: int, layers: int, context_length: int, **extra):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context_length,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **extra,
    )


def build_tiny_causal_lm(
    path: str | Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    context_length: int = 4096,
    seed: int = 0,
    init_std: float = 0.02,
) -> Path:
    """Save a random-weight Qwen2 causal LM with its tokenizer and chat template at ``path``.

    ``init_std`` is the weights' standard deviation: the default (transformers') makes a model
    that repeats one token; about 0.3 makes greedy output depend on the context.
    """
    import torch
    from transformers import GenerationConfig, Qwen2ForCausalLM

    path = Path(path)
    tokenizer = build_tiny_tokenizer(path)
    torch.manual_seed(seed)
    config = _qwen2_config(
        tokenizer,
        hidden_size=hidden_size,
        layers=layers,
        context_length=context_length,
        initializer_range=init_std,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(str(path))
    return path


def build_tiny_classifier(
    path: str | Path, *, labels: tuple[str, ...] = ("negative", "positive"), seed: int = 0
) -> Path:
    """Save a random-weight Qwen2 sequence classifier with its tokenizer at ``path``."""
    import torch
    from transformers import Qwen2ForSequenceClassification

    path = Path(path)
    tokenizer = build_tiny_tokenizer(path)
    torch.manual_seed(seed)
    config = _qwen2_config(
        tokenizer,
        hidden_size=32,
        layers=1,
        context_length=512,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    Qwen2ForSequenceClassification(config).save_pretrained(str(path))
    return path
