"""The generated start commands really start the AI Models Service (`paissive-income models serve`).

Without Docker in the test environment, the image's ENTRYPOINT + CMD + ENV run as a process, the
Dockerfile's own HEALTHCHECK command probes it, and /readyz must turn 200 once a tiny model loads.
The same is done for SageMaker's `docker run IMAGE serve` with the CloudFormation environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import warnings
from pathlib import Path

import pytest
from serving_files import env_pairs, load_json, load_yaml, stages
from serving_spread import AWS, AZURE, GCP, seed_cloud, seed_docker, seed_kubernetes

from ai_models.serving import (
    generate_cloud_config,
    generate_docker_config,
    generate_kubernetes_config,
)

serve_command = pytest.importorskip(
    "ai_models.serve_command", reason="the model server (issue 4) is not here"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quiet(generate, config, out: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate(config, out)
    return out


def image_start(dockerfile: Path) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """ENTRYPOINT, CMD, ENV and HEALTHCHECK command of the runtime stage."""
    runtime = stages(dockerfile)[-1]
    instructions = dict(runtime)
    env = {}
    for keyword, rest in runtime:
        if keyword == "ENV" and not rest.startswith("PATH="):
            env.update(env_pairs(rest))
    health = json.loads(instructions["HEALTHCHECK"].partition(" CMD ")[2])
    return json.loads(instructions["ENTRYPOINT"]), json.loads(instructions["CMD"]), env, health


def test_every_target_passes_arguments_the_server_accepts(tmp_path: Path) -> None:
    serve = serve_command.serve
    docker = quiet(generate_docker_config, seed_docker(), tmp_path / "docker")
    entrypoint, cmd, _, _ = image_start(docker / "Dockerfile")
    assert entrypoint[-2:] == ["models", "serve"]
    argument_lists = [cmd, ["serve"]]
    k8s = quiet(generate_kubernetes_config, seed_kubernetes(), tmp_path / "k8s")
    argument_lists.append(
        load_yaml(k8s / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    gcp = quiet(generate_cloud_config, seed_cloud(GCP), tmp_path / "gcp")
    argument_lists.append(load_json(gcp / "service.json")["template"]["containers"][0]["args"])
    azure = quiet(generate_cloud_config, seed_cloud(AZURE), tmp_path / "azure")
    app = load_json(azure / "azuredeploy.json")["resources"][-1]
    argument_lists.append(app["properties"]["template"]["containers"][0]["args"])
    for arguments in argument_lists:
        context = serve.make_context("serve", list(arguments))
        if arguments != ["serve"]:
            assert context.params["port"] == 8000 and context.params["host"] == "0.0.0.0"
        else:
            assert context.params["mode"] == "serve"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tiny_models = pytest.importorskip("ai_models.tiny_models")
    path = tmp_path_factory.mktemp("models") / "my-model"
    tiny_models.build_tiny_causal_lm(path)
    return path


def run_until(
    argv: list[str], env: dict[str, str], check, log: Path, timeout: float = 180
) -> float:
    """Start argv, call check() until it is true; return seconds taken."""
    started = time.monotonic()
    with open(log, "w") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
            if check():
                return time.monotonic() - started
            time.sleep(0.5)
        pytest.fail(f"server not ready after {timeout}s: {log.read_text()[-2000:]}")
    finally:
        process.terminate()
        process.wait(30)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# The developer's own server settings (API keys, registry, batch sizes) stay out of these runs.
_SERVER_PREFIXES = (
    "MODEL_",
    "AI_MODEL",
    "PAISSIVE_",
    "SAGEMAKER_",
    "MAX_",
    "BATCH_",
    "HOST",
    "PORT",
)


def sandbox_env(tmp_path: Path, image_env: dict[str, str]) -> dict[str, str]:
    """The image's env over a clean environment, its container-only paths moved into tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVER_PREFIXES)}
    env.update(image_env)
    env.update(HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    env["PAISSIVE_MODELS_HOME"] = str(tmp_path / "models-home")
    return env


@pytest.mark.slow
def test_image_command_starts_the_server_and_its_healthcheck_passes(
    tmp_path: Path, tiny_model: Path
) -> None:
    port = free_port()
    out = quiet(
        generate_docker_config,
        seed_docker(model_path=str(tiny_model), port=port),
        tmp_path / "docker",
    )
    entrypoint, cmd, image_env, health = image_start(out / "Dockerfile")
    env = sandbox_env(tmp_path, image_env)

    def healthy_and_ready() -> bool:
        healthcheck = subprocess.run(health, env=env, capture_output=True, timeout=10, check=False)
        return healthcheck.returncode == 0 and answers(f"http://127.0.0.1:{port}/readyz")

    run_until([*entrypoint, *cmd], env, healthy_and_ready, tmp_path / "server.log")


@pytest.mark.slow
def test_sagemaker_run_serve_answers_ping(tmp_path: Path, tiny_model: Path) -> None:
    config = seed_cloud(AWS, model_path=str(tiny_model))
    out = quiet(generate_cloud_config, config, tmp_path / "aws")
    entrypoint, _, image_env, _ = image_start(out / "Dockerfile")
    model = load_yaml(out / "cloudformation.yaml")["Resources"]["Model"]["Properties"]
    port = free_port()
    env = sandbox_env(tmp_path, {**image_env, **model["PrimaryContainer"]["Environment"]})
    env["SAGEMAKER_BIND_TO_PORT"] = str(port)  # SageMaker's own override of 8080, free here
    run_until(
        [*entrypoint, "serve"],
        env,
        lambda: answers(f"http://127.0.0.1:{port}/ping"),
        tmp_path / "sm.log",
    )
