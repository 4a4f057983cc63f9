"""The vocabulary of a GGUF model as llama.cpp reads it: token bytes, end-of-generation tokens,
the chat template from the file's metadata, and step-by-step decoding of generated tokens."""

from __future__ import annotations

import codecs
import ctypes
from datetime import datetime
from typing import Any

from ai_models.errors import InvalidRequestError

_PIECE_BUFFER = 256


class GgufVocab:
    """The tokens of one loaded ``llama_cpp.Llama``: bytes of each, stop ids, chat template."""

    def __init__(self, llama: Any) -> None:
        import llama_cpp

        self.llama = llama
        vocab = llama._model.vocab
        self.size = llama.n_vocab()
        buffer = ctypes.create_string_buffer(_PIECE_BUFFER)
        pieces = []
        for token in range(self.size):  # control tokens render as b"" (special=False)
            n = llama_cpp.llama_token_to_piece(vocab, token, buffer, _PIECE_BUFFER, 0, False)
            pieces.append(buffer.raw[: max(n, 0)])
        self.pieces: list[bytes] = pieces
        self.stop_ids = [t for t in range(self.size) if llama_cpp.llama_vocab_is_eog(vocab, t)]
        self.special_ids = [
            t for t in range(self.size) if llama_cpp.llama_vocab_is_control(vocab, t)
        ]
        self.bos_text = self._text(llama_cpp.llama_vocab_bos(vocab))
        self.eos_text = self._text(llama_cpp.llama_vocab_eos(vocab))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self.chat_template = llama.metadata.get("tokenizer.chat_template")

    def _text(self, token: int) -> str:
        import llama_cpp

        if not 0 <= token < self.size:
            return ""
        return llama_cpp.llama_vocab_get_text(self.llama._model.vocab, token).decode(
            "utf-8", errors="replace"
        )

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        """Tokenize ``text`` as the model does (BOS added when the model wants one)."""
        add_bos = self.add_bos and not (self.bos_text and text.startswith(self.bos_text))
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def decode(self, ids: list[int]) -> str:
        """Return the text of ``ids`` (control tokens dropped)."""
        return b"".join(self.pieces[t] for t in ids if 0 <= t < self.size).decode(
            "utf-8", errors="replace"
        )

    def render_chat(self, messages: list[dict[str, str]], model_name: str) -> str:
        """Render ``messages`` with the GGUF's chat template (400 if it has none or refuses)."""
        if not self.chat_template:
            raise InvalidRequestError(
                f"model {model_name!r} has no chat template; use /v1/completions",
                param="messages",
            )
        try:
            template = _environment().from_string(self.chat_template)
            return template.render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=self.bos_text,
                eos_token=self.eos_text,
            )
        except Exception as exc:  # a Jinja template may refuse roles or their order
            raise InvalidRequestError(
                f"the chat template of {model_name!r} rejected these messages: {exc}",
                param="messages",
            ) from None

    def detokenizer(self) -> GgufDetokenizer:
        """Return a fresh step-by-step decoder."""
        return GgufDetokenizer(self.pieces)


class GgufDetokenizer:
    """Decode one sequence's tokens as they come, never splitting a UTF-8 character."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def step(self, token: int) -> str:
        """Add ``token``; return the text it completes (maybe empty)."""
        piece = self.pieces[token] if 0 <= token < len(self.pieces) else b""
        return self._decoder.decode(piece)

    def flush(self) -> str:
        """Return whatever bytes are still held back (at the end of the sequence)."""
        return self._decoder.decode(b"", final=True)


def _environment() -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env
