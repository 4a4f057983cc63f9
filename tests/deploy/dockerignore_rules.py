"""Docker's .dockerignore rules, for tests: which paths of a build context reach the builder.

A port of moby/patternmatcher (ignorefile.ReadAll, Pattern.compile, MatchesOrParentMatches),
the code both the classic builder and BuildKit use:
- a line starting with `#` is a comment; lines are trimmed; empty lines are skipped;
- `!` re-includes; patterns are cleaned like Go's filepath.Clean, a leading `/` is dropped;
- `*` and `?` never cross `/`, `[...]` is a class, `\\` escapes, `**` spans any directories;
- a pattern matches a path or any of its parent directories; the last matching line wins.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

_REGEX_SPECIAL = set(".+()|{}$")


@dataclass(frozen=True)
class Pattern:
    """One cleaned pattern: whether it re-includes, how it matches, and its expression."""

    text: str
    exclusion: bool
    kind: str  # "exact", "prefix" (`foo/**`), "suffix" (`**/foo`) or "regexp", as moby decides
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        """Pattern.match: the same shortcut per kind as moby, else the expression."""
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None


def read_patterns(text: str) -> list[str]:
    """ignorefile.ReadAll: the patterns of a .dockerignore file, cleaned, `!` kept."""
    patterns = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = _clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def _clean(path: str) -> str:
    """Go's filepath.Clean on a slash path (normpath keeps a leading `//`; Clean does not)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def compile_pattern(pattern: str) -> Pattern:
    """Pattern.compile: the pattern's kind and, for "regexp", its anchored expression."""
    exclusion = pattern.startswith("!")
    text = pattern[1:] if exclusion else pattern
    regex, kind, index = "^", "exact", 0
    while index < len(text):
        char, first = text[index], index == 0
        if char == "*" and text[index + 1 : index + 2] == "*":
            index += 1
            if text[index + 1 : index + 2] == "/":
                index += 1  # `**/` is `**`
            if index + 1 >= len(text):  # `**` at the end: everything below
                if kind == "exact":
                    kind = "prefix"
                else:
                    regex, kind = regex + ".*", "regexp"
            else:
                regex, kind = regex + "(.*/)?", "regexp"  # any number of directories
            if first:
                kind = "suffix"  # later wildcards turn it back into "regexp"
        elif char == "*":
            regex, kind = regex + "[^/]*", "regexp"
        elif char == "?":
            regex, kind = regex + "[^/]", "regexp"
        elif char in _REGEX_SPECIAL:
            regex += "\\" + char
        elif char == "\\":
            if index + 1 < len(text):
                index += 1
                regex, kind = regex + "\\" + text[index], "regexp"
            else:
                regex += "\\\\"
        elif char in "[]":
            regex, kind = regex + char, "regexp"
        else:
            regex += char
        index += 1
    compiled = re.compile(regex + r"\Z") if kind == "regexp" else None
    return Pattern(text, exclusion, kind, compiled)


def excluded(path: str, patterns: list[str]) -> bool:
    """MatchesOrParentMatches: whether a context-relative slash path is left out of the build."""
    compiled = [compile_pattern(pattern) for pattern in patterns]
    parent = posixpath.dirname(path) or "."
    parents = parent.split("/")
    matched = False
    for pattern in compiled:
        if pattern.exclusion != matched:
            continue  # only a re-include can change an exclusion, and the other way round
        match = pattern.match(path)
        if not match and parent != ".":
            match = any(pattern.match("/".join(parents[: n + 1])) for n in range(len(parents)))
        if match:
            matched = not pattern.exclusion
    return matched
