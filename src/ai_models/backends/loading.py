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


def configure_cpu_threads(device: str, threads: int | None) -> None:
    """Size torch's CPU thread pool: ``threads``, or by default every core the process may use.

    Measured with ``benchmarks/cpu_threads.py --omp-wait-policy PASSIVE ACTIVE --rounds 4`` on a
    shared 2-core machine (16 clients, 8x512 float32 LM), median tokens/s: 2 threads with
    sleeping OpenMP workers (``OMP_WAIT_POLICY=PASSIVE``, which ``ai_models`` sets unless the
    environment chose otherwise) 558; 1 thread 367-403 (0.66-0.72x, as the review's 0.62x);
    2 threads with spinning workers 76, as the spinning starves the event loop that streams
    tokens. So all cores, with workers that sleep when idle, is fastest.
    """
    import torch

    if device != "cpu":
        return
    if threads is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = max(1, cores or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def pick_dtype(requested: str | None, device: str) -> Any:
    """Return the torch dtype for ``requested`` on ``device`` ('auto': bf16/fp16 on GPUs)."""
    import torch

    if requested and requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device == "mps" else torch.float32


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
