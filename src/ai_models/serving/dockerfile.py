"""Build Dockerfiles from instructions with safe quoting, and choose a base image that works."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .errors import show
from .fields import split_image
from .rules import text_problem

MIN_PYTHON = (3, 10)  # pyproject's requires-python; torch and transformers need it
DEFAULT_CPU_BASE = "python:3.11-slim"
DEFAULT_GPU_BASE = "nvidia/cuda:12.4.1-runtime-ubuntu22.04"
_CUDA_UBUNTU = ("ubuntu22.04", "ubuntu24.04")  # their apt python3 is 3.10 / 3.12
_PYTHON_TAG = re.compile(r"(?P<version>\d+(?:\.\d+){0,2})?(?:-?(?P<variant>[A-Za-z0-9_.-]*))?")


@dataclass
class BaseImage:
    """The base image a Dockerfile uses, its family, and why it differs from what was asked."""

    reference: str
    family: str  # "python" (official image), "cuda" (nvidia/cuda Ubuntu), "custom"
    warnings: list[str] = field(default_factory=list)


def image_family(reference: str) -> str:
    """Classify an image reference by its repository path."""
    path = split_image(reference)["path"] or ""
    if path == "python" or path.endswith("/python"):
        return "python"
    if path == "nvidia/cuda" or path.endswith("/nvidia/cuda"):
        return "cuda"
    return "custom"


def pinned_image_errors(reference: str) -> list[str]:
    """Return why an image a Dockerfile builds FROM is not pinned (empty when it is)."""
    parts = split_image(reference)
    tag, digest = parts["tag"], parts["digest"]
    if not tag and not digest:
        return [f"{show(reference)} needs a tag or digest so builds are reproducible"]
    if tag == "latest":
        return [f"{show(reference)} uses 'latest'; pin a version tag"]
    return []


def base_image_errors(reference: str) -> list[str]:
    """Return why a base image cannot build this project (empty when it can)."""
    pinned = pinned_image_errors(reference)
    if pinned:
        return pinned
    parts = split_image(reference)
    tag, digest = parts["tag"], parts["digest"]
    family = image_family(reference)
    if family == "python":
        variant = (_PYTHON_TAG.fullmatch(tag or "") or _PYTHON_TAG.fullmatch(""))["variant"] or ""
        if any(word in variant for word in ("alpine", "windows", "nanoserver")):
            return [
                f"{show(reference)}: torch publishes no wheels for this variant; use a -slim tag"
            ]
        if digest and _too_old(tag):
            return [f"{show(reference)} is below Python 3.10 and pinned by digest; pick 3.10+"]
    if family == "cuda" and not any(word in (tag or "") for word in _CUDA_UBUNTU):
        return [f"{show(reference)}: use an Ubuntu 22.04/24.04 CUDA tag (their python3 is 3.10+)"]
    return []


def _too_old(tag: str | None) -> bool:
    match = _PYTHON_TAG.fullmatch(tag or "")
    version = match["version"] if match else None
    if not version:
        return False
    numbers = tuple(int(part) for part in version.split("."))
    if len(numbers) == 1:
        return numbers[0] < MIN_PYTHON[0]
    return numbers[:2] < MIN_PYTHON


def resolve_base_image(requested: str | None, gpu_count: int) -> BaseImage:
    """Pick the base image: the one asked for, raised to Python 3.10, or CUDA for GPUs."""
    if requested is None:
        default = DEFAULT_GPU_BASE if gpu_count else DEFAULT_CPU_BASE
        return BaseImage(default, image_family(default))
    family = image_family(requested)
    if gpu_count and family == "python":
        return BaseImage(
            DEFAULT_GPU_BASE,
            "cuda",
            [
                f"base_image {requested!r} has no CUDA runtime; using {DEFAULT_GPU_BASE!r} "
                f"because gpu_count={gpu_count}"
            ],
        )
    tag = split_image(requested)["tag"]
    if family == "python" and _too_old(tag):
        match = _PYTHON_TAG.fullmatch(tag or "")
        variant = match["variant"] if match else ""
        major, minor = MIN_PYTHON
        new_tag = f"{major}.{minor}-{variant}" if variant else f"{major}.{minor}"
        raised = requested[: len(requested) - len(tag)] + new_tag
        message = (
            f"base_image {requested!r} is below Python {major}.{minor}, which this project "
            f"requires; using {raised!r}"
        )
        return BaseImage(raised, family, [message])
    return BaseImage(requested, family)


class Dockerfile:
    """Accumulate Dockerfile lines; every argument is quoted by construction."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _line(self, line: str) -> Dockerfile:
        # Configs are validated long before this; the check keeps one value = one line even
        # if a future caller forgets, since a line break here would start a new instruction.
        problem = text_problem(line)
        if problem or (line.endswith("\\") and not line.startswith("#")):
            raise ValueError(f"Dockerfile line would not stay one instruction: {show(line)}")
        self.lines.append(line)
        return self

    def comment(self, *texts: str) -> Dockerfile:
        for text in texts:
            self._line(f"# {text}")
        return self

    def blank(self) -> Dockerfile:
        self.lines.append("")
        return self

    def add(self, keyword: str, argument: str) -> Dockerfile:
        """Add a shell-form instruction whose argument we built ourselves."""
        return self._line(f"{keyword} {argument}")

    def exec_form(self, keyword: str, argv: list[str], prefix: str = "") -> Dockerfile:
        """Add an exec-form (JSON array) instruction: no shell, no word splitting."""
        head = f"{keyword} {prefix} " if prefix else f"{keyword} "
        return self._line(head + json.dumps(argv, ensure_ascii=True))

    def pairs(self, keyword: str, values: dict[str, str]) -> Dockerfile:
        """Add ENV or LABEL with each value double-quoted and escaped."""
        if values:
            self._line(f"{keyword} " + " ".join(f"{k}={quote(v)}" for k, v in values.items()))
        return self

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def quote(value: str) -> str:
    """Quote a value for ENV/LABEL: only \\, " and $ are special inside Dockerfile quotes."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
