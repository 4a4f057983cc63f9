"""``SECRETS_BACKEND=azure``: Azure Key Vault (extra ``azure``).

Secrets are read from ``SECRETS_AZURE_VAULT_URL`` (``https://<vault>.vault.azure.net``) with
``DefaultAzureCredential`` (workload identity, managed identity, ``AZURE_CLIENT_ID`` /
``AZURE_TENANT_ID`` / ``AZURE_CLIENT_SECRET``, the Azure CLI). Key Vault names allow only letters,
digits and dashes, so the default name of ``SECRET_KEY`` is ``secret-key``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.keyvault.secrets import SecretClient

from paissive_income.secrets.errors import SecretsError, SecretUnavailable


def _credential() -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def _client_options() -> dict[str, Any]:
    """Extra ``SecretClient`` options (none in production; a test passes a transport)."""
    return {}


def fetch(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, str]:
    """Return the current version of each existing (enabled) secret."""
    url = (environ.get("SECRETS_AZURE_VAULT_URL") or "").strip()
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]+)?/?", url):
        raise SecretsError(
            "SECRETS_AZURE_VAULT_URL: required with SECRETS_BACKEND=azure "
            "(https://<vault>.vault.azure.net)"
        )
    client = SecretClient(
        vault_url=url,
        credential=_credential(),
        retry_total=2,
        connection_timeout=5,
        read_timeout=10,
        **_client_options(),
    )
    found: dict[str, str] = {}
    with client:
        for name in names:
            try:
                secret = client.get_secret(name)
            except ResourceNotFoundError:
                continue
            except ClientAuthenticationError as exc:
                reason = f"authentication failed ({type(exc).__name__})"
                raise SecretUnavailable(name, reason) from None
            except HttpResponseError as exc:
                code = getattr(exc.error, "code", None) or type(exc).__name__
                raise SecretUnavailable(name, f"{code} (HTTP {exc.status_code})") from None
            except AzureError as exc:
                raise SecretUnavailable(name, f"cannot reach {url}: {type(exc).__name__}") from None
            if secret.value is not None:
                found[name] = secret.value
    return found
