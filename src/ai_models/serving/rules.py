"""The one text rule every string of every deployment config passes, before any field grammar.

Generated files are line-oriented (Dockerfile, bash, YAML) or read by people reviewing a
deployment, so a value must be one line of printable text that encodes as UTF-8. The field
grammars in fields.py narrow this further; the escapes in escapes.py make what is left literal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping

from pydantic import BaseModel

from .errors import FieldError, show

# No generated file needs longer values; a cap keeps a hostile config from bloating the output.
MAX_TEXT_LENGTH = 4096
MAX_ITEMS = 256  # entries in one list or mapping field (env vars, volumes, annotations, ...)

# Bidirectional overrides and isolates reorder what a reviewer sees ("Trojan Source").
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _bad_character(char: str) -> str | None:
    if char == "\t":
        return None
    category = unicodedata.category(char)
    if category == "Cc":  # C0, DEL and C1: newline, CR, NUL, ESC, NEL, ...
        return "a control character (newline, carriage return, NUL, escape, ...)"
    if category in ("Zl", "Zp"):  # U+2028 / U+2029 end a line in YAML and JavaScript
        return "a Unicode line or paragraph separator"
    if category == "Cs":
        return "a lone surrogate (not valid UTF-8)"
    if char in _BIDI_CONTROLS:
        return "a bidirectional-text control character"
    if category == "Cn" and (ord(char) & 0xFFFE == 0xFFFE or 0xFDD0 <= ord(char) <= 0xFDEF):
        return "a Unicode noncharacter"
    return None


def text_problem(value: str) -> str | None:
    """Say why a string breaks the shared text rule, or None when it passes."""
    if len(value) > MAX_TEXT_LENGTH:
        return f"{show(value)} is longer than {MAX_TEXT_LENGTH} characters"
    for char in value:
        reason = _bad_character(char)
        if reason:
            return f"{show(value)} contains {reason} ({show(char)}); values must be one line"
    return None


def check_text(value: str) -> str:
    """Return the value when it passes the shared text rule, else raise ValueError."""
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def strings_in(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (relative path, string) for every string in a raw value: items, keys and values."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}[{show(key)}]"
            if isinstance(key, str):
                yield where, key
            yield from strings_in(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")


def raw_value_errors(value: object) -> list[FieldError]:
    """Check one raw field value (before its grammar): sizes and the text rule on every string."""
    if isinstance(value, Mapping | list | tuple) and len(value) > MAX_ITEMS:
        return [("", f"has {len(value)} entries; at most {MAX_ITEMS} are allowed")]
    errors: list[FieldError] = []
    for path, text in strings_in(value):
        problem = text_problem(text)
        if problem:
            errors.append((path, problem))
    return errors


def config_strings(config: BaseModel) -> Iterator[tuple[str, str]]:
    """Yield (field path, string) for every string a validated config holds."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel):
            yield from ((f"{name}.{path}", text) for path, text in config_strings(value))
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            for index, item in enumerate(value):
                yield from ((f"{name}[{index}].{p}", text) for p, text in config_strings(item))
        else:
            yield from ((name + path, text) for path, text in strings_in(value))
