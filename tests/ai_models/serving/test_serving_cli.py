"""`paissive-income deploy docker|kubernetes|cloud --config FILE --out DIR [--dry-run]`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import serving_validators
import yaml
from click.testing import CliRunner
from serving_files import console_script

from ai_models.serving.cli import deploy

DOCKER = {
    "image_name": "paissive-income-model-server",
    "base_image": "python:3.9-slim",
    "port": 8000,
    "model_path": "/models/my-model",
    "model_type": "text-generation",
    "gpu_count": 0,
}
KUBERNETES = {
    "name": "paissive-income",
    "namespace": "ai-services",
    "image": "paissive-income:0.1.0",
    "replicas": 2,
    "env_vars": {"LOG_LEVEL": "INFO", "MAX_BATCH_SIZE": 4},
    "volumes": [{"type": "persistentVolumeClaim", "source": "models-pvc", "target": "/app/models"}],
    "enable_hpa": True,
    "min_replicas": 1,
    "max_replicas": 5,
    "target_cpu_utilization": 80,
}
CLOUD = {
    "provider": "gcp",
    "name": "paissive-income",
    "region": "us-central1",
    "model_id": "org/model",
    "cpu_count": 2,
    "memory_gb": 8,
    "min_instances": 0,
    "max_instances": 5,
}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*console_script(), "deploy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data) if path.suffix == ".json" else yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("command", "config", "suffix"),
    [("docker", DOCKER, ".yaml"), ("kubernetes", KUBERNETES, ".yml"), ("cloud", CLOUD, ".json")],
)
def test_console_script_writes_valid_files(
    tmp_path: Path, command: str, config: dict, suffix: str
) -> None:
    config_file = write(tmp_path / f"config{suffix}", config)
    result = run(command, "--config", str(config_file), "--out", "generated", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.splitlines()]
    assert written and all((tmp_path / p).is_file() for p in written)
    assert all(p.parts[0] == "generated" for p in written)
    assert "Traceback" not in result.stderr
    checks = {
        "docker": ["hadolint", "compose-spec"],
        "kubernetes": ["kubernetes-validate", "kustomize"],
        "cloud": ["cloud-run-v2", "shellcheck", "hadolint"],
    }[command]
    for name in checks:
        assert serving_validators.ALL[name](tmp_path / "generated") == [], name


def test_warnings_are_printed_as_lines(tmp_path: Path) -> None:
    result = run(
        "docker", "--config", str(write(tmp_path / "c.yaml", DOCKER)), "--out", "d", cwd=tmp_path
    )
    assert result.returncode == 0
    assert result.stderr.startswith("warning: base_image 'python:3.9-slim' is below Python 3.10")


def test_dry_run_prints_and_writes_nothing(tmp_path: Path) -> None:
    result = run(
        "kubernetes",
        "--config",
        str(write(tmp_path / "k.yaml", KUBERNETES)),
        "--out",
        "k8s",
        "--dry-run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "k8s").exists()
    assert "==> k8s/deployment.yaml <==" in result.stdout
    assert "kind: Deployment" in result.stdout


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({**DOCKER, "port": 0, "image_name": "Bad Name"}, ["error: image_name:", "error: port:"]),
        (
            {**DOCKER, "env_vars": {"X": "a\nb"}},
            ['error: env_vars["X"]: "a\\nb" contains a control character'],
        ),
        ({**DOCKER, "colour": "blue"}, ["error: colour: is not a known field"]),
    ],
)
def test_config_errors_are_one_line_per_field(
    tmp_path: Path, config: dict, expected: list[str]
) -> None:
    result = run(
        "docker", "--config", str(write(tmp_path / "c.json", config)), "--out", "d", cwd=tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected)
    for line, start in zip(sorted(lines), sorted(expected), strict=True):
        assert line.startswith(start), lines
    assert result.stdout == "" and not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port: [\n", "invalid YAML at line 2, column 1"),
        ("- just\n- a list\n", "config: must be a mapping of fields, not list"),
        (
            "provider: oracle\nname: x\nregion: r\nmodel_path: /m\n",
            'provider: "oracle" is not a provider',
        ),
        ("name: x\nregion: r\nmodel_path: /m\n", "provider: is required"),
    ],
)
def test_bad_files_give_one_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "c.yaml").write_text(content)
    command = "cloud"
    result = run(command, "--config", "c.yaml", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_missing_file_and_unwritable_output(tmp_path: Path) -> None:
    missing = run("docker", "--config", "nope.yaml", "--out", "o", cwd=tmp_path)
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == "error: nope.yaml: cannot read the config file (No such file or directory)"
    )
    (tmp_path / "taken").write_text("a file, not a folder")
    write(tmp_path / "c.yaml", {**DOCKER, "base_image": "python:3.12-slim"})
    blocked = run("docker", "--config", "c.yaml", "--out", "taken", cwd=tmp_path)
    assert blocked.returncode == 1
    assert blocked.stderr.splitlines() == [
        "error: taken: cannot write (taken exists and is not a folder)"
    ]


def test_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"port": }')
    result = run("docker", "--config", "c.json", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: c.json: invalid JSON at line 1, column 10")


def test_click_runner_lists_one_command_per_target_family() -> None:
    result = CliRunner().invoke(deploy, ["--help"])
    assert result.exit_code == 0
    for command in ("docker", "kubernetes", "cloud"):
        assert f"  {command} " in result.output
    assert CliRunner().invoke(deploy, ["nomad"]).exit_code == 2


def test_click_runner_generates(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yaml",
        {**CLOUD, "provider": "azure", "region": "eastus", "cpu_count": 1, "memory_gb": 2},
    )
    result = CliRunner().invoke(
        deploy, ["cloud", "--config", str(config), "--out", str(tmp_path / "az")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "az" / "azuredeploy.json").is_file()
