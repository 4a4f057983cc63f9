"""``paissive-income deploy``: the framework's stack (``deploy stack``) or the model server."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ai_models.serving.cli import CommandFailed, emit_files
from ai_models.serving.cli import deploy as model_server_deploy
from ai_models.serving.fields import split_image
from ai_models.serving.output import OutputFile
from paissive_income.deploy.secrets_files import secrets_command
from paissive_income.deploy.stack import DEFAULT_IMAGE, IMAGE_NAME

# Stack target -> "module:function" taking the image reference and returning the files.
STACK_TARGETS = {
    "docker": "paissive_income.deploy.compose:render_docker_stack",
    "kubernetes": "paissive_income.deploy.kubernetes:render_kubernetes_stack",
}
TARGET_HELP = {
    "docker": "Dockerfile, .dockerignore, docker-compose.yml and .env.example (write to the root).",
    "kubernetes": "deploy/kubernetes: a base and the dev, prod and gpu Kustomize overlays.",
}


def stack_renderer(target: str) -> Callable[..., list[OutputFile]]:
    """Return the function that renders a stack target's files."""
    module_name, attribute = STACK_TARGETS[target].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def render_stack(target: str, *, image: str = DEFAULT_IMAGE) -> list[OutputFile]:
    """Render a stack target's files in memory (what ``deploy stack`` writes)."""
    return stack_renderer(target)(image=image)


def _check_image(image: str) -> str:
    """Refuse an image reference a manifest or Compose file could not carry safely."""
    try:
        split_image(image)
    except ValueError as exc:
        raise click.BadParameter(str(exc).splitlines()[0], param_hint="--image") from None
    return image


@click.group(name="stack")
def stack() -> None:
    """Write the framework's own deployment files (all services, not only the model server)."""


def _add_stack_command(target: str) -> None:
    @stack.command(name=target, help=f"Write {TARGET_HELP[target]}")
    @click.option(
        "--out",
        "output_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder to write (created if missing).",
    )
    @click.option(
        "--image",
        default=DEFAULT_IMAGE,
        show_default=True,
        help=f"Image reference of the project's image (built as {IMAGE_NAME}).",
    )
    @click.option("--dry-run", is_flag=True, help="Print the files instead of writing them.")
    def command(output_dir: Path, image: str, dry_run: bool) -> None:
        files = render_stack(target, image=_check_image(image))
        try:
            emit_files(files, output_dir, dry_run=dry_run)
        except CommandFailed as failure:
            for line in failure.lines:
                click.echo(f"error: {line}", err=True)
            sys.exit(failure.code)


for _target in STACK_TARGETS:
    _add_stack_command(_target)

deploy = click.Group(
    name="deploy",
    help="Write deployment files: the framework's stack, or the model server alone.",
    commands={**model_server_deploy.commands, "stack": stack, "secrets": secrets_command},
)
