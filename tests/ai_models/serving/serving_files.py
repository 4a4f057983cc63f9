"""Read generated files back: YAML with duplicate keys refused, Dockerfile instructions."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (the upstream generator's GPU bug)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    duplicates = {key for key in keys if keys.count(key) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate keys {duplicates}", node.start_mark
        )
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path | str) -> dict:
    """Parse a generated YAML file, failing on duplicate keys."""
    return yaml.load(Path(path).read_text(), Loader=UniqueKeyLoader)  # noqa: S506 (safe subclass)


def load_json(path: Path | str) -> dict:
    """Parse a generated JSON file, failing on duplicate keys."""

    def unique(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in {path}: {keys}"
        return dict(pairs)

    return json.loads(Path(path).read_text(), object_pairs_hook=unique)


def instructions(dockerfile: Path | str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) for each Dockerfile instruction, comments dropped."""
    result = []
    for line in Path(dockerfile).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest))
    return result


def stages(dockerfile: Path | str) -> list[list[tuple[str, str]]]:
    """Instructions grouped by FROM."""
    groups: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            groups.append([])
        groups[-1].append((keyword, rest))
    return groups


def env_pairs(argument: str) -> dict[str, str]:
    """Parse `ENV K="v" K2="v2"` as generated (values quoted, no spaces in keys)."""
    import shlex

    return dict(pair.split("=", 1) for pair in shlex.split(argument))


def console_script() -> list[str]:
    """The installed console script (falls back to the module when not on PATH)."""
    script = shutil.which("paissive-income") or shutil.which(
        "paissive-income", path=str(Path(sys.executable).parent)
    )
    if script:
        return [script]
    return [sys.executable, "-c", "from paissive_income.cli import main; main()"]
