"""Hypothesis strategies for valid configs of every target, and for invalid field values."""

from __future__ import annotations

from hypothesis import strategies as st

from ai_models.serving import CloudProvider
from ai_models.serving.aws import INSTANCES
from ai_models.serving.fields import SERVER_ENV
from ai_models.serving.vllm import reserved_env

MODEL_TYPES = ["text-generation", "chat", "embeddings", "text-classification"]

# Any text a YAML/JSON file can hold on one line: no control characters, surrogates or separators.
env_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40
)
env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True).filter(
    lambda n: n not in SERVER_ENV
)
env_vars = st.dictionaries(env_names, env_values, max_size=5)
dns_label = st.from_regex(r"[a-z]([-a-z0-9]{0,18}[a-z0-9])?", fullmatch=True)
path_segment = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}", fullmatch=True)
abs_path = st.lists(path_segment, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
model_ids = st.from_regex(r"[a-z][a-z0-9-]{0,10}/[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True)


def _maybe_vllm(draw, config: dict, rest_only: tuple[str, ...]) -> dict:
    """Turn a GPU config into a server_type="vllm" one half of the time."""
    if config.get("gpu_count", 0) < 1 or not draw(st.booleans()):
        return config
    config = {k: v for k, v in config.items() if k not in rest_only}
    config["server_type"] = "vllm"
    config["model_type"] = draw(st.sampled_from(["text-generation", "chat"]))
    config["env_vars"] = {k: v for k, v in config["env_vars"].items() if k not in reserved_env()}
    config["max_model_len"] = draw(st.none() | st.integers(16, 131072))
    if not (config.get("model_path") or config.get("model_id")):
        config["model_id"] = draw(model_ids)
    return config


def _unique_targets(volumes: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for volume in volumes:
        if volume["target"] not in seen and volume["target"] not in (
            "/tmp",
            "/var/cache/paissive-income",
        ):
            seen.add(volume["target"])
            unique.append(volume)
    return unique


@st.composite
def docker_configs(draw) -> dict:
    volume = st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.just("bind"),
                "source": abs_path | abs_path.map(lambda p: "." + p),
                "target": abs_path,
                "read_only": st.booleans(),
            }
        ),
        st.fixed_dictionaries({"type": st.just("volume"), "source": dns_label, "target": abs_path}),
        st.fixed_dictionaries({"type": st.just("tmpfs"), "target": abs_path}),
    )
    config = {
        "image_name": draw(
            st.from_regex(
                r"([a-z0-9]{1,8}\.example\.com/)?[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,6}){0,2}",
                fullmatch=True,
            )
        ),
        "image_tag": draw(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}", fullmatch=True)),
        "base_image": draw(
            st.sampled_from(
                [
                    None,
                    "python:3.9-slim",
                    "python:3.11-slim",
                    "python:3.12-slim-bookworm",
                    "python:3.10",
                    "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
                ]
            )
        ),
        "port": draw(st.integers(1, 65535)),
        "model_type": draw(st.sampled_from(MODEL_TYPES)),
        "gpu_count": draw(st.integers(0, 4)),
        "host": draw(st.sampled_from(["0.0.0.0", "::", "10.1.2.3"])),
        "cpu_limit": draw(st.sampled_from([None, "0.5", "1", "2", "250m", 1.5])),
        "memory_limit": draw(st.sampled_from([None, "512Mi", "4Gi", "1G", "6Mi"])),
        "env_vars": draw(env_vars),
        "volumes": _unique_targets(draw(st.lists(volume, max_size=3))),
        "additional_packages": draw(
            st.lists(
                st.from_regex(
                    r"[a-z][a-z0-9-]{0,8}[a-z0-9](==|>=)[0-9]{1,2}\.[0-9]", fullmatch=True
                ),
                max_size=3,
            )
        ),
        "restart_policy": draw(st.sampled_from(["no", "always", "on-failure", "unless-stopped"])),
    }
    source = draw(st.sampled_from(["path", "id", "both"]))
    if source in ("path", "both"):
        config["model_path"] = draw(abs_path)
    if source in ("id", "both"):
        config["model_id"] = draw(model_ids)
    return _maybe_vllm(
        draw, config, ("base_image", "additional_packages", "image_name", "image_tag")
    )


