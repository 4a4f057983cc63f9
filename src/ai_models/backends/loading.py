"""Shared loading steps: find the model files (local folder or Hub download), pick device and
dtype, and turn every failure into one ``ModelLoadError`` line: which model, which source, why.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ai_models.errors import ModelLoadError
from ai_models.registry import ModelSpec, Task, is_local_source, resolve_source

logger = logging.getLogger(__name__)

# Weights in formats our backends never read; skipping them keeps downloads small.
IGNORED_DOWNLOADS = [
    "*.onnx",
    "onnx/*",
    "openvino/*",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.gguf",
    "*.tflite",
    "*.mlmodel",
    "coreml/*",
    "*.pt",
    "*.pth",
    "original/*",
]
_GENERATION_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def _hub_failure(exc: BaseException) -> str:
    """Explain a Hugging Face Hub download failure in a few words."""
    from huggingface_hub import constants, errors

    if isinstance(exc, errors.GatedRepoError):
        return "the model is gated: accept its licence on huggingface.co and set HF_TOKEN"
    if isinstance(exc, errors.RepositoryNotFoundError):
        return "no such model on the Hugging Face Hub (a private one needs HF_TOKEN)"
    if isinstance(exc, errors.RevisionNotFoundError):
        return "no such revision of the model on the Hugging Face Hub"
    if isinstance(exc, errors.LocalEntryNotFoundError | ConnectionError | TimeoutError):
        cause = exc.__cause__ or exc.__context__
        why = f" ({type(cause).__name__}: {cause})" if cause else ""
        return (
            f"cannot reach the Hugging Face Hub at {constants.ENDPOINT}{why} and the model is "
            f"not in the local cache {constants.HF_HUB_CACHE}"
        )
    return f"download failed: {type(exc).__name__}: {exc}"


def _check_folder(spec: ModelSpec, path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(spec.name, str(path), "the folder does not exist")
    if path.is_file() and path.suffix.lower() == ".gguf":
        _check_gguf_support(spec, path)
        return
    if not path.is_dir():
        raise ModelLoadError(spec.name, str(path), "it is a file, not a model folder")
    if not any((path / name).exists() for name in ("config.json", "modules.json")):
        raise ModelLoadError(
            spec.name, str(path), "missing files: no config.json (not a Hugging Face model folder)"
        )


def _check_gguf_support(spec: ModelSpec, path: Path) -> None:
    import importlib.util

    missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelLoadError(
            spec.name, str(path), f"reading GGUF files needs: pip install {' '.join(missing)}"
        )


def pretrained_source(path: str) -> tuple[str, dict[str, Any]]:
    """Return the folder and ``from_pretrained`` keywords that load ``path``.

    A model folder loads as it is; a ``.gguf`` file loads from its folder with ``gguf_file``
    (transformers de-quantizes it to the torch dtype, so the same engine serves it).
    """
    file = Path(path)
    if file.suffix.lower() == ".gguf" and file.is_file():
        return str(file.parent), {"gguf_file": file.name}
    return path, {}


def model_files(spec: ModelSpec) -> str:
    """Return a local folder (or ``.gguf`` file) holding the model: its own, or a Hub snapshot
    (downloaded with progress bars into the standard Hugging Face cache on first use)."""
    source = resolve_source(spec.source)
    if is_local_source(spec.source):
        _check_folder(spec, Path(source))
        return source
    from huggingface_hub import snapshot_download

    logger.info("fetching model %s (%s) from the Hugging Face Hub cache", spec.name, source)
    try:
        return snapshot_download(
            source, revision=spec.options.revision, ignore_patterns=IGNORED_DOWNLOADS
        )
    except Exception as exc:  # every download failure becomes one clear line
        raise ModelLoadError(spec.name, source, _hub_failure(exc)) from None


def pick_device(requested: str | None) -> str:
    """Return the torch device for ``requested`` ('auto' prefers CUDA, then MPS, then CPU)."""
    import torch

    if requested and requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def _proc_cpu_flags() -> set[str]:
    """Return the CPU feature flags Linux lists in /proc/cpuinfo (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.partition(":")[2].split())
    return set()


