"""The registry of secrets backends: what each is called, needs and accepts as a secret name."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

from paissive_income.secrets.errors import SecretsError


def _lower(variable: str) -> str:
    return variable.lower()


def _dashed(variable: str) -> str:
    return variable.lower().replace("_", "-")


# Top-level modules of the optional SDKs (and what they pull in): missing, the extra is missing.
SDK_ROOTS = ("boto3", "botocore", "google", "azure", "hvac", "requests")


@dataclass(frozen=True)
class Backend:
    """One ``SECRETS_BACKEND`` value: its module, optional extra and secret-name rule."""

    name: str
    module: str
    extra: str | None
    packages: str
    name_pattern: str
    name_rule: str
    default_name: Callable[[str], str] = _lower
    remote: bool = True

    def check_name(self, source: str, secret: str) -> None:
        """Refuse a secret name this backend cannot hold, naming the variable that set it."""
        if not re.fullmatch(self.name_pattern, secret):
            raise SecretsError(
                f"{source}: {secret[:80]!r} is not a valid {self.name} secret name "
                f"({self.name_rule})"
            )

    def load(self) -> ModuleType:
        """Import the backend's module, or say which ``pip install`` brings its SDK."""
        try:
            return importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if self.extra and (exc.name or "").split(".")[0] in SDK_ROOTS:
                raise SecretsError(
                    f"SECRETS_BACKEND={self.name} needs {self.packages}, which is not "
                    f"installed: pip install 'paissive-income[{self.extra}]'"
                ) from None
            raise


_PREFIX = "paissive_income.secrets."
BACKENDS: Mapping[str, Backend] = {
    "file": Backend(
        "file",
        _PREFIX + "file_backend",
        None,
        "",
        r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}",
        "letters, digits and ._- not starting with a dot, at most 255",
        remote=False,
    ),
    "aws": Backend(
        "aws",
        _PREFIX + "aws",
        "aws",
        "boto3",
        r"[A-Za-z0-9/_+=.@-]{1,512}",
        "letters, digits and /_+=.@-, at most 512",
    ),
    "gcp": Backend(
        "gcp",
        _PREFIX + "gcp",
        "gcp",
        "google-cloud-secret-manager",
        r"[A-Za-z0-9_-]{1,255}",
        "letters, digits, _ and -, at most 255",
    ),
    "azure": Backend(
        "azure",
        _PREFIX + "azure",
        "azure",
        "azure-keyvault-secrets and azure-identity",
        r"[A-Za-z0-9-]{1,127}",
        "letters, digits and -, at most 127",
        default_name=_dashed,
    ),
    "vault": Backend(
        "vault",
        _PREFIX + "vault",
        "vault",
        "hvac",
        r"[A-Za-z0-9/_+=.@-]{1,512}",
        "letters, digits and /_+=.@-, at most 512",
    ),
}
BACKEND_NAMES = ("env", *BACKENDS)
