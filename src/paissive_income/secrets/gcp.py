"""``SECRETS_BACKEND=gcp``: Google Secret Manager (extra ``gcp``).

Each secret is ``projects/<SECRETS_GCP_PROJECT>/secrets/<name>/versions/latest`` (project
default: ``GOOGLE_CLOUD_PROJECT``), read with Application Default Credentials (workload identity,
the metadata server, ``GOOGLE_APPLICATION_CREDENTIALS``); ``SECRETS_GCP_ENDPOINT`` overrides the
API endpoint (a regional or Private Service Connect one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from google.api_core import exceptions
from google.api_core import retry as retries
from google.auth.exceptions import GoogleAuthError
from google.cloud import secretmanager

from paissive_income.secrets.errors import SecretsError, SecretUnavailable

TIMEOUT_SECONDS = 10.0
# Transient failures (503, deadline) are retried for at most 20 s in all.
_RETRY = retries.Retry(initial=0.5, maximum=4.0, timeout=20.0)


def _client(environ: Mapping[str, str]) -> secretmanager.SecretManagerServiceClient:
    endpoint = environ.get("SECRETS_GCP_ENDPOINT") or None
    options = {"api_endpoint": endpoint} if endpoint else None
    return secretmanager.SecretManagerServiceClient(client_options=options)


def fetch(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, bytes]:
    """Return the latest version's payload of each existing secret."""
    project = (
        environ.get("SECRETS_GCP_PROJECT") or environ.get("GOOGLE_CLOUD_PROJECT") or ""
    ).strip()
    if not re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}", project):
        raise SecretsError(
            "SECRETS_GCP_PROJECT: required with SECRETS_BACKEND=gcp (a project id or number)"
        )
    try:
        client = _client(environ)
    except GoogleAuthError as exc:
        raise SecretsError(
            f"SECRETS_BACKEND=gcp: no Google credentials ({type(exc).__name__})"
        ) from None
    found: dict[str, bytes] = {}
    for name in names:
        version = f"projects/{project}/secrets/{name}/versions/latest"
        try:
            answer = client.access_secret_version(
                request={"name": version}, retry=_RETRY, timeout=TIMEOUT_SECONDS
            )
        except exceptions.NotFound:
            continue
        except exceptions.GoogleAPICallError as exc:
            raise SecretUnavailable(name, f"{type(exc).__name__} (HTTP {exc.code})") from None
        except exceptions.RetryError:
            reason = f"unreachable or unavailable (gave up after {_RETRY.timeout:g} s)"
            raise SecretUnavailable(name, reason) from None
        except GoogleAuthError as exc:
            raise SecretUnavailable(name, type(exc).__name__) from None
        found[name] = answer.payload.data
    return found
