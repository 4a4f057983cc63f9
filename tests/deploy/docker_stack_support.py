"""Shared pieces of the image and Compose tests: paths, the serving validators, a stack folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from paissive_income.deploy.compose import render_docker_stack
from paissive_income.deploy.secrets_files import write_secrets

REPO = Path(__file__).resolve().parents[2]
REGENERATE = "run `paissive-income deploy stack docker --out .` and commit the result"
STACK_FILES = ("Dockerfile", ".dockerignore", "docker-compose.yml", ".env.example")

sys.path.insert(0, str(REPO / "tests" / "ai_models" / "serving"))
import serving_validators  # noqa: E402  (the model server tests' validator helpers)

validators = serving_validators


def write_stack(folder: Path, image: str | None = None, *, secrets: bool = True) -> Path:
    """Render the stack into folder, with .env copied from .env.example and secret files."""
    files = render_docker_stack() if image is None else render_docker_stack(image=image)
    for file in files:
        (folder / file.path).write_text(file.text)
    shutil.copy(folder / ".env.example", folder / ".env")
    if secrets:
        write_secrets(folder / "secrets")
    return folder


def compose_config(folder: Path, *args: str, quiet: bool = False) -> dict | str:
    """`docker-compose config` of folder (Debian's 1.29.2): the resolved file, or its error."""
    argv = [validators.tool("docker-compose"), *args, "config", *(["-q"] if quiet else [])]
    result = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        return f"docker-compose {' '.join(args)} config failed: {result.stderr.strip()}"
    return {} if quiet else yaml.safe_load(result.stdout)
