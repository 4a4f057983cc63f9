"""The Compose stack: committed files, the Compose schema, docker-compose, and stack.py's facts."""

from __future__ import annotations

import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from docker_stack_support import (
    REGENERATE,
    REPO,
    STACK_FILES,
    compose_config,
    validators,
    write_stack,
)

from ai_models.serving import vllm
from ai_models.serving.fields import cpu_cores, memory_bytes
from paissive_income.cli import main
from paissive_income.deploy import compose_gpu, stack
from paissive_income.deploy.compose import env_variables, interpolate, render_docker_stack
from paissive_income.deploy.image import HEALTHCHECK

REGISTRY_IMAGE = "registry.example.com:5000/team/paissive-income:1.2.3"
INFRA = {service.name for service in stack.INFRA_SERVICES}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stack(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="module")
def resolved(folder: Path) -> dict:
    """`docker-compose config` with the .env.example defaults (profile cpu)."""
    config = compose_config(folder)
    assert isinstance(config, dict), config
    return config


@pytest.fixture(scope="module")
def resolved_gpu(folder: Path) -> dict:
    config = compose_config(folder, "--profile", "gpu")
    assert isinstance(config, dict), config
    return config


def _raw() -> dict:
    text = next(f.text for f in render_docker_stack() if f.path == "docker-compose.yml")
    return yaml.safe_load(text)


@pytest.mark.parametrize("name", STACK_FILES)
def test_committed_files_are_the_generators_output(name: str) -> None:
    rendered = {file.path: file.text for file in render_docker_stack()}
    committed = (REPO / name).read_text() if (REPO / name).exists() else None
    assert committed == rendered[name], f"{name} differs from the generator: {REGENERATE}"


def test_compose_spec_schema(folder: Path) -> None:
    assert validators.compose_schema(folder) == []


@pytest.mark.parametrize("profile", [[], ["--profile", "gpu"]])
def test_docker_compose_parses_it(folder: Path, profile: list[str]) -> None:
    assert compose_config(folder, *profile, quiet=True) == {}


def _active(config: dict, profile: str) -> set[str]:
    """The services `docker compose up` starts with COMPOSE_PROFILES=profile."""
    services = config["services"].items()
    return {name for name, entry in services if profile in entry.get("profiles", [profile])}


def test_profiles_pick_one_model_service(resolved: dict, resolved_gpu: dict) -> None:
    app = {service.name for service in stack.APP_SERVICES}
    assert _active(resolved, "cpu") == app | INFRA
    gpu = app - {stack.AI_MODELS.name} | INFRA | {compose_gpu.NAME, compose_gpu.INIT_NAME}
    assert _active(resolved, "gpu") == gpu
    assert "cpu" in (REPO / ".env.example").read_text().split("COMPOSE_PROFILES=")[1][:4]
    aliases = resolved_gpu["services"][compose_gpu.NAME]["networks"]["backend"]["aliases"]
    assert aliases == [stack.AI_MODELS.name]  # AI_MODELS_URL's host, whichever profile runs


@pytest.mark.parametrize("service", stack.APP_SERVICES, ids=lambda s: s.name)
def test_app_services_run_what_stack_py_says(resolved: dict, service: stack.AppService) -> None:
    entry = resolved["services"][service.name]
    assert entry["command"] == list(service.command)
    env = dict(entry["environment"])
    env.pop("HEALTHCHECK_URL", None)
    assert env == {**service.env, **stack.secret_files(service, stack.COMPOSE_SECRETS_DIR)}
    assert sorted(s["source"] for s in entry["secrets"]) == sorted(set(service.secrets.values()))
    assert entry["read_only"] is True and entry["tmpfs"] == ["/tmp"]
    targets = {volume["target"] for volume in entry["volumes"]}
    assert targets == set(service.writable) - {"/tmp"}
    assert _resources(entry) == _stack_resources(service.resources)
    if service.port is not None:
        url = f"http://127.0.0.1:{service.port}{service.ready_path}"
        assert entry["environment"]["HEALTHCHECK_URL"] == url
        assert entry["healthcheck"]["test"] == ["CMD", *HEALTHCHECK]


