"""`paissive-income deploy docker|kubernetes|cloud --config FILE --out DIR [--dry-run]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml

from . import get_target
from .base import ServingConfig
from .cloud import CloudConfig
from .errors import DeploymentConfigError, collect_warnings
from .output import OutputFile, write_files
from .registry import commands


class CommandFailed(Exception):
    """A problem already phrased for the user; the command exits non-zero after printing it."""

    def __init__(self, *lines: str, code: int = 2) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines
        self.code = code


@click.group(name="deploy")
def deploy() -> None:
    """Generate deployment files for the AI Models Service (model server)."""


def load_config(path: Path, config_class: type[ServingConfig]) -> ServingConfig:
    """Read a YAML or JSON config file into a validated config."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandFailed(f"{path}: cannot read the config file ({_reason(exc)})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "could not be parsed"
        raise CommandFailed(f"{path}: invalid YAML{where}: {problem}") from None
    try:
        return config_class.from_mapping({} if data is None else data)
    except DeploymentConfigError as exc:
        raise CommandFailed(*exc.lines()) from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _run(
    config_path: Path, output_dir: Path, dry_run: bool, config_class: type[ServingConfig], name: str
) -> None:
    config = load_config(config_path, config_class)
    target = config.target if isinstance(config, CloudConfig) else get_target(name)
    with collect_warnings() as notes:
        files = target.render(config, str(output_dir))
    for note in notes:
        click.echo(f"warning: {note}", err=True)
    emit_files(files, output_dir, dry_run=dry_run)


def emit_files(files: list[OutputFile], output_dir: Path, *, dry_run: bool) -> None:
    """Print the files (dry run) or write them all at once and list their paths."""
    if dry_run:
        for file in files:
            click.echo(f"==> {output_dir / file.path} <==")
            click.echo(file.text, nl=False)
        return
    try:
        written = write_files(output_dir, files)
    except OSError as exc:
        raise CommandFailed(f"{output_dir}: cannot write ({_reason(exc)})", code=1) from None
    for path in written:
        click.echo(path)


def _add_command(name: str, config_class: type[ServingConfig]) -> None:
    @deploy.command(
        name=name,
        help=f"Write {name} deployment files from a YAML or JSON config "
        f"with the fields of {config_class.__name__}.",
    )
    @click.option(
        "--config",
        "config_path",
        required=True,
        type=click.Path(path_type=Path),
        help="YAML or JSON file with the config fields.",
    )
    @click.option(
        "--out",
        "output_dir",
        required=True,
        type=click.Path(path_type=Path),
        help="Folder to write (created if missing).",
    )
    @click.option("--dry-run", is_flag=True, help="Print the files instead of writing them.")
    def command(config_path: Path, output_dir: Path, dry_run: bool) -> None:
        try:
            _run(config_path, output_dir, dry_run, config_class, name)
        except CommandFailed as failure:
            for line in failure.lines:
                click.echo(f"error: {line}", err=True)
            sys.exit(failure.code)


for _name, _config_class in sorted(commands().items()):
    _add_command(_name, _config_class)
