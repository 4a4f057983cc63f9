"""Serialise manifests with libraries and write a target's files all at once, or not at all."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class OutputFile:
    """One generated file: its path inside the output folder, its text, and its mode."""

    path: str
    text: str
    executable: bool = False


# Strings that every YAML 1.1 and 1.2 parser reads back as the same string when left unquoted.
_PLAIN_SAFE = re.compile(r"[A-Za-z/][A-Za-z0-9_./-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


class _Dumper(yaml.SafeDumper):
    """A safe dumper that quotes any string a YAML 1.1/1.2 reader could take for another type."""

    def ignore_aliases(self, data: Any) -> bool:  # never emit &anchors / *aliases
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = _PLAIN_SAFE.fullmatch(value) and value.lower() not in _YAML_WORDS
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else "'")


_Dumper.add_representer(str, _represent_str)


def to_yaml(data: Any) -> str:
    """Serialise one document as block-style YAML with keys in the order built."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,
        width=1_000_000,
    )


def to_json(data: Any) -> str:
    """Serialise as indented JSON with a trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


def write_files(output_dir: str | os.PathLike[str], files: list[OutputFile]) -> list[str]:
    """Write every file into output_dir via a staging folder, so a failure leaves no partial set."""
    target = Path(output_dir)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name or 'out'}.staging-{secrets.token_hex(6)}"
    staging.mkdir()
    try:
        for file in files:
            _write(staging / file.path, file)
        if not target.exists():
            staging.rename(target)  # the folder appears complete in one step
        else:
            for file in files:
                (target / file.path).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / file.path, target / file.path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [os.path.join(os.fspath(output_dir), file.path) for file in files]


def _write(path: Path, file: OutputFile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(file.text)
    if file.executable:
        mode = path.stat().st_mode
        path.chmod(mode | ((mode & 0o444) >> 2))  # add x wherever r is set