def _resources(entry: dict) -> tuple:
    """(cpu limit, memory limit, cpu reservation, memory reservation) in cores and bytes."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    resources = entry["deploy"]["resources"]

    def amounts(part: dict) -> tuple:
        memory = str(part["memory"])
        return Decimal(str(part["cpus"])), int(memory[:-1]) * units[memory[-1]]

    return (*amounts(resources["limits"]), *amounts(resources["reservations"]))


def _stack_resources(resources: stack.Resources) -> tuple:
    return (
        cpu_cores(resources.cpu_limit),
        memory_bytes(resources.memory_limit),
        cpu_cores(resources.cpu_request),
        memory_bytes(resources.memory_request),
    )


@pytest.mark.parametrize("service", stack.INFRA_SERVICES, ids=lambda s: s.name)
def test_infrastructure_is_what_stack_py_says(resolved: dict, service: stack.InfraService) -> None:
    entry = resolved["services"][service.name]
    assert entry["image"] == service.image
    env = {**service.env, **stack.secret_files(service, stack.COMPOSE_SECRETS_DIR)}
    assert entry.get("environment", {}) == env
    assert [volume["target"] for volume in entry["volumes"]] == [service.data_path]
    assert _resources(entry) == _stack_resources(service.resources)


def test_gpu_service_has_the_gpu_resources(resolved_gpu: dict) -> None:
    entry = resolved_gpu["services"][compose_gpu.NAME]
    assert _resources(entry) == _stack_resources(stack.GPU_RESOURCES)


def test_start_order_waits_for_migration_and_healthy_infrastructure(resolved: dict) -> None:
    services = resolved["services"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["postgres"] == depends["redis"] == {"condition": "service_healthy"}
    for name in INFRA:
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_only_the_web_publishes_a_port(resolved: dict, resolved_gpu: dict) -> None:
    published = {
        name
        for config in (resolved, resolved_gpu)
        for name, entry in config["services"].items()
        if entry.get("ports")
    }
    assert published == {"web"}
    assert resolved["services"]["web"]["ports"][0]["published"] in ("5000", 5000)
    assert resolved["networks"]["backend"]["internal"] is True
    for name in INFRA | {"migrate", "worker"}:
        assert list(resolved["services"][name]["networks"]) == ["backend"], name


def test_gpu_profile_is_the_vllm_generators_service(resolved_gpu: dict) -> None:
    entry = resolved_gpu["services"][compose_gpu.NAME]
    assert entry["image"] == stack.VLLM_IMAGE
    assert entry["command"] == compose_gpu.vllm_args()
    served = entry["command"][entry["command"].index("--served-model-name") + 1]
    assert served == stack.CHAT_MODEL == stack.WEB.env["AI_CHAT_MODEL"]
    assert entry["user"] == vllm.runtime_user()
    assert {k: v for k, v in entry["environment"].items() if k in vllm.vllm_env()} == (
        vllm.vllm_env()
    )
    device = entry["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["capabilities"] == ["gpu"] and device["driver"] == "nvidia"
    parallel = entry["command"][entry["command"].index("--tensor-parallel-size") + 1]
    assert str(device["count"]) == parallel


def test_vllm_wrapper_reads_the_key_file_and_passes_the_arguments(
    resolved_gpu: dict, tmp_path: Path
) -> None:
    """Run the resolved entrypoint under /bin/sh with a stand-in `vllm` that reports."""
    entry = resolved_gpu["services"][compose_gpu.NAME]
    # `config` prints a file Compose can read again: a literal `$` stays `$$` there.
    entrypoint = [interpolate(part, {}) for part in entry["entrypoint"]]
    (tmp_path / "key").write_text("k3y with 'quotes' $(x)")
    fake = tmp_path / "vllm"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$VLLM_API_KEY" "$@"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", compose_gpu.KEY_FILE_ENV: str(tmp_path / "key")}
    extra = ["two words", "*", "$HOME"]  # what an operator might append: passed through as is
    argv = [*entrypoint, *entry["command"], *extra]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    expected = ["k3y with 'quotes' $(x)", "serve", *entry["command"], *extra]
    assert result.stdout.splitlines() == expected


def test_every_interpolated_variable_is_in_env_example() -> None:
    rendered = {file.path: file.text for file in render_docker_stack()}
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", rendered["docker-compose.yml"]))
    listed = set(re.findall(r"^([A-Z_]+)=", rendered[".env.example"], re.MULTILINE))
    assert used | {"COMPOSE_PROFILES"} == listed == set(env_variables(stack.DEFAULT_IMAGE))
    # Every other `$` is a literal, escaped as `$$` for Compose.
    lone = re.findall(r"(?<!\$)\$(?![${])", rendered["docker-compose.yml"].replace("$$", ""))
    assert lone == []


def test_interpolate_agrees_with_docker_compose(resolved: dict) -> None:
    """`interpolate` (for readers of the raw file, like the process test) resolves as Compose."""
    defaults = {name: value for name, (value, _) in env_variables(stack.DEFAULT_IMAGE).items()}
    raw = _raw()["services"]
    for variables in (defaults, {}):  # .env present, or every default from the file itself
        for name, entry in resolved["services"].items():
            if "environment" in raw[name]:
                env = raw[name]["environment"].items()
                assert {k: interpolate(str(v), variables) for k, v in env} == entry["environment"]
        assert interpolate(raw["web"]["image"], variables) == stack.DEFAULT_IMAGE
    script = _raw()["services"][compose_gpu.NAME]["entrypoint"][2]
    assert interpolate(script, {}) == compose_gpu.entrypoint()[2]


def test_registry_image_lands_everywhere(tmp_path: Path) -> None:
    folder = write_stack(tmp_path, REGISTRY_IMAGE)
    for env_file in (True, False):
        if not env_file:
            (folder / ".env").unlink()
        config = compose_config(folder, "--profile", "gpu")
        assert isinstance(config, dict), config
        images = {n: s["image"] for n, s in config["services"].items() if "build" in s}
        assert set(images.values()) == {REGISTRY_IMAGE}, images
    assert f"PAISSIVE_INCOME_IMAGE={REGISTRY_IMAGE}\n" in (folder / ".env.example").read_text()


HOSTILE_IMAGES = [
    'paissive-income:1"',
    "paissive-income:1\nservices: {}",
    "paissive-income:$(touch /tmp/x)",
    "paissive-income:${HOME}",
    "paissive income:1",
    "paissive-income:1 ",
    "päissive-income:1",
    "paissive-income:" + "1" * 300,
    "paissive-income:1\x00",
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE_IMAGES)
def test_hostile_image_is_refused_and_nothing_written(tmp_path: Path, hostile: str) -> None:
    out = tmp_path / "out"
    argv = ["deploy", "stack", "docker", "--out", str(out), "--image", hostile]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2 and not out.exists()
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--image" in errors[0] and "Traceback" not in result.output
    with pytest.raises(ValueError):
        render_docker_stack(image=hostile)


def test_no_secret_value_lands_in_any_file(folder: Path) -> None:
    values = [(folder / "secrets" / name).read_text() for name in stack.SECRETS]
    for name in STACK_FILES:
        text = (folder / name).read_text()
        assert not any(value in text for value in values), name
    assert not re.search(r"(PASSWORD|SECRET|KEY)[A-Z_]*=\S", (folder / ".env.example").read_text())
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", ".env", "secrets/secret_key"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == [".env", "secrets/secret_key"]


def test_secret_files_exist_for_every_compose_secret(folder: Path, resolved: dict) -> None:
    for name, secret in resolved["secrets"].items():
        assert Path(secret["file"]) == folder / "secrets" / name
        assert os.path.isfile(secret["file"])
