"""``SECRETS_BACKEND=vault``: HashiCorp Vault's KV version 2 engine through hvac (extra ``vault``).

All secrets are keys of one KV entry: ``GET /v1/<SECRETS_VAULT_MOUNT>/data/<SECRETS_VAULT_PATH>``
(default ``secret`` and ``paissive-income``), read with ``VAULT_TOKEN`` (or the token in the file
``VAULT_TOKEN_FILE``, e.g. a Vault Agent sink) from ``VAULT_ADDR``
(``VAULT_NAMESPACE`` and ``VAULT_CACERT`` as in Vault's own CLI).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import hvac
import requests
from hvac import exceptions

from paissive_income.secrets.errors import SecretsError, SecretUnavailable

_PATH = r"[A-Za-z0-9_.@=+-]+(/[A-Za-z0-9_.@=+-]+)*"


def _setting(environ: Mapping[str, str], name: str, default: str) -> str:
    value = (environ.get(name) or default).strip()
    if not re.fullmatch(_PATH, value) or any(part in (".", "..") for part in value.split("/")):
        raise SecretsError(f"{name}: {value[:80]!r} is not a Vault path (e.g. {default})")
    return value


def _token(environ: Mapping[str, str]) -> str:
    """Return ``VAULT_TOKEN``, or the token in the file ``VAULT_TOKEN_FILE`` (Vault Agent sink)."""
    token, path = environ.get("VAULT_TOKEN") or "", environ.get("VAULT_TOKEN_FILE") or ""
    if token and path:
        raise SecretsError("VAULT_TOKEN: set either VAULT_TOKEN or VAULT_TOKEN_FILE, not both")
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise SecretsError(f"VAULT_TOKEN_FILE: cannot read {path[:200]!r}: {reason}") from None
    if not token.strip() or any(ord(char) < 32 for char in token.strip()):
        raise SecretsError("VAULT_TOKEN: required with SECRETS_BACKEND=vault (or VAULT_TOKEN_FILE)")
    return token.strip()


def fetch(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, object]:
    """Return the keys of the KV entry that are among ``names``."""
    address = (environ.get("VAULT_ADDR") or "").strip()
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", address):
        raise SecretsError("VAULT_ADDR: required with SECRETS_BACKEND=vault (https://host:8200)")
    token = _token(environ)
    mount = _setting(environ, "SECRETS_VAULT_MOUNT", "secret")
    path = _setting(environ, "SECRETS_VAULT_PATH", "paissive-income")
    client = hvac.Client(
        url=address,
        token=token.strip(),
        namespace=environ.get("VAULT_NAMESPACE") or None,
        verify=environ.get("VAULT_CACERT") or True,
        timeout=10,
    )
    where = f"{mount}/{path}"
    try:
        answer = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True
        )
    except exceptions.InvalidPath:
        return {}  # no entry at the path: every secret is missing
    except exceptions.Forbidden:
        raise SecretUnavailable(
            where, "permission denied (HTTP 403): check VAULT_TOKEN's policy"
        ) from None
    except exceptions.VaultError as exc:
        raise SecretUnavailable(where, f"{type(exc).__name__} (HTTP {exc.status_code})") from None
    except requests.RequestException as exc:
        raise SecretUnavailable(
            where, f"cannot reach {address[:100]}: {type(exc).__name__}"
        ) from None
    data = (answer.get("data") or {}).get("data") or {}
    if not isinstance(data, dict):
        raise SecretUnavailable(where, "the entry is not a KV version 2 secret")
    return {name: data[name] for name in names if name in data}
