"""The framework's image: the committed Dockerfile and .dockerignore, judged by real tools."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import dockerfile
import pytest
import yaml
from docker_stack_support import REGENERATE, REPO, validators
from dockerignore_rules import excluded, read_patterns

from paissive_income.deploy import image, stack
from paissive_income.deploy.compose import render_docker_stack


def _rendered(name: str) -> str:
    return next(file.text for file in render_docker_stack() if file.path == name)


@pytest.mark.parametrize("name", ["Dockerfile", ".dockerignore"])
def test_committed_image_files_are_the_generators_output(name: str) -> None:
    committed = (REPO / name).read_text() if (REPO / name).exists() else None
    assert committed == _rendered(name), f"{name} differs from the generator: {REGENERATE}"


def _instructions() -> list[dockerfile.Command]:
    return list(dockerfile.parse_string(_rendered("Dockerfile")))


def _final_stage() -> list[dockerfile.Command]:
    commands = _instructions()
    last_from = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    return commands[last_from:]


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(_rendered("Dockerfile"))
    assert "hadolint ignore" not in _rendered("Dockerfile")
    assert validators.hadolint(tmp_path) == []


@pytest.mark.slow
def test_checkov_finds_nothing(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(_rendered("Dockerfile"))
    skips = yaml.safe_load((REPO / "tests/deploy/checkov-skips.yaml").read_text())["skips"]
    argv = [validators.checkov_binary(), "-d", str(tmp_path), "--framework", "dockerfile"]
    argv += ["--skip-download", "--quiet", "--compact", "-o", "json"]
    argv += ["--skip-check", ",".join(entry["id"] for entry in skips)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    failed = [f"{c['check_id']} {c['check_name']}" for c in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 0 and failed == []


def test_runtime_stage_is_slim_non_root_and_probed() -> None:
    commands = _instructions()
    froms = [c.value[0] for c in commands if c.cmd == "FROM"]
    assert froms == [image.BASE_IMAGE, image.BASE_IMAGE] and ":" in image.BASE_IMAGE
    assert "slim" in image.BASE_IMAGE
    final = {c.cmd: c for c in _final_stage()}
    assert final["USER"].value == (str(stack.RUNTIME_UID),)
    assert final["EXPOSE"].value == (str(stack.WEB.port),)
    assert final["CMD"].json and list(final["CMD"].value) == ["paissive-income", "web"]
    assert final["HEALTHCHECK"].value == ("CMD", "python", "-m", "paissive_income.healthcheck")
    assert importlib.util.find_spec("paissive_income.healthcheck") is not None
    copies = [c for c in _final_stage() if c.cmd == "COPY"]
    assert [c.flags for c in copies] == [("--from=builder",)]  # only the venv, no sources
    labels = dict(zip(final["LABEL"].value[::2], final["LABEL"].value[1::2], strict=True))
    assert labels["org.opencontainers.image.version"] == f'"{stack.IMAGE_VERSION}"'
    env_lines = [c.original for c in _final_stage() if c.cmd == "ENV"]
    for setting in (f'HF_HOME="{stack.HF_HOME}"', f'INSTANCE_PATH="{stack.INSTANCE_PATH}"'):
        assert any(setting in line for line in env_lines), setting
    run = next(c.value[0] for c in _final_stage() if c.cmd == "RUN")
    for path in (stack.INSTANCE_PATH, stack.MODEL_CACHE):
        assert f"chown -R {stack.RUNTIME_UID}:0" in run and path in run and "chmod -R g=u" in run


def test_build_stage_installs_cpu_torch_then_the_pins_then_the_project() -> None:
    runs = [c for c in _instructions() if c.cmd == "RUN" and c.flags]
    assert all(c.flags == (f"--mount=type=cache,target={image.PIP_CACHE}",) for c in runs)
    torch, pins, project = (c.value[0] for c in runs)
    assert f"--index-url {image.TORCH_CPU_INDEX} --requirement torch.txt" in torch
    assert "--requirement pinned.txt" in pins and "--no-deps ." in project


def _shell_prefix(run: str) -> str:
    return run.split(" && pip ")[0]


def test_the_builds_requirement_filters_work_on_the_real_requirements(tmp_path: Path) -> None:
    """Run the Dockerfile's own grep and sed over requirements.txt, as the build does."""
    (tmp_path / "requirements.txt").write_text((REPO / "requirements.txt").read_text())
    for command in _instructions():
        if command.cmd == "RUN" and command.flags and " > " in command.value[0]:
            subprocess.run(["sh", "-c", _shell_prefix(command.value[0])], cwd=tmp_path, check=True)
    torch = (tmp_path / "torch.txt").read_text().split()
    pinned = [
        line
        for line in (tmp_path / "pinned.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(torch) == 1 and torch[0].startswith("torch==") and torch[0] in pinned
    # Nothing editable or local is left: the project goes in by `pip install --no-deps .`.
    assert all(not line.startswith(("-e", ".", "/", "file:")) for line in pinned), pinned
    assert all("==" in line for line in pinned), "every requirement stays pinned"


def _context_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_every_copy_source_reaches_the_builder() -> None:
    patterns = read_patterns(_rendered(".dockerignore"))
    sources = [
        source
        for command in _instructions()
        if command.cmd == "COPY" and not any(f.startswith("--from") for f in command.flags)
        for source in command.value[:-1]
    ]
    assert sources == list(image.BUILD_INPUTS)
    tracked = _context_files()
    for source in sources:
        assert (REPO / source).exists(), source
        inside = [path for path in tracked if path == source or path.startswith(source + "/")]
        assert inside, source
        left_out = [path for path in inside if excluded(path, patterns)]
        assert left_out == [], f"COPY {source}: .dockerignore drops {left_out[:5]}"


@pytest.mark.parametrize(
    "path",
    [
        "tests/deploy/test_deploy_image.py",
        ".git/HEAD",
        ".tools/checkov/bin/checkov",
        "secrets/secret_key",
        ".env",
        ".env.example",
        "benchmarks/stack.py",
        "instance/paissive.db",
        "docs/deployment.md",
        "docker-compose.yml",
        "src/paissive_income/__pycache__/cli.cpython-311.pyc",
        "src/paissive_income/__pycache__",
        "src/paissive_income/cli.pyc",
        "src/paissive_income.egg-info/PKG-INFO",
        "src/.pytest_cache/v/cache",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert excluded(path, read_patterns(_rendered(".dockerignore")))


# Docker's documented .dockerignore examples (docs.docker.com, "Build context"), plus moby's
# patternmatcher corner cases: the matcher above is only as good as these.
@pytest.mark.parametrize(
    ("ignore", "path", "left_out"),
    [
        ("# comment\n*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "somedir/temp/file", True),
        ("*/temp*", "temporary.txt", False),
        ("*/temp*", "a/b/temporary.txt", False),
        ("*/*/temp*", "somedir/subdir/temporary.txt", True),
        ("temp?", "tempa", True),
        ("temp?", "tempab", False),
        ("**/*.go", "a/b/c.go", True),
        ("**/*.go", "c.go", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", True),
        ("*.md\n!README*.md\nREADME-secret.md", "README-x.md", False),
        ("*.md\nREADME-secret.md\n!README*.md", "README-secret.md", False),
        ("/tests/", "tests/a/b.py", True),
        ("./tests", "tests/a.py", True),
        ("  tests  ", "tests/a.py", True),
        ("tests", "src/tests/a.py", False),
        ("**/tests", "src/tests/a.py", True),
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "docsx", False),
        ("**foo", "a/barfoo", True),  # moby's suffix shortcut: a plain string suffix
        ("**/__pycache__", "__pycache__", True),
        ("**/__pycache__", "a/__pycache__/b", True),
        ("*\n!src\nsrc/x", "src/x/y.py", True),
        ("*\n!src", "src/x/y.py", False),
        ("*\n!src", "src2/y.py", True),
        ("a[bc]d", "abd", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("file.txt", "fileXtxt", False),
    ],
)
def test_dockerignore_rules_follow_docker(ignore: str, path: str, left_out: bool) -> None:
    assert excluded(path, read_patterns(ignore)) is left_out


@pytest.mark.slow
def test_the_regular_install_ships_every_source_file(tmp_path: Path) -> None:
    """Build the project's wheel from the context the builder sees, as `pip install .` does.

    The image installs the project as a regular (not editable) package, so only what the wheel
    holds reaches the runtime: templates, static files and migrations included.
    """
    patterns = read_patterns(_rendered(".dockerignore"))
    context = tmp_path / "context"
    tracked = [path for path in _context_files() if (REPO / path).is_file()]
    for path in tracked:
        if not excluded(path, patterns):
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            (context / path).write_bytes((REPO / path).read_bytes())
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*argv, "-w", str(tmp_path), str(context)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    sources = [path for path in tracked if path.startswith("src/") and "egg-info" not in path]
    missing = [path for path in sources if path.removeprefix("src/") not in shipped]
    assert sources and missing == [], f"the image would lack {missing[:10]}"
