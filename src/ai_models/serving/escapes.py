"""Make user values literal in each syntax that evaluates strings after serialisation.

YAML, JSON and Dockerfile quoting are done by the serialisers and builders; these escapes cover
what the platform evaluates later: Compose interpolation, Kubernetes `$(VAR)` expansion, ARM
expressions and CloudFormation's `Fn::Sub` and dynamic references. Text we write in the
target's own syntax on purpose is wrapped in `Syntax`, so a whole document can be escaped at
once and no user value slips through unescaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class Syntax(str):
    """A string we wrote in the target syntax on purpose (interpolation, expression): kept."""

    __slots__ = ()


def escape_values(data: Any, escape: Callable[[str], str]) -> Any:
    """Return data with `escape` applied to every string value that is not `Syntax`.

    Keys are left alone: every key is ours or an env/label name restricted by its grammar.
    """
    if isinstance(data, Syntax):
        return str(data)
    if isinstance(data, str):
        return escape(data)
    if isinstance(data, dict):
        return {key: escape_values(value, escape) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [escape_values(item, escape) for item in data]
    return data


def dollar_literal(value: str) -> str:
    """Compose and Kubernetes (command, args, env) both read `$$` as one literal `$`."""
    return value.replace("$", "$$")


def arm_literal(value: str) -> str:
    """ARM evaluates a string that starts with `[` and ends with `]`; `[[` makes it literal."""
    return "[" + value if value.startswith("[") and value.endswith("]") else value


def arm_string(value: str) -> str:
    """Quote a value as a string literal inside an ARM expression (a quote is doubled)."""
    return "'" + value.replace("'", "''") + "'"


def fn_sub_literal(value: str) -> str:
    """Inside CloudFormation's Fn::Sub, `${!` writes a literal `${`."""
    return value.replace("${", "${!")


# CloudFormation resolves {{resolve:ssm|ssm-secure|secretsmanager:...}} in any template string
# and offers no escape for it, so user values that contain one are refused.
CFN_DYNAMIC_REFERENCE = re.compile(r"\{\{\s*resolve\s*:", re.IGNORECASE)


def has_dynamic_reference(value: str) -> bool:
    """Tell whether CloudFormation would resolve part of this text as a dynamic reference."""
    return CFN_DYNAMIC_REFERENCE.search(value) is not None
