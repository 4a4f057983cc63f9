"""``SECRETS_BACKEND=file``: one file per secret in the folder ``SECRETS_DIR``.

The file is named after the secret (default: the variable in lower case, e.g.
``/run/secrets/secret_key``), as Docker Compose and Kubernetes mount secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from paissive_income.secrets.errors import SecretsError, SecretUnavailable
from paissive_income.secrets.resolve import MAX_SECRET_CHARS


def fetch(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, bytes]:
    """Return the content of each existing file ``SECRETS_DIR/<name>``."""
    folder = environ.get("SECRETS_DIR") or ""
    if not folder.strip():
        raise SecretsError("SECRETS_DIR: required with SECRETS_BACKEND=file (e.g. /run/secrets)")
    if "\x00" in folder or not Path(folder).is_dir():
        raise SecretsError(f"SECRETS_DIR: {folder[:200]!r} is not a folder")
    found: dict[str, bytes] = {}
    for name in names:
        path = Path(folder) / name
        try:
            with path.open("rb") as handle:
                found[name] = handle.read(MAX_SECRET_CHARS * 4 + 1)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SecretUnavailable(name, exc.strerror or type(exc).__name__) from None
    return found
