"""Reading docs/deployment.md and the README as their tests need: commands, paths, names."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import yaml

from paissive_income.cli import main as cli
from paissive_income.deploy import stack

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
TICKED = re.compile(r"`([^`\n]+)`")
# Folders and files a command creates, or that stay out of git: never expected to exist.
CREATED = {"secrets", ".env", "instance", "plan.md"}
IMAGE = stack.IMAGE_NAME
LINK = re.compile(r"\]\(((?!https?:)[^)#\s]*)(?:#([^)\s]+))?\)")  # relative: page#anchor
PLACEHOLDER = re.compile(r"<([a-z]+(?:\|[a-z]+)+)>")
MESSAGE_HOLE = re.compile(r"<[^>]+>|…")


def fenced(text: str, language: str) -> list[str]:
    """Return the bodies of the fenced blocks in ``language``."""
    return [body for lang, body in FENCE.findall(text) if lang == language]


def prose(text: str) -> str:
    """Return the text outside fenced blocks."""
    return FENCE.sub("", text)


def shell_commands(text: str, *, prose_too: bool = True) -> list[list[str]]:
    """Return every command of the bash blocks (and of backticked prose), split into words."""
    lines = [line for body in fenced(text, "bash") for line in body.splitlines()]
    if prose_too:
        lines += [span for span in TICKED.findall(prose(text)) if " " in span]
    commands = []
    for line in lines:
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"\s(?:&&|\|\||;|\|)\s", line):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            if words:
                commands.append(words)
    return commands


def expand(value: str) -> list[str]:
    """Expand a ``<dev|prod|gpu>`` placeholder into each alternative."""
    match = PLACEHOLDER.search(value)
    if not match:
        return [value]
    return [value.replace(match.group(0), choice) for choice in match.group(1).split("|")]


def parse_cli(words: list[str], *, complete: bool) -> None:
    """Parse a ``paissive-income`` command line as the console script would, without running it.

    ``complete``: the line is meant to run as written (a bash block), so its options must parse
    too; a command named in prose need only exist.
    """
    command: click.Command = cli
    context = click.Context(cli, info_name="paissive-income")
    args = words[1:]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(context, args[0])
        assert sub is not None, f"{' '.join(words)}: no command {args[0]!r}"
        context = click.Context(sub, info_name=args[0], parent=context)
        command, args = sub, args[1:]
    if complete:
        assert not isinstance(command, click.Group), f"{' '.join(words)}: a group, not a command"
        try:
            command.make_context(context.info_name, list(args), parent=context.parent)
        except click.BadParameter as exc:
            # A folder inside a container (/var/lib/…) need not exist where the test runs.
            inside = isinstance(getattr(exc.param, "type", None), click.Path)
            if not (inside and any(arg.startswith("/") for arg in args)):
                raise


def paissive_commands(text: str, *, prose_too: bool = True) -> list[list[str]]:
    """Return the ``paissive-income`` commands of a page, including those run in containers.

    ``db upgrade|current`` in prose stands for two commands: each is returned.
    """
    found = []
    for words in shell_commands(text, prose_too=prose_too):
        if words[:1] == ["paissive-income"]:
            found.append(words)
        elif words[:2] == ["docker", "run"]:  # docker run [options] IMAGE [COMMAND]
            pairs = [i for i in range(len(words) - 1) if words[i : i + 2] == [IMAGE, IMAGE]]
            found += [words[i + 1 :] for i in pairs[:1]]
        elif words[:2] == ["docker", "compose"] and "paissive-income" in words:
            found.append(words[words.index("paissive-income") :])
    expanded = []
    for words in found:
        alternatives = [word.split("|") if "|" in word else [word] for word in words[:3]]
        for first in alternatives[-1]:
            expanded.append([*words[: len(alternatives) - 1], first, *words[3:]])
    return [words for words in expanded if len(words) > 1]


def repo_paths(text: str) -> set[str]:
    """Return the repository paths a page names: backticked, or words of its commands."""
    tops = {entry.name for entry in ROOT.iterdir()} - CREATED
    candidates = set(TICKED.findall(prose(text)))
    candidates |= {
        word for words in shell_commands(text) if words[0] != "kubectl" for word in words
    }
    candidates |= kustomize_targets(text)
    paths = set()
    for candidate in candidates:
        for value in expand(candidate.strip().removeprefix("./")):
            first = value.split("/", 1)[0]
            if " " in value or first not in tops and first != "docs":
                continue
            if "/" in value or "." in value:
                paths.add(value.rstrip("/"))
    return paths


def anchors(markdown: str) -> set[str]:
    """Return GitHub's anchors of a page's headings."""
    result: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", prose(markdown), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = 1
        unique = slug
        while unique in result:  # GitHub numbers repeated headings: kubernetes, kubernetes-1
            unique, count = f"{slug}-{count}", count + 1
        result.add(unique)
    return result


def variables_read() -> set[str]:
    """Return every variable the code or the stack's committed files read or set."""
    names: set[str] = set()
    sources = [*ROOT.glob("src/**/*.py"), ROOT / "Dockerfile", ROOT / "docker-compose.yml"]
    sources += [ROOT / ".env.example", *ROOT.glob("deploy/**/*.y*ml"), *ROOT.glob("deploy/**/*.sh")]
    sources += [ROOT / ".github/workflows/ci-cd.yml", ROOT / ".gitlab-ci.yml"]
    sources += [ROOT / "azure-pipelines.yml", ROOT / "buildspec.yml"]
    for source in sources:
        if source.is_file():
            names |= set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", source.read_text()))
    from paissive_income.config import Settings

    names |= {name.upper() for name in Settings.model_fields}
    return names


def kustomize_targets(text: str) -> set[str]:
    """Return the folders given to ``kubectl apply -k`` / ``kustomize`` and the roll-out script."""
    targets = set()
    for words in shell_commands(text):
        for flag in ("-k", "--kustomize"):
            if words[:1] == ["kubectl"] and flag in words[:-1]:
                targets.update(expand(words[words.index(flag) + 1]))
        if words[:2] == ["sh", "deploy/ci/deploy-kubernetes.sh"] and len(words) > 2:
            targets.add(words[2])
    return targets


def compose_file() -> dict:
    """Return the committed docker-compose.yml."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_service(args: list[str]) -> str | None:
    """Return the service a ``docker compose exec|run|logs`` names, skipping its options."""
    with_value = {"-e", "--env", "-u", "--user", "-w", "--workdir", "--name"}
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in with_value else 1
    return args[index] if index < len(args) else None


def troubleshooting() -> str:
    """Return the troubleshooting section of the page."""
    text = prose(DOC.read_text())
    return text[text.index("## 10. Troubleshooting") :].split("\n## ", 1)[0]


def quoted_messages() -> list[str]:
    """Return the messages the troubleshooting section quotes (backticked, not commands)."""
    commands = ("paissive-income", "docker", "kubectl", "python", "ALTER")
    return [
        span
        for span in TICKED.findall(troubleshooting())
        if len(span.split()) >= 3 and not span.startswith(commands)
    ]


def message_pattern(message: str) -> re.Pattern[str]:
    """Return a regex for a quoted message: each ``<placeholder>`` or ``…`` stands for text."""
    parts = MESSAGE_HOLE.split(message)
    return re.compile(".+?".join(re.escape(part) for part in parts))


def source_text() -> str:
    """Return the project's source with implicitly joined string literals joined."""
    text = "\n".join(path.read_text() for path in ROOT.glob("src/**/*.py"))
    return re.sub(r"\"\s*\n\s*[rbf]*\"", "", text)
