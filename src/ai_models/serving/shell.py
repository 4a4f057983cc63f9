"""Build bash deploy scripts with every value quoted by shlex."""

from __future__ import annotations

import re
import shlex

from .errors import show
from .rules import text_problem

PREAMBLE = """\
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project_root="${PROJECT_ROOT:-$PWD}"
image_tag="${IMAGE_TAG:-$(date -u +%Y%m%d%H%M%S)}"
if [[ ! -f "$project_root/pyproject.toml" ]]; then
  echo "run this from the project root (the folder holding pyproject.toml) or set PROJECT_ROOT" >&2
  exit 1
fi
"""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Script:
    """Accumulate a bash script: a header, quoted assignments, then fixed command text."""

    def __init__(self, *summary: str) -> None:
        self.lines = ["#!/usr/bin/env bash"]
        for line in summary:
            # A line break in a comment would turn the rest of the value into commands.
            if text_problem(line):
                raise ValueError(f"script comment would not stay one line: {show(line)}")
            self.lines.append(f"# {line}")
        self.lines.append(PREAMBLE.rstrip("\n"))

    def assign(self, variable: str, value: str, env_override: str | None = None) -> Script:
        """Set a variable to a quoted constant, optionally overridable from the environment."""
        for name in (variable, env_override or "_"):
            if not _NAME.fullmatch(name):
                raise ValueError(f"{show(name)} is not a shell variable name")
        self.lines.append(f"{variable}={shlex.quote(value)}")
        if env_override:
            self.lines.append(f'{variable}="${{{env_override}:-${variable}}}"')
        return self

    def array(self, variable: str, values: list[str]) -> Script:
        """Set a bash array of quoted constants."""
        self.lines.append(f"{variable}=({' '.join(shlex.quote(v) for v in values)})")
        return self

    def block(self, text: str) -> Script:
        """Append commands we wrote ourselves (they use only the variables set above)."""
        self.lines.append(text.strip("\n"))
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