@st.composite
def kubernetes_configs(draw) -> dict:
    cpu_limit = draw(st.integers(100, 8000))
    memory_limit = draw(st.integers(128, 65536))
    min_replicas = draw(st.integers(1, 3))
    volume = st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["persistentVolumeClaim", "configMap", "secret"]),
                "source": dns_label,
                "target": abs_path,
                "read_only": st.booleans(),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("emptyDir"),
                "target": abs_path,
                "size_limit": st.sampled_from(["1Gi", "500Mi"]),
            }
        ),
    )
    service_type = draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    config = {
        "name": draw(dns_label),
        "namespace": draw(st.sampled_from(["default", "ai-services"]) | dns_label),
        "image": draw(
            st.sampled_from(
                [
                    "paissive-income:latest",
                    "paissive-income:0.1.0",
                    "registry.example.com/ml/server:1.2",
                    "ghcr.io/org/server@sha256:" + "b" * 64,
                ]
            )
        ),
        "replicas": draw(st.integers(1, 6)),
        "port": draw(st.integers(1, 65535)),
        "cpu_request": f"{draw(st.integers(10, cpu_limit))}m",
        "cpu_limit": f"{cpu_limit}m" if cpu_limit % 1000 else str(cpu_limit // 1000),
        "memory_request": f"{draw(st.integers(64, memory_limit))}Mi",
        "memory_limit": f"{memory_limit}Mi",
        "env_vars": draw(env_vars),
        "volumes": _unique_targets(draw(st.lists(volume, max_size=3))),
        "enable_hpa": draw(st.booleans()),
        "min_replicas": min_replicas,
        "max_replicas": draw(st.integers(min_replicas, 10)),
        "target_cpu_utilization": draw(st.integers(1, 100)),
        "target_memory_utilization": draw(st.none() | st.integers(1, 100)),
        "model_path": draw(st.none() | abs_path),
        "model_type": draw(st.none() | st.sampled_from(MODEL_TYPES)),
        "host": draw(st.sampled_from(["0.0.0.0", "::"])),
        "gpu_count": draw(st.integers(0, 2)),
        "strategy": draw(st.sampled_from(["RollingUpdate", "Recreate"])),
        "service_type": service_type,
        "node_port": None
        if service_type == "ClusterIP"
        else draw(st.none() | st.integers(30000, 32767)),
        "enable_ingress": draw(st.booleans()),
        "node_selector": draw(
            st.dictionaries(st.sampled_from(["pool", "example.com/gpu"]), dns_label, max_size=2)
        ),
        "create_namespace": draw(st.booleans()),
        "startup_timeout_seconds": draw(st.integers(10, 3600)),
    }
    if draw(st.booleans()):
        config["ingress_host"] = draw(dns_label) + ".example.com"
        config["ingress_tls_secret"] = draw(st.none() | dns_label)
    return _maybe_vllm(draw, config, ("image", "target_cpu_utilization"))


@st.composite
def aws_configs(draw) -> dict:
    instance = draw(st.sampled_from(sorted(INSTANCES)))
    cpus, memory, gpus, _ = INSTANCES[instance]
    minimum = draw(st.integers(1, 3))
    config = _cloud_common(
        draw,
        CloudProvider.AWS,
        draw(st.sampled_from(["us-west-2", "eu-central-1", "us-gov-west-1"])),
    )
    config.update(
        instance_type=instance,
        cpu_count=draw(st.integers(1, cpus)),
        memory_gb=draw(st.integers(1, memory)),
        gpu_count=draw(st.integers(0, gpus)),
        min_instances=minimum,
        max_instances=draw(st.integers(minimum, 8)),
    )
    if draw(st.booleans()):
        config.update(
            model_path=None, model_data_url="s3://models-bucket/" + draw(path_segment) + ".tar.gz"
        )
    config["secrets"] = {
        name: f"{config['name']}/{name.lower()}"
        for name in draw(st.sets(env_names, max_size=2))
        if name not in config["env_vars"]
    }
    return _maybe_vllm(draw, config, ())


@st.composite
def gcp_configs(draw) -> dict:
    cpus = draw(st.sampled_from([1, 2, 4, 6, 8]))
    low, high = {1: (0.5, 4), 2: (0.5, 8), 4: (2, 16), 6: (4, 24), 8: (4, 32)}[cpus]
    memory = draw(st.integers(int(low * 2), int(high * 2))) / 2
    config = _cloud_common(
        draw,
        CloudProvider.GCP,
        draw(st.sampled_from(["us-central1", "europe-west4", "asia-southeast1"])),
    )
    minimum = draw(st.integers(0, 3))
    config.update(
        cpu_count=cpus,
        memory_gb=memory,
        min_instances=minimum,
        max_instances=draw(st.integers(max(minimum, 1), 20)),
        public=draw(st.booleans()),
        concurrency=draw(st.integers(1, 100)),
    )
    if cpus >= 4 and memory >= 16 and draw(st.booleans()):
        config.update(gpu_count=1, gpu_type=draw(st.sampled_from([None, "nvidia-l4"])))
    config["secrets"] = {
        name: draw(st.from_regex(r"[a-z][a-z0-9-]{0,10}(:[0-9]|:latest)?", fullmatch=True))
        for name in draw(st.sets(env_names, max_size=2))
        if name not in config["env_vars"]
    }
    return _maybe_vllm(draw, config, ())


@st.composite
def azure_configs(draw) -> dict:
    mode = draw(st.sampled_from(["consumption", "dedicated", "gpu"]))
    if mode == "consumption":
        cpu = draw(st.integers(1, 16)) / 4
        memory, gpu, gpu_type = cpu * 2, 0, None
    elif mode == "dedicated":
        cpu = draw(st.integers(1, 120)) / 4
        memory, gpu, gpu_type = draw(st.integers(int(cpu * 2) + 1, 250)) / 2, 0, None
    else:
        gpu_type = draw(st.sampled_from(["nvidia-t4", "nvidia-a100"]))
        top_cpu, top_memory = (8, 56) if gpu_type == "nvidia-t4" else (24, 220)
        cpu, memory, gpu = (
            draw(st.integers(1, top_cpu * 4)) / 4,
            draw(st.integers(1, top_memory * 2)) / 2,
            1,
        )
    config = _cloud_common(
        draw, CloudProvider.AZURE, draw(st.sampled_from(["eastus", "westeurope", "swedencentral"]))
    )
    minimum = draw(st.integers(0, 3))
    config.update(
        cpu_count=cpu,
        memory_gb=memory,
        gpu_count=gpu,
        gpu_type=gpu_type,
        min_instances=minimum,
        max_instances=draw(st.integers(max(minimum, 1), 20)),
        public=draw(st.booleans()),
    )
    config["secrets"] = {
        name: draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))
        for name in draw(st.sets(env_names, max_size=2))
        if name not in config["env_vars"]
    }
    return _maybe_vllm(draw, config, ())


def _cloud_common(draw, provider: CloudProvider, region: str) -> dict:
    name = draw(st.from_regex(r"[a-z][a-z0-9]{1,10}(-[a-z0-9]{1,6}){0,2}", fullmatch=True))
    return {
        "provider": provider,
        "name": name,
        "region": region,
        "port": draw(st.integers(1, 65535)),
        "model_path": draw(abs_path),
        "model_type": draw(st.sampled_from(MODEL_TYPES)),
        "model_id": draw(st.none() | model_ids),
        "env_vars": draw(env_vars),
    }


cloud_configs = st.one_of(aws_configs(), gcp_configs(), azure_configs())

# Values no field accepts in any config: wrong types, empties, control characters, out of range.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
