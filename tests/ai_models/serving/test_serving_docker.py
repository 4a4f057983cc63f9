"""The Docker target: what the Dockerfile and compose file say, beyond passing the validators."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tomllib
from serving_files import env_pairs, load_yaml, stages
from serving_spread import SECRET_ENV, seed_docker

from ai_models.serving import generate_docker_config

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def generate(tmp_path: Path, **changes) -> Path:
    out = tmp_path / "docker"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_docker_config(seed_docker(**changes), out)
    return out


def test_dockerfile_is_multi_stage_non_root_and_starts_the_model_server(tmp_path: Path) -> None:
    out = generate(tmp_path, port=8123, model_path="/models/llm", model_type="embeddings")
    builder, runtime = stages(out / "Dockerfile")
    assert builder[0] == ("FROM", "python:3.10-slim AS builder")
    assert runtime[0] == ("FROM", "python:3.10-slim")
    runtime_args = dict(runtime)
    assert runtime_args["USER"] == "10001"  # numeric: runAsNonRoot can verify it
    assert json.loads(runtime_args["ENTRYPOINT"]) == ["paissive-income", "models", "serve"]
    assert json.loads(runtime_args["CMD"]) == [
        "--model-path",
        "/models/llm",
        "--model-type",
        "embeddings",
        "--host",
        "0.0.0.0",
        "--port",
        "8123",
    ]
    env = {}
    for keyword, rest in runtime:
        if keyword == "ENV" and not rest.startswith("PATH="):
            env.update(env_pairs(rest))
    # The same values in ENV: SageMaker replaces CMD with `serve`, the server falls back to env.
    assert {k: env[k] for k in ("MODEL_PATH", "MODEL_TYPE", "HOST", "PORT")} == {
        "MODEL_PATH": "/models/llm",
        "MODEL_TYPE": "embeddings",
        "HOST": "0.0.0.0",
        "PORT": "8123",
    }
    assert runtime_args["EXPOSE"] == "8123"
    # Everything after USER runs unprivileged; nothing switches back to root.
    keywords = [keyword for keyword, _ in runtime]
    assert "USER" not in keywords[keywords.index("USER") + 1 :]


def test_healthcheck_is_exec_form_python_against_healthz(tmp_path: Path) -> None:
    out = generate(tmp_path, port=8123)
    healthcheck = dict(stages(out / "Dockerfile")[-1])["HEALTHCHECK"]
    options, _, command = healthcheck.partition(" CMD ")
    assert "--start-period=600s" in options
    argv = json.loads(command)
    assert argv[:2] == ["python3", "-c"]
    assert "http://127.0.0.1:8123/healthz" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")  # the one-liner is valid Python


def test_image_installs_this_project_with_cpu_torch(tmp_path: Path) -> None:
    out = generate(tmp_path, additional_packages=["tiktoken==0.7.0"])
    builder = stages(out / "Dockerfile")[0]
    copies = [rest for keyword, rest in builder if keyword == "COPY"]
    assert copies == ["pyproject.toml README.md ./", "src ./src"]
    pip = json.loads([rest for keyword, rest in builder if keyword == "RUN"][-1])
    assert pip[:3] == ["/opt/venv/bin/pip", "install", "--no-cache-dir"]
    assert pip[-2:] == [".", "tiktoken==0.7.0"]
    assert "https://download.pytorch.org/whl/cpu" in pip


def test_copied_files_are_enough_to_build_this_project(tmp_path: Path) -> None:
    """Rebuild the builder stage's context from the repository and build the project's wheel."""
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"].get("readme", "README.md") == "README.md"  # the file COPY names
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", context)
    if (PROJECT_ROOT / "README.md").exists():
        shutil.copy(PROJECT_ROOT / "README.md", context)
    shutil.copytree(
        PROJECT_ROOT / "src",
        context / "src",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("paissive_income-*.whl"))


def test_gpu_uses_a_cuda_runtime_base_and_pypi_torch(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="has no CUDA runtime"):
        generate_docker_config(seed_docker(gpu_count=1), tmp_path / "gpu")
    python_stage, builder, runtime = stages(tmp_path / "gpu" / "Dockerfile")
    assert (
        python_stage[0][1].startswith("nvidia/cuda:")
        and "-runtime-ubuntu22.04" in python_stage[0][1]
    )
    assert builder[0] == ("FROM", "cuda-python AS builder")
    assert runtime[0] == ("FROM", "cuda-python")
    assert "download.pytorch.org/whl/cpu" not in (tmp_path / "gpu" / "Dockerfile").read_text()


def test_own_cuda_base_is_kept(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate_docker_config(
            seed_docker(gpu_count=1, base_image="nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04"),
            tmp_path,
        )
    assert (
        "FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 AS cuda-python"
        in (tmp_path / "Dockerfile").read_text()
    )


@pytest.mark.parametrize(
    ("requested", "used"),
    [
        ("python:3.9-slim", "python:3.10-slim"),
        ("python:3.8", "python:3.10"),
        ("python:3.9.18-slim-bookworm", "python:3.10-slim-bookworm"),
        ("docker.io/library/python:3.7-slim", "docker.io/library/python:3.10-slim"),
        ("python:2.7-slim", "python:3.10-slim"),
    ],
)
def test_old_python_bases_are_raised_to_the_minimum_with_a_warning(
    tmp_path, requested, used
) -> None:
    with pytest.warns(UserWarning, match="base_image") as caught:
        generate_docker_config(seed_docker(base_image=requested), tmp_path)
    assert used in str(caught[0].message)
    assert f"FROM {used} AS builder" in (tmp_path / "Dockerfile").read_text()


@pytest.mark.parametrize(
    "base",
    ["python:3.12-slim", "python:3.10", "python:3", "myregistry.example.com/ml/python:3.11-slim"],
)
def test_supported_bases_are_kept_without_warning(tmp_path: Path, base: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate_docker_config(seed_docker(base_image=base), tmp_path)
    assert f"FROM {base} AS builder" in (tmp_path / "Dockerfile").read_text()


def test_compose_service(tmp_path: Path) -> None:
    out = generate(
        tmp_path,
        cpu_limit="2",
        memory_limit="4Gi",
        env_vars=SECRET_ENV,
        volumes=[{"type": "volume", "source": "hf", "target": "/data", "read_only": True}],
        restart_policy="always",
    )
    compose = load_yaml(out / "docker-compose.yml")
    service = compose["services"]["paissive-income-model-server"]
    assert service["ports"] == [{"target": 8000, "published": "8000", "protocol": "tcp"}]
    assert service["environment"]["LOG_LEVEL"] == "INFO"
    assert service["environment"]["MAX_BATCH_SIZE"] == "4"
    assert service["environment"]["AI_MODEL_API_KEY"].startswith("${AI_MODEL_API_KEY:?")
    assert service["deploy"]["resources"]["limits"] == {"cpus": "2", "memory": "4g"}
    assert "reservations" not in service["deploy"]["resources"]
    assert service["restart"] == "always"
    assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert {"type": "volume", "source": "hf", "target": "/data", "read_only": True} in service[
        "volumes"
    ]
    assert set(compose["volumes"]) == {"model-cache", "hf"}
    assert service["healthcheck"]["test"][0] == "CMD"
    # The build section points back at this folder's Dockerfile from the project root.
    build = service["build"]
    assert (out / build["context"] / build["dockerfile"]).resolve() == (
        out / "Dockerfile"
    ).resolve()


def test_compose_reserves_gpus_once(tmp_path: Path) -> None:
    out = generate(tmp_path, gpu_count=2)
    resources = load_yaml(out / "docker-compose.yml")["services"]["paissive-income-model-server"][
        "deploy"
    ]["resources"]
    assert resources == {
        "reservations": {"devices": [{"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}]}
    }


def test_compose_mounts_the_model_folder_read_only(tmp_path: Path) -> None:
    out = generate(tmp_path)
    volumes = load_yaml(out / "docker-compose.yml")["services"]["paissive-income-model-server"][
        "volumes"
    ]
    model = [v for v in volumes if v["target"] == "/models/my-model"]
    assert model == [
        {
            "type": "bind",
            "source": "${MODEL_DIR:?set MODEL_DIR to the host folder holding the model}",
            "target": "/models/my-model",
            "read_only": True,
        }
    ]
    hub = generate(tmp_path / "hub", model_path=None, model_id="org/model")
    volumes = load_yaml(hub / "docker-compose.yml")["services"]["paissive-income-model-server"][
        "volumes"
    ]
    assert [v["target"] for v in volumes] == ["/var/cache/paissive-income"]


def test_ignore_files_keep_secrets_out_and_the_project_in(tmp_path: Path) -> None:
    out = generate(tmp_path)
    ignore = (out / ".dockerignore").read_text()
    assert ignore == (out / "Dockerfile.dockerignore").read_text()
    patterns = [line for line in ignore.splitlines() if line and not line.startswith("#")]
    assert "**/.env" in patterns and "**/.git" in patterns
    assert not {"pyproject.toml", "README.md", "src", "src/"} & set(patterns)


def test_generated_dockerfile_has_no_secret_or_user_env(tmp_path: Path) -> None:
    out = generate(tmp_path, env_vars={**SECRET_ENV, "GREETING": "hello $USER"})
    dockerfile = (out / "Dockerfile").read_text()
    assert "sk-not-a-real-key" not in dockerfile and "hello" not in dockerfile
    for path in out.iterdir():
        assert "sk-not-a-real-key" not in path.read_text()
