"""Validation happens before anything is written: one error type listing every bad field."""

from __future__ import annotations

import filecmp
import warnings
from pathlib import Path

import pytest
from serving_spread import (
    AWS,
    AZURE,
    GCP,
    SPREAD,
    generate,
    seed_cloud,
    seed_docker,
    seed_kubernetes,
)

from ai_models.serving import (
    CloudConfig,
    DeploymentConfigError,
    DockerConfig,
    KubernetesConfig,
    generate_docker_config,
)
from ai_models.serving import output as output_module

INVALID = [
    # (config factory, changes, field named in the error)
    (seed_docker, {"image_name": "Bad Name"}, "image_name"),
    (seed_docker, {"image_name": "-leading-dash"}, "image_name"),
    (seed_docker, {"image_tag": "a:b"}, "image_tag"),
    (seed_docker, {"port": 0}, "port"),
    (seed_docker, {"port": 70000}, "port"),
    (seed_docker, {"port": "8000"}, "port"),
    (seed_docker, {"server_type": "grpc"}, "server_type"),
    (seed_docker, {"model_type": "image-generation"}, "model_type"),
    (seed_docker, {"model_path": "relative/path"}, "model_path"),
    (seed_docker, {"model_path": "/models/../etc"}, "model_path"),
    (seed_docker, {"model_path": None}, "model_path"),
    (seed_docker, {"gpu_count": -1}, "gpu_count"),
    (seed_docker, {"cpu_limit": "lots"}, "cpu_limit"),
    (seed_docker, {"cpu_limit": "0"}, "cpu_limit"),
    (seed_docker, {"memory_limit": "4 gigs"}, "memory_limit"),
    (seed_docker, {"memory_limit": "1Mi"}, "memory_limit"),
    (seed_docker, {"host": "127.0.0.1"}, "host"),
    (seed_docker, {"host": "not a host"}, "host"),
    (seed_docker, {"env_vars": {"1BAD": "x"}}, 'env_vars["1BAD"]'),
    (seed_docker, {"env_vars": {"BAD-NAME": "x"}}, 'env_vars["BAD-NAME"]'),
    (seed_docker, {"env_vars": {"PORT": "9000"}}, 'env_vars["PORT"]'),
    (seed_docker, {"env_vars": {"OK": ["a"]}}, 'env_vars["OK"]'),
    (seed_docker, {"volumes": [{"type": "nfs", "source": "x", "target": "/x"}]}, "volumes[0].type"),
    (seed_docker, {"volumes": [{"type": "bind", "target": "/x"}]}, "volumes[0].source"),
    (
        seed_docker,
        {"volumes": [{"type": "volume", "source": "a b", "target": "/x"}]},
        "volumes[0].source",
    ),
    (
        seed_docker,
        {"volumes": [{"type": "tmpfs", "source": "x", "target": "/x"}]},
        "volumes[0].source",
    ),
    (seed_docker, {"volumes": [{"type": "tmpfs"}]}, "volumes[0].target"),
    (seed_docker, {"volumes": [{"type": "tmpfs", "target": "/tmp"}]}, "volumes[0].target"),
    (seed_docker, {"volumes": [{"type": "tmpfs", "target": "/a"}] * 2}, "volumes[1].target"),
    (seed_docker, {"additional_packages": ["numpy; os_name=='nt'"]}, "additional_packages[0]"),
    (seed_docker, {"additional_packages": ["git+https://example.com/x"]}, "additional_packages[0]"),
    (seed_docker, {"base_image": "python"}, "base_image"),
    (seed_docker, {"base_image": "python:latest"}, "base_image"),
    (seed_docker, {"base_image": "python:3.11-alpine"}, "base_image"),
    (seed_docker, {"base_image": "nvidia/cuda:12.4.1-runtime-ubuntu20.04"}, "base_image"),
    (seed_docker, {"base_image": "python:3.9-slim@sha256:" + "a" * 64}, "base_image"),
    (seed_docker, {"base_image": "Not An Image"}, "base_image"),
    (seed_docker, {"restart_policy": "sometimes"}, "restart_policy"),
    (seed_docker, {"build_context": "/abs"}, "build_context"),
    (seed_docker, {"unknown_field": 1}, "unknown_field"),
    (seed_kubernetes, {"name": "Paissive_Income"}, "name"),
    (seed_kubernetes, {"name": "1starts-with-digit"}, "name"),
    (seed_kubernetes, {"name": "x" * 64}, "name"),
    (seed_kubernetes, {"namespace": "AI"}, "namespace"),
    (seed_kubernetes, {"image": "UPPER/case"}, "image"),
    (seed_kubernetes, {"cpu_request": "2", "cpu_limit": "1"}, "cpu_request"),
    (seed_kubernetes, {"memory_request": "8Gi"}, "memory_request"),
    (seed_kubernetes, {"memory_limit": "4gb"}, "memory_limit"),
    (seed_kubernetes, {"cpu_limit": "1.0005"}, "cpu_limit"),
    (seed_kubernetes, {"min_replicas": 6}, "min_replicas"),
    (seed_kubernetes, {"min_replicas": 0}, "min_replicas"),
    (seed_kubernetes, {"enable_hpa": False, "replicas": 0}, "replicas"),
    (seed_kubernetes, {"target_cpu_utilization": 0}, "target_cpu_utilization"),
    (seed_kubernetes, {"target_cpu_utilization": 101}, "target_cpu_utilization"),
    (seed_kubernetes, {"target_memory_utilization": 150}, "target_memory_utilization"),
    (seed_kubernetes, {"host": "10.0.0.1"}, "host"),
    (seed_kubernetes, {"node_port": 30080}, "node_port"),
    (seed_kubernetes, {"service_type": "NodePort", "node_port": 8080}, "node_port"),
    (seed_kubernetes, {"service_type": "External"}, "service_type"),
    (seed_kubernetes, {"strategy": "BlueGreen"}, "strategy"),
    (seed_kubernetes, {"ingress_host": "bad host"}, "ingress_host"),
    (seed_kubernetes, {"ingress_path": "v1"}, "ingress_path"),
    (seed_kubernetes, {"ingress_tls_secret": "tls"}, "ingress_tls_secret"),
    (seed_kubernetes, {"image_pull_policy": "Sometimes"}, "image_pull_policy"),
    (seed_kubernetes, {"node_selector": {"bad key!": "x"}}, "node_selector"),
    (seed_kubernetes, {"node_selector": {"ok": "bad value!"}}, 'node_selector["ok"]'),
    (seed_kubernetes, {"tolerations": [{"operator": "Equal"}]}, "tolerations[0].operator"),
    (
        seed_kubernetes,
        {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
        "tolerations[0].value",
    ),
    (
        seed_kubernetes,
        {"tolerations": [{"key": "k", "tolerationSeconds": 5}]},
        "tolerations[0].toleration_seconds",
    ),
    (
        seed_kubernetes,
        {"volumes": [{"type": "hostPath", "source": "/x", "target": "/x"}]},
        "volumes[0].type",
    ),
    (
        seed_kubernetes,
        {"volumes": [{"type": "persistentVolumeClaim", "target": "/x"}]},
        "volumes[0].source",
    ),
    (
        seed_kubernetes,
        {"volumes": [{"type": "emptyDir", "source": "x", "target": "/x"}]},
        "volumes[0].source",
    ),
    (
        seed_kubernetes,
        {"volumes": [{"type": "secret", "source": "s", "target": "/x", "size_limit": "1Gi"}]},
        "volumes[0].size_limit",
    ),
    (
        seed_kubernetes,
        {"volumes": [{"type": "configMap", "source": "Bad_Name", "target": "/x"}]},
        "volumes[0].source",
    ),
    (seed_kubernetes, {"startup_timeout_seconds": 5}, "startup_timeout_seconds"),
    (
        lambda **c: CloudConfig(name="x", region="r", model_path="/m", **c),
        {"provider": "oracle"},
        "provider",
    ),
    (lambda **c: seed_cloud(AWS, **c), {"name": "Paissive"}, "name"),
    (lambda **c: seed_cloud(AWS, **c), {"name": "double--dash"}, "name"),
    (lambda **c: seed_cloud(AWS, **c), {"region": "mars-1"}, "region"),
    (lambda **c: seed_cloud(AWS, **c), {"instance_type": "m5.large"}, "instance_type"),
    (lambda **c: seed_cloud(AWS, **c), {"cpu_count": 4}, "cpu_count"),
    (lambda **c: seed_cloud(AWS, **c), {"memory_gb": 16}, "memory_gb"),
    (lambda **c: seed_cloud(AWS, **c), {"gpu_count": 1}, "gpu_count"),
    (lambda **c: seed_cloud(AWS, **c), {"gpu_type": "nvidia-h100"}, "gpu_type"),
    (lambda **c: seed_cloud(AWS, **c), {"min_instances": 0}, "min_instances"),
    (lambda **c: seed_cloud(AWS, **c), {"min_instances": 6}, "min_instances"),
    (lambda **c: seed_cloud(AWS, **c), {"public": True}, "public"),
    (lambda **c: seed_cloud(AWS, **c), {"model_data_url": "https://x/y"}, "model_data_url"),
    (lambda **c: seed_cloud(AWS, **c), {"model_data_url": "s3://bucket/m.tar.gz"}, "model_path"),
    (lambda **c: seed_cloud(AWS, **c), {"registry_name": "myregistry"}, "registry_name"),
    (lambda **c: seed_cloud(AWS, **c), {"secrets": {"KEY": "has space"}}, 'secrets["KEY"]'),
    (lambda **c: seed_cloud(AWS, **c), {"secrets": {"LOG_LEVEL": "x"}}, 'secrets["LOG_LEVEL"]'),
    (lambda **c: seed_cloud(AWS, **c), {"host": "10.1.1.1"}, "host"),
    (lambda **c: seed_cloud(AWS, **c), {"cpu_count": 0}, "cpu_count"),
    (lambda **c: seed_cloud(AWS, **c), {"cpu_count": "2"}, "cpu_count"),
    (lambda **c: seed_cloud(GCP, **c), {"name": "x" * 50}, "name"),
    (lambda **c: seed_cloud(GCP, **c), {"region": "us_central1"}, "region"),
    (lambda **c: seed_cloud(GCP, **c), {"cpu_count": 3}, "cpu_count"),
    (lambda **c: seed_cloud(GCP, **c), {"cpu_count": 0.5}, "cpu_count"),
    (lambda **c: seed_cloud(GCP, **c), {"memory_gb": 9}, "memory_gb"),
    (lambda **c: seed_cloud(GCP, **c), {"cpu_count": 4, "memory_gb": 1}, "memory_gb"),
    (lambda **c: seed_cloud(GCP, **c), {"gpu_count": 1}, "cpu_count"),
    (
        lambda **c: seed_cloud(GCP, **c),
        {"gpu_count": 2, "cpu_count": 8, "memory_gb": 32},
        "gpu_count",
    ),
    (
        lambda **c: seed_cloud(GCP, **c),
        {"gpu_count": 1, "gpu_type": "nvidia-a100", "cpu_count": 8, "memory_gb": 32},
        "gpu_type",
    ),
    (lambda **c: seed_cloud(GCP, **c), {"gpu_type": "nvidia-l4"}, "gpu_type"),
    (lambda **c: seed_cloud(GCP, **c), {"env_vars": {"K_SERVICE": "x"}}, 'env_vars["K_SERVICE"]'),
    (lambda **c: seed_cloud(GCP, **c), {"secrets": {"TOKEN": "bad/secret"}}, 'secrets["TOKEN"]'),
    (lambda **c: seed_cloud(GCP, **c), {"instance_type": "ml.m5.large"}, "instance_type"),
    (lambda **c: seed_cloud(GCP, **c), {"max_instances": 0, "min_instances": 0}, "max_instances"),
    (lambda **c: seed_cloud(AZURE, **c), {"name": "a"}, "name"),
    (lambda **c: seed_cloud(AZURE, **c), {"name": "x" * 33}, "name"),
    (lambda **c: seed_cloud(AZURE, **c), {"region": "East US"}, "region"),
    (lambda **c: seed_cloud(AZURE, **c), {"cpu_count": 0.3, "memory_gb": 0.6}, "cpu_count"),
    (lambda **c: seed_cloud(AZURE, **c), {"memory_gb": 4.2}, "memory_gb"),
    (lambda **c: seed_cloud(AZURE, **c), {"cpu_count": 64, "memory_gb": 128}, "memory_gb"),
    (lambda **c: seed_cloud(AZURE, **c), {"registry_name": "acr"}, "registry_name"),
    (lambda **c: seed_cloud(AZURE, **c), {"registry_name": "my-registry"}, "registry_name"),
    (lambda **c: seed_cloud(AZURE, **c), {"gpu_count": 1, "gpu_type": "nvidia-l4"}, "gpu_type"),
    (
        lambda **c: seed_cloud(AZURE, **c),
        {"gpu_count": 1, "cpu_count": 16, "memory_gb": 64},
        "memory_gb",
    ),
    (
        lambda **c: seed_cloud(AZURE, **c),
        {"gpu_count": 2, "cpu_count": 8, "memory_gb": 56},
        "gpu_count",
    ),
    (lambda **c: seed_cloud(AZURE, **c), {"secrets": {"KEY": "under_score"}}, 'secrets["KEY"]'),
    (lambda **c: seed_cloud(AZURE, **c), {"model_data_url": "s3://b/m.tar.gz"}, "model_data_url"),
]


@pytest.mark.parametrize(
    ("make", "changes", "field"), INVALID, ids=[f"{i}-{c[2]}" for i, c in enumerate(INVALID)]
)
def test_invalid_field_raises_one_error_type_naming_it(make, changes, field) -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        make(**changes)
    fields = [path for path, _ in caught.value.errors]
    assert any(path == field or path.startswith(field) for path in fields), caught.value.errors
    assert isinstance(caught.value, ValueError)
    assert all("\n" not in line for line in caught.value.lines())


def test_every_bad_field_is_listed_at_once() -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        DockerConfig(image_name="BAD", port=0, model_type="x", env_vars={"1": "v"}, volumes="nope")
    fields = {path for path, _ in caught.value.errors}
    assert fields == {"image_name", "port", "model_type", 'env_vars["1"]', "volumes"}
    assert str(caught.value).startswith("invalid DockerConfig: ")


def test_cross_field_errors_are_listed_together() -> None:
    with pytest.raises(DeploymentConfigError) as caught:
        seed_kubernetes(cpu_request="2", memory_request="8Gi", min_replicas=9, host="10.0.0.1")
    fields = {path for path, _ in caught.value.errors}
    assert fields == {"cpu_request", "memory_request", "min_replicas", "host"}


def test_assignment_is_validated_too() -> None:
    config = seed_docker()
    with pytest.raises(DeploymentConfigError, match="port"):
        config.port = 99999
    config.port = 9000
    assert config.port == 9000


def test_from_mapping_rejects_non_mappings_and_non_text_keys() -> None:
    with pytest.raises(DeploymentConfigError, match="must be a mapping"):
        DockerConfig.from_mapping(["port", 8000])
    with pytest.raises(DeploymentConfigError, match="field names must be text"):
        DockerConfig.from_mapping({1: 2})


def test_provider_accepts_enum_or_text() -> None:
    base = dict(
        name="paissive-income", region="us-west-2", model_path="/m", cpu_count=2, memory_gb=8
    )
    assert CloudConfig(provider="aws", **base).provider is AWS
    assert CloudConfig(provider="AWS", **base).provider is AWS
    assert CloudConfig(provider=AWS, **base).provider_name == "aws"


def test_numbers_from_yaml_become_env_text() -> None:
    config = seed_kubernetes(env_vars={"MAX_BATCH_SIZE": 4, "DEBUG": False, "RATIO": 0.5})
    assert config.env_vars == {"MAX_BATCH_SIZE": "4", "DEBUG": "false", "RATIO": "0.5"}


def test_quantities_accept_numbers() -> None:
    config = seed_kubernetes(cpu_request=0.5, cpu_limit=2)
    assert (config.cpu_request, config.cpu_limit) == ("0.5", "2")


def test_invalid_config_writes_nothing(in_tmp: Path) -> None:
    with pytest.raises(DeploymentConfigError):
        generate_docker_config(DockerConfig(port=0), "docker")
    assert not (in_tmp / "docker").exists()


def test_failure_while_writing_leaves_no_folder(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_write = output_module._write

    def fail_on_third(path, file):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_write(path, file)

    monkeypatch.setattr(output_module, "_write", fail_on_third)
    with warnings.catch_warnings(), pytest.raises(OSError):
        warnings.simplefilter("ignore")
        generate_docker_config(seed_docker(), "docker")
    assert sorted(p.name for p in in_tmp.iterdir()) == []  # no folder, no staging leftovers


def test_failure_while_writing_keeps_an_existing_folder_as_it_was(
    in_tmp: Path, monkeypatch
) -> None:
    out = in_tmp / "docker"
    out.mkdir()
    (out / "Dockerfile").write_text("old\n")
    (out / "notes.txt").write_text("mine\n")
    monkeypatch.setattr(
        output_module, "_write", lambda path, file: (_ for _ in ()).throw(OSError("boom"))
    )
    with warnings.catch_warnings(), pytest.raises(OSError):
        warnings.simplefilter("ignore")
        generate_docker_config(seed_docker(), out)
    assert (out / "Dockerfile").read_text() == "old\n"
    assert sorted(p.name for p in in_tmp.iterdir()) == ["docker"]
    assert sorted(p.name for p in out.iterdir()) == ["Dockerfile", "notes.txt"]


def test_regenerating_into_an_existing_folder_replaces_only_our_files(in_tmp: Path) -> None:
    out = in_tmp / "docker"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generate_docker_config(seed_docker(), out)
    assert (out / "notes.txt").read_text() == "mine\n"
    assert (out / "Dockerfile").read_text().startswith("# Model server image")


@pytest.mark.parametrize("name", sorted(SPREAD))
def test_same_config_gives_byte_identical_files(tmp_path: Path, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = generate(SPREAD[name](), tmp_path / "a" / name)
        second = generate(SPREAD[name](), tmp_path / "b" / name)
    assert [Path(p).name for p in first] == [Path(p).name for p in second]
    for a, b in zip(first, second, strict=True):
        assert filecmp.cmp(a, b, shallow=False), a


def test_wrong_config_type_is_a_type_error(in_tmp: Path) -> None:
    from ai_models.serving import generate_cloud_config, generate_kubernetes_config

    with pytest.raises(TypeError):
        generate_kubernetes_config(seed_docker(), "k8s")
    with pytest.raises(TypeError):
        generate_cloud_config(seed_docker(), "cloud")
    assert list(in_tmp.iterdir()) == []


def test_configs_keep_the_seed_keyword_use() -> None:
    assert isinstance(seed_docker(), DockerConfig)
    assert isinstance(seed_kubernetes(), KubernetesConfig)
    assert isinstance(seed_cloud(GCP), CloudConfig)
    with pytest.raises(TypeError):
        DockerConfig("paissive-income-model-server")  # type: ignore[misc]


def test_pydantic_entry_points_raise_the_same_error() -> None:
    with pytest.raises(DeploymentConfigError, match="port"):
        DockerConfig.model_validate({"port": 0, "model_path": "/m"})
    with pytest.raises(DeploymentConfigError, match="port"):
        KubernetesConfig.model_validate_json('{"name": "a", "image": "i:1", "port": -1}')
    with pytest.raises(DeploymentConfigError, match="Invalid JSON"):
        CloudConfig.model_validate_json("{not json")
    assert DockerConfig.model_validate({"model_path": "/m"}).port == 8000
