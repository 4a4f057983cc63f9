"""server_type="vllm": the official vLLM OpenAI server on GPUs, on every target."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path

import pytest
from serving_files import dockerfile_strings, load_json, load_yaml, stages
from serving_hostile import TARGETS
from serving_spread import AWS, AZURE, GCP, SECRET_ENV, VLLM, generate, seed_cloud, seed_kubernetes

from ai_models.serving import (
    CloudConfig,
    DeploymentConfigError,
    DockerConfig,
    KubernetesConfig,
    generate_docker_config,
)
from ai_models.serving.aws import INSTANCES
from ai_models.serving.vllm import VLLM_IMAGE

MODEL = "Qwen/Qwen2.5-7B-Instruct"
EXPECTED_ARGS = [
    MODEL,
    "--served-model-name",
    MODEL,
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
    "--tensor-parallel-size",
    "2",
    "--max-model-len",
    "8192",
]


def write(config, folder: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate(config, folder)
    return folder


def docker_vllm(**changes) -> DockerConfig:
    return DockerConfig(**{**VLLM, "gpu_count": 2, **changes})


def test_rest_stays_the_default_everywhere() -> None:
    assert DockerConfig(model_path="/m").server_type == "rest"
    assert KubernetesConfig(name="x", image="x:1").server_type == "rest"
    assert seed_cloud(GCP).server_type == "rest"


def test_compose_runs_the_pinned_vllm_image_with_gpus(tmp_path: Path) -> None:
    folder = write(docker_vllm(env_vars=SECRET_ENV), tmp_path / "docker")
    assert sorted(p.name for p in folder.iterdir()) == ["docker-compose.yml"]  # nothing to build
    service = load_yaml(folder / "docker-compose.yml")["services"]["paissive-income-model-server"]
    assert service["image"] == VLLM_IMAGE and VLLM_IMAGE.startswith("vllm/vllm-openai:v")
    assert service["entrypoint"] == ["vllm", "serve"]
    assert service["command"] == EXPECTED_ARGS
    assert service["user"] == "10001:0" and service["read_only"] is True
    device = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert device == {"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}
    assert service["environment"]["VLLM_API_KEY"].startswith("${AI_MODEL_API_KEY:?")
    assert service["environment"]["AI_MODEL_API_KEY"].startswith("${AI_MODEL_API_KEY:?")
    assert "sk-not-a-real-key" not in (folder / "docker-compose.yml").read_text()
    assert "/health" in service["healthcheck"]["test"][-1]
    assert service["labels"]["prometheus.io/path"] == "/metrics"
    assert service["shm_size"]


def test_compose_mounts_a_local_model_folder(tmp_path: Path) -> None:
    config = docker_vllm(model_id=None, model_path="/models/llm", gpu_count=1)
    service = load_yaml(write(config, tmp_path / "d") / "docker-compose.yml")["services"]
    (service,) = service.values()
    assert service["command"][:3] == ["/models/llm", "--served-model-name", "llm"]
    assert {"type": "bind", "target": "/models/llm", "read_only": True}.items() <= next(
        v for v in service["volumes"] if v["target"] == "/models/llm"
    ).items()


def vllm_kubernetes(**changes) -> dict[str, dict]:
    return seed_kubernetes(**{**VLLM, "gpu_count": 2, "env_vars": SECRET_ENV, **changes})


def test_kubernetes_pod_runs_vllm_with_gpus_and_the_key_from_a_secret(tmp_path: Path) -> None:
    folder = write(vllm_kubernetes(), tmp_path / "k")
    deployment = load_yaml(folder / "deployment.yaml")
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert container["image"] == VLLM_IMAGE
    assert container["command"] == ["vllm", "serve"] and container["args"] == EXPECTED_ARGS
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    key = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
    assert key["valueFrom"]["secretKeyRef"] == {
        "name": "paissive-income-secrets",
        "key": "AI_MODEL_API_KEY",
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert container["securityContext"]["runAsNonRoot"] is True
    configmap = load_yaml(folder / "configmap.yaml")["data"]
    assert configmap["VLLM_NO_USAGE_STATS"] == "1" and "VLLM_API_KEY" not in configmap
    assert "sk-not-a-real-key" not in "".join(p.read_text() for p in folder.iterdir())


def test_kubernetes_hpa_scales_on_the_vllm_queue(tmp_path: Path) -> None:
    hpa = load_yaml(write(vllm_kubernetes(target_waiting_requests=3), tmp_path) / "hpa.yaml")
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "vllm_num_requests_waiting"},
                "target": {"type": "AverageValue", "averageValue": "3"},
            },
        }
    ]


def test_kubernetes_image_mirror_and_local_model(tmp_path: Path) -> None:
    mirror = "registry.example.com/mirror/vllm-openai:v0.32.0"
    config = vllm_kubernetes(
        model_id=None, model_path="/app/models/llm", vllm_image=mirror, gpu_count=1
    )
    (container,) = load_yaml(write(config, tmp_path) / "deployment.yaml")["spec"]["template"][
        "spec"
    ]["containers"]
    assert container["image"] == mirror
    assert container["args"][:3] == ["/app/models/llm", "--served-model-name", "llm"]
    assert container["args"][container["args"].index("--tensor-parallel-size") + 1] == "1"


def run_entrypoint(dockerfile: Path, tmp_path: Path, *appended: str) -> list[str]:
    """Run the Dockerfile's ENTRYPOINT with a stand-in `vllm` that prints its arguments."""
    (entrypoint,) = [
        command for command in _parsed(dockerfile) if command.cmd.upper() == "ENTRYPOINT"
    ]
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "vllm").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake / "vllm").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    argv = ["bash" if part == "/bin/bash" else part for part in entrypoint.value]
    result = subprocess.run(
        [*argv, *appended], env=env, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.splitlines()


def _parsed(path: Path):
    import dockerfile

    return dockerfile.parse_file(str(path))


def test_sagemaker_image_serves_vllm_on_8080_and_ignores_serve(tmp_path: Path) -> None:
    config = seed_cloud(AWS, **VLLM, instance_type="ml.g5.2xlarge", gpu_count=1)
    folder = write(config, tmp_path / "aws")
    (stage,) = stages(folder / "Dockerfile")
    assert stage[0] == ("FROM", VLLM_IMAGE)
    # SageMaker starts containers as `docker run IMAGE serve`.
    served = run_entrypoint(folder / "Dockerfile", tmp_path, "serve")
    assert served[0] == "serve" and served[1] == MODEL  # `vllm serve MODEL ...`, no extra serve
    assert served[served.index("--port") + 1] == "8080"
    assert served[served.index("--tensor-parallel-size") + 1] == "1"
    assert served.count("serve") == 1
    assert run_entrypoint(folder / "Dockerfile", tmp_path) == served
    template = load_yaml(folder / "cloudformation.yaml")
    environment = template["Resources"]["Model"]["Properties"]["PrimaryContainer"]["Environment"]
    assert environment["VLLM_API_KEY"] == (
        "{{resolve:secretsmanager:paissive-income/AI_MODEL_API_KEY}}"
    )
    assert "MODEL_PATH" not in environment
    variant = template["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.2xlarge"


def test_sagemaker_model_data_is_served_from_opt_ml_model(tmp_path: Path) -> None:
    config = seed_cloud(
        AWS,
        server_type="vllm",
        instance_type=None,
        gpu_count=4,
        cpu_count=16,
        memory_gb=64,
        model_path=None,
        model_data_url="s3://models-bucket/llm/model.tar.gz",
    )
    folder = write(config, tmp_path / "aws")
    served = run_entrypoint(folder / "Dockerfile", tmp_path, "serve")
    assert served[1] == "/opt/ml/model"
    assert served[served.index("--tensor-parallel-size") + 1] == "4"
    variant = load_yaml(folder / "cloudformation.yaml")["Resources"]["EndpointConfig"]
    chosen = variant["Properties"]["ProductionVariants"][0]["InstanceType"]
    assert INSTANCES[chosen][2] >= 4, chosen


def test_cloud_run_runs_vllm_on_an_l4(tmp_path: Path) -> None:
    config = seed_cloud(GCP, **VLLM, gpu_count=1, cpu_count=8, memory_gb=32)
    folder = write(config, tmp_path / "gcp")
    (container,) = load_json(folder / "service.json")["template"]["containers"]
    assert container["args"][0] == MODEL and "--max-model-len" in container["args"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    key = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
    assert key["valueSource"]["secretKeyRef"]["secret"] == "paissive-income-ai-model-api-key"
    assert "paissive-income-ai-model-api-key" in (folder / "deploy.sh").read_text()
    strings = dockerfile_strings(folder / "Dockerfile")
    assert VLLM_IMAGE in strings and "vllm" in strings


def test_container_apps_run_vllm_on_a_gpu_profile(tmp_path: Path) -> None:
    config = seed_cloud(
        AZURE, **VLLM, gpu_count=1, gpu_type="nvidia-a100", cpu_count=24, memory_gb=220
    )
    folder = write(config, tmp_path / "azure")
    template = load_json(folder / "azuredeploy.json")
    app = next(r for r in template["resources"] if r["type"] == "Microsoft.App/containerApps")
    (container,) = app["properties"]["template"]["containers"]
    assert container["args"][0] == MODEL
    assert {p["type"]: p["httpGet"]["path"] for p in container["probes"]} == {
        "Startup": "/health",
        "Readiness": "/health",
        "Liveness": "/health",
    }
    assert {"name": "VLLM_API_KEY", "secretRef": "vllm-api-key"} in container["env"]
    assert "keyVaultName" in template["parameters"]
    assert app["properties"]["workloadProfileName"] == "gpu"


CONTRADICTIONS = [
    (lambda **c: docker_vllm(**c), {"gpu_count": 0}, "gpu_count"),
    (lambda **c: vllm_kubernetes(**c), {"gpu_count": 0}, "gpu_count"),
    (lambda **c: seed_cloud(AWS, **VLLM, **c), {"gpu_count": 0}, "gpu_count"),
    (lambda **c: seed_cloud(GCP, **VLLM, **c), {"gpu_count": 0}, "gpu_count"),
    (lambda **c: seed_cloud(AZURE, **VLLM, **c), {"gpu_count": 0}, "gpu_count"),
    (lambda **c: docker_vllm(**c), {"model_type": "embeddings"}, "model_type"),
    (lambda **c: docker_vllm(**c), {"base_image": "python:3.11-slim"}, "base_image"),
    (lambda **c: docker_vllm(**c), {"image_tag": "1.0"}, "image_tag"),
    (lambda **c: docker_vllm(**c), {"additional_packages": ["numpy==2.0"]}, "additional_packages"),
    (lambda **c: docker_vllm(**c), {"env_vars": {"VLLM_API_KEY": "x"}}, 'env_vars["VLLM_API_KEY"]'),
    (lambda **c: docker_vllm(**c), {"env_vars": {"HOME": "/root"}}, 'env_vars["HOME"]'),
    (lambda **c: docker_vllm(**c), {"model_path": None, "model_id": None}, "model_path"),
    (lambda **c: vllm_kubernetes(**c), {"image": "paissive-income:1.0"}, "image"),
    (lambda **c: vllm_kubernetes(**c), {"target_cpu_utilization": 70}, "target_cpu_utilization"),
    (lambda **c: vllm_kubernetes(**c), {"model_path": None, "model_id": None}, "model_path"),
    (lambda **c: seed_cloud(GCP, **VLLM, **c), {"base_image": "python:3.11-slim"}, "base_image"),
    (lambda **c: seed_kubernetes(**c), {"max_model_len": 4096}, "max_model_len"),
    (lambda **c: seed_kubernetes(**c), {"target_waiting_requests": 4}, "target_waiting_requests"),
    (lambda **c: DockerConfig(model_path="/m", **c), {"vllm_image": VLLM_IMAGE}, "vllm_image"),
    (lambda **c: seed_cloud(AWS, **c), {"max_model_len": 4096}, "max_model_len"),
    # The cloud targets build FROM vllm_image, so it must be pinned like a base image.
    (lambda **c: seed_cloud(GCP, **VLLM, **c), {"vllm_image": "vllm/vllm-openai"}, "vllm_image"),
    (lambda **c: seed_cloud(AWS, **VLLM, **c), {"vllm_image": "s"}, "vllm_image"),
    (lambda **c: seed_cloud(AZURE, **VLLM, **c), {"vllm_image": "v:latest"}, "vllm_image"),
    (lambda **c: KubernetesConfig(name="x", **c), {}, "image"),
]


@pytest.mark.parametrize(("make", "changes", "field"), CONTRADICTIONS)
def test_contradictions_are_refused_naming_the_field(make, changes: dict, field: str) -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        make(**changes)
    assert field in [path for path, _ in caught.value.errors], caught.value.errors


def test_vllm_without_gpus_says_what_to_use_instead() -> None:
    with pytest.raises(DeploymentConfigError, match="use server_type 'rest'"):
        docker_vllm(gpu_count=0)


HOSTILE_INTS = ["8192\n--trust-remote-code", "$(id)", "8192", "８１９２", 8192.5, True, None, -1, 0]
HOSTILE_MODELS = [
    "org/model\nRUN id",
    "org/model --trust-remote-code",
    "$(id)",
    "`id`",
    "org/'model'",
    'org/"model"',
    "ünïcödé/model",
    "org/model\u2028x",
    "-e",
    "--model",
    "../../etc",
    "org/model/../x",
    "x" * 200,
]


@pytest.mark.parametrize("target", sorted(t for t in TARGETS if t.endswith("-vllm")))
def test_hostile_vllm_values_are_refused_naming_the_field(target: str) -> None:
    config_class, seed = TARGETS[target]
    cases = [("max_model_len", v) for v in HOSTILE_INTS if v is not None]
    cases += [("gpu_count", v) for v in HOSTILE_INTS if v not in (-1,)]
    cases += [("model_id", v) for v in HOSTILE_MODELS]
    cases += [("vllm_image", v) for v in [*HOSTILE_MODELS[:8], "vllm/vllm-openai:v1 --privileged"]]
    for field, value in cases:
        with pytest.raises(DeploymentConfigError) as caught:
            config_class(**{**seed, field: value})
        paths = [path for path, _ in caught.value.errors]
        assert field in paths, (field, value, caught.value.errors)
        assert all(line.isascii() and line.isprintable() for line in caught.value.lines())


def test_docs_name_the_choice_between_rest_and_vllm() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "model-server-deployment.md").read_text()
    for phrase in ('server_type="vllm"', "vllm_num_requests_waiting", "prometheus-adapter"):
        assert phrase in text, phrase


def test_generate_keeps_the_seed_import_and_default(in_tmp: Path) -> None:
    config = DockerConfig(
        image_name="paissive-income-model-server",
        base_image="python:3.11-slim",
        server_type="rest",
        port=8000,
        model_path="/models/my-model",
        model_type="text-generation",
        gpu_count=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = generate_docker_config(config, "docker")
    assert {Path(p).name for p in written} >= {"Dockerfile", "docker-compose.yml"}
    assert isinstance(seed_cloud(GCP), CloudConfig)


PARSE_WITH_VLLM = """
import json, sys
from vllm.entrypoints.cli.serve import ServeSubcommand
from vllm.utils.argparse_utils import FlexibleArgumentParser

parser = FlexibleArgumentParser()
ServeSubcommand().subparser_init(parser.add_subparsers(dest="subparser"))
parsed = []
for argv in json.load(sys.stdin):
    args = parser.parse_args(argv)
    parsed.append([args.model_tag, args.served_model_name, args.port,
                   args.tensor_parallel_size, args.max_model_len, args.api_key])
print(json.dumps(parsed))
"""


def generated_vllm_argvs(root: Path) -> list[list[str]]:
    """`vllm serve ...` as every target starts it, from the vLLM configs of the spread."""
    from serving_spread import SPREAD

    argvs = []
    for name, make in SPREAD.items():
        if "vllm" not in name:
            continue
        folder = write(make(), root / name)
        target = name.split("/")[0]
        if target == "docker":
            (service,) = load_yaml(folder / "docker-compose.yml")["services"].values()
            argvs.append([*service["entrypoint"], *service["command"]])
        elif target == "kubernetes":
            (pod,) = load_yaml(folder / "deployment.yaml")["spec"]["template"]["spec"]["containers"]
            argvs.append([*pod["command"], *pod["args"]])
        elif target == "aws":
            argvs.append(["vllm", *run_entrypoint(folder / "Dockerfile", root, "serve")])
        elif target == "gcp":
            (container,) = load_json(folder / "service.json")["template"]["containers"]
            argvs.append(["vllm", "serve", *container["args"]])
        else:
            template = load_json(folder / "azuredeploy.json")
            app = template["resources"][-1]["properties"]["template"]["containers"][0]
            argvs.append(["vllm", "serve", *app["args"]])
    return argvs


@pytest.mark.slow
def test_vllms_own_parser_accepts_every_generated_command_line(tmp_path: Path) -> None:
    """Parse what each target runs with vLLM's `vllm serve` parser (VLLM_PYTHON: a Python
    with vllm installed, e.g. the benchmarks' venv); unknown or malformed flags fail."""
    python = os.environ.get("VLLM_PYTHON")
    if not python:
        pytest.skip("set VLLM_PYTHON to a Python with vllm installed to run vLLM's own parser")
    argvs = generated_vllm_argvs(tmp_path)
    assert len(argvs) == 8 and all(argv[:2] == ["vllm", "serve"] for argv in argvs)
    result = subprocess.run(
        [python, "-c", PARSE_WITH_VLLM],
        input=json.dumps([argv[1:] for argv in argvs]),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout.splitlines()[-1])
    for argv, (model, served, port, gpus, max_len, api_key) in zip(argvs, parsed, strict=True):
        assert model == argv[2] and served == [argv[argv.index("--served-model-name") + 1]]
        assert str(port) == argv[argv.index("--port") + 1]
        assert str(gpus) == argv[argv.index("--tensor-parallel-size") + 1] and gpus >= 1
        assert max_len in (None, 8192)
        assert api_key is None  # the key comes from VLLM_API_KEY, never the command line


def test_a_registry_name_as_model_id_warns(in_tmp: Path) -> None:
    from ai_models.serving import DeploymentWarning

    with pytest.warns(DeploymentWarning, match="not Hub ids"):
        generate_docker_config(docker_vllm(model_id="qwen2.5-0.5b-instruct"), "docker")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate_docker_config(docker_vllm(), "docker-hub-id")  # org/name: no warning
