"""Validated field types shared by every target: names, ports, paths, quantities, env vars."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from .errors import show
from .rules import check_text

# The model types `paissive-income models serve --model-type` accepts ("chat" = text-generation).
ModelType = Literal["text-generation", "chat", "embeddings", "text-classification"]
# "rest": our model server (CPU default); "vllm": vLLM's OpenAI server on GPUs (vllm.py).
ServerType = Literal["rest", "vllm"]

# Env names whose values never belong in a manifest (the issue's *KEY*, *TOKEN*, ... rule).
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD")

# Settings every target passes to the model server itself; env_vars may not override them.
SERVER_ENV = ("MODEL_PATH", "MODEL_TYPE", "MODEL_ID", "HOST", "PORT")


def is_secret_name(name: str) -> bool:
    """Tell whether an env var name looks like it carries a secret."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


def _matching(pattern: str, rule: str, max_length: int | None = None):
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if max_length is not None and len(value) > max_length:
            raise ValueError(f"{show(value)} is longer than {max_length} characters")
        if not compiled.fullmatch(value):
            raise ValueError(f"{show(value)} is not valid: {rule}")
        return value

    return AfterValidator(check)


DNS_LABEL_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit"
DnsLabel = Annotated[str, _matching(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", DNS_LABEL_RULE, 63)]
Dns1035Label = Annotated[
    str,
    _matching(
        r"[a-z]([-a-z0-9]*[a-z0-9])?",
        "lowercase letters, digits and '-', starting with a letter, ending with a letter or digit",
        63,
    ),
]
DnsSubdomain = Annotated[
    str,
    _matching(
        r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", DNS_LABEL_RULE, 253
    ),
]
EnvName = Annotated[
    str,
    _matching(r"[A-Za-z_][A-Za-z0-9_]*", "letters, digits and '_', not starting with a digit", 255),
]
AbsolutePath = Annotated[
    str,
    _matching(
        r"(/[A-Za-z0-9._@+-]+)+",
        "an absolute path of letters, digits and . _ @ + - (no spaces, no trailing '/')",
        1024,
    ),
]
HubModelId = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?",
        "a Hugging Face model id such as 'org/model-name'",
        96,
    ),
]
LabelKey = Annotated[
    str,
    _matching(
        r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
        "a label key such as 'example.com/gpu-type' (name part: letters, digits, '-', '_', '.')",
        316,
    ),
]
LabelValue = Annotated[
    str,
    _matching(
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
        "letters, digits, '-', '_', '.', starting and ending with a letter or digit",
        63,
    ),
]
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=0, le=1000)]
GpuCount = Annotated[int, Field(ge=0, le=16)]
# vLLM's --max-model-len: the context it reserves KV cache for (prompt + output tokens).
MaxModelLen = Annotated[int, Field(ge=16, le=10_485_760)]


def _no_dot_segments(value: str) -> str:
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"{show(value)} must not contain '.' or '..' segments")
    return value


CleanPath = Annotated[AbsolutePath, AfterValidator(_no_dot_segments)]


