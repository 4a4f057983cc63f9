"""deploy/kubernetes: committed as generated, and the stack's rules in every base and overlay."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kubernetes_checks import (
    OVERLAYS,
    autoscaler_problems,
    build,
    checksum_problems,
    containers,
    find,
    pod,
    probe_problems,
    render,
    security_problems,
    stack_problems,
    workloads,
)

from paissive_income.cli import main as cli
from paissive_income.deploy import stack
from paissive_income.deploy.kubernetes import GENERATE_COMMAND, OUTPUT, render_kubernetes_stack

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / OUTPUT


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def builds(rendered: Path) -> dict[str, list[dict]]:
    """The base and every overlay, built by `kubectl kustomize`."""
    folders = {"base": rendered / "base", **{o: rendered / "overlays" / o for o in OVERLAYS}}
    return {name: build(folder) for name, folder in folders.items()}


def test_committed_files_are_the_generators_output() -> None:
    expected = {f.path: f.text for f in render_kubernetes_stack()}
    on_disk = {
        str(p.relative_to(COMMITTED)): p.read_text(encoding="utf-8")
        for p in sorted(COMMITTED.rglob("*"))
        if p.is_file()
    }
    hint = f"deploy/kubernetes is stale: run `{GENERATE_COMMAND}` and commit the result"
    assert sorted(on_disk) == sorted(expected), hint
    for path, text in expected.items():
        assert on_disk[path] == text, f"{path}: {hint}"


def test_the_cli_writes_the_same_files(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = CliRunner().invoke(cli, ["deploy", "stack", "kubernetes", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for file in render_kubernetes_stack():
        assert (out / file.path).read_text() == file.text


HOSTILE_IMAGES = [
    "paissive-income:1.0\nkind: Secret",
    "paissive-income:1.0\x00",
    "paissive-income:$(reboot)",
    "paissive-income:'x'",
    'paissive-income:"x"',
    "paissive-income:1.0 --privileged",
    "paissive-incöme:1.0",
    "Paissive-Income:1.0",
    "paissive-income:" + "9" * 200,
    "registry.example.com/" + "a/" * 200 + "x",
    "",
    "../paissive-income",
]


@pytest.mark.parametrize("image", HOSTILE_IMAGES)
def test_hostile_images_are_refused_and_nothing_is_written(tmp_path: Path, image: str) -> None:
    out = tmp_path / "out"
    argv = ["deploy", "stack", "kubernetes", "--out", str(out), "--image", image]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    message = [line for line in result.output.splitlines() if line.strip()][-1]
    assert "--image" in message and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_registry_image_retargets_every_app_container(tmp_path: Path) -> None:
    image = "registry.example.com/team/paissive-income:abc123"
    root = render(tmp_path, image)
    base = yaml.safe_load((root / "base" / "kustomization.yaml").read_text())
    assert "images" not in base  # the overlays carry it, where CI's `kustomize edit` writes
    for overlay in ("dev", "gpu"):  # gpu builds on prod
        docs = build(root / "overlays" / overlay)
        images = {c["image"] for w in workloads(docs).values() for _, c in containers(w)}
        assert image in images
        expected = {image, stack.POSTGRES_IMAGE, stack.REDIS_IMAGE}
        if overlay == "gpu":
            expected.add(stack.VLLM_IMAGE)
        assert images == expected, overlay


def test_kustomize_edit_set_image_retargets_the_overlay(rendered: Path, tmp_path: Path) -> None:
    """What `kustomize edit set image paissive-income=<registry>/paissive-income:<sha>` writes."""
    shutil.copytree(rendered, tmp_path / "k8s")
    folder = tmp_path / "k8s" / "overlays" / "prod"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert [entry["name"] for entry in kustomization["images"]] == [stack.IMAGE_NAME]
    kustomization["images"] = [
        {"name": stack.IMAGE_NAME, "newName": "ghcr.io/o/paissive-income", "newTag": "f00d"}
    ]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    docs = build(folder)
    for name in ("migrate", "web", "worker", "ai-models"):
        for _, container in containers(workloads(docs)[name]):
            assert container["image"] == "ghcr.io/o/paissive-income:f00d", name


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_every_container_is_restricted_with_resources(
    builds: dict[str, list[dict]], name: str
) -> None:
    assert security_problems(builds[name]) == []


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_every_long_running_container_has_probes(builds: dict[str, list[dict]], name: str) -> None:
    assert probe_problems(builds[name]) == []


@pytest.mark.parametrize("name", ["base", "dev", "prod"])
def test_commands_env_and_secret_files_are_stack_pys(
    builds: dict[str, list[dict]], name: str
) -> None:
    assert stack_problems(builds[name]) == []


@pytest.mark.parametrize("name", ["base", *OVERLAYS])
def test_a_config_change_rolls_the_pods_that_read_it(
    builds: dict[str, list[dict]], name: str
) -> None:
    assert checksum_problems(builds[name]) == []


@pytest.mark.parametrize("name", ["base", "dev", "prod"])
def test_autoscalers_follow_the_seed(builds: dict[str, list[dict]], name: str) -> None:
    docs = builds[name]
    assert autoscaler_problems(docs) == []
    scaled = {d["metadata"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert scaled == {"web", "worker", "ai-models"}


def test_planted_defects_are_found(builds: dict[str, list[dict]]) -> None:
    """Each check above fails when the thing it guards is broken."""
    docs = copy.deepcopy(builds["base"])
    web = workloads(docs)["web"]
    init = pod(web)["initContainers"][0]
    init["securityContext"]["readOnlyRootFilesystem"] = False
    del pod(web)["containers"][0]["readinessProbe"]
    pod(web)["containers"][0]["command"].append("--reload")
    find(docs, "ConfigMap", "paissive-income-config")["data"]["LOG_LEVEL"] = "DEBUG"
    hpa = find(docs, "HorizontalPodAutoscaler", "worker")
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 80
    migrate_pod = pod(workloads(docs)["migrate"])
    migrate_pod["containers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}}
    del migrate_pod["containers"][0]["resources"]["limits"]
    pod(workloads(docs)["postgres"])["automountServiceAccountToken"] = True

    security = security_problems(docs)
    assert any(
        "web initContainer db-wait: securityContext.readOnlyRootFilesystem" in p for p in security
    )
    assert any("migrate container migrate: no cpu and memory limits" in p for p in security)
    assert any("postgres: pod mounts an API token" in p for p in security)
    assert any(p.startswith("web web: probes") for p in probe_problems(docs))
    assert any("migrate migrate: a one-shot with probes" in p for p in probe_problems(docs))
    stack_found = stack_problems(docs)
    assert any(p.startswith("web: command") for p in stack_found)
    assert any(p.startswith("worker: env differs") for p in stack_found)  # LOG_LEVEL
    assert any(p.startswith("web: checksum/config") for p in checksum_problems(docs))
    assert any(p.startswith("worker: metrics") for p in autoscaler_problems(docs))
