"""Limits on the JSON schemas a request may ask the grammar compiler to build.

The limits were set when xgrammar compiled our grammars, whose compile time grew faster than
linearly in some schema features — on a 30k-token vocabulary: 10,000 required properties 3.5 s of
CPU, 50,000 enum values 54 s, 6,000 optional properties of one object 183 s. llguidance (the
engine now) builds lazily and bounds its own work (it refuses the 30k-property schema after
~3 s, 50k enum values take ~1.4 s), so the limits stay as the cheap first line: checked before
the request is queued, in one pass over the schema that never recurses (a deep schema cannot
exhaust the stack). Each limit is far above what a structured-output schema for a language
model needs.
"""

from __future__ import annotations

import re
from typing import Any

from ai_models.errors import InvalidRequestError

MAX_SCHEMA_BYTES = 64 * 1024  # keys and string values, summed
MAX_SCHEMA_DEPTH = 32  # nesting of objects and arrays
MAX_SCHEMA_NODES = 4096  # objects and arrays in the schema
MAX_OBJECT_PROPERTIES = 256  # properties of one object schema (optional ones cost the most)
MAX_TOTAL_PROPERTIES = 1024  # properties over the whole schema
MAX_ENUM_VALUES = 1024  # enum and const values over the whole schema
MAX_COUNT_BOUND = 10_000  # minLength, maxLength, minItems, maxItems, ...
MAX_PATTERN_LENGTH = 1000  # characters of one pattern
MAX_PATTERN_SIZE = 2048  # items a pattern unrolls to, counted repetitions expanded
COUNT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)
_REPEAT = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")
PARAM = "response_format.json_schema.schema"


def _refuse(message: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"the JSON schema is too large for this server: {message}", param=PARAM
    )


class _Tally:
    """Running totals of one schema walk; raises as soon as a limit is passed."""

    def __init__(self) -> None:
        self.size = self.nodes = self.properties = self.enums = 0

    def add(self, what: str, amount: int, limit: int, unit: str) -> None:
        total = getattr(self, what) + amount
        setattr(self, what, total)
        if total > limit:
            raise _refuse(f"more than {limit} {unit}")


def _check_keyword(key: str, value: Any, tally: _Tally) -> None:
    if key == "properties" and isinstance(value, dict):
        if len(value) > MAX_OBJECT_PROPERTIES:
            raise _refuse(f"an object with {len(value)} properties (limit {MAX_OBJECT_PROPERTIES})")
        tally.add("properties", len(value), MAX_TOTAL_PROPERTIES, "properties in all")
    elif key == "enum" and isinstance(value, list):
        tally.add("enums", len(value), MAX_ENUM_VALUES, "enum and const values in all")
    elif key == "const":
        tally.add("enums", 1, MAX_ENUM_VALUES, "enum and const values in all")
    elif key in COUNT_KEYWORDS and isinstance(value, int | float) and value > MAX_COUNT_BOUND:
        raise _refuse(f"{key} is {value} (limit {MAX_COUNT_BOUND})")
    elif key == "pattern" and isinstance(value, str):
        _check_pattern(value)


def _check_pattern(pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _refuse(f"a pattern of {len(pattern)} characters (limit {MAX_PATTERN_LENGTH})")
    if pattern_size(pattern) > MAX_PATTERN_SIZE:
        raise _refuse(
            f"a pattern whose counted repetitions unroll to more than {MAX_PATTERN_SIZE} items"
        )


def pattern_size(pattern: str) -> int:
    """Estimate how many items a regex unrolls to: ``(ab){3}`` is 6, ``(a{10}){10}`` is 100.

    Counted repetitions are unrolled by the compiler, so nested ones multiply; sequential ones
    add. Character classes and escapes count as one item.
    """
    groups, last, i = [0], 0, 0
    while i < len(pattern):
        char = pattern[i]
        repeat = _REPEAT.match(pattern, i) if char == "{" else None
        if repeat:
            times = max(int(repeat.group(1)), int(repeat.group(2) or 0), 1)
            groups[-1] += last * (times - 1)
            last *= times
            i = repeat.end()
            continue
        if char == "(":
            groups.append(0)
        elif char == ")" and len(groups) > 1:
            last = groups.pop()
            groups[-1] += last
        else:
            if char == "\\":
                i += 1
            elif char == "[":
                i = _class_end(pattern, i)
            last = 1 if char not in "|^$*+?" else 0
            groups[-1] += last
        i += 1
    return sum(groups)


def _class_end(pattern: str, start: int) -> int:
    """Return the index of the ``]`` that closes the character class opened at ``start``."""
    i = start + 1
    while i < len(pattern) and (pattern[i] != "]" or i == start + 1):
        i += 2 if pattern[i] == "\\" else 1
    return i


def check_schema(schema: Any) -> None:
    """Raise a 400 naming the limit when ``schema`` is too big or complex to compile cheaply."""
    tally = _Tally()
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            tally.add("size", len(node), MAX_SCHEMA_BYTES, "characters")
            continue
        if not isinstance(node, dict | list):
            tally.add("size", 8, MAX_SCHEMA_BYTES, "characters")
            continue
        tally.add("nodes", 1, MAX_SCHEMA_NODES, "objects and arrays")
        if depth > MAX_SCHEMA_DEPTH:
            raise _refuse(f"nesting deeper than {MAX_SCHEMA_DEPTH} levels")
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
            continue
        for key, value in node.items():
            tally.add("size", len(key), MAX_SCHEMA_BYTES, "characters")
            _check_keyword(key, value, tally)
            stack.append((value, depth + 1))
