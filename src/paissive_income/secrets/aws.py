"""``SECRETS_BACKEND=aws``: AWS Secrets Manager through boto3 (extra ``aws``).

The region comes from ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``), credentials from boto3's usual
chain (environment, web identity / IRSA, ECS task role, instance profile), and an endpoint
override from ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` or ``AWS_ENDPOINT_URL`` (VPC endpoints, tests).
"""

from __future__ import annotations

from collections.abc import Mapping

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from paissive_income.secrets.errors import SecretsError, SecretUnavailable

_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
)


def _client(environ: Mapping[str, str]):
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    endpoint = environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or environ.get("AWS_ENDPOINT_URL")
    try:
        return boto3.session.Session(region_name=region).client(
            "secretsmanager", endpoint_url=endpoint or None, config=_CONFIG
        )
    except NoRegionError:
        raise SecretsError("AWS_REGION: required with SECRETS_BACKEND=aws") from None
    except (BotoCoreError, ValueError) as exc:
        raise SecretsError(
            f"SECRETS_BACKEND=aws: cannot create a client: {type(exc).__name__}"
        ) from None


def fetch(names: tuple[str, ...], environ: Mapping[str, str]) -> dict[str, str | bytes]:
    """Return the current value (``AWSCURRENT``) of each existing secret."""
    client = _client(environ)
    found: dict[str, str | bytes] = {}
    for name in names:
        try:
            answer = client.get_secret_value(SecretId=name)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            if code == "ResourceNotFoundException":
                continue
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise SecretUnavailable(name, f"{code} (HTTP {status})") from None
        except NoCredentialsError:
            raise SecretUnavailable(name, "no AWS credentials found") from None
        except BotoCoreError as exc:
            raise SecretUnavailable(name, _reason(exc)) from None
        if "SecretString" in answer:
            found[name] = answer["SecretString"]
        elif "SecretBinary" in answer:
            found[name] = answer["SecretBinary"]
    return found


def _reason(exc: BotoCoreError) -> str:
    """Say what went wrong from the error's class and endpoint, never its whole message."""
    endpoint = getattr(exc, "kwargs", {}).get("endpoint_url")
    return f"{type(exc).__name__} ({endpoint})" if endpoint else type(exc).__name__