def native_bf16() -> str | None:
    """Name the CPU's native bf16 instructions (AMX or AVX-512 BF16), or None without them.

    torch's own CPU capability query first (the cpuinfo library it dispatches kernels with),
    then /proc/cpuinfo, whose flags are ``amx_bf16`` and ``avx512_bf16``.
    """
    try:
        import torch

        capability = torch._C._cpu._get_cpu_capability()
        flags = {name for name in ("amx_bf16", "avx512_bf16") if capability.get(name)}
    except (AttributeError, RuntimeError, ImportError):
        flags = _proc_cpu_flags()
    if "amx_bf16" in flags:
        return "AMX"
    return "AVX-512 BF16" if "avx512_bf16" in flags else None


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Return the CPUs a cgroup quota allows this process (v2 ``cpu.max``, v1 CFS), rounded up."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in ("max", "-1") or not quota.isdigit() or not period.isdigit() or int(period) < 1:
        return None
    return max(1, -(-int(quota) // int(period)))


def physical_cores() -> tuple[int, int]:
    """Return (physical cores, logical CPUs) this process may run on (its affinity)."""
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if usable is None:
        count = os.cpu_count() or 1
        return count, count
    cores = set()
    for cpu in usable:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(usable), len(usable)  # no topology: count each CPU as a core
        cores.add((package, core))
    return len(cores), len(usable)


def default_cpu_threads() -> tuple[int, str]:
    """Return the torch thread count that measured fastest, and why: one per physical core.

    Measured with ``benchmarks/cpu_threads.py`` (figures in its docstring): on 2 cores without
    hyper-threads, every core beat fewer at 1 and 16 clients. Hyper-threads (not measured here)
    share one core's vector units, which the matrix work already fills, so one thread per core.
    A cgroup CPU quota (containers) caps the count: threads past it only wait for CPU time.
    """
    cores, logical = physical_cores()
    threads, why = cores, f"all {cores} cores"
    if cores != logical:
        why = f"one per physical core: {cores} of {logical} logical CPUs"
    limit = cgroup_cpu_limit()
    if limit is not None and limit < threads:
        threads, why = limit, f"the container's CPU limit of {limit}"
    return threads, why


_threads_reason = "torch's default"


def configure_cpu_threads(device: str, threads: int | None) -> None:
    """Size torch's CPU thread pool: ``threads`` (MODEL_CPU_THREADS), else ``default_cpu_threads``.

    Idle OpenMP workers sleep (``OMP_WAIT_POLICY=PASSIVE``, which ``ai_models`` sets unless the
    environment chose otherwise): spinning ones starved the event loop that streams tokens (2
    threads: 76 tokens/s spinning against 558 sleeping, 16 clients on 2 cores).
    """
    import torch

    global _threads_reason
    if device != "cpu":
        return
    if threads is None:
        threads, _threads_reason = default_cpu_threads()
    else:
        _threads_reason = "MODEL_CPU_THREADS"
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def pick_dtype(requested: str | None, device: str) -> Any:
    """Return the torch dtype for ``requested`` on ``device`` and log the choice with the threads.

    'auto': bf16 (fp16 without bf16 support) on GPUs, fp16 on MPS, and on CPUs bf16 where they
    compute it natively (AMX, AVX-512 BF16), else float32, since emulated bf16 is slower. On a
    2-core Zen 4 with AVX-512 BF16 (``benchmarks/cpu_threads.py --qwen --dtype auto float32``),
    float32 gave 0.37x (1 client) and 0.31x (16 clients) of bf16's tokens/s.
    """
    import torch

    if requested and requested != "auto":
        dtype, why = getattr(torch, requested), "as configured"
    elif device.startswith("cuda"):
        bf16 = torch.cuda.is_bf16_supported()
        dtype, why = (torch.bfloat16, "GPU has bf16") if bf16 else (torch.float16, "GPU lacks bf16")
    elif device == "mps":
        dtype, why = torch.float16, "Apple GPU"
    elif instructions := native_bf16():
        dtype, why = torch.bfloat16, f"CPU has {instructions}"
    else:
        dtype, why = torch.float32, "CPU has no native bf16"
    name = str(dtype).removeprefix("torch.")
    if device == "cpu":
        threads = torch.get_num_threads()
        logger.info("dtype %s (%s); threads %d (%s)", name, why, threads, _threads_reason)
    else:
        logger.info("dtype %s on %s (%s)", name, device, why)
    return dtype


def dtype_kwargs(dtype: Any) -> dict[str, Any]:
    """Return the ``from_pretrained`` keyword for a dtype in this transformers version."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"dtype": dtype} if major >= 5 else {"torch_dtype": dtype}


def check_architecture(spec: ModelSpec, path: str) -> Any:
    """Load ``config.json`` and refuse a model built for another task."""
    from transformers import AutoConfig

    folder, options = pretrained_source(path)
    config = AutoConfig.from_pretrained(folder, **options)
    architectures = getattr(config, "architectures", None) or []
    if spec.task is Task.TEXT_GENERATION:
        ok = any(arch.endswith(_GENERATION_SUFFIXES) for arch in architectures)
    elif spec.task is Task.TEXT_CLASSIFICATION:
        ok = any(arch.endswith("ForSequenceClassification") for arch in architectures)
    else:
        ok = True
    if architectures and not ok:
        raise ModelLoadError(
            spec.name,
            path,
            f"wrong task: its architecture {architectures[0]} is not a {spec.task.value} model",
        )
    return config


def _is_oom(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate" in text


def _weights_size(path: str) -> str:
    if Path(path).is_file():
        return f"{Path(path).stat().st_size / 2**30:.1f} GiB of weights"
    total = sum(
        f.stat().st_size for f in Path(path).rglob("*") if f.suffix in (".safetensors", ".bin")
    )
    return f"{total / 2**30:.1f} GiB of weights"


@contextmanager
def load_errors(spec: ModelSpec, path: str, device: str) -> Iterator[None]:
    """Turn any exception while loading into a one-line ``ModelLoadError``."""
    try:
        yield
    except ModelLoadError:
        raise
    except Exception as exc:
        if _is_oom(exc):
            reason = f"out of memory on {device} ({_weights_size(path)})"
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = f"{type(exc).__name__}: {first}"[:400]
        raise ModelLoadError(spec.name, path, reason) from None
