"""Find the GGUF file a model spec names: a local ``.gguf`` file or folder, or a file (or glob)
of a Hugging Face Hub repository, from the local cache when offline."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from ai_models.registry import ModelSpec, is_local_source


class GgufSourceError(ValueError):
    """The spec names no usable GGUF file; the message is one line."""


def _pick(files: list[Path], pattern: str | None, where: str) -> Path:
    """Return the one ``.gguf`` among ``files`` matching ``pattern`` (any, if None)."""
    ggufs = sorted(f for f in files if f.name.endswith(".gguf"))
    if pattern:
        ggufs = [f for f in ggufs if fnmatch.fnmatch(f.name, pattern)]
    ggufs = [f for f in ggufs if "-of-" not in f.name or "-00001-of-" in f.name]
    if len(ggufs) == 1:
        return ggufs[0]
    wanted = f"matching {pattern!r}" if pattern else ""
    if not ggufs:
        raise GgufSourceError(f"no .gguf file {wanted} in {where}".replace("  ", " "))
    names = ", ".join(f.name for f in ggufs[:6])
    raise GgufSourceError(f"several .gguf files in {where} ({names}); set options.gguf_file")


def gguf_path(spec: ModelSpec, *, local_only: bool = False) -> Path:
    """Return the local path of the GGUF file of ``spec``, downloading it from the hub if needed
    (never with ``local_only``: a file not in the cache raises ``GgufSourceError``)."""
    pattern = spec.options.gguf_file
    if is_local_source(spec.source):
        path = Path(spec.source).expanduser()
        if path.is_file():
            return path
        if path.is_dir():
            return _pick(list(path.iterdir()), pattern, str(path))
        raise GgufSourceError(f"no such file or folder: {path}")
    return _hub_file(spec.source, pattern, spec.options.revision, local_only)


def _hub_file(repo: str, pattern: str | None, revision: str | None, local_only: bool) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if not pattern:
        raise GgufSourceError(
            f"{repo} is a hub repository: name its GGUF file in options.gguf_file "
            "(a file name or a glob such as '*q4_k_m.gguf')"
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        folder = snapshot_download(
            repo,
            revision=revision,
            allow_patterns=[pattern],
            local_files_only=offline or local_only,
        )
    except LocalEntryNotFoundError:
        if local_only and not offline:
            raise GgufSourceError(f"{repo} ({pattern}) is not downloaded yet") from None
        raise GgufSourceError(
            f"{repo} ({pattern}) is not in the local Hugging Face cache and the hub cannot be "
            "reached (offline); download it while online or give a local .gguf path"
        ) from None
    except Exception as exc:  # network, auth, unknown repo: one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GgufSourceError(f"cannot fetch {repo} ({pattern}) from the hub: {reason}") from None
    return _pick(list(Path(folder).rglob("*.gguf")), pattern, repo)
