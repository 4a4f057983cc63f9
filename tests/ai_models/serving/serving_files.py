"""Read generated files back: YAML with duplicate keys refused, Dockerfile instructions."""

from __future__ import annotations

import json
import re
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


# Read every string back the way the platform will, failing where it would evaluate one. ------


class Evaluated(AssertionError):
    """A generated string that the platform would evaluate instead of taking literally."""


_COMPOSE_OURS = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}$]*\}")  # ${NAME:?message}, ours on purpose


def dollar_value(text: str, expands: str) -> str:
    """Compose (`$x`, `${x}`) and Kubernetes (`$(x)`) read `$$` as `$`; refuse expansions."""
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "$" and text[index + 1 : index + 2] == "$":
            out.append("$")
            index += 2
            continue
        if char == "$" and re.match(expands, text[index + 1 :]):
            raise Evaluated(f"{text!r} would be expanded")
        out.append(char)
        index += 1
    return "".join(out)


def compose_strings(path: Path) -> list[str]:
    """Every value of docker-compose.yml as Compose reads it (our ${X:?...} left out)."""
    values = [s for s in strings(load_yaml(path)) if not _COMPOSE_OURS.fullmatch(s)]
    return [dollar_value(s, r"[{A-Za-z_]") for s in values]


def kubernetes_strings(path: Path) -> list[str]:
    """Every string of a manifest; container args as the kubelet expands them."""
    data = load_yaml(path)
    spec = data.get("spec", {}).get("template", {}).get("spec", {})
    for container in spec.get("containers", []):
        container["args"] = [dollar_value(a, r"\(") for a in container.get("args", [])]
    return list(strings(data))


def arm_value(text: str) -> str | None:
    """ARM's reading of a string: `[[...]` is literal `[...]`; `[...]` an expression (None)."""
    if text.startswith("[") and text.endswith("]"):
        return text[1:] if text.startswith("[[") else None
    return text


def arm_strings(path: Path, expressions: set[str] | None = None) -> list[str]:
    """Literal strings of an ARM template; expressions are collected into `expressions`."""
    result = []
    for text in strings(load_json(path)):
        value = arm_value(text)
        if value is None:
            if expressions is not None:
                expressions.add(text)
            # String literals inside an expression: 'it''s' is it's.
            result += [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", text)]
        else:
            result.append(value)
    return result


def cfn_value(data: object) -> str | None:
    """CloudFormation's reading of a literal, Fn::Sub (`${!` is `${`) or Fn::Join of literals."""
    if isinstance(data, str):
        value = data
    elif isinstance(data, dict) and list(data) == ["Fn::Sub"] and isinstance(data["Fn::Sub"], str):
        value = data["Fn::Sub"].replace("${!", "${")
    elif isinstance(data, dict) and list(data) == ["Fn::Join"]:
        delimiter, parts = data["Fn::Join"]
        if not all(isinstance(part, str) for part in parts):
            return None
        value = delimiter.join(parts)
    else:
        return None
    if re.search(r"\{\{\s*resolve\s*:", value, re.IGNORECASE) and not re.fullmatch(
        r"\{\{resolve:secretsmanager:[^{}]+\}\}", value
    ):
        raise Evaluated(f"{value!r} holds a dynamic reference CloudFormation resolves")
    return value


def cfn_strings(path: Path) -> list[str]:
    """Every key and literal value of a CloudFormation template, as CloudFormation reads it."""
    result: list[str] = []

    def walk(data: object) -> None:
        value = cfn_value(data)
        if value is not None:
            result.append(value)
        elif isinstance(data, dict):
            for key, item in data.items():
                result.append(key)
                walk(item)
        elif isinstance(data, list):
            for item in data:
                walk(item)

    walk(load_yaml(path))
    return result


def strings(data: object):
    """Yield every string in parsed YAML/JSON data: keys and values."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from strings(item)


def dockerfile_strings(path: Path) -> list[str]:
    """Parse with BuildKit's own parser; unquote ENV/LABEL values as BuildKit does."""
    try:
        import dockerfile  # BuildKit's Go parser, bound for Python
    except ImportError:  # a missing judge is a failure, as in serving_validators
        raise AssertionError("pip install dockerfile==3.4.0 (requirements-dev.txt)") from None

    result = []
    for command in dockerfile.parse_file(str(path)):
        if command.json:
            result += command.value
        elif command.cmd in ("ENV", "LABEL"):
            values = command.value
            for key, value in zip(values[::2], values[1::2], strict=True):
                ours = (key, value) == ("PATH", "/opt/venv/bin:$PATH")  # expands on purpose
                result += [key, value if ours else _docker_unquote(value)]
        else:
            result += command.value
    return result


def _docker_unquote(text: str) -> str:
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        raise Evaluated(f"{text!r}: generated ENV/LABEL values are double-quoted")
    out, index, body = [], 0, text[1:-1]
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body) and body[index + 1] in '"$\\':
            out.append(body[index + 1])
            index += 2
            continue
        if char == "$":
            raise Evaluated(f"{text!r} would be expanded by BuildKit")
        if char == '"':
            raise Evaluated(f"{text!r} ends its quotes early")
        out.append(char)
        index += 1
    return "".join(out)


def script_variables(path: Path) -> list[str]:
    """The values deploy.sh assigns before its first command, as bash reads them."""
    import subprocess

    lines = Path(path).read_text().splitlines()
    start = lines.index("fi") + 1  # the end of shell.PREAMBLE; generated assignments follow
    word = r"""(?:[\w@%+=:,./-]+|'[^']*'(?:"'"'[^']*')*)"""  # what shlex.quote writes
    constant = re.compile(rf"[a-z_]+=(?:{word}|\((?:{word}(?: {word})*)?\))")
    assignments = []
    for line in lines[start:]:
        if not constant.fullmatch(line):
            break  # the first command: never run it here
        assignments.append(line)
    names = [line.split("=", 1)[0] for line in assignments]
    body = "\n".join([*assignments, 'printf "%s\\0" ' + " ".join(f'"${{{n}[@]}}"' for n in names)])
    result = subprocess.run(["bash", "-c", body], capture_output=True, timeout=30, check=True)
    return result.stdout.decode().split("\0")[:-1]


READERS = {
    "docker-compose.yml": compose_strings,
    "cloudformation.yaml": cfn_strings,
    "azuredeploy.json": arm_strings,
    "service.json": lambda path: list(strings(load_json(path))),
    "Dockerfile": dockerfile_strings,
    "deploy.sh": script_variables,
}


def read_back(folder: Path) -> list[str]:
    """Every string the generated files in folder hold, as each platform will read it."""
    found: list[str] = []
    for path in sorted(folder.rglob("*")):
        reader = READERS.get(path.name) or (kubernetes_strings if path.suffix == ".yaml" else None)
        if reader is not None:
            found += reader(path)
    return found