def _env_value(value: object) -> object:
    """Accept numbers and booleans from YAML/JSON configs as their text; keep strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# Free text (env values, annotations): the shared text rule only; every target escapes it for the
# syntax it lands in (escapes.py). The rule also runs on every field in base.py; it is repeated
# here so these types stay safe wherever they are used.
EnvValue = Annotated[str, BeforeValidator(_env_value), AfterValidator(check_text)]
Text = Annotated[str, AfterValidator(check_text)]

# An IPv6 zone is an interface name or index (Linux: at most 15 characters, IFNAMSIZ - 1).
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,15}")


def _host(value: str) -> str:
    if value == "localhost":
        raise ValueError("a loopback address cannot be reached from outside the container")
    address_text, percent, zone = value.partition("%")
    if percent and not (":" in address_text and _ZONE.fullmatch(zone)):
        raise ValueError(f"{show(value)}: an IPv6 zone is an interface name such as 'eth0'")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        label = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
        if len(value) <= 253 and re.fullmatch(rf"{label}(\.{label})*", value):
            return value
        raise ValueError(f"{show(value)} is not an IP address or host name") from None
    if address.is_loopback:
        raise ValueError("a loopback address cannot be reached from outside the container")
    return value


Host = Annotated[str, AfterValidator(_host)]


def probe_host(host: str) -> str:
    """Return the address a local health check uses to reach a server bound to `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# Kubernetes resource quantities --------------------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_NUMBER = r"(?P<number>[0-9]+(\.[0-9]+)?|\.[0-9]+)"


def _quantity_text(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return format(Decimal(str(value)).normalize(), "f")
    return value


def cpu_cores(value: str) -> Decimal:
    """Parse a Kubernetes CPU quantity ("500m", "1", "0.5") into cores."""
    match = re.fullmatch(_NUMBER + r"(?P<unit>m?)", value)
    if not match:
        raise ValueError(f"{show(value)} is not a CPU quantity such as '500m', '1' or '0.5'")
    number = Decimal(match["number"])
    return number / 1000 if match["unit"] else number


def memory_bytes(value: str) -> Decimal:
    """Parse a Kubernetes memory quantity ("512Mi", "4Gi", "1G", "1048576") into bytes."""
    units = "|".join([*_BINARY, *_DECIMAL])
    match = re.fullmatch(_NUMBER + rf"(?P<unit>{units})?", value)
    if not match:
        raise ValueError(f"{show(value)} is not a memory quantity such as '512Mi' or '4Gi'")
    unit = match["unit"]
    scale = _BINARY.get(unit) or _DECIMAL.get(unit) or 1
    return Decimal(match["number"]) * scale


def _positive(parse):
    def check(value: str) -> str:
        try:
            amount = parse(value)
        except InvalidOperation as exc:  # pragma: no cover - the regexes only admit numbers
            raise ValueError(f"{show(value)} is not a number") from exc
        if amount <= 0:
            raise ValueError(f"{show(value)} must be greater than zero")
        if amount.as_tuple().exponent < -3:
            raise ValueError(f"{show(value)} is finer than the smallest unit (1m / 1 byte)")
        return value

    return AfterValidator(check)


CpuQuantity = Annotated[str, BeforeValidator(_quantity_text), _positive(cpu_cores)]
MemoryQuantity = Annotated[str, BeforeValidator(_quantity_text), _positive(memory_bytes)]


# Container image references -------------------------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_REGISTRY = rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*)(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}"
IMAGE_RE = re.compile(
    rf"(?:(?P<registry>{_REGISTRY})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
IMAGE_RULE = (
    "an image reference such as 'registry.example.com/team/name:1.0' "
    "(lowercase name, optional registry, tag and digest)"
)


def split_image(value: str) -> dict[str, str | None]:
    """Split an image reference into registry, path, tag and digest, or raise ValueError."""
    match = IMAGE_RE.fullmatch(value)
    if not match or len(value) > 255:
        raise ValueError(f"{show(value)} is not valid: {IMAGE_RULE}")
    parts = match.groupdict()
    registry = parts["registry"]
    # Docker reads the first component as a registry only when it looks like a host.
    if registry and not ("." in registry or ":" in registry or registry == "localhost"):
        if not re.fullmatch(_COMPONENT, registry):
            raise ValueError(f"{show(value)} is not valid: {IMAGE_RULE}")
        parts["path"] = f"{registry}/{parts['path']}"
        parts["registry"] = None
    return parts


def is_floating(reference: str) -> bool:
    """Tell whether an image reference can change under you (no digest, no or 'latest' tag)."""
    parts = split_image(reference)
    return not parts["digest"] and parts["tag"] in (None, "latest")


def _image(value: str) -> str:
    split_image(value)
    return value


ImageReference = Annotated[str, AfterValidator(_image)]
ImageName = Annotated[
    str,
    _matching(
        rf"(?:{_REGISTRY}/)?{_COMPONENT}(?:/{_COMPONENT})*",
        "lowercase letters, digits and separators ('.', '_', '-', '/'), optional registry host",
        200,
    ),
]
ImageTag = Annotated[str, _matching(_TAG, "letters, digits, '_', '.', '-', at most 128", 128)]


# pip requirements for additional_packages -----------------------------------------------------

_REQ_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REQ_CLAUSE = r"(?:===|==|!=|<=|>=|~=|<|>)[A-Za-z0-9.*+!_-]+"
PipRequirement = Annotated[
    str,
    _matching(
        rf"{_REQ_NAME}(?:\[{_REQ_NAME}(?:,{_REQ_NAME})*\])?(?:{_REQ_CLAUSE}(?:,{_REQ_CLAUSE})*)?",
        "a pip requirement such as 'numpy==1.26.4' or 'tiktoken>=0.7,<1' (no spaces or URLs)",
        200,
    ),
]
