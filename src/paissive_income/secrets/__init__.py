"""Secrets from a secrets manager (``SECRETS_BACKEND``), resolved once at start-up.

``env`` (the default) keeps the environment and ``<NAME>_FILE``; ``file`` reads a folder of files;
``aws``, ``gcp``, ``azure`` and ``vault`` ask AWS Secrets Manager, Google Secret Manager, Azure
Key Vault or HashiCorp Vault (KV v2). Each cloud SDK is imported only when its backend is chosen.
This package imports nothing else of the project: ``paissive_income.config`` builds on it.
"""

from paissive_income.secrets.errors import SecretsError, SecretUnavailable
from paissive_income.secrets.registry import BACKEND_NAMES, BACKENDS, Backend
from paissive_income.secrets.resolve import (
    ALL_SECRET_VARIABLES,
    backend_name,
    clear_cache,
    resolve_secrets,
)

__all__ = [
    "ALL_SECRET_VARIABLES",
    "BACKENDS",
    "BACKEND_NAMES",
    "Backend",
    "SecretUnavailable",
    "SecretsError",
    "backend_name",
    "clear_cache",
    "resolve_secrets",
]
