"""The one rule for user text: which characters no text input may carry, shared by every input.

Refused: C0 control characters (TAB, LF and CR only in multi-line text), DEL, C1 controls and
lone surrogates. NUL cannot be stored by PostgreSQL, a lone surrogate cannot be encoded by
either database, and the rest only ever serve to spoof or break what is shown.
"""

from __future__ import annotations

import re

# Kept as regex text so the same rule goes into the OpenAPI document as ``pattern``. Lone
# surrogates are left out of the patterns: JSON Schema tools (Rust regexes) cannot express
# them, and a lone surrogate is not a valid Unicode string to them in the first place.
_SINGLE_LINE_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_MULTI_LINE_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATES = r"\ud800-\udfff"
SINGLE_LINE_PATTERN = rf"^[^{_SINGLE_LINE_CONTROLS}]*$"
MULTI_LINE_PATTERN = rf"^[^{_MULTI_LINE_CONTROLS}]*$"
# Single-line text with at least one visible character.
VISIBLE_LINE_PATTERN = (
    rf"^[^{_SINGLE_LINE_CONTROLS}]*[^{_SINGLE_LINE_CONTROLS}\s][^{_SINGLE_LINE_CONTROLS}]*$"
)
_SINGLE_LINE_BAD = re.compile(f"[{_SINGLE_LINE_CONTROLS}{_SURROGATES}]")
_MULTI_LINE_BAD = re.compile(f"[{_MULTI_LINE_CONTROLS}{_SURROGATES}]")


def control_character_error(value: str, *, multiline: bool = False) -> str | None:
    """Return why ``value`` is refused (naming the first bad character), or None if it is fine."""
    found = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if found is None:
        return None
    return f"must not contain control characters (found U+{ord(found.group()):04X})"


def check_text(value: str, *, multiline: bool = False) -> str:
    """Return ``value`` unchanged, or raise ValueError if it holds a refused character."""
    error = control_character_error(value, multiline=multiline)
    if error:
        raise ValueError(error)
    return value
