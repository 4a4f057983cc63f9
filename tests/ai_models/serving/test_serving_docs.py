"""docs/model-server-deployment.md: every example runs, and what it writes passes the validators."""

from __future__ import annotations

import re
import shlex
import subprocess
import warnings
from pathlib import Path

import pytest
import serving_validators
from serving_files import console_script

DOC = Path(__file__).resolve().parents[3] / "docs" / "model-server-deployment.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == language]


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the page top to bottom in one folder: Python blocks, config files, CLI commands."""
    root = tmp_path_factory.mktemp("docs")
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for code in blocks("python"):
                exec(compile(code, str(DOC), "exec"), {})  # noqa: S102
        for body in blocks("yaml"):
            first, _, rest = body.partition("\n")
            if first.startswith("# file: "):
                (root / first.removeprefix("# file: ").strip()).write_text(rest)
        for body in blocks("bash"):
            for line in body.splitlines():
                if line.startswith("paissive-income deploy "):
                    result = subprocess.run(
                        [*console_script(), *shlex.split(line)[1:]],
                        capture_output=True,
                        text=True,
                        timeout=120,
                        check=False,
                    )
                    assert result.returncode == 0, (line, result.stderr)
    finally:
        os.chdir(cwd)
    return root


def test_page_has_examples_for_every_target() -> None:
    code = "\n".join(blocks("python"))
    for call in (
        "generate_docker_config",
        "generate_kubernetes_config",
        "CloudProvider.AWS",
        "CloudProvider.GCP",
        "CloudProvider.AZURE",
    ):
        assert call in code


@pytest.mark.slow
def test_examples_write_files_that_pass_every_validator(examples: Path) -> None:
    for folder in ("docker", "kubernetes", "aws", "gcp", "azure", "gcp-embeddings"):
        assert (examples / folder).is_dir(), folder
    assert serving_validators.validate_all(examples) == {}


def test_shell_examples_name_files_the_examples_wrote(examples: Path) -> None:
    for body in blocks("bash"):
        for path in re.findall(r"\b((?:docker|kubernetes|aws|gcp|azure)/[\w./-]*)", body):
            assert (examples / path).exists(), path


def test_entrypoint_block_matches_the_generated_dockerfile(examples: Path) -> None:
    (plain,) = [body for body in blocks("") if body.startswith("ENTRYPOINT")]
    dockerfile = (examples / "docker" / "Dockerfile").read_text()
    for line in plain.strip().splitlines():
        assert line in dockerfile


def test_error_example_is_what_the_cli_prints(examples: Path, tmp_path: Path) -> None:
    (sample,) = [body for body in blocks("") if body.startswith("error:")]
    config = (examples / "model-server.yaml").read_text().replace("cpu_count: 1", "cpu_count: 3")
    (tmp_path / "bad.yaml").write_text(config)
    result = subprocess.run(
        [*console_script(), "deploy", "cloud", "--config", "bad.yaml", "--out", "o"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == sample


def test_network_policy_example_is_valid_kubernetes(tmp_path: Path) -> None:
    (policy,) = [body for body in blocks("yaml") if "kind: NetworkPolicy" in body]
    (tmp_path / "networkpolicy.yaml").write_text(policy)
    binary = serving_validators.tool("kubernetes-validate")
    result = subprocess.run(
        [binary, "--strict", "--quiet", str(tmp_path / "networkpolicy.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
